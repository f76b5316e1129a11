"""The board's safety envelope: every commanded value is clamped to it.

``clamp_command(board, kind, fields)`` returns the fields a target may send
and one note per clamped field. Used by every target (so no run can exceed
the board's current, speed, torque or position limits whatever a scenario
asks) and by the scenario loader (to report the clamping in the result).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["clamp_arrays", "clamp_command", "envelope"]


def envelope(board: Any) -> dict[str, tuple[float, float]]:
    """{field: (low, high)} of every command field, SI, output side (motor current in A)."""
    lim = board.limits
    r = board.can.impedance_ranges
    i, v, tau = lim.i_limit_a, lim.v_out_max_rad_s, lim.tau_out_max_nm
    return {
        "i_q_ref_a": (-i, i), "i_d_ref_a": (-i, i),
        "v_out_ref_rad_s": (-v, v), "v_out_ff_rad_s": (-v, v), "v_des_rad_s": (-v, v),
        "p_out_ref_rad": (lim.p_out_min_rad, lim.p_out_max_rad),
        "p_des_rad": (lim.p_out_min_rad, lim.p_out_max_rad),
        "tau_ff_nm": (-tau, tau),
        "kp_nm_rad": (0.0, r.kp_max_nm_rad), "kd_nms_rad": (0.0, r.kd_max_nms_rad),
        "u_flex": (0.0, 1.0), "u_ext": (0.0, 1.0),
    }


def clamp_command(board: Any, fields: dict[str, float]) -> tuple[dict[str, float], list[str]]:
    """Clamp each field into the board's envelope; NaN becomes the low bound."""
    env = envelope(board)
    out: dict[str, float] = {}
    notes: list[str] = []
    for name, value in fields.items():
        x = float(value)
        if name in env:
            lo, hi = env[name]
            y = lo if math.isnan(x) else min(max(x, lo), hi)
            if y != x:
                notes.append(f"{name} = {x:g} clamped to {y:g} (board {board.name} limits [{lo:g}, {hi:g}])")
            x = y
        out[name] = x
    return out, notes


def clamp_arrays(board: Any, fields: dict[str, Any]) -> tuple[dict[str, np.ndarray], list[str]]:
    """``clamp_command`` over arrays (a whole schedule): each field clamped
    into the envelope, NaN to the low bound; one note per clamped field
    (its most extreme value)."""
    env = envelope(board)
    out: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for name, value in fields.items():
        x = np.asarray(value, float)
        if name in env:
            lo, hi = env[name]
            y = np.clip(np.where(np.isnan(x), lo, x), lo, hi)
            bad = y != x
            if np.any(bad):
                xb = x[bad] if x.ndim else x
                worst = float(np.nanmax(np.abs(xb))) if np.any(np.isfinite(xb)) else float("nan")
                xb0 = float(np.ravel(xb)[int(np.nanargmax(np.abs(np.ravel(xb))))]) if np.isfinite(worst) \
                    else float("nan")
                notes.append(f"{name} = {xb0:g} clamped to {float(np.clip(xb0, lo, hi)) if xb0 == xb0 else lo:g} "
                             f"(board {board.name} limits [{lo:g}, {hi:g}])")
            x = y
        out[name] = x
    return out, notes
