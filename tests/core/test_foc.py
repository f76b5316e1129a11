"""FOC transforms, SVPWM and dead-time compensation (actuators/core/mf_foc.c).

References written here from the textbook definitions in float64 numpy:
the amplitude-invariant Clarke matrix, Park as a rotation matrix, and the
inverter's average phase-to-neutral voltages (d_x - mean(d)) * v_bus.
"""
from __future__ import annotations

import numpy as np
import pytest

from actuators import core

F32 = np.float32
EPS32 = float(np.finfo(F32).eps)
SQRT3 = np.sqrt(3.0)
# amplitude-invariant Clarke: [alpha, beta] = T @ [a, b, c]
T_CLARKE = 2.0 / 3.0 * np.array([[1.0, -0.5, -0.5], [0.0, SQRT3 / 2.0, -SQRT3 / 2.0]])


def _f32(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return rng.uniform(lo, hi, n).astype(F32)


def _clarke_ref(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return T_CLARKE @ np.stack([a, b, c]).astype(np.float64)


def _rot(theta: np.ndarray) -> np.ndarray:
    """Rotation matrices R(theta), shape (n, 2, 2), float64."""
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def _hexagon_radius(angle: np.ndarray, v_bus: np.ndarray) -> np.ndarray:
    """Distance from the centre to the SVPWM hexagon edge at `angle` (V)."""
    sector = np.mod(angle, np.pi / 3.0) - np.pi / 6.0
    return v_bus / SQRT3 / np.cos(sector)


def _realised_alpha_beta(duties: tuple[np.ndarray, ...], v_bus: np.ndarray) -> np.ndarray:
    """Average alpha/beta voltage an ideal inverter makes from duties (V)."""
    d = np.stack(duties).astype(np.float64)
    v_phase = (d - d.mean(axis=0)) * v_bus.astype(np.float64)
    return T_CLARKE @ v_phase


def test_clarke_three_and_two_shunt_against_matrix() -> None:
    rng = np.random.default_rng(10)
    a, b, c = (_f32(rng, -100.0, 100.0, 200_000) for _ in range(3))
    ref = _clarke_ref(a, b, c)
    al, be = core.clarke(a, b, c)
    assert al.dtype == F32 and be.dtype == F32
    err = max(np.max(np.abs(al - ref[0])), np.max(np.abs(be - ref[1])))
    print(f"clarke max err {err:.3g} A at |i| <= 100 A")
    assert err <= 4 * EPS32 * 100.0
    # two shunts: i_c = -i_a - i_b
    ref2 = T_CLARKE @ np.stack([a, b, -a.astype(np.float64) - b])
    al2, be2 = core.clarke2(a, b)
    np.testing.assert_allclose(al2, ref2[0], rtol=0, atol=4 * EPS32 * 100.0)
    np.testing.assert_allclose(be2, ref2[1], rtol=0, atol=4 * EPS32 * 200.0)


def test_inv_clarke_is_the_inverse_on_balanced_sets() -> None:
    rng = np.random.default_rng(11)
    v_al, v_be = _f32(rng, -50.0, 50.0, 100_000), _f32(rng, -50.0, 50.0, 100_000)
    va, vb, vc = core.inv_clarke(v_al, v_be)
    # pseudo-inverse of the Clarke matrix maps alpha/beta to a zero-sum phase set
    ref = np.linalg.pinv(T_CLARKE) @ np.stack([v_al, v_be]).astype(np.float64)
    for got, want in zip((va, vb, vc), ref):
        np.testing.assert_allclose(got, want, rtol=0, atol=4 * EPS32 * 50.0)
    np.testing.assert_allclose(va.astype(np.float64) + vb + vc, 0.0, atol=8 * EPS32 * 50.0)
    al, be = core.clarke(va, vb, vc)
    np.testing.assert_allclose(al, v_al, rtol=0, atol=4 * EPS32 * 50.0)
    np.testing.assert_allclose(be, v_be, rtol=0, atol=4 * EPS32 * 50.0)


def test_park_is_a_rotation_and_inv_park_undoes_it() -> None:
    rng = np.random.default_rng(12)
    n = 200_000
    al, be = _f32(rng, -50.0, 50.0, n), _f32(rng, -50.0, 50.0, n)
    theta = _f32(rng, -1e3, 1e3, n)
    d, q = core.park(al, be, theta)
    # Park: the rotor-frame coordinates are R(-theta) applied to alpha/beta
    ref = np.einsum("nij,jn->in", _rot(-theta.astype(np.float64)), np.stack([al, be]).astype(np.float64))
    err = max(np.max(np.abs(d - ref[0])), np.max(np.abs(q - ref[1])))
    print(f"park max err {err:.3g} A at |i| <= 71 A")
    assert err <= 8 * EPS32 * 71.0
    al2, be2 = core.inv_park(d, q, theta)
    np.testing.assert_allclose(al2, al, rtol=0, atol=16 * EPS32 * 71.0)
    np.testing.assert_allclose(be2, be, rtol=0, atol=16 * EPS32 * 71.0)
    # inverse Park is R(+theta)
    ref_inv = np.einsum("nij,jn->in", _rot(theta.astype(np.float64)), np.stack([d, q]).astype(np.float64))
    np.testing.assert_allclose(al2, ref_inv[0], rtol=0, atol=8 * EPS32 * 71.0)
    np.testing.assert_allclose(be2, ref_inv[1], rtol=0, atol=8 * EPS32 * 71.0)


def test_balanced_currents_are_constant_in_the_rotor_frame() -> None:
    amp, phi = 12.5, 0.7  # A, rad (current vector ahead of the d axis)
    theta = np.linspace(-30.0, 30.0, 5001)
    i_abc = [amp * np.cos(theta + phi - k * 2.0 * np.pi / 3.0) for k in range(3)]
    al, be = core.clarke(*i_abc)
    np.testing.assert_allclose(np.hypot(al, be), amp, rtol=1e-6)
    d, q = core.park(al, be, theta)
    np.testing.assert_allclose(d, amp * np.cos(phi), atol=2e-6 * amp)
    np.testing.assert_allclose(q, amp * np.sin(phi), atol=2e-6 * amp)
    # two shunts see the same vector
    al2, be2 = core.clarke2(i_abc[0], i_abc[1])
    np.testing.assert_allclose(np.hypot(al2, be2), amp, rtol=2e-6)


def test_svpwm_linear_region_reproduces_the_command() -> None:
    rng = np.random.default_rng(13)
    n = 400_000
    v_bus = _f32(rng, 1.0, 100.0, n)
    ang = rng.uniform(-np.pi, np.pi, n)
    # half inside the inscribed circle |v| <= v_bus/sqrt3, half out to the
    # hexagon (min-max injection is linear up to the hexagon)
    r = np.where(
        np.arange(n) % 2 == 0,
        v_bus / SQRT3 * np.sqrt(rng.uniform(0.0, 1.0, n)),
        _hexagon_radius(ang, v_bus) * rng.uniform(0.0, 0.9999, n),
    )
    v_al, v_be = (r * np.cos(ang)).astype(F32), (r * np.sin(ang)).astype(F32)
    duties = core.svpwm(v_al, v_be, v_bus)
    d = np.stack(duties)
    assert d.dtype == F32 and np.all(d >= 0.0) and np.all(d <= 1.0)
    got = _realised_alpha_beta(duties, v_bus)
    err = np.max(np.abs(got - np.stack([v_al, v_be])) / v_bus)
    print(f"svpwm linear: max |realised - commanded| {err:.3g} * v_bus")
    assert err <= 4 * EPS32
    # min-max injection centres the duties
    np.testing.assert_allclose(d.max(axis=0) + d.min(axis=0), 1.0, atol=4 * EPS32)


def test_svpwm_overmodulation_keeps_angle_on_hexagon() -> None:
    rng = np.random.default_rng(14)
    n = 200_000
    v_bus = _f32(rng, 1.0, 100.0, n)
    ang = rng.uniform(-np.pi, np.pi, n)
    r = _hexagon_radius(ang, v_bus) * (1.001 + 1e3 * rng.uniform(0.0, 1.0, n) ** 3)
    v_al, v_be = (r * np.cos(ang)).astype(F32), (r * np.sin(ang)).astype(F32)
    duties = core.svpwm(v_al, v_be, v_bus)
    d = np.stack(duties)
    assert np.all(d >= 0.0) and np.all(d <= 1.0)
    got = _realised_alpha_beta(duties, v_bus)
    cmd_angle = np.arctan2(v_be.astype(np.float64), v_al)
    angle_err = np.abs(np.angle(np.exp(1j * (np.arctan2(got[1], got[0]) - cmd_angle))))
    print(f"svpwm over-modulation: max angle error {angle_err.max():.3g} rad")
    assert angle_err.max() <= 1e-6
    radius_err = np.abs(np.hypot(got[0], got[1]) - _hexagon_radius(cmd_angle, v_bus.astype(np.float64)))
    assert np.max(radius_err / v_bus) <= 4 * EPS32
    np.testing.assert_allclose(d.max(axis=0), 1.0, atol=2 * EPS32)
    np.testing.assert_allclose(d.min(axis=0), 0.0, atol=2 * EPS32)


def test_svpwm_huge_finite_command_keeps_angle() -> None:
    fmax = float(np.finfo(F32).max)
    v_al = np.array([fmax, -fmax, 3e38, 1e-3], dtype=F32)
    v_be = np.array([fmax, 1.0, -2e38, -fmax], dtype=F32)
    duties = core.svpwm(v_al, v_be, 48.0)
    d = np.stack(duties)
    assert np.all(np.isfinite(d)) and np.all(d >= 0.0) and np.all(d <= 1.0)
    got = _realised_alpha_beta(duties, np.float64(48.0))
    cmd = np.arctan2(v_be.astype(np.float64), v_al.astype(np.float64))
    assert np.max(np.abs(np.angle(np.exp(1j * (np.arctan2(got[1], got[0]) - cmd))))) <= 1e-6


@pytest.mark.parametrize(
    "v_al, v_be, v_bus",
    [(1.0, 2.0, 0.0), (1.0, 2.0, -24.0), (1.0, 2.0, np.nan), (1.0, 2.0, np.inf),
     (np.nan, 2.0, 24.0), (1.0, np.nan, 24.0), (np.inf, 0.0, 24.0), (0.0, -np.inf, 24.0)],
)
def test_svpwm_invalid_gives_zero_voltage(v_al: float, v_be: float, v_bus: float) -> None:
    for d in core.svpwm(v_al, v_be, v_bus):
        assert d == F32(0.5)


def test_svpwm_zero_command_and_broadcast() -> None:
    d_a, d_b, d_c = core.svpwm(0.0, 0.0, np.array([12.0, 24.0, 48.0]))
    assert d_a.shape == (3,)
    np.testing.assert_array_equal(np.stack([d_a, d_b, d_c]), 0.5)


def _deadtime_ref(duty: np.ndarray, i_abc: np.ndarray, dead_frac: float, band: float) -> np.ndarray:
    """Textbook compensation: shift by dead_frac * sat(i / band) toward the current."""
    shift = dead_frac * np.clip(i_abc.astype(np.float64) / band, -1.0, 1.0)
    return np.clip(duty.astype(np.float64) + shift, 0.0, 1.0)


def test_deadtime_comp_shift_sign_and_ramp() -> None:
    rng = np.random.default_rng(15)
    duty = rng.uniform(0.0, 1.0, (50_000, 3)).astype(F32)
    i_abc = rng.uniform(-3.0, 3.0, (50_000, 3)).astype(F32)
    out = core.deadtime_comp(duty, i_abc, 0.02, 0.5)
    assert out.shape == (50_000, 3) and out.dtype == F32
    np.testing.assert_allclose(out, _deadtime_ref(duty, i_abc, 0.02, 0.5), atol=2 * EPS32)
    # the input is not modified
    assert not np.shares_memory(out, duty)
    # outside the band: +-dead_frac with the sign of the current
    out = core.deadtime_comp([[0.5, 0.5, 0.5]], [[10.0, -10.0, 0.0]], 0.02, 0.5)
    np.testing.assert_allclose(out, [[0.52, 0.48, 0.5]], atol=1e-7)
    # inside the band: proportional to the current
    out = core.deadtime_comp([0.5, 0.5, 0.5], [0.25, -0.125, 0.5], 0.02, 0.5)
    np.testing.assert_allclose(out, [0.51, 0.495, 0.52], atol=1e-7)
    # stays in [0, 1]
    out = core.deadtime_comp([0.995, 0.005, 1.0], [5.0, -5.0, 5.0], 0.02, 0.5)
    np.testing.assert_array_equal(out, [1.0, 0.0, 1.0])


def test_deadtime_comp_broadcast_and_bad_inputs() -> None:
    # per-row dead_frac, a single duty row broadcast
    out = core.deadtime_comp([0.5, 0.5, 0.5], [1.0, -1.0, 0.1], [0.02, 0.01], 0.5)
    np.testing.assert_allclose(out, [[0.52, 0.48, 0.504], [0.51, 0.49, 0.502]], atol=1e-7)
    # zero band: hard sign; NaN current: no shift; NaN duty: 0.5
    out = core.deadtime_comp([0.5, 0.5, np.nan], [1e-6, np.nan, 1.0], 0.02, 0.0)
    np.testing.assert_allclose(out, [0.52, 0.5, 0.5], atol=1e-7)
    with pytest.raises(ValueError, match="length 3"):
        core.deadtime_comp([0.5, 0.5], [1.0, 1.0], 0.02, 0.5)
