"""Speed of the open-loop plant: ns per 25 us step (with sensors) and simulated
seconds per wall second, beside a numpy implementation of the same RK4 step.

    python bench/plant_bench.py [--light]

Prints figures and ratios; never pass/fail. gym-electric-motor, when
importable, is timed on the same PMSM for comparison (optional).
"""
from __future__ import annotations

import argparse
import math
import time

import os
import sys

import numpy as np

try:
    from actuators.plant import MotorParams, Plant, PlantParams
except ImportError:  # run from a source tree without an install
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from actuators.plant import MotorParams, Plant, PlantParams

DT = 25e-6


def voltages(n: int) -> np.ndarray:
    t = np.arange(n) * DT
    ph = 2 * np.pi * 50.0 * t
    rng = np.random.default_rng(0)
    return np.stack([3.0 * np.cos(ph - k * 2 * np.pi / 3) for k in range(3)], axis=1) + rng.uniform(-1, 1, (n, 3))


def time_plant(n: int, sense: bool, record: bool = True) -> float:
    """Wall seconds per step over n steps (best of 3): Plant.run_voltages (record)
    or the bare C loop without copying outputs."""
    v = voltages(n)
    plant = Plant(PlantParams(), DT)
    best = math.inf
    for _ in range(3):
        plant.reset()
        t0 = time.perf_counter()
        if record:
            plant.run_voltages(v, sense=sense)
        else:
            plant._core.time_steps(v, DT, sense)
        best = min(best, time.perf_counter() - t0)
    return best / n


def numpy_step_factory(m: MotorParams):
    """The same RK4 step of the motor (i_d, i_q, omega, theta), written with numpy."""
    p, r, ld, lq, lam, j = m.pole_pairs, m.r_ohm, m.ld_h, m.lq_h, m.flux_wb, m.j_kgm2

    def f(x: np.ndarray, va: float, vb: float) -> np.ndarray:
        i_d, i_q, w, th = x
        c, s = np.cos(p * th), np.sin(p * th)
        v_d, v_q = c * va + s * vb, -s * va + c * vb
        we = p * w
        tau = 1.5 * p * (lam * i_q + (ld - lq) * i_d * i_q)
        xw = w / m.omega_coulomb_rad_s
        sig = np.sign(xw) if abs(xw) >= 1 else xw * (15 - 10 * xw ** 2 + 3 * xw ** 4) / 8
        return np.array([(v_d - r * i_d + we * lq * i_q) / ld,
                         (v_q - r * i_q - we * (ld * i_d + lam)) / lq,
                         (tau - m.b_nms_per_rad * w - m.tau_coulomb_nm * sig) / j, w])

    def step(x: np.ndarray, v_abc: np.ndarray) -> np.ndarray:
        va = (2 * v_abc[0] - v_abc[1] - v_abc[2]) / 3
        vb = (v_abc[1] - v_abc[2]) / math.sqrt(3)
        k1 = f(x, va, vb)
        k2 = f(x + 0.5 * DT * k1, va, vb)
        k3 = f(x + 0.5 * DT * k2, va, vb)
        k4 = f(x + DT * k3, va, vb)
        return x + DT / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

    return step


def time_numpy(n: int) -> float:
    step = numpy_step_factory(MotorParams())
    v = voltages(n)
    x = np.zeros(4)
    t0 = time.perf_counter()
    for k in range(n):
        x = step(x, v[k])
    return (time.perf_counter() - t0) / n


def compare_gem(n: int) -> list[str]:
    """gym-electric-motor's Cont-CC-PMSM (scipy solver, constant-speed load) against
    the C plant (inertia 1e9: constant speed) on the same PMSM, step and phase voltages."""
    try:
        import gym_electric_motor as gem
        from gym_electric_motor.physical_systems.mechanical_loads import ConstantSpeedLoad
    except Exception as exc:  # optional dependency
        return [f"gym-electric-motor not importable ({type(exc).__name__}: {exc}); comparison skipped"]
    m = MotorParams()
    vbus = 48.0
    lim = dict(i=1000.0, u=vbus, omega=1e4, torque=1000.0, epsilon=math.pi)
    mp = dict(p=m.pole_pairs, r_s=m.r_ohm, l_d=m.ld_h, l_q=m.lq_h, psi_p=m.flux_wb, j_rotor=m.j_kgm2)
    t = np.arange(n) * DT
    v = np.stack([3.0 * np.cos(2 * np.pi * 200.0 * t - k * 2 * np.pi / 3) for k in range(3)], axis=1)
    v += np.random.default_rng(0).uniform(-1.0, 1.0, v.shape)
    v -= v.mean(axis=1, keepdims=True)
    lines = []
    for w_m in (0.0, 100.0):
        env = gem.make("Cont-CC-PMSM-v0", motor=dict(motor_parameter=mp, limit_values=lim, nominal_values=lim),
                       supply=dict(u_nominal=vbus), load=ConstantSpeedLoad(omega_fixed=w_m), tau=DT,
                       constraints=(), visualization=())
        env.reset(seed=0)
        ps = env.unwrapped.physical_system
        cols = [ps.state_names.index(x) for x in ("i_a", "i_b", "i_c")]
        gi = np.zeros((n, 3))
        t0 = time.perf_counter()
        for k in range(n):
            (state, _ref), *_ = env.step(2.0 * v[k] / vbus)   # B6 bridge: u = action * u_dc / 2
            gi[k] = state[cols] * ps.limits[cols]
        t_gem = (time.perf_counter() - t0) / n
        pp = PlantParams(motor=MotorParams(**{**m.__dict__, "j_kgm2": 1e9, "b_nms_per_rad": 0.0,
                                              "tau_coulomb_nm": 0.0, "r_temp_coeff_per_k": 0.0}))
        plant = Plant(pp, DT)
        plant.set_state(omega_m=w_m)
        t0 = time.perf_counter()
        run = plant.run_voltages(v)
        t_c = (time.perf_counter() - t0) / n
        diff = float(np.max(np.abs(gi - run.i_abc)))
        lines.append(f"gym-electric-motor at omega_m = {w_m:5.1f} rad/s: {t_gem * 1e6:6.1f} us/step vs "
                     f"{t_c * 1e9:6.1f} ns/step here ({t_gem / t_c:,.0f}x); largest |i_abc| difference "
                     f"{diff:.3g} A of {np.max(np.abs(gi)):.3g} A")
    lines.append("  (gem holds u_dq over a step at the step-start angle; this plant holds the phase "
                 "voltages: the two agree at standstill and differ by about omega_e * dt / 2 in phase)")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--light", action="store_true", help="short runs (CI)")
    args = ap.parse_args()
    n = 20000 if args.light else 400000
    n_np = 500 if args.light else 4000
    t_bare = time_plant(n, sense=False, record=False)
    t_bare_s = time_plant(n, sense=True, record=False)
    t_rec_s = time_plant(n, sense=True, record=True)
    t_np = time_numpy(n_np)
    print(f"plant step, C loop (motor+mechanics+thermal): {t_bare * 1e9:6.1f} ns/step; "
          f"with sensors: {t_bare_s * 1e9:6.1f} ns/step")
    print(f"  = {DT / t_bare_s:,.0f} simulated s per wall s at {1 / DT / 1e3:.0f} kHz (with sensors); "
          f"60 plants at 20 kHz: {50e-6 / (60 * t_bare_s):.1f}x real time")
    print(f"Plant.run_voltages with sensors, outputs copied to numpy: {t_rec_s * 1e9:6.1f} ns/step")
    print(f"numpy RK4 of the same motor step: {t_np * 1e6:7.1f} us/step "
          f"-> the C plant is {t_np / t_bare_s:,.0f}x faster")
    for line in compare_gem(1000 if args.light else 4000):
        print(line)


if __name__ == "__main__":
    main()
