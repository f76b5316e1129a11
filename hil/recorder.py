"""Write a campaign's decoded signals and provenance.

``signals.npz`` (arrays ``<scenario index>/<signal>``), one CSV per scenario
(``signals/<index>_<name>.csv``) and ``meta.json``: the exact campaign text,
board name and file, seed, firmware version, target, figures and checks.
The frame log itself is written by the target (``frames.asc`` or ``.blf``).
``hil.replay`` recomputes every figure from ``signals.npz`` and ``meta.json``.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from hil.runner import ScenarioResult
from hil.scenario import Campaign

__all__ = ["slug", "write_signals"]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "scenario"


def _num(x: float) -> Any:
    return x if math.isfinite(x) else str(x)


def write_signals(out: Path, campaign: Campaign, results: list[ScenarioResult], *, target: str,
                  firmware_version: str, extra: dict[str, Any] | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    csv_dir = out / "signals"
    csv_dir.mkdir(exist_ok=True)
    for r in results:
        k = r.scenario.index
        for name, arr in r.signals.items():
            arrays[f"{k}/{name}"] = arr
        if r.bode:
            for name, arr in r.bode.items():
                arrays[f"{k}/bode_{name}"] = arr
        if r.signals:
            names = list(r.signals)
            table = np.column_stack([r.signals[n] for n in names])
            np.savetxt(csv_dir / f"{k:02d}_{slug(r.scenario.name)}.csv", table, delimiter=",",
                       header=",".join(names), comments="", fmt="%.9g")
    np.savez_compressed(out / "signals.npz", **arrays)
    meta = {
        "campaign": campaign.name, "campaign_file": campaign.path, "campaign_text": campaign.text,
        "board": campaign.board.name, "board_file": str(campaign.board.path), "seed": campaign.seed,
        "target": target, "firmware_version": firmware_version,
        "scenarios": [{"index": r.scenario.index, "name": r.scenario.name, "kind": r.scenario.kind,
                       "params": r.scenario.params, "passed": r.passed, "error": r.error, "notes": r.notes,
                       "skipped": r.skipped, "seed": campaign.seed + r.scenario.index,
                       "t_step_s": r.t_step_s, "t_from_s": _num(r.t_from_s), "y_name": r.y_name,
                       "figures": {k: _num(v) for k, v in r.figures.items()},
                       "checks": [{"name": c.name, "limit": c.limit, "value": _num(c.value), "passed": c.passed}
                                  for c in r.checks],
                       "sim_s": r.sim_s, "wall_s": r.wall_s} for r in results],
        **(extra or {}),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
