"""Speed of the HIL bench on the ``sim`` target: campaign sim-seconds per wall-second.

    python bench/hil_bench.py [--light] [--repeat N] [CAMPAIGN ...]

Runs each acceptance campaign (default: every hil/scenarios/acceptance_*.toml)
on the ``sim`` target N times (``run_campaign`` only: validation, frame-log
and report writing are timed apart) and prints, per campaign and in total,
simulated seconds, wall seconds and CPU seconds of the best run, the ratio
"x real time", the number of CAN frames logged, and the time to write the
frame log and the report. Light mode (CI): one run, the arm_48v campaign.
Figures, never pass/fail: the machine is shared, wall times vary.
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a source tree without an install
    sys.path.insert(0, str(ROOT))

from hil.report import write_html, write_junit  # noqa: E402
from hil.runner import run_campaign  # noqa: E402
from hil.scenario import load_campaign  # noqa: E402
from hil.targets import make_target  # noqa: E402


def bench(path: Path, repeat: int) -> dict[str, float]:
    camp = load_campaign(path)
    nodes = sorted({s.params["node"] for s in camp.scenarios})
    best: dict[str, float] = {}
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
    target, results = kept
    with tempfile.TemporaryDirectory() as tmp:
        w0 = time.perf_counter()
        target.frames.write(Path(tmp) / "frames.asc")
        best["log_s"] = time.perf_counter() - w0
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
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    tot = {"sim_s": 0.0, "wall_s": 0.0, "cpu_s": 0.0}
    for path in paths:
        r = bench(path, repeat)
        for k in tot:
            tot[k] += r[k]
        print(f"{path.name}: {r['sim_s']:.2f} s simulated in {r['wall_s']:.3f} s wall ({r['cpu_s']:.3f} s CPU): "
              f"{r['sim_s'] / r['wall_s']:.0f}x real time ({r['sim_s'] / r['cpu_s']:.0f}x per CPU second), "
              f"{r['frames']:.0f} frames; frame log {r['log_s']:.2f} s, report {r['report_s']:.2f} s"
              f"{'' if r['passed'] else '  (a check FAILED)'}")
    if len(paths) > 1:
        print(f"total: {tot['sim_s']:.2f} s simulated in {tot['wall_s']:.3f} s wall: "
              f"{tot['sim_s'] / tot['wall_s']:.0f}x real time ({tot['sim_s'] / tot['cpu_s']:.0f}x per CPU second)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
