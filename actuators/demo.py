"""The closed-loop demo: a simulated actuator through every control mode.

Runs the firmware's control core against the software plant of a board
(virtual time), writes one figure per scenario and a summary JSON, and
prints the figures that matter (rise time, overshoot, stiffness, speed).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from actuators.sim import Event, SimActuator, SimRecord

__all__ = ["DemoResult", "run_demo"]


@dataclass
class DemoResult:
    """One scenario's figures (SI) and the plot it wrote."""

    name: str
    figures: dict[str, float]
    plot: str


def _step_metrics(t: np.ndarray, y: np.ndarray, t0: float, target: float) -> dict[str, float]:
    """Rise time 10-90 % (s), overshoot (fraction), 2 % settling time (s)."""
    m = t >= t0
    t, y = t[m] - t0, y[m]
    y0 = y[0]
    span = target - y0
    frac = (y - y0) / span
    t10 = float(t[np.argmax(frac >= 0.1)])
    t90 = float(t[np.argmax(frac >= 0.9)])
    outside = np.nonzero(np.abs(y - target) > 0.02 * abs(span))[0]
    settle = float(t[outside[-1] + 1]) if len(outside) and outside[-1] + 1 < len(t) else float(t[-1])
    return {"rise_s": t90 - t10, "overshoot": float(max(0.0, (frac.max() - 1.0))), "settle_s": settle}


def _plot(path: Path, title: str, t: np.ndarray, series: list[tuple[str, np.ndarray, str]],
          ylabel: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    for label, y, style in series:
        ax.plot(t * 1e3, y, style, label=label, linewidth=1.2)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def _current_step(board: Any, out: Path) -> DemoResult:
    cfg, pp = board.ctrl_config(), board.plant_params()
    sim = SimActuator(cfg, pp, seed=1)
    t0, amp = 0.002, 0.5 * cfg.i_limit_a
    rec = sim.run(0.008, [Event(0.0, mode="current", fields={"i_q_ref": 0.0}),
                          Event(t0, mode="current", fields={"i_q_ref": amp})])
    fig = _step_metrics(rec.t_s, rec.i_q.astype(float), t0, amp)
    fig["bandwidth_design_hz"] = float(board.current_bandwidth_rad_s or 0.0) / (2 * math.pi)
    plot = _plot(out / "current_step.png", f"{board.name}: i_q step {amp:.1f} A (core's measurement)",
                 rec.t_s, [("i_q_ref", rec.i_q_ref, "k--"), ("i_q", rec.i_q, "C0"),
                           ("i_d", rec.i_d, "C1")], "current (A)")
    return DemoResult("current_step", fig, plot)


def _velocity_step(board: Any, out: Path) -> DemoResult:
    cfg, pp = board.ctrl_config(), board.plant_params()
    sim = SimActuator(cfg, pp, seed=2)
    v_ref = 0.5 * board.limits.v_out_max_rad_s
    events = [Event(0.0, mode="velocity", fields={"v_out_ref": 0.0})]
    events += [Event(0.01 + k * 0.05, mode="velocity", fields={"v_out_ref": v_ref}) for k in range(8)]
    rec = sim.run(0.4, events, decimate=10)
    fig = _step_metrics(rec.t_s, rec.v_out, 0.01, v_ref)
    fig["v_out_final_rad_s"] = float(np.mean(rec.v_out[-50:]))
    plot = _plot(out / "velocity_step.png", f"{board.name}: output speed step", rec.t_s,
                 [("v_out (plant)", rec.v_out, "C0"), ("v_out estimate (core)", rec.v_out_est, "C1:")],
                 "output speed (rad/s)")
    return DemoResult("velocity_step", fig, plot)


def _position_step(board: Any, out: Path) -> DemoResult:
    cfg, pp = board.ctrl_config(), board.plant_params()
    sim = SimActuator(cfg, pp, seed=3)
    rec0 = sim.run(0.005, [Event(0.0, mode="velocity", fields={"v_out_ref": 0.0})], decimate=10)
    p0 = float(rec0.p_out_est[-1])
    target = p0 + 0.5
    events = [Event(0.0 + k * 0.05, mode="position", fields={"p_out_ref": target}) for k in range(6)]
    rec = sim.run(0.3, events, decimate=10)
    fig = _step_metrics(rec.t_s, rec.p_out_est.astype(float), rec.t_s[0], target)
    fig["error_final_rad"] = float(target - rec.p_out_est[-1])
    plot = _plot(out / "position_step.png", f"{board.name}: 0.5 rad position step", rec.t_s,
                 [("p_out estimate (core)", rec.p_out_est - p0, "C0"),
                  ("reference", np.full_like(rec.t_s, 0.5), "k--")], "output position (rad)")
    return DemoResult("position_step", fig, plot)


def _impedance(board: Any, out: Path) -> DemoResult:
    cfg, pp = board.ctrl_config(), board.plant_params()
    kp, kd = 0.5 * board.can.impedance_ranges.kp_max_nm_rad / 5, 1.0
    tau = 0.3 * board.limits.tau_out_max_nm
    sim = SimActuator(cfg, pp, seed=4)
    events = [Event(k * 0.05, mode="impedance", fields={"p_des": 0.0, "kp": kp, "kd": kd})
              for k in range(8)]
    events += [Event(0.1, tau_ext_nm=tau), Event(0.25, tau_ext_nm=-tau)]
    rec = sim.run(0.4, events, decimate=10)
    hold = (rec.t_s > 0.2) & (rec.t_s < 0.25)
    hold2 = (rec.t_s > 0.35)
    dp = float(np.mean(rec.p_out[hold]) - np.mean(rec.p_out[hold2]))
    # measured at the output, through the board's gearbox: while the load
    # back-drives it, its efficiency scales the stiffness seen there
    fig = {"kp_cmd_nm_rad": kp, "kp_at_output_nm_rad": 2 * tau / dp if dp else float("nan"),
           "gear_efficiency": pp.gearbox.efficiency, "tau_ext_nm": tau}
    plot = _plot(out / "impedance.png", f"{board.name}: impedance K_p {kp:.0f} N m/rad, +-{tau:.0f} N m load",
                 rec.t_s, [("p_out (plant)", rec.p_out, "C0")], "output position (rad)")
    return DemoResult("impedance", fig, plot)


def _muscle(board: Any, out: Path) -> DemoResult:
    cfg, pp = board.ctrl_config(), board.plant_params()
    sim = SimActuator(cfg, pp, seed=5)
    events = []
    for k in range(40):  # 2 Hz alternating excitation of flexor and extensor
        t = k * 0.0125
        u = 0.5 * (1 + math.sin(2 * math.pi * 2.0 * t))
        events.append(Event(t, mode="muscle", fields={"u_flex": 0.3 * u, "u_ext": 0.3 * (1 - u)}))
    rec = sim.run(0.5, events, decimate=10)
    fig = {"p_out_span_rad": float(rec.p_out.max() - rec.p_out.min()),
           "tau_peak_nm": float(np.max(np.abs(rec.tau_out_ref)))}
    plot = _plot(out / "muscle.png", f"{board.name}: muscle mode, antagonist excitation 2 Hz", rec.t_s,
                 [("p_out (plant)", rec.p_out, "C0"), ("torque demand / 10 (N m)", rec.tau_out_ref / 10, "C1")],
                 "rad, N m / 10")
    return DemoResult("muscle", fig, plot)


SCENARIOS: list[Callable[[Any, Path], DemoResult]] = [
    _current_step, _velocity_step, _position_step, _impedance, _muscle]


def run_demo(board_path: str | Path, out_dir: str | Path,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every scenario on the board's simulated actuator; write plots and
    summary.json into out_dir; return the summary."""
    from firmware_gen.board import load_board

    board = load_board(board_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    wall0 = time.perf_counter()
    for scenario in SCENARIOS:
        if progress:
            progress(scenario.__name__.strip("_"))
        results.append(scenario(board, out))
    wall = time.perf_counter() - wall0
    summary = {"board": board.name, "wall_s": wall,
               "scenarios": [dataclasses.asdict(r) for r in results]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
