"""Verification of the velocity loop over CAN: speed steps in the node's
velocity mode against the design's discrete model (python-control).

A step between two speeds of the same sign (v_lo -> 2 v_lo and back, no
zero crossing: the Coulomb torque stays constant, so the loop is the linear
one of the design). The speed comes with the StateReply of every command
(one per ``sample_s``, the bus's rate); the rise lasts a few outer periods,
so the step is repeated ``interleave`` times with the first sample moved by
sample_s / interleave each time (equivalent-time sampling). Directions
alternate, so the joint stays in its band. Output side in the frames, motor
side here (v_m = N v_out).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from actuators.tune.design import step_metrics
from actuators.tune.link import TuneAborted
from actuators.tune.motion import Mover

__all__ = ["velocity_steps", "compare_step"]


def _run(mv: Mover, v_out: float, duration_s: float, dt_s: float) -> None:
    t = 0.0
    while t < duration_s - 1e-12:
        s = mv.link.act.set_velocity(v_out)
        if s.faults:
            raise TuneAborted(f"node {mv.link.act.node_id}: fault {s.faults:#x} in the velocity step")
        mv.link.wait(dt_s)
        t += dt_s


def _record(mv: Mover, v_out: float, offset_s: float, duration_s: float, sample_s: float) -> list[tuple[float, float]]:
    """Step the reference to v_out now; (t since the step s, v_out rad/s) samples."""
    link = mv.link
    t0 = link.now()
    link.act.set_velocity(v_out)
    if offset_s > 0:
        link.wait(offset_s)
    out = []
    while link.now() - t0 < duration_s:
        s = link.act.set_velocity(v_out)
        if s.faults:
            raise TuneAborted(f"node {link.act.node_id}: fault {s.faults:#x} in the velocity step")
        out.append((link.now() - t0, s.v_out_rad_s))
        link.wait(sample_s)
    return out


def velocity_steps(mv: Mover, v_lo_m_rad_s: float, duration_s: float, sample_s: float = 0.001,
                   interleave: int = 5, settle_s: float = 0.06, down: bool = True) -> dict[str, Any]:
    """Normalised step response (t_s, y) from interleaved up and down steps
    v_lo -> 2 v_lo -> v_lo (motor rad/s), both directions; ``down`` False:
    the up steps only (the brake ends each), so the gearbox keeps driving the
    load one way (no backlash crossed, no back-driven gear loss)."""
    n = mv.band.gear_ratio
    ts: list[float] = []
    ys: list[float] = []
    mv.brake()
    mv.check("velocity step")
    for k in range(interleave):
        sgn = 1.0 if mv.p_m() < mv.band.center_m_rad else -1.0
        lo, hi = sgn * v_lo_m_rad_s / n, 2.0 * sgn * v_lo_m_rad_s / n
        legs = ((lo, hi), (hi, lo)) if down else ((lo, hi),)
        mv.plan("velocity step", mv.p_m() + sgn * v_lo_m_rad_s * (settle_s + (3.0 if down else 2.0) * duration_s + 0.1))
        _run(mv, lo, settle_s, sample_s)
        for a, b in legs:
            for t, v in _record(mv, b, k * sample_s / interleave, duration_s, sample_s):
                ts.append(t)
                ys.append((v - a) / (b - a))
        mv.brake()
        mv.check("velocity step")
    order = np.argsort(ts)
    return {"t_s": np.asarray(ts)[order].tolist(), "y": np.asarray(ys)[order].tolist(),
            "v_lo_m_rad_s": v_lo_m_rad_s, "sample_s": sample_s, "interleave": interleave}


def compare_step(step: dict[str, Any], rise_design_s: float, overshoot_design: float) -> dict[str, float]:
    """Measured 10-90 % rise time and overshoot against the design's."""
    rise, over = step_metrics(np.asarray(step["t_s"]), np.asarray(step["y"]))
    return {"rise_s": rise, "overshoot": over, "rise_design_s": rise_design_s, "overshoot_design": overshoot_design,
            "rise_error": (rise - rise_design_s) / rise_design_s if math.isfinite(rise) else math.inf,
            "overshoot_error": over - overshoot_design}
