"""Speed of the closed-loop simulated actuator (core + plant in one C loop).

    python bench/sim_bench.py [--light]

Prints, for one actuator at its board's PWM rate (wrist: 40 kHz) and for 60
actuators at 20 kHz (hip/knee board) on one core: ns per actuator-step and
simulated seconds per wall second; beside them, in the same run, the same
closed loop written with numpy (current PI + SVPWM + the plant's RK4 step,
in a Python loop) as the reference ratio. Figures, never pass/fail.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from actuators.sim import SimBank  # noqa: E402
from firmware_gen.board import load_board  # noqa: E402
from machine import cpu_model  # noqa: E402


def time_bank(board_file: str, n_act: int, sim_s: float, repeats: int) -> tuple[float, float]:
    """(ns per actuator-step, simulated s per wall s) of n_act actuators of a board
    in current-and-impedance operation with sensors and noise on, no recording."""
    board = load_board(os.path.join(ROOT, "boards", board_file))
    cfg = board.ctrl_config()
    cfg.protect.cmd_timeout_s = 1e3  # one command, no host stream in this benchmark
    bank = SimBank([(cfg, board.plant_params())] * n_act, seed=1)
    for i in range(n_act):
        bank.command(i, "impedance", p_des=0.2, kp=20.0, kd=0.5)
    n = int(round(sim_s / bank.dt_s))
    bank.step(n // 10, record=False)  # warm up, leave the start transient
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        bank.step(n, record=False)
        best = min(best, time.perf_counter() - t0)
    assert all(bank.faults(i) == 0 for i in range(n_act)), "benchmark actuators faulted"
    return best / (n * n_act) * 1e9, n * bank.dt_s / best


def numpy_closed_loop_ns(n: int) -> float:
    """ns per step of the same loop in numpy: dq current PI + inverse Park + SVPWM
    (min-max) feeding the plant's RK4 step (bench/plant_bench.py)."""
    from plant_bench import DT, numpy_step_factory  # the plant step, written with numpy
    from actuators.plant import MotorParams

    m = MotorParams()
    step = numpy_step_factory(m)
    wc = 2 * math.pi * 1000.0
    kp_d, ki_d, kp_q, ki_q = m.ld_h * wc, m.r_ohm * wc, m.lq_h * wc, m.r_ohm * wc
    v_bus = 48.0
    x = np.zeros(4)
    integ = np.zeros(2)
    t0 = time.perf_counter()
    for _ in range(n):
        i_d, i_q, _w, th = x
        th_e = m.pole_pairs * th
        err = np.array([0.0 - i_d, 2.0 - i_q])
        integ += np.array([ki_d, ki_q]) * err * DT
        v = np.clip(np.array([kp_d, kp_q]) * err + integ, -v_bus / math.sqrt(3), v_bus / math.sqrt(3))
        c, s = np.cos(th_e), np.sin(th_e)
        va, vb = c * v[0] - s * v[1], s * v[0] + c * v[1]
        v_abc = np.array([va, -0.5 * va + math.sqrt(3) / 2 * vb, -0.5 * va - math.sqrt(3) / 2 * vb])
        duty = np.clip(0.5 + (v_abc - 0.5 * (v_abc.max() + v_abc.min())) / v_bus, 0.0, 1.0)
        x = step(x, (duty - duty.mean()) * v_bus)
    return (time.perf_counter() - t0) / n * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--light", action="store_true", help="short runs (CI)")
    args = ap.parse_args()
    sim_s, reps, n_np = (0.05, 2, 500) if args.light else (1.0, 5, 5000)
    print(f"machine: {cpu_model()}, python {platform.python_version()}")
    ref = numpy_closed_loop_ns(n_np)
    print(f"reference: numpy closed loop (PI + SVPWM + RK4 plant), {ref / 1e3:.1f} us/step")
    cases = [("one actuator, wrist_24v, 40 kHz", "wrist_24v.toml", 1),
             ("one actuator, arm_48v, 25 kHz", "arm_48v.toml", 1),
             ("60 actuators, hip_knee_48v, 20 kHz, one core", "hip_knee_48v.toml", 60)]
    for label, board, n_act in cases:
        ns, speed = time_bank(board, n_act, sim_s if n_act == 1 else sim_s / 10, reps)
        print(f"{label}: {ns:.0f} ns per actuator-step, {speed:,.1f}x real time "
              f"(numpy/C per step: {ref / ns:,.0f}x)")


if __name__ == "__main__":
    main()
