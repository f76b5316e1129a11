"""Replay a recorded run: recompute every figure from its signals.

``replay(out_dir)`` reads ``meta.json`` (the exact campaign text, board
file, seed, the figures the run computed) and ``signals.npz``, re-validates
the campaign, judges each scenario again with ``hil.runner.judge`` (the
code the run used) on the recorded signals, and returns one
``ReplayedScenario`` per scenario: the original and recomputed figures and
whether they agree (equal, or both NaN / the same infinity).
``myofoc hil replay DIR`` prints them (``--json``); exit 0 when every
figure agrees, 1 otherwise, 2 for a directory that is not a recording.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hil.errors import HilError

__all__ = ["ReplayedScenario", "replay"]


@dataclass
class ReplayedScenario:
    index: int
    name: str
    recorded: dict[str, float]
    replayed: dict[str, float]
    checks: dict[str, bool]      # check name -> passed on the replayed figures

    @property
    def same(self) -> bool:
        if set(self.recorded) != set(self.replayed):
            return False
        return all(_same(self.recorded[k], self.replayed[k]) for k in self.recorded)


def _same(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b or (math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-12 * max(1.0, abs(a)))


def _float(x: Any) -> float:
    return float(x)


def replay(out_dir: str | Path) -> list[ReplayedScenario]:
    from hil.runner import Check, judge
    from hil.scenario import parse_campaign

    out = Path(out_dir)
    try:
        meta = json.loads((out / "meta.json").read_text())
        sig = np.load(out / "signals.npz")
    except (OSError, ValueError) as e:
        raise HilError(f"{out}: not a HIL recording (meta.json, signals.npz): {e}") from e
    camp = parse_campaign(meta["campaign_text"], meta["campaign_file"], board=meta["board_file"])
    by_index = {s.index: s for s in camp.scenarios}
    done = []
    for m in meta["scenarios"]:
        sc = by_index[m["index"]]
        k = sc.index
        if m.get("skipped") or m.get("error"):
            continue
        signals = {name.split("/", 1)[1]: sig[name] for name in sig.files
                   if name.startswith(f"{k}/") and not name.split("/", 1)[1].startswith("bode_")}
        figs, _ = judge(sc, camp.board, signals, float(m["t_step_s"]), _float(m.get("t_from_s", "nan")))
        checks = {f"{key[:-4]}_{key[-3:]}": Check(key[:-4], key[-3:], lim, float(figs.get(key[:-4], math.nan))).passed
                  for key, lim in sc.limits.items()}
        done.append(ReplayedScenario(k, sc.name, {n: _float(v) for n, v in m["figures"].items()},
                                     {n: float(v) for n, v in figs.items()}, checks))
    return done
