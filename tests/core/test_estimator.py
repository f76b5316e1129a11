"""Encoder estimator (actuators/core/mf_estimator.c) against references.

References: angles recomputed here in float64 numpy from the definitions
(unwrapped counts, pole pairs, direction, offset); the PLL speed step against
the continuous critically damped type-2 loop (2 w s + w^2)/(s + w)^2 with
python-control; the speed noise against the discrete PLL equations
(mf_estimator.h) through a discrete Lyapunov equation with scipy.
"""
from __future__ import annotations

import control
import numpy as np
import pytest
import scipy.linalg

from actuators import core

TWO_PI = 2.0 * np.pi


def _wrap_2pi_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a - b wrapped to [-pi, pi)."""
    return (np.asarray(a, dtype=np.float64) - b + np.pi) % TWO_PI - np.pi


def _ref_angles(raw: np.ndarray, cpr: int, direction: int, pole_pairs: int,
                offset: float) -> tuple[np.ndarray, np.ndarray]:
    """theta_m, theta_e (rad) from raw counts, by unwrapping the count steps."""
    raw = raw.astype(np.int64)
    step = np.diff(raw)
    step = (step + cpr // 2) % cpr - cpr // 2           # shortest way round, [-cpr/2, cpr/2)
    unwrapped = raw[0] + np.concatenate([[0], np.cumsum(step)])
    start = (direction * raw[0]) % cpr                  # the first directed count, [0, cpr)
    if start >= cpr - cpr // 2:                         # the first angle lies in [-pi, pi)
        start -= cpr
    theta_m = (start + direction * (unwrapped - raw[0])) * TWO_PI / cpr
    theta_e = np.mod(pole_pairs * theta_m - offset, TWO_PI)
    return theta_m, theta_e


@pytest.mark.parametrize("cpr,direction,pole_pairs,offset", [
    (16384, 1, 14, 0.0),
    (16384, -1, 14, 1.234),
    (4096, 1, 7, -2.5),
    (1000, -1, 21, 5.0),
    (1 << 24, -1, 255, 3.0),
])
def test_angles_match_numpy(cpr: int, direction: int, pole_pairs: int, offset: float) -> None:
    """Random walk over many turns: theta_m and theta_e as computed independently."""
    rng = np.random.default_rng(cpr + pole_pairs)
    steps = rng.integers(-(cpr // 2) + 1, cpr // 2, size=20000)
    steps[: 10000] = np.abs(steps[: 10000]) // 3     # drift: many turns in one direction
    raw = (rng.integers(0, cpr) + np.cumsum(steps)) % cpr
    est = core.Estimator(cpr, direction, pole_pairs, offset, 500.0)
    theta_m, theta_e, _ = est.run(raw.astype(np.uint32), 1e-4)
    ref_m, ref_e = _ref_angles(raw, cpr, direction, pole_pairs, offset)
    assert np.max(np.abs(ref_m)) > 50 * TWO_PI
    err_m = np.abs(theta_m - ref_m) / (1.0 + np.abs(ref_m))
    err_e = np.abs(_wrap_2pi_diff(theta_e, ref_e))
    assert err_m.max() < 1e-6
    assert err_e.max() < 2e-6
    assert np.all((theta_e >= 0) & (theta_e < TWO_PI))
    assert est.turns == int(np.floor(ref_m[-1] / TWO_PI + 1e-9))


def test_first_sample_primes() -> None:
    """The first count sets the angle with no speed kick; counts are taken modulo cpr."""
    est = core.Estimator(4096, -1, 7, 0.0, 1000.0)
    est.update(3 * 4096 + 1000, 1e-4)
    assert est.primed
    assert est.omega_m == 0.0 and est.omega_e == 0.0
    assert est.pll_pos_counts == 4096 - 1000
    # directed count 3096 of 4096 is past half a turn: theta_m starts at -1000 counts, in [-pi, pi)
    assert est.turns == -1
    assert est.theta_m == pytest.approx(-1000 * TWO_PI / 4096, abs=1e-6)
    est.update(3 * 4096 + 1000, 1e-4)
    assert est.omega_m == 0.0


@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("counts_per_step", [7, -13])
def test_constant_speed_zero_steady_state_error(direction: int, counts_per_step: int) -> None:
    """Type-2 PLL: a ramp crossing the count wrap many times is tracked with
    zero speed error and zero position lag."""
    cpr, dt, w_b = 16384, 25e-6, 2000.0
    n = 40000                                               # 1 s, 17 to 32 turns
    raw = (100 + counts_per_step * np.arange(n)) % cpr
    est = core.Estimator(cpr, direction, 14, 0.3, w_b)
    theta_m, _, omega_m = est.run(raw.astype(np.uint32), dt)
    w_true = direction * counts_per_step / dt * TWO_PI / cpr
    settled = slice(int(20 / w_b / dt), None)               # after 20 / w_b
    rel = np.abs(omega_m[settled] - w_true) / abs(w_true)
    assert rel.max() < 1e-5
    assert abs(est.pll_lag_counts) < 1e-3
    directed_last = (direction * raw[-1]) % cpr
    assert est.pll_pos_counts == pytest.approx(directed_last, abs=1e-3)
    assert abs(est.turns) >= 17
    assert est.omega_e == pytest.approx(14 * est.omega_m, rel=1e-6)


def test_fractional_speed_mean_is_exact() -> None:
    """Counts/step not an integer: quantisation ripples the estimate, but its
    mean over a window is the true speed."""
    cpr, dt, w_b = 4096, 1e-4, 300.0
    speed_counts_s = 1234.5678
    t = np.arange(60000) * dt
    raw = np.floor(speed_counts_s * t).astype(np.int64) % cpr
    est = core.Estimator(cpr, 1, 1, 0.0, w_b)
    _, _, omega_m = est.run(raw.astype(np.uint32), dt)
    w_true = speed_counts_s * TWO_PI / cpr
    mean = omega_m[10000:].mean()
    assert abs(mean - w_true) / w_true < 2e-4


def test_speed_step_matches_critically_damped_pll() -> None:
    """A speed step: omega_m (the loop integrator) follows the continuous
    critically damped response w_b^2 / (s + w_b)^2: no overshoot, 50 % at
    w_b t = 1.678, 90 % at w_b t = 3.890 (roots of e^-x (1 + x) = 0.5, 0.1)."""
    cpr, dt, w_b = 1 << 24, 1e-4, 100.0
    v0 = 0.5 * cpr                                          # counts/s: 0.5 turn/s
    n0, n = 100, 1000
    t = np.arange(n) * dt
    t_run = np.clip(t - t[n0], 0.0, None)
    raw = np.floor(v0 * t_run).astype(np.int64) % cpr
    est = core.Estimator(cpr, 1, 1, 0.0, w_b)
    _, _, omega_m = est.run(raw.astype(np.uint32), dt)
    w0 = v0 * TWO_PI / cpr
    h = control.tf([w_b**2], [1, 2 * w_b, w_b**2])
    resp = control.step_response(h, T=t[n0:] - t[n0])
    ref = np.concatenate([np.zeros(n0), w0 * np.asarray(resp.outputs).ravel()])
    err = np.abs(omega_m - ref) / w0
    assert err.max() < 0.01
    assert omega_m.max() / w0 < 1.0 + 1e-4
    y = omega_m[n0:] / w0
    x50 = np.interp(0.5, y, t_run[n0:]) * w_b
    x90 = np.interp(0.9, y, t_run[n0:]) * w_b
    assert x50 == pytest.approx(1.6783, rel=0.01)
    assert x90 == pytest.approx(3.8897, rel=0.01)
    print(f"speed step: max |error| vs continuous PLL {err.max() * 100:.3f} % of the step, "
          f"50 % at w_b t = {x50:.4f}, 90 % at {x90:.4f}")


def _pll_noise_gain(w_b: float, dt: float) -> float:
    """Std of v (counts/s) per unit std of white count noise, from the discrete
    PLL equations p+ = (1-a)(p + v dt) + a y, v+ = v - b(p + v dt) + b y."""
    a, b = 2 * w_b * dt, w_b**2 * dt
    A = np.array([[1 - a, (1 - a) * dt], [-b, 1 - b * dt]])
    B = np.array([[a], [b]])
    X = scipy.linalg.solve_discrete_lyapunov(A, B @ B.T)
    return float(np.sqrt(X[1, 1]))


def test_speed_noise_falls_with_bandwidth() -> None:
    """Noisy counts: the speed noise falls as the bandwidth lowers, as the
    discrete PLL's noise gain predicts (within 10 %)."""
    cpr, dt, sigma = 16384, 1e-4, 3.0
    rng = np.random.default_rng(7)
    n = 100000
    true = 5000.0 * np.arange(n) * dt                       # counts, 5000 counts/s
    noisy = np.round(true + rng.normal(0.0, sigma, n)).astype(np.int64) % cpr
    var_in = sigma**2 + 1.0 / 12.0                          # noise + rounding
    stds = []
    for w_b in (800.0, 200.0, 50.0):
        est = core.Estimator(cpr, 1, 1, 0.0, w_b)
        _, _, omega_m = est.run(noisy.astype(np.uint32), dt)
        err = omega_m[20000:] * cpr / TWO_PI - 5000.0       # counts/s
        std = float(err.std())
        predicted = _pll_noise_gain(w_b, dt) * np.sqrt(var_in)
        assert std == pytest.approx(predicted, rel=0.1)
        assert abs(err.mean()) < 4 * std / np.sqrt(len(err) * 1e-4 * w_b) + 1e-3
        stds.append(std)
        print(f"w_b {w_b:5.0f} rad/s: speed noise {std:8.2f} counts/s (predicted {predicted:8.2f})")
    assert stds[0] > 5 * stds[1] > 25 * stds[2]


def test_large_dt_stays_stable() -> None:
    """w_b dt far above the stable range: the gains are limited, the estimate converges."""
    est = core.Estimator(1000, 1, 1, 0.0, 2000.0)
    raw = (np.arange(500) * 100) % 1000                     # 100 counts per 10 ms
    _, _, omega_m = est.run(raw.astype(np.uint32), 0.01)
    assert np.all(np.isfinite(omega_m))
    assert omega_m[-1] == pytest.approx(10000.0 * TWO_PI / 1000, rel=1e-5)


@pytest.mark.parametrize("kwargs,field", [
    (dict(counts_per_rev=3), "counts_per_rev"),
    (dict(counts_per_rev=(1 << 24) + 1), "counts_per_rev"),
    (dict(direction=0), "direction"),
    (dict(direction=2), "direction"),
    (dict(pole_pairs=0), "pole_pairs"),
    (dict(counts_per_rev=1 << 24, pole_pairs=256), "pole_pairs"),
    (dict(offset_e_rad=float("nan")), "offset_e_rad"),
    (dict(offset_e_rad=float("inf")), "offset_e_rad"),
    (dict(pll_bandwidth_rad_s=0.0), "pll_bandwidth_rad_s"),
    (dict(pll_bandwidth_rad_s=-1.0), "pll_bandwidth_rad_s"),
    (dict(pll_bandwidth_rad_s=float("nan")), "pll_bandwidth_rad_s"),
])
def test_bad_config_raises(kwargs: dict, field: str) -> None:
    """A config outside the header's ranges raises ValueError naming the field."""
    args = dict(counts_per_rev=16384, direction=1, pole_pairs=14, offset_e_rad=0.0,
                pll_bandwidth_rad_s=1000.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        core.Estimator(**args)
