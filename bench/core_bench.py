"""Speed of the control core's current-loop step (mf_ctrl_step), in current and
impedance mode: ns per step in the C batch loop, ns per single step called
from Python, and the same step written with numpy, with the ratios.

    python bench/core_bench.py [--light] [--callgrind]

Figures, never pass/fail. Every figure is the best of k timed runs (the
machine is shared; the best is the least disturbed). The inputs are healthy
and self-consistent (a motor turning at constant speed with noisy phase
currents at the commanded i_q, 48 V bus, 30 degC); the script checks that
no protection tripped and the mode held. ``--callgrind`` also counts the x86
instructions per step with valgrind (only inside mf_ctrl_run).
"""
from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
from machine import machine_line  # noqa: E402  (bench/machine.py)

try:
    from actuators import core
    from actuators.core.config import CtrlConfig, make_ctrl_config
except ImportError:  # run from a source tree without an install
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from actuators import core
    from actuators.core.config import CtrlConfig, make_ctrl_config

PWM_S = 25e-6          # current-loop period, s (40 kHz)
CPR = 16384            # encoder counts per turn
COUNTS_PER_STEP = 4    # encoder advance per period (9.8 rev/s motor side)
ADC_GAIN_A = 0.02      # A per count
ADC_OFFSET = 2048.0    # counts at 0 A
VBUS_GAIN_V = 0.02     # V per count
V_BUS = 48.0           # V
I_Q_A = 3.0            # A, measured and commanded in current mode
WINDOW = 4096          # periods in one input window (one motor turn: the encoder wraps cleanly)


def make_config() -> CtrlConfig:
    """A 14-pole-pair joint motor with a 9:1 gearbox at 40 kHz. The command
    watchdog is set to 1e6 s: the benchmark runs millions of periods on one
    command."""
    cfg = make_ctrl_config(r_ohm=0.1, ld_h=50e-6, lq_h=50e-6, flux_wb=0.005, pole_pairs=14, gear_ratio=9.0,
                           pwm_period_s=PWM_S)
    cfg.adc_i_gain_a = ADC_GAIN_A
    cfg.adc_i_offset = ADC_OFFSET
    cfg.adc_vbus_gain_v = VBUS_GAIN_V
    cfg.estimator.counts_per_rev = CPR
    cfg.protect.cmd_timeout_s = 1e6
    return cfg


def sense_window(cfg: CtrlConfig, n: int = WINDOW, seed: int = 0) -> dict[str, np.ndarray]:
    """n periods of sensor inputs: encoder at a constant rate, phase currents of
    a constant (i_d, i_q) = (0, I_Q_A) at the encoder's electrical angle plus
    +-2 counts of noise, bus voltage with +-2 counts of noise."""
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    enc = (k * COUNTS_PER_STEP % CPR).astype(np.uint32)
    theta_e = (enc.astype(np.int64) * cfg.pole_pairs % CPR) * (2 * np.pi / CPR)
    i_alpha, i_beta = -I_Q_A * np.sin(theta_e), I_Q_A * np.cos(theta_e)
    i_abc = np.stack([i_alpha, -0.5 * i_alpha + math.sqrt(3) / 2 * i_beta,
                      -0.5 * i_alpha - math.sqrt(3) / 2 * i_beta], axis=1)
    adc_i = np.rint(i_abc / ADC_GAIN_A + ADC_OFFSET + rng.integers(-2, 3, (n, 3))).astype(np.uint16)
    adc_vbus = np.rint(V_BUS / VBUS_GAIN_V + rng.integers(-2, 3, n)).astype(np.uint16)
    temp = np.full(n, 30.0, dtype=np.float32)
    return {"adc_i": adc_i, "adc_vbus": adc_vbus, "enc_count": enc, "temp_motor_c": temp, "temp_fet_c": temp}


MODES = {
    # name: (mode, command fields)
    "current": (core.MODE_CURRENT, {"i_q_ref": I_Q_A}),
    "impedance": (core.MODE_IMPEDANCE, {"p_des": 0.35, "v_des": 2 * np.pi / (WINDOW * PWM_S) / 9.0,
                                        "kp": 5.0, "kd": 0.1}),
}


def controller(mode_name: str, cfg: CtrlConfig) -> core.Controller:
    mode, fields = MODES[mode_name]
    ctrl = core.Controller(cfg)
    ctrl.command(mode, **fields)
    return ctrl


def check_healthy(ctrl: core.Controller, mode_name: str) -> None:
    if ctrl.faults != 0 or ctrl.mode != MODES[mode_name][0]:
        raise RuntimeError(f"{mode_name}: the inputs tripped {core.fault_names(ctrl.faults)} "
                           f"(mode {ctrl.mode}); the figures would time the safe state")


def best_of(k: int, run: Callable[[], int]) -> float:
    """Best of k runs of run() (which returns the number of steps it ran), s per step."""
    best = math.inf
    for _ in range(k):
        t0 = time.perf_counter()
        n = run()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def time_c_batch(mode_name: str, k: int, repeats: int) -> tuple[float, float]:
    """(Controller.run with its numpy marshalling, Controller.run_repeat without), s per step."""
    cfg = make_config()
    w = sense_window(cfg)
    args = (w["adc_i"], w["adc_vbus"], w["enc_count"], w["temp_motor_c"], w["temp_fet_c"])
    ctrl = controller(mode_name, cfg)
    ctrl.run_repeat(*args, 2)  # warm up: settle the PLL and the integrators

    def batch() -> int:
        for _ in range(repeats // 2):
            ctrl.run(*args)
        return WINDOW * (repeats // 2)

    def bare() -> int:
        ctrl.run_repeat(*args, repeats)
        return WINDOW * repeats

    batch()  # warm up the allocations of run()
    t_run = best_of(k, batch)
    t_bare = best_of(k, bare)
    check_healthy(ctrl, mode_name)
    return t_run, t_bare


def time_python_step(mode_name: str, k: int, n: int) -> float:
    """Controller.step() called from a Python loop, s per step."""
    cfg = make_config()
    w = sense_window(cfg)
    rows = [(tuple(int(x) for x in w["adc_i"][j]), int(w["adc_vbus"][j]), int(w["enc_count"][j]))
            for j in range(WINDOW)]
    ctrl = controller(mode_name, cfg)
    step = ctrl.step

    def loop() -> int:
        for j in range(n):
            a, v, e = rows[j % WINDOW]
            step(a, v, e, 30.0, 30.0)
        return n

    t = best_of(k, loop)
    check_healthy(ctrl, mode_name)
    return t


class NumpyStep:
    """The current-loop step written with numpy, per step: ADC scaling ->
    Clarke -> Park -> two PI with a voltage circle (d priority) and
    decoupling -> inverse Park -> SVPWM; in impedance mode the impedance law
    every outer_div-th step gives i_q_ref. The angle comes straight from the
    count (no PLL: the speed is a count difference), no protections."""

    def __init__(self, cfg: CtrlConfig, mode_name: str) -> None:
        self.cfg = cfg
        self.mode_name = mode_name
        self.fields = MODES[mode_name][1]
        self.clarke = np.array([[2 / 3, -1 / 3, -1 / 3], [0.0, 1 / math.sqrt(3), -1 / math.sqrt(3)]])
        self.inv_clarke = np.array([[1.0, 0.0], [-0.5, math.sqrt(3) / 2], [-0.5, -math.sqrt(3) / 2]])
        self.kp = np.array([cfg.current.pi_d.kp, cfg.current.pi_q.kp])
        self.ki = np.array([cfg.current.pi_d.ki, cfg.current.pi_q.ki])
        self.integral = np.zeros(2)
        self.kt_gear = 1.5 * cfg.pole_pairs * cfg.flux_wb * cfg.gear_ratio
        self.i_q_ref = self.fields.get("i_q_ref", 0.0)
        self.last_count = None
        self.k = 0

    def __call__(self, adc_i: np.ndarray, adc_vbus: int, count: int) -> np.ndarray:
        cfg = self.cfg
        i_abc = (adc_i - cfg.adc_i_offset) * cfg.adc_i_gain_a
        v_bus = adc_vbus * cfg.adc_vbus_gain_v
        theta_e = (count * cfg.pole_pairs % CPR) * (2 * np.pi / CPR)
        d = 0 if self.last_count is None else (int(count) - self.last_count + CPR // 2) % CPR - CPR // 2
        self.last_count = int(count)
        omega_m = d * (2 * np.pi / CPR) / cfg.pwm_period_s
        omega_e = cfg.pole_pairs * omega_m
        c, s = np.cos(theta_e), np.sin(theta_e)
        rot = np.array([[c, s], [-s, c]])
        i_dq = rot @ (self.clarke @ i_abc)
        if self.mode_name == "impedance" and self.k % cfg.outer_div == 0:
            p_out = count * (2 * np.pi / CPR) / cfg.gear_ratio
            tau = (self.fields["kp"] * (self.fields["p_des"] - p_out)
                   + self.fields["kd"] * (self.fields["v_des"] - omega_m / cfg.gear_ratio))
            self.i_q_ref = np.clip(tau, -cfg.tau_out_max_nm, cfg.tau_out_max_nm) / self.kt_gear
        self.k += 1
        err = np.array([0.0, self.i_q_ref]) - i_dq
        ff = np.array([-omega_e * cfg.current.lq_h * i_dq[1],
                       omega_e * (cfg.current.ld_h * i_dq[0] + cfg.current.flux_wb)])
        v_max = cfg.current.v_max_frac * v_bus / math.sqrt(3)
        integral = self.integral + self.ki * err * cfg.pwm_period_s
        v = ff + self.kp * err + integral
        v_d = np.clip(v[0], -v_max, v_max)
        v_q_max = np.sqrt(max(v_max ** 2 - v_d ** 2, 0.0))
        v_q = np.clip(v[1], -v_q_max, v_q_max)
        sat = np.array([v_d != v[0], v_q != v[1]])
        self.integral = np.where(sat, self.integral, integral)  # conditional integration
        v_ab = rot.T @ np.array([v_d, v_q])
        v_ph = self.inv_clarke @ v_ab
        v_ph -= 0.5 * (v_ph.max() + v_ph.min())
        return np.clip(0.5 + v_ph / v_bus, 0.0, 1.0)


def time_numpy_step(mode_name: str, k: int, n: int) -> float:
    """NumpyStep in a Python loop, s per step."""
    cfg = make_config()
    w = sense_window(cfg)
    adc, vbus, enc = w["adc_i"].astype(np.float64), w["adc_vbus"], w["enc_count"]
    step = NumpyStep(cfg, mode_name)

    def loop() -> int:
        for j in range(n):
            step(adc[j % WINDOW], int(vbus[j % WINDOW]), int(enc[j % WINDOW]))
        return n

    return best_of(k, loop)


# --- callgrind: x86 instructions per step, counted inside mf_ctrl_run only ---

def steps_only(mode_name: str, repeats: int) -> None:
    """Run mode_name for WINDOW * repeats steps with run_repeat (the process
    valgrind counts)."""
    cfg = make_config()
    w = sense_window(cfg)
    ctrl = controller(mode_name, cfg)
    ctrl.run_repeat(w["adc_i"], w["adc_vbus"], w["enc_count"], w["temp_motor_c"], w["temp_fet_c"], repeats)
    check_healthy(ctrl, mode_name)


def callgrind_per_step(mode_name: str, repeats: int) -> float | None:
    """x86 instructions per step by valgrind --tool=callgrind with collection
    only inside mf_ctrl_run; None when valgrind is missing."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        cmd = ["valgrind", "--tool=callgrind", "--toggle-collect=mf_ctrl_run", f"--callgrind-out-file={out}",
               sys.executable, os.path.abspath(__file__), "--steps-only", mode_name, str(repeats)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        except FileNotFoundError:
            return None
        with open(out) as f:
            summary = re.search(r"^summary:\s*(\d+)", f.read(), re.M)
    return int(summary.group(1)) / (WINDOW * repeats) if summary else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--light", action="store_true", help="short run (CI): fewer steps and repeats")
    ap.add_argument("--callgrind", action="store_true", help="also count x86 instructions per step (valgrind)")
    ap.add_argument("--steps-only", nargs=2, metavar=("MODE", "REPEATS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.steps_only:
        steps_only(a.steps_only[0], int(a.steps_only[1]))
        return

    # best of k short runs (about 10 ms each for the C figures): on a shared
    # machine some of them run undisturbed
    k = 5 if a.light else 21                 # timed runs per figure
    repeats = 16 if a.light else 48          # WINDOW-step windows per C batch run
    n_py = 4096 if a.light else 40960        # Controller.step calls per run
    n_np = 500 if a.light else 2048          # numpy steps per run

    print("myofoc core benchmark: one current-loop period (mf_ctrl_step) at "
          f"{1e-3 / PWM_S:.0f} kHz, best of {k}")
    print("machine: " + machine_line(f"numpy {np.__version__}", mhz=True))
    print(f"{'mode':10s} {'C run (ns)':>11s} {'C bare (ns)':>12s} {'py step (ns)':>13s} {'numpy (ns)':>11s} "
          f"{'numpy/C bare':>13s} {'numpy/py step':>14s}")
    for mode_name in MODES:
        t_run, t_bare = time_c_batch(mode_name, k, repeats)
        t_py = time_python_step(mode_name, k, n_py)
        t_np = time_numpy_step(mode_name, k, n_np)
        print(f"{mode_name:10s} {t_run * 1e9:11.1f} {t_bare * 1e9:12.1f} {t_py * 1e9:13.0f} {t_np * 1e9:11.0f} "
              f"{t_np / t_bare:12.0f}x {t_np / t_py:13.0f}x")
    print("C run: Controller.run over numpy arrays (with marshalling); C bare: Controller.run_repeat, the "
          "mf_ctrl_run loop alone; py step: Controller.step from a Python loop; numpy: the same step in numpy.")
    if a.callgrind:
        for mode_name in MODES:
            n = callgrind_per_step(mode_name, 5 if a.light else 25)
            print(f"callgrind {mode_name}: " + ("valgrind not found" if n is None else
                                                f"{n:.1f} x86 instructions per step (inside mf_ctrl_run)"))


if __name__ == "__main__":
    main()
