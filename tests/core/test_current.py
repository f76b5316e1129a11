"""dq current controller (actuators/core/mf_current.c) on an exact RL plant.

The plant is the PMSM electrical model in the rotor frame (DESIGN.md s. 3),
at constant electrical speed a linear system x' = A x + B v + E, discretised
exactly (zero-order hold) with scipy's matrix exponential.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from actuators import core

R_OHM = 0.12
LD_H = 80e-6
LQ_H = 120e-6
FLUX_WB = 0.008
DT_S = 25e-6          # 40 kHz current loop
W_C = 2.0 * np.pi * 400.0  # current-loop bandwidth, rad/s
V_BUS = 48.0
V_MAX_FRAC = 0.95


class RLPlant:
    """Exact ZOH discretisation of the dq electrical equations at speed omega_e."""

    def __init__(self, omega_e: float) -> None:
        a = np.array([[-R_OHM / LD_H, omega_e * LQ_H / LD_H],
                      [-omega_e * LD_H / LQ_H, -R_OHM / LQ_H]])
        b = np.array([[1.0 / LD_H, 0.0, 0.0],
                      [0.0, 1.0 / LQ_H, -omega_e * FLUX_WB / LQ_H]])  # inputs v_d, v_q, 1
        m = np.zeros((5, 5))
        m[:2, :2] = a
        m[:2, 2:] = b
        phi = expm(m * DT_S)
        self.ad, self.bd = phi[:2, :2], phi[:2, 2:]
        self.i = np.zeros(2)

    def step(self, v_d: float, v_q: float) -> None:
        self.i = self.ad @ self.i + self.bd @ np.array([v_d, v_q, 1.0])


def _controller(decouple: bool = True) -> core.CurrentController:
    """Pole-zero cancellation: kp = L w_c, ki = R w_c per axis."""
    return core.CurrentController(kp_d=LD_H * W_C, ki_d=R_OHM * W_C, kp_q=LQ_H * W_C,
                                  ki_q=R_OHM * W_C, ld_h=LD_H, lq_h=LQ_H, flux_wb=FLUX_WB,
                                  decouple=decouple, v_max_frac=V_MAX_FRAC)


def _run(ctrl: core.CurrentController, plant: RLPlant, i_d_ref: np.ndarray, i_q_ref: np.ndarray,
         omega_e: float, v_bus: float = V_BUS) -> tuple[np.ndarray, np.ndarray]:
    """Closed loop; returns currents (n, 2) sampled before each step and voltages (n, 2)."""
    n = len(i_q_ref)
    i = np.empty((n, 2))
    v = np.empty((n, 2))
    for k in range(n):
        i[k] = plant.i
        v[k] = ctrl.step(i_d_ref[k], i_q_ref[k], plant.i[0], plant.i[1], omega_e, v_bus, DT_S)
        plant.step(*v[k])
    return i, v


def _time_to_63(t: np.ndarray, y: np.ndarray, final: float) -> float:
    """Time the response first reaches 63.2 % of final, linearly interpolated."""
    level = (1.0 - np.exp(-1.0)) * final
    k = int(np.argmax(y >= level))
    return float(t[k - 1] + (level - y[k - 1]) / (y[k] - y[k - 1]) * (t[k] - t[k - 1]))


def test_iq_step_is_first_order_with_tau_1_over_wc() -> None:
    n = 400
    t = np.arange(n) * DT_S
    i_step = 10.0
    i, _ = _run(_controller(), RLPlant(0.0), np.zeros(n), np.full(n, i_step), 0.0)
    tau = _time_to_63(t, i[:, 1], i_step)
    print(f"i_q step: 63 % time {tau * 1e6:.1f} us, 1/w_c = {1e6 / W_C:.1f} us")
    assert tau == pytest.approx(1.0 / W_C, rel=0.10)
    # first order: no overshoot, and the whole curve follows 1 - exp(-t/tau)
    assert i[:, 1].max() <= i_step * (1.0 + 1e-4)
    expected = i_step * (1.0 - np.exp(-t / tau))
    assert np.max(np.abs(i[:, 1] - expected)) < 0.03 * i_step
    assert np.max(np.abs(i[:, 0])) < 1e-6


def test_decoupling_removes_cross_coupling() -> None:
    """At speed, a q step disturbs i_d through -omega L_q i_q; the feed-forward
    cancels it. Both loops start settled at zero current at that speed."""
    omega_e = 2.0 * np.pi * 250.0  # 2500 rpm with 6 pole pairs
    n_pre, n = 2000, 600
    i_step = 20.0
    results = {}
    for decouple in (True, False):
        ctrl, plant = _controller(decouple), RLPlant(omega_e)
        _run(ctrl, plant, np.zeros(n_pre), np.zeros(n_pre), omega_e)
        assert np.allclose(plant.i, 0.0, atol=1e-3)
        i, v = _run(ctrl, plant, np.zeros(n), np.full(n, i_step), omega_e)
        assert not np.any(np.hypot(v[:, 0], v[:, 1]) > V_MAX_FRAC * V_BUS / np.sqrt(3) * 0.99)
        t = np.arange(n) * DT_S
        ideal = i_step * (1.0 - np.exp(-t * W_C))
        results[decouple] = (np.max(np.abs(i[:, 0])), np.max(np.abs(i[:, 1] - ideal)))
    (id_dec, eq_dec), (id_raw, eq_raw) = results[True], results[False]
    print(f"peak |i_d|: decoupled {id_dec:.3f} A, coupled {id_raw:.3f} A; "
          f"max i_q deviation from first order: {eq_dec:.3f} A vs {eq_raw:.3f} A")
    assert id_raw > 1.0
    assert id_dec < 0.1 * id_raw
    assert eq_dec < 0.5 * eq_raw
    assert eq_dec < 0.05 * i_step


def test_voltage_circle_never_exceeded() -> None:
    rng = np.random.default_rng(1)
    n = 20000
    ctrl = _controller()
    v_bus = rng.uniform(-5.0, 60.0, n).astype(np.float32)
    args = [rng.uniform(-200, 200, n).astype(np.float32) for _ in range(4)]
    omega = rng.uniform(-5000, 5000, n).astype(np.float32)
    v_d, v_q = ctrl.run(*args, omega, v_bus, DT_S)
    v_max = V_MAX_FRAC * np.maximum(v_bus.astype(np.float64), 0.0) / np.sqrt(3.0)
    assert np.all(np.hypot(v_d, v_q) <= v_max * (1 + 1e-6) + 1e-9)
    assert np.all((v_d[v_bus <= 0] == 0) & (v_q[v_bus <= 0] == 0))


def test_d_axis_priority() -> None:
    """Both axes ask beyond the circle: v_d keeps its (axis-limited) PI value
    and v_q gets sqrt(v_max^2 - v_d^2)."""
    v_bus = 12.0
    v_max = V_MAX_FRAC * v_bus / np.sqrt(3.0)
    kp_d, ki_d = LD_H * W_C, R_OHM * W_C
    for e_d in (-15.0, 10.0, 30.0, 80.0):
        ctrl = _controller(decouple=False)
        v_d, v_q = ctrl.step(e_d, 500.0, 0.0, 0.0, 0.0, v_bus, DT_S)
        v_d_pi = np.clip((kp_d + ki_d * DT_S) * e_d, -v_max, v_max)  # first PI step from rest
        assert v_d == pytest.approx(v_d_pi, rel=1e-5)
        assert v_q == pytest.approx(np.sqrt(v_max**2 - v_d_pi**2), rel=1e-4, abs=1e-5)
        assert ctrl.limited


def test_anti_windup_per_axis() -> None:
    """A low bus limits the q-axis transient; afterwards i_q arrives without
    overshoot, whereas a plain PI (integrator unaware of the limit, written
    here) overshoots. The d axis, not saturated, keeps i_d at zero."""
    v_bus = 1.0 * np.sqrt(3.0) / V_MAX_FRAC * 1.5  # v_max = 1.5 V; 10 A needs 1.2 V
    v_max = V_MAX_FRAC * v_bus / np.sqrt(3.0)
    n = 3000
    i_step = 10.0
    plant = RLPlant(0.0)
    i, v = _run(_controller(decouple=False), plant, np.zeros(n), np.full(n, i_step), 0.0, v_bus)
    assert np.any(np.abs(v[:, 1]) >= v_max * 0.999)       # it did saturate
    over_aw = 100.0 * (i[:, 1].max() - i_step) / i_step

    plain = RLPlant(0.0)
    kp, ki, integ = LQ_H * W_C, R_OHM * W_C, 0.0
    iq_plain = np.empty(n)
    for k in range(n):
        iq_plain[k] = plain.i[1]
        e = i_step - plain.i[1]
        integ += ki * e * DT_S
        plain.step(0.0, float(np.clip(kp * e + integ, -v_max, v_max)))
    over_plain = 100.0 * (iq_plain.max() - i_step) / i_step
    print(f"saturated i_q step: overshoot anti-windup {over_aw:.3f} %, plain {over_plain:.2f} %")
    assert over_plain > 5.0
    assert over_aw < 0.5
    assert i[-1, 1] == pytest.approx(i_step, rel=1e-4)
    assert np.max(np.abs(i[:, 0])) < 1e-6


def test_run_equals_steps() -> None:
    rng = np.random.default_rng(2)
    x = [rng.uniform(-20, 20, 300).astype(np.float32) for _ in range(5)]
    a, b = _controller(), _controller()
    v_d, v_q = a.run(*x, 24.0, DT_S)
    for k in range(300):
        assert b.step(*(float(xi[k]) for xi in x), 24.0, DT_S) == (v_d[k], v_q[k])


def test_bad_bus_voltage_gives_zero() -> None:
    ctrl = _controller()
    ctrl.step(0.0, 10.0, 0.0, 0.0, 100.0, V_BUS, DT_S)
    for v_bus in (0.0, -3.0, float("nan"), float("inf")):
        assert ctrl.step(0.0, 10.0, 0.0, 0.0, 100.0, v_bus, DT_S) == (0.0, 0.0)
        assert ctrl.limited and ctrl.integral_q == 0.0


def test_config_rejected() -> None:
    with pytest.raises(ValueError, match="v_max_frac"):
        core.CurrentController(kp_d=1, ki_d=1, kp_q=1, ki_q=1, v_max_frac=1.2)
    with pytest.raises(ValueError, match="lq_h"):
        core.CurrentController(kp_d=1, ki_d=1, kp_q=1, ki_q=1, lq_h=-1e-6)
