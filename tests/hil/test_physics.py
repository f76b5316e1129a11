"""hil.physics, the references the campaigns judge against, checked against
independent solutions: scipy's solve_ivp and closed forms."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from firmware_gen.board import load_board
from hil import physics

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ("arm_48v", "hip_knee_48v", "wrist_24v")


def _board(name: str):  # type: ignore[no-untyped-def]
    return load_board(ROOT / "boards" / f"{name}.toml")


@pytest.mark.parametrize("name", BOARDS)
def test_overtemp_trip_time_is_where_the_thermal_network_reaches_the_trip(name: str) -> None:
    b = _board(name)
    th, heat, t0 = b.thermal, 3.0 * b.thermal.c_winding_j_per_k, 95.0
    trip = physics.overtemp_trip_s(b, heat, t0)
    cw, ch = th.c_winding_j_per_k, th.c_housing_j_per_k
    rwh, rha = th.r_winding_housing_k_per_w, th.r_housing_ambient_k_per_w

    def rhs(_t: float, x: np.ndarray) -> list[float]:       # rises above temp0 (ambient = temp0)
        q = (x[0] - x[1]) / rwh
        return [(heat - q) / cw, (q - x[1] / rha) / ch]

    hit = lambda _t, x: x[0] - (b.protect.temp_max_c - t0)  # noqa: E731
    hit.terminal = True                                     # type: ignore[attr-defined]
    sol = solve_ivp(rhs, (0, 100), [0.0, 0.0], events=hit, rtol=1e-10, atol=1e-12)
    assert trip == pytest.approx(float(sol.t_events[0][0]), rel=1e-6)
    # too little heat never trips; starting above the trip trips at once
    assert physics.overtemp_trip_s(b, 1e-3, t0) == math.inf
    assert physics.overtemp_trip_s(b, heat, b.protect.temp_max_c + 1) == 0.0


@pytest.mark.parametrize("name", BOARDS)
def test_backdriven_speed_balances_the_motor_side_and_inverts(name: str) -> None:
    b = _board(name)
    n, eta, m, ld = b.gearbox.ratio, b.gearbox.efficiency, b.motor, b.load
    kd, tau = 2.0, 0.3 * b.limits.tau_out_max_nm
    v = physics.backdriven_speed(b, kd, tau)
    # motor side at constant speed: what the gear passes = damping + viscous + Coulomb
    assert eta * (tau - ld.b_nms_per_rad * v) == pytest.approx(kd * v + m.b_nms_per_rad * n ** 2 * v
                                                               + m.tau_coulomb_nm * n, rel=1e-12)
    assert physics.backdriven_speed(b, kd, -tau) == -v
    assert physics.load_for_speed(b, kd, v) == pytest.approx(tau, rel=1e-12)
    assert physics.damping_from_speed(b, v, tau) == pytest.approx(kd, rel=1e-12)
    # a load below the friction it must overcome does not move the joint
    assert physics.backdriven_speed(b, kd, 0.5 * m.tau_coulomb_nm * n / eta) == 0.0


def test_stiffness_band_is_kp_through_a_lossless_frictionless_gear() -> None:
    b = _board("arm_48v")
    ideal = dataclasses.replace(b, gearbox=dataclasses.replace(b.gearbox, efficiency=1.0),
                                motor=dataclasses.replace(b.motor, tau_coulomb_nm=0.0))
    assert physics.stiffness_band(ideal, 50.0, 15.0) == pytest.approx((50.0, 50.0), rel=1e-12)
    lo, hi = physics.stiffness_band(b, 50.0, 15.0)
    eta = b.gearbox.efficiency
    assert lo < eta * 50.0 < 50.0 / eta < hi                      # friction widens [eta kp, kp / eta]


@pytest.mark.parametrize("name", BOARDS)
def test_muscle_response_converges_to_solve_ivp_of_the_same_joint(name: str) -> None:
    """The bench's one-substep reference against a tight solve_ivp of the same
    equations (activations exact, rigid joint: the inertias and the load's
    viscous loss as muscle_response states them), inside 1e-4 rad."""
    b = _board(name)
    if b.tendon is not None:
        b = dataclasses.replace(b, tendon=None)
    mu, mo, g = b.muscle, b.motor, b.gearbox
    n, eta = g.ratio, g.efficiency
    dt, k = 1e-3, 1500
    t = np.arange(k) * dt
    u_f = np.clip(0.5 + 0.2 * np.sin(2 * np.pi * 0.5 * t), 0, 1)
    u_e = np.full(k, 0.2)
    p0 = 0.1
    got = physics.muscle_response(b, u_f, u_e, dt, p0)
    pair = physics.muscle_law(b)
    j = mo.j_kgm2 * n ** 2 + b.load.j_kgm2
    tc, ws = mo.tau_coulomb_nm * n, mo.omega_coulomb_rad_s / n

    def rhs(tt: float, x: np.ndarray) -> list[float]:
        p, v, af, ae = x
        i = min(int(tt / dt + 1e-9), k - 1)
        xx = v / ws
        sig = xx * (15 - 10 * xx * xx + 3 * xx ** 4) / 8 if abs(xx) < 1 else math.copysign(1.0, xx)
        f = pair(p, v, af, ae) - mo.b_nms_per_rad * n ** 2 * v - tc * sig - b.load.b_nms_per_rad * v / eta
        rate = lambda u, a: (u - a) / (mu.tau_act_s if u > a else mu.tau_deact_s)  # noqa: E731
        return [v, f / j, rate(u_f[i], af), rate(u_e[i], ae)]

    x = np.array([p0, 0.0, 0.0, 0.0])
    want = np.empty(k)
    for i in range(k):                         # interval by interval: u held over each
        want[i] = x[0]
        x = solve_ivp(rhs, (i * dt, (i + 1) * dt), x, method="LSODA", rtol=1e-9, atol=1e-11).y[:, -1]
    assert np.max(np.abs(got - want)) < 1e-4
    # and it is a real motion: the pair moves the joint by more than 0.1 rad
    assert np.ptp(want) > 0.1
