"""Outer loops (actuators/core/mf_impedance.c, mf_motion.c, mf_muscle.c).

References: the MIT-mode impedance definition, an inertia plant discretised
exactly, python-control for the linear velocity loop, Hill's equation and
the muscle definitions of mf_muscle.h written out here from the model.
"""
from __future__ import annotations

import control
import numpy as np
import pytest

from actuators import core

# --- impedance ------------------------------------------------------------


def test_impedance_matches_mit_mode_law() -> None:
    rng = np.random.default_rng(3)
    n = 10000
    p_des, v_des = rng.uniform(-3, 3, n), rng.uniform(-20, 20, n)
    kp, kd = rng.uniform(0, 200, n), rng.uniform(0, 5, n)
    tau_ff, p, v = rng.uniform(-10, 10, n), rng.uniform(-3, 3, n), rng.uniform(-20, 20, n)
    tau_max = rng.uniform(0, 50, n)
    f32 = [np.float32(x).astype(np.float64) for x in (p_des, v_des, kp, kd, tau_ff, p, v, tau_max)]
    p_des, v_des, kp, kd, tau_ff, p, v, tau_max = f32
    tau = core.impedance(p_des, v_des, kp, kd, tau_ff, p, v, tau_max)
    ref = np.clip(kp * (p_des - p) + kd * (v_des - v) + tau_ff, -tau_max, tau_max)
    saturated = np.abs(ref) >= tau_max
    assert 0.2 < saturated.mean() < 0.9  # both regimes are exercised
    assert tau.dtype == np.float32 and tau.shape == (n,)
    np.testing.assert_allclose(tau, ref, rtol=2e-6, atol=2e-5)
    assert np.all(np.abs(tau) <= tau_max.astype(np.float32))


def test_impedance_broadcasts_and_guards() -> None:
    tau = core.impedance(0.0, 0.0, 10.0, 1.0, 0.0, np.zeros((2, 3)), 0.5, 100.0)
    assert tau.shape == (2, 3) and np.allclose(tau, -0.5)
    assert core.impedance(0.0, 0.0, 10.0, 1.0, 0.0, np.nan, 0.0, 100.0) == 0.0
    assert core.impedance(0.0, 0.0, 10.0, 1.0, 5.0, 0.0, 0.0, np.nan) == 0.0


# --- motion -----------------------------------------------------------------

J_KGM2 = 0.02
DT_S = 1e-3
TAU_MAX_NM = 4.0
KP_V, KI_V = 0.6, 6.0


def _inertia_step(p: float, w: float, tau: float, load: float) -> tuple[float, float]:
    """Exact ZOH step of J w' = tau - load, p' = w."""
    acc = (tau - load) / J_KGM2
    return p + w * DT_S + 0.5 * acc * DT_S**2, w + acc * DT_S


def test_velocity_loop_rejects_constant_load() -> None:
    m = core.Motion(kp=KP_V, ki=KI_V)
    load = 1.5
    p = w = 0.0
    for _ in range(4000):
        tau = m.velocity_step(3.0, w, 0.0, TAU_MAX_NM, DT_S)
        p, w = _inertia_step(p, w, tau, load)
    print(f"velocity loop: final error {3.0 - w:.2e} rad/s, torque {m.tau_out:.4f} N m")
    assert w == pytest.approx(3.0, abs=1e-4)
    assert m.tau_out == pytest.approx(load, abs=1e-4)


def _velocity_step_peak(n: int, ki: float) -> float:
    """Peak of the linear velocity loop's unit step response (python-control):
    C(z) = kp + ki dt z/(z-1) around the ZOH integrator dt/(J (z-1))."""
    z = control.tf([1.0, 0.0], [1.0], DT_S)
    pi_tf = KP_V + ki * DT_S * z / (z - 1)
    plant = DT_S / J_KGM2 / (z - 1)
    t = np.arange(n) * DT_S
    y = control.forced_response(control.feedback(pi_tf * plant, 1), T=t, U=np.ones(n)).outputs
    return float(y.max())


@pytest.mark.parametrize("ki", [KI_V, 0.0])
def test_position_loop_settles_within_v_max(ki: float) -> None:
    """The speed reference never exceeds v_max, so the speed peaks no higher
    than the velocity loop's own response to a v_max step: exactly v_max for
    a P velocity loop (first order), v_max times the PI loop's overshoot."""
    v_max = 2.0
    m = core.Motion(kp=KP_V, ki=ki, pos_kp=15.0, v_max_rad_s=v_max)
    p = w = 0.0
    n = 6000
    w_log = np.empty(n)
    for k in range(n):
        tau = m.position_step(3.0, 0.0, p, w, 0.0, TAU_MAX_NM, DT_S)
        assert abs(m.v_ref) <= v_max
        assert abs(tau) <= TAU_MAX_NM
        p, w = _inertia_step(p, w, tau, 0.0)
        w_log[k] = w
    peak_lin = _velocity_step_peak(n, ki)
    print(f"position loop: final error {3.0 - p:.2e} rad, peak speed {w_log.max():.4f} rad/s, "
          f"v_max {v_max} x linear velocity-step peak {peak_lin:.4f}")
    assert p == pytest.approx(3.0, abs=1e-4)
    assert w_log.max() <= v_max * peak_lin * (1 + 1e-4)
    if ki == 0.0:
        assert peak_lin <= 1.0 + 1e-9 and w_log.max() <= v_max * (1 + 1e-5)
    assert np.mean(np.abs(w_log[500:1200] - v_max)) < 0.02 * v_max  # cruise at v_max


def test_motion_torque_clamped_and_config() -> None:
    m = core.Motion(kp=10.0, ki=100.0, pos_kp=50.0, v_max_rad_s=100.0)
    assert m.position_step(100.0, 0.0, 0.0, 0.0, 0.0, 2.5, DT_S) == pytest.approx(2.5)
    assert m.velocity_step(-100.0, 0.0, 0.0, 2.5, DT_S) == pytest.approx(-2.5)
    with pytest.raises(ValueError, match="v_max_rad_s"):
        core.Motion(kp=1.0, ki=1.0, v_max_rad_s=0.0)


# --- muscle -----------------------------------------------------------------

MUSCLE = dict(f_max_n=1500.0, l_opt_m=0.08, l_ref_m=0.08, moment_arm_m=0.025,
              v_max_lopt_s=10.0, width=0.5, curv=0.25, ecc=1.5, k_pe=3.0,
              tau_act_s=0.01, tau_deact_s=0.04)


def _activated(**over: float) -> core.Muscle:
    """A muscle pair with the flexor fully active (a = 1)."""
    m = core.Muscle(**{**MUSCLE, **over})
    m.run(1.0, 0.0, 0.0, 0.0, 1e6, np.full(3000, 1e-3))
    assert m.act[0] == pytest.approx(1.0, abs=1e-6) and m.act[1] == 0.0
    return m


def _flexor_force(m: core.Muscle, l_norm: float = 1.0, v_norm: float = 0.0) -> float:
    """Flexor force at normalised length and speed (l = l_ref - r p, v = -r v_out)."""
    c = MUSCLE
    p = (c["l_ref_m"] - l_norm * c["l_opt_m"]) / c["moment_arm_m"]
    v_out = -v_norm * c["v_max_lopt_s"] * c["l_opt_m"] / c["moment_arm_m"]
    m.step(1.0, 0.0, p, v_out, 1e6, 1e-3)
    return m.force_n[0]


def test_isometric_force_is_f_max() -> None:
    m = _activated()
    m.step(1.0, 0.0, 0.0, 0.0, 1e6, 1e-3)
    assert m.force_n[0] == pytest.approx(MUSCLE["f_max_n"], rel=1e-6)
    assert m.force_n[1] == 0.0
    assert m.tau_out == pytest.approx(MUSCLE["f_max_n"] * MUSCLE["moment_arm_m"], rel=1e-6)


def test_force_length() -> None:
    m = _activated(k_pe=0.0)
    w = MUSCLE["width"]
    for dl in (-1.2 * w, -1.01 * w, 1.01 * w, 1.5 * w):
        assert _flexor_force(m, 1.0 + dl) == 0.0
    # inverted parabola: half-width gives 3/4, and symmetric
    f = MUSCLE["f_max_n"]
    assert _flexor_force(m, 1.0 + 0.5 * w) == pytest.approx(0.75 * f, rel=1e-5)
    assert _flexor_force(m, 1.0 - 0.5 * w) == pytest.approx(0.75 * f, rel=1e-5)
    lengths = np.linspace(1.0, 1.0 + w, 30)
    forces = [_flexor_force(m, x) for x in lengths]
    assert np.all(np.diff(forces) < 0)


def test_force_velocity() -> None:
    m = _activated(k_pe=0.0)
    f_max, a = MUSCLE["f_max_n"], MUSCLE["curv"]
    assert _flexor_force(m, v_norm=-1.0) == pytest.approx(0.0, abs=1e-3)
    assert _flexor_force(m, v_norm=-1.5) == 0.0
    assert _flexor_force(m, v_norm=0.0) == pytest.approx(f_max, rel=1e-6)
    # shortening: Hill's hyperbola (F/F0 + a/F0)(v/vmax + b/vmax) = (1 + a/F0) b/vmax, a/F0 = b/vmax = curv
    for s in (0.1, 0.3, 0.6, 0.9):
        hill = (1.0 + a) * a / (s + a) - a
        assert _flexor_force(m, v_norm=-s) == pytest.approx(hill * f_max, rel=1e-5)
    v = np.linspace(-1.0, 3.0, 200)
    f = np.array([_flexor_force(m, v_norm=x) for x in v])
    assert np.all(np.diff(f) > 0)  # monotone in lengthening speed
    assert np.all(f[v > 0.01] > f_max)  # eccentric enhancement
    assert f.max() < MUSCLE["ecc"] * f_max * 1.3
    # the eccentric plateau approaches ecc + (ecc - 1) curv / 7.56 (v -> inf)
    ecc = MUSCLE["ecc"]
    assert _flexor_force(m, v_norm=1e4) / f_max == pytest.approx(ecc + (ecc - 1) * a / 7.56, rel=1e-3)


def test_passive_force_quadratic() -> None:
    m = core.Muscle(**MUSCLE)  # a = 0: only the passive element
    f_max, k_pe = MUSCLE["f_max_n"], MUSCLE["k_pe"]
    forces = []
    for dl in (0.05, 0.1, 0.2, 0.4):
        p = -dl * MUSCLE["l_opt_m"] / MUSCLE["moment_arm_m"]  # stretch the flexor
        m.step(0.0, 0.0, p, 0.0, 1e6, 1e-3)
        forces.append(m.force_n[0])
        assert m.force_n[0] == pytest.approx(f_max * k_pe * dl**2, rel=1e-4)
        assert m.tau_out > 0  # a stretched flexor pulls back towards flexion
    assert forces[3] / forces[1] == pytest.approx(16.0, rel=1e-4)
    m.step(0.0, 0.0, 0.2 * MUSCLE["l_opt_m"] / MUSCLE["moment_arm_m"], 0.0, 1e6, 1e-3)
    assert m.force_n[0] == 0.0  # flexor shorter than l_opt: no passive force


def test_activation_follows_first_order() -> None:
    """Step up then down in excitation: a(t) against 1 - exp(-t/tau_act) and
    exp(-t/tau_deact). Documented bound of the discretisation: h^3/65, h = dt/tau."""
    dt = 1e-3
    m = core.Muscle(**MUSCLE)
    n = 150
    a_up = []
    for _ in range(n):
        m.step(1.0, 0.0, 0.0, 0.0, 1e6, dt)
        a_up.append(m.act[0])
    t = np.arange(1, n + 1) * dt
    err_up = np.max(np.abs(np.array(a_up) - (1.0 - np.exp(-t / MUSCLE["tau_act_s"]))))
    a_down = []
    for _ in range(n):
        m.step(0.0, 0.0, 0.0, 0.0, 1e6, dt)
        a_down.append(m.act[0])
    a0 = a_up[-1]
    err_down = np.max(np.abs(np.array(a_down) - a0 * np.exp(-t / MUSCLE["tau_deact_s"])))
    bound_up = (dt / MUSCLE["tau_act_s"]) ** 3 / 65 + 1e-6
    bound_down = (dt / MUSCLE["tau_deact_s"]) ** 3 / 65 + 1e-6
    print(f"activation: max error rise {err_up:.2e} (bound {bound_up:.2e}), "
          f"fall {err_down:.2e} (bound {bound_down:.2e})")
    assert err_up < bound_up
    assert err_down < bound_down


def test_pair_torque_sign_and_saturation() -> None:
    m = core.Muscle(**MUSCLE)
    tau_flex = m.run(1.0, 0.0, 0.0, 0.0, 1e6, np.full(200, 1e-3))
    assert np.all(tau_flex[1:] > 0)
    m.reset()
    tau_ext = m.run(0.0, 1.0, 0.0, 0.0, 1e6, np.full(200, 1e-3))
    assert np.all(tau_ext[1:] < 0)
    np.testing.assert_allclose(tau_ext, -tau_flex, rtol=1e-6)  # symmetric pair
    m.reset()
    tau = m.run(1.0, 0.0, 0.0, 0.0, 5.0, np.full(200, 1e-3))
    assert tau.max() == pytest.approx(5.0) and np.all(tau <= 5.0)
    assert m.force_n[0] > 5.0 / MUSCLE["moment_arm_m"]  # the muscle pulls harder than allowed
    # co-contraction at equal activation cancels at the reference posture
    m.reset()
    assert m.run(0.7, 0.7, 0.0, 0.0, 1e6, np.full(100, 1e-3))[-1] == pytest.approx(0.0, abs=1e-6)


def test_muscle_run_equals_steps_and_config() -> None:
    rng = np.random.default_rng(4)
    u = rng.uniform(-0.2, 1.2, (2, 300))
    p, v = rng.uniform(-1, 1, 300), rng.uniform(-10, 10, 300)
    a, b = core.Muscle(**MUSCLE), core.Muscle(**MUSCLE)
    tau = a.run(u[0], u[1], p, v, 30.0, 1e-3)
    for k in range(300):
        assert b.step(u[0, k], u[1, k], p[k], v[k], 30.0, 1e-3) == tau[k]
    assert 0.0 <= min(b.act) and max(b.act) <= 1.0
    with pytest.raises(ValueError, match="ecc"):
        core.Muscle(**{**MUSCLE, "ecc": 0.9})
    with pytest.raises(ValueError, match="tau_deact_s"):
        core.Muscle(**{**MUSCLE, "tau_deact_s": 0.0})
