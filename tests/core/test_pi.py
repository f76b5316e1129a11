"""PI controller with anti-windup (actuators/core/mf_pi.c) against references.

The plant is a first-order lag y' = (K u - y)/T discretised exactly (ZOH).
References: python-control for the unsaturated closed loop, a plain PI with
a clipped output (no anti-windup) written here in numpy for the saturated case.
"""
from __future__ import annotations

import control
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actuators import core

K_PLANT = 2.0      # plant gain, output per control unit
T_PLANT = 0.01     # plant time constant, s
DT_S = 1e-4        # controller period, s
W_C = 400.0        # design bandwidth, rad/s (pole-zero cancellation)
KP = T_PLANT * W_C / K_PLANT
KI = W_C / K_PLANT


def _plant_zoh() -> tuple[float, float]:
    """Exact ZOH discretisation x+ = a x + b u of the first-order lag."""
    a = float(np.exp(-DT_S / T_PLANT))
    return a, K_PLANT * (1.0 - a)


def _closed_loop_core(r: np.ndarray, u_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed loop with the core's PI; returns (y, u) per step."""
    a, b = _plant_zoh()
    pi = core.PI(kp=KP, ki=KI)
    x = 0.0
    y = np.empty_like(r)
    u = np.empty_like(r)
    for k, rk in enumerate(r):
        y[k] = x
        u[k] = pi.step(rk - x, 0.0, -u_max, u_max, DT_S)
        x = a * x + b * u[k]
    return y, u


def _closed_loop_plain(r: np.ndarray, u_max: float) -> np.ndarray:
    """Textbook PI (backward Euler) whose output is clipped by the actuator
    while the integrator keeps integrating: the wind-up case."""
    a, b = _plant_zoh()
    x = 0.0
    integral = 0.0
    y = np.empty_like(r)
    for k, rk in enumerate(r):
        y[k] = x
        e = rk - x
        integral += KI * e * DT_S
        u = np.clip(KP * e + integral, -u_max, u_max)
        x = a * x + b * u
    return y


def _settling_time(t: np.ndarray, y: np.ndarray, r: float, band: float = 0.02) -> float:
    """Last time the response is outside r*(1 +- band), s."""
    outside = np.nonzero(np.abs(y - r) > band * abs(r))[0]
    return float(t[outside[-1] + 1]) if outside.size else 0.0


def test_unsaturated_matches_python_control() -> None:
    """Without saturation the loop is C(z) = kp + ki dt z/(z-1) around the ZOH
    plant: y and u match python-control's discrete closed loop."""
    n = 600
    t = np.arange(n) * DT_S
    r = 0.5 * np.ones(n) + 0.2 * (t > 0.03)
    y, u = _closed_loop_core(r, u_max=1e3)

    plant = control.c2d(control.tf([K_PLANT], [T_PLANT, 1.0]), DT_S, method="zoh")
    z = control.tf([1.0, 0.0], [1.0], DT_S)
    pi_tf = KP + KI * DT_S * z / (z - 1)
    y_ref = control.forced_response(control.feedback(pi_tf * plant, 1), T=t, U=r).outputs
    u_ref = control.forced_response(control.feedback(pi_tf, plant), T=t, U=r).outputs

    assert np.max(np.abs(y - y_ref)) < 1e-5 * np.max(np.abs(r))
    assert np.max(np.abs(u - u_ref)) < 1e-5 * np.max(np.abs(u_ref))
    # pole-zero cancellation: first order, time constant 1/W_C
    i63 = np.argmax(y[: int(0.03 / DT_S)] >= 0.632 * 0.5)
    assert i63 * DT_S == pytest.approx(1.0 / W_C, rel=0.05)


def test_anti_windup_step_no_overshoot() -> None:
    """Large step with the actuator limited to 1.2x the steady-state need:
    the plain PI winds up and overshoots, the core's PI does not and settles."""
    n = 4000
    t = np.arange(n) * DT_S
    r_step = 1.0
    u_max = 1.2 * r_step / K_PLANT
    r = r_step * np.ones(n)
    y_aw, u_aw = _closed_loop_core(r, u_max)
    y_plain = _closed_loop_plain(r, u_max)

    over_aw = 100.0 * (y_aw.max() - r_step) / r_step
    over_plain = 100.0 * (y_plain.max() - r_step) / r_step
    ts_aw = _settling_time(t, y_aw, r_step)
    ts_plain = _settling_time(t, y_plain, r_step)
    print(f"overshoot anti-windup {over_aw:.3f} %, plain {over_plain:.2f} %; "
          f"2 % settling {ts_aw * 1e3:.1f} ms vs {ts_plain * 1e3:.1f} ms")
    assert np.all(np.abs(u_aw) <= np.float32(u_max))
    assert over_plain > 10.0
    assert over_aw < 0.1 * over_plain
    assert over_aw < 1.0
    assert ts_aw < ts_plain
    assert y_aw[-1] == pytest.approx(r_step, abs=1e-5)


def test_back_calculation_when_limit_drops() -> None:
    """A load torque and a limit that drops for a while (e.g. a bus sag): the
    integrator is pulled back onto the lower limit, so no overshoot follows
    when the limit recovers; the plain PI overshoots."""
    a, b = _plant_zoh()
    n = 4000
    load = 0.2      # control units lost to a disturbance at the plant input
    r_step = 0.5
    u_hi = np.where((np.arange(n) > 1000) & (np.arange(n) < 1500), 0.3, 1.0)
    pi = core.PI(kp=KP, ki=KI)
    x = xp = integral = 0.0
    y = np.empty(n)
    yp = np.empty(n)
    for k in range(n):
        y[k], yp[k] = x, xp
        u = pi.step(r_step - x, 0.0, -u_hi[k], u_hi[k], DT_S)
        assert pi.integral <= u_hi[k] + 1e-6
        x = a * x + b * (u - load)
        e = r_step - xp
        integral += KI * e * DT_S
        xp = a * xp + b * (np.clip(KP * e + integral, -u_hi[k], u_hi[k]) - load)
    after = slice(1500, n)
    over_aw = 100.0 * (y[after].max() - r_step) / r_step
    over_plain = 100.0 * (yp[after].max() - r_step) / r_step
    print(f"after the sag: overshoot anti-windup {over_aw:.3f} %, plain {over_plain:.2f} %")
    assert over_plain > 20.0
    assert over_aw < 0.5
    assert y[-1] == pytest.approx(r_step, abs=1e-4)


def test_inverted_and_nan_limits_give_zero() -> None:
    pi = core.PI(kp=1.0, ki=100.0)
    pi.step(1.0, 0.0, -5.0, 5.0, 0.01)
    assert pi.step(1.0, 0.0, 5.0, -5.0, 0.01) == 0.0
    assert pi.integral == 0.0 and pi.saturated
    assert pi.step(1.0, 0.0, float("nan"), 5.0, 0.01) == 0.0
    pi.reset()
    assert pi.step(1.0, 0.0, -5.0, 5.0, 0.01) == pytest.approx(2.0)


@settings(max_examples=300, deadline=None)
@given(
    errs=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=20),
    ff=st.floats(allow_nan=True, allow_infinity=True, width=32),
    lo=st.floats(-1e6, 0.0, width=32),
    span=st.floats(0.0, 1e6, width=32),
    dt=st.floats(allow_nan=True, allow_infinity=True, width=32),
)
def test_never_nan(errs: list[float], ff: float, lo: float, span: float, dt: float) -> None:
    """Any error/ff/dt, finite ordered limits: finite integrator, output within the limits."""
    pi = core.PI(kp=3.0, ki=500.0)
    hi = float(np.float32(lo + span))
    for e in errs:
        out = pi.step(e, ff, lo, hi, dt)
        assert np.isfinite(pi.integral)
        assert lo <= out <= hi


@pytest.mark.parametrize("kw", [{"kp": -1.0, "ki": 1.0}, {"kp": 1.0, "ki": float("nan")},
                                {"kp": 1.0, "ki": float("inf")}])
def test_config_rejected(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="PI"):
        core.PI(**kw)
