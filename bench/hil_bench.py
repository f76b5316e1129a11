"""Speed of the HIL bench on the ``sim`` target: campaign sim-seconds per wall-second.

    python bench/hil_bench.py [--light] [--repeat N] [CAMPAIGN ...]

Runs each acceptance campaign (default: every hil/scenarios/acceptance_*.toml)
on the ``sim`` target N times (``run_campaign`` only: validation, frame-log
and report writing are timed apart) and prints, per campaign and in total,
simulated seconds, wall and CPU seconds of the best run and the ratio
"x real time". Reference, measured in the same run: the bare closed loop
of the same board (``actuators.sim.SimBank``: core + plant in C, no CAN
frames, no recording, no judging) for the same simulated time; "bench
cost" = campaign wall time / reference wall time, the price of frames
both ways, decoding, judging and the physics references. Then the time to
write the frame log (.asc and .blf) and the report. Light mode (CI): one
run of the arm_48v campaign. Figures, never pass/fail: the machine is
shared, wall times vary (the ratio to the reference less so).
"""
from __future__ import annotations

import argparse
import math
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a source tree without an install
    sys.path.insert(0, str(ROOT))

from actuators.sim import SimBank  # noqa: E402
from hil.report import write_html, write_junit  # noqa: E402
from hil.runner import run_campaign  # noqa: E402
from hil.scenario import load_campaign  # noqa: E402
from hil.targets import make_target  # noqa: E402
from machine import cpu_model  # noqa: E402


def reference_wall_s(board: Any, sim_s: float, repeat: int) -> float:
    """Best wall time (s) of the bare closed loop of ``board`` for sim_s
    simulated seconds (impedance hold, sensors and noise on, no recording)."""
    cfg = board.ctrl_config()
    cfg.protect.cmd_timeout_s = 1e3       # one command, no host stream here
    bank = SimBank([(cfg, board.plant_params())], seed=1)
    bank.command(0, "impedance", p_des=0.0, kp=20.0, kd=0.5)
    n = int(round(sim_s / bank.dt_s))
    best = math.inf
    for _ in range(repeat):
        w0 = time.perf_counter()
        bank.step(n, record=False)
        best = min(best, time.perf_counter() - w0)
    return best


def bench(path: Path, repeat: int) -> dict[str, float]:
    camp = load_campaign(path)
    nodes = sorted({s.params["node"] for s in camp.scenarios})
    best: dict[str, float] = {}
    kept: tuple[Any, Any] | None = None
    for _ in range(repeat):
        target = make_target("sim", camp.board, node_ids=nodes)
        target.open(camp.seed)
        w0, c0 = time.perf_counter(), time.process_time()
        results = run_campaign(camp, target)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        target.close()
        if not best or wall < best["wall_s"]:
            best = {"wall_s": wall, "cpu_s": cpu, "sim_s": sum(r.sim_s for r in results),
                    "frames": float(len(target.frames)), "passed": float(all(r.passed for r in results))}
            kept = (target, results)
    assert kept is not None
    target, results = kept
    best["ref_wall_s"] = reference_wall_s(camp.board, best["sim_s"], max(repeat, 3))
    with tempfile.TemporaryDirectory() as tmp:
        for ext in ("asc", "blf"):
            w0 = time.perf_counter()
            target.frames.write(Path(tmp) / f"frames.{ext}")
            best[f"{ext}_s"] = time.perf_counter() - w0
        w0 = time.perf_counter()
        write_html(Path(tmp) / "report.html", camp, results, target="sim", firmware_version="bench")
        write_junit(Path(tmp) / "junit.xml", camp, results)
        best["report_s"] = time.perf_counter() - w0
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("campaigns", nargs="*", help="campaign files (default: hil/scenarios/acceptance_*.toml)")
    ap.add_argument("--light", action="store_true", help="one run of the arm_48v campaign (CI)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per campaign, best kept (default 3)")
    args = ap.parse_args(argv)
    paths = [Path(c) for c in args.campaigns] or sorted((ROOT / "hil" / "scenarios").glob("acceptance_*.toml"))
    repeat = args.repeat
    if args.light:
        paths = [ROOT / "hil" / "scenarios" / "acceptance_arm_48v.toml"]
        repeat = 1
    print(f"machine: {cpu_model()}, python {platform.python_version()}")
    tot = {"sim_s": 0.0, "wall_s": 0.0, "cpu_s": 0.0, "ref_wall_s": 0.0}
    for path in paths:
        r = bench(path, repeat)
        for k in tot:
            tot[k] += r[k]
        print(f"{path.name}: {r['sim_s']:.2f} s simulated in {r['wall_s']:.3f} s wall ({r['cpu_s']:.3f} s CPU): "
              f"{r['sim_s'] / r['wall_s']:.0f}x real time ({r['sim_s'] / r['cpu_s']:.0f}x per CPU second); "
              f"reference bare closed loop {r['sim_s'] / r['ref_wall_s']:.0f}x real time, bench cost "
              f"{r['wall_s'] / r['ref_wall_s']:.2f}x the reference; {r['frames']:.0f} frames; frame log "
              f".asc {r['asc_s']:.2f} s, .blf {r['blf_s']:.2f} s; report {r['report_s']:.2f} s"
              f"{'' if r['passed'] else '  (a check FAILED)'}")
    if len(paths) > 1:
        print(f"total: {tot['sim_s']:.2f} s simulated in {tot['wall_s']:.3f} s wall: "
              f"{tot['sim_s'] / tot['wall_s']:.0f}x real time ({tot['sim_s'] / tot['cpu_s']:.0f}x per CPU second); "
              f"reference {tot['sim_s'] / tot['ref_wall_s']:.0f}x, bench cost "
              f"{tot['wall_s'] / tot['ref_wall_s']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
