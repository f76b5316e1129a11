"""The designed response of a board's loops: linear models (python-control)
of the board's gains on the board's plant, from which the acceptance
limits of ``hil/scenarios/acceptance_<board>.toml`` are derived.

- ``current_loop(board)``: the q-axis PI (kp = L_q w_c, ki = R w_c: the
  zero cancels the R-L pole) on 1/(L_q s + R) with the inverter's delay of
  1.5 PWM periods (one period of computation, half a period of PWM
  averaging; 5th-order Pade). The delay makes the loop faster and peaked
  than the first-order w_c/(s + w_c) the gains were designed for.
- ``velocity_loop(board)``: the output-speed PI on the output-side
  mechanics, the current loop as a first-order lag at w_c. Rigid joint:
  J s + B; with a tendon (series elastic) the two-mass model, speed measured
  on the motor side (gearbox output).
- ``position_loop(board)``: pos_kp on the velocity loop (unsaturated:
  pos_kp * step < v_out_max_rad_s).
- ``impedance_loop(board, kp, kd)``: the deflection of the joint under a
  load torque, per N m: 1 / (J s^2 + (kd + B) s + kp).
- ``step_figures(sys, t_end_s)``: rise (10-90 %), overshoot, 2 % settling,
  steady-state error of the unit step (``hil.metrics.step_metrics``);
  ``bandwidth_hz(sys)``: first -3 dB frequency.

``gain`` scales the board's gains (a mistuned actuator: 0.2 = five times
too low).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from hil.metrics import step_metrics
from hil.physics import output_damping, output_inertia

__all__ = ["bandwidth_hz", "current_loop", "impedance_loop", "position_loop", "step_figures", "velocity_loop"]


def _ct() -> Any:
    import control
    return control


def current_loop(board: Any, gain: float = 1.0) -> Any:
    """Closed q-axis current loop i_q / i_q_ref."""
    ct = _ct()
    s = ct.tf("s")
    m = board.motor
    wc = 2 * math.pi * board.control.current_bandwidth_hz
    delay = ct.tf(*ct.pade(1.5 / board.pwm.pwm_hz, 5))
    pi = gain * (m.lq_h * wc + m.r_ohm * wc / s)
    return ct.feedback(pi / (m.lq_h * s + m.r_ohm) * delay, 1)


def _mechanics(board: Any) -> Any:
    """Output speed (motor side / N) per output torque of the motor."""
    ct = _ct()
    s = ct.tf("s")
    n = board.gearbox.ratio
    if board.tendon is None:
        return 1 / (output_inertia(board) * s + output_damping(board))
    j1, b1 = board.motor.j_kgm2 * n ** 2, board.motor.b_nms_per_rad * n ** 2
    j2, b2 = board.load.j_kgm2, board.load.b_nms_per_rad
    k, c = board.tendon.k_nm_per_rad, board.tendon.c_nms_per_rad
    # two masses coupled by k, c: v1 / tau = (j2 s^2 + (b2 + c) s + k) / den
    z = j2 * s ** 2 + (b2 + c) * s + k
    den = (j1 * s + b1) * z + (c * s + k) * (j2 * s + b2)
    return ct.minreal(z / den, verbose=False)


def velocity_loop(board: Any, gain: float = 1.0) -> Any:
    """Closed output-speed loop v_out / v_out_ref."""
    ct = _ct()
    s = ct.tf("s")
    c = board.control
    wc = 2 * math.pi * c.current_bandwidth_hz
    pi = gain * (c.vel_kp_nms_per_rad + c.vel_ki_nm_per_rad / s)
    return ct.feedback(pi * wc / (s + wc) * _mechanics(board), 1)


def position_loop(board: Any, vel_gain: float = 1.0) -> Any:
    """Closed output-position loop p_out / p_out_ref (pos_kp on the velocity loop)."""
    ct = _ct()
    s = ct.tf("s")
    return ct.feedback(board.control.pos_kp_per_s * velocity_loop(board, vel_gain) / s, 1)


def impedance_loop(board: Any, kp_nm_rad: float, kd_nms_rad: float) -> Any:
    """Deflection per load torque of the impedance-held rigid joint, rad / (N m)."""
    ct = _ct()
    s = ct.tf("s")
    return 1 / (output_inertia(board) * s ** 2 + (kd_nms_rad + output_damping(board)) * s + kp_nm_rad)


def step_figures(sys: Any, t_end_s: float, n: int = 20000) -> dict[str, float]:
    """Figures of the unit step of ``sys`` over [0, t_end_s] (final value = its DC gain)."""
    ct = _ct()
    t = np.linspace(0.0, t_end_s, n)
    t, y = ct.step_response(sys, t)
    return step_metrics(t, np.asarray(y, float), 0.0, float(ct.dcgain(sys)))


def bandwidth_hz(sys: Any, f_lo_hz: float = 0.01, f_hi_hz: float = 1e5) -> float:
    """First frequency (Hz) where |H| falls 3 dB below its DC value."""
    ct = _ct()
    w = 2 * math.pi * np.logspace(math.log10(f_lo_hz), math.log10(f_hi_hz), 40000)
    mag = np.abs(np.asarray(ct.frequency_response(sys, w).complex).reshape(-1))
    below = np.nonzero(mag < abs(float(ct.dcgain(sys))) / math.sqrt(2))[0]
    return float(w[below[0]] / (2 * math.pi)) if len(below) else math.inf
