"""Wall time of a full ``myofoc tune`` of one simulated actuator (every
stage: motor, mechanics, design, write, verify), in process, lock-step.

    python bench/tune_bench.py [--light]

Prints, per board (--light: arm_48v only), the wall time of each stage and
the total, the simulated (actuator) time the tune used, and, in the same
run, the reference: the simulator's real-time factor alone (the same node
run idle for a second of simulated time, no bus), so the tune's share of
host overhead (CAN frames, Python, fits, python-control) is visible. The
figure the issue asks for: a full tune under 60 s wall. Figures, never
pass/fail.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from machine import cpu_model  # noqa: E402

from actuators.tune.cli import resolve_board  # noqa: E402
from actuators.tune.runner import run_tune  # noqa: E402
from actuators.tune.simlink import SimTune, parse_plant_scale, scaled_plant  # noqa: E402

# plants that differ from the board files (as in tests/tune)
CASES = [("arm_48v", "r=1.3,flux=1.1,offset=0.7,j=1.4,b=0.6,tc=0.8"),
         ("wrist_24v", "r=0.8,ld=1.15,lq=1.05,flux=0.9,offset=2.0,dir=-1,j=0.8,b=1.5,tc=1.3"),
         ("hip_knee_48v", "r=1.2,ld=0.9,lq=1.1,flux=0.93,offset=-1.1,j=1.2,b=1.3")]


def sim_rtf(board: object) -> float:
    """Simulated seconds per wall second of the node alone (idle, no frames)."""
    with SimTune(board) as st:
        n = int(round(1.0 / st.nodes.dt_s))
        t0 = time.perf_counter()
        st.nodes.periods(n)
        return n * st.nodes.dt_s / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--light", action="store_true", help="one board (CI)")
    args = ap.parse_args()
    print(f"tune bench on {cpu_model()}, Python {sys.version.split()[0]}")
    for name, scale in CASES[:1] if args.light else CASES:
        board = resolve_board(name)
        plant = scaled_plant(board, parse_plant_scale(scale))
        with SimTune(board, plant=plant, seed=1) as st:
            t0_sim = st.nodes.t_s
            t0 = time.perf_counter()
            res = run_tune(st.link, board)
            wall = time.perf_counter() - t0
            sim_s = st.nodes.t_s - t0_sim
        rtf = sim_rtf(board)
        print(f"\n{name} (plant {scale}): {'OK' if res.ok else 'NOT OK: ' + '; '.join(res.problems)}")
        for stage, s in res.stages_s.items():
            print(f"  {stage:>9} {s:7.3f} s")
        print(f"  {'total':>9} {wall:7.3f} s wall, {sim_s:.1f} s of actuator time "
              f"({sim_s / wall:.1f} x real time)")
        print(f"  reference: the simulator alone runs {rtf:.0f} x real time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
