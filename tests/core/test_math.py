"""The core's float32 sin/cos/atan2/wrap (actuators/core/mf_math.c) against numpy.

The reference is numpy's float64 libm evaluated on the very float32 inputs the
core receives, so the error measured is the core's own.
"""
from __future__ import annotations

import numpy as np
import pytest

from actuators import core

F32 = np.float32
TWO_PI = 2.0 * np.pi
SIN_COS_TOL = 1e-6   # rad-free, |x| <= 1e4 (mf_math.h)
ATAN2_TOL = 2e-6     # rad (mf_math.h)


def _ulp_walk(start: float, n: int, towards: float) -> np.ndarray:
    """n consecutive float32 values from start towards `towards`."""
    a = np.empty(n, dtype=F32)
    x = F32(start)
    for k in range(n):
        a[k] = x
        x = np.nextafter(x, F32(towards))
    return a


def _trig_points() -> np.ndarray:
    rng = np.random.default_rng(1)
    random = rng.uniform(-1e4, 1e4, 2_000_000).astype(F32)
    small = rng.uniform(-4.0, 4.0, 200_000).astype(F32)
    k = np.arange(-6366, 6367)
    quarter = (k * (np.pi / 2)).astype(F32)  # multiples of pi/2, as float32
    neighbours = np.concatenate(
        [quarter, np.nextafter(quarter, F32(np.inf)), np.nextafter(quarter, F32(-np.inf))]
    )
    bits = np.arange(100_000, dtype=np.int32)
    near_end = (np.array(F32(1e4)).view(np.int32) - bits).view(F32)  # just below 1e4
    special = np.array([0.0, -0.0, 1e-30, 1.17549435e-38, 1e4, -1e4], dtype=F32)
    return np.concatenate([random, small, neighbours, near_end, -near_end, special])


def test_sin_cos_error_over_range() -> None:
    x = _trig_points()
    x64 = x.astype(np.float64)
    err_sin = np.max(np.abs(core.sin(x).astype(np.float64) - np.sin(x64)))
    err_cos = np.max(np.abs(core.cos(x).astype(np.float64) - np.cos(x64)))
    print(f"max |sin err| {err_sin:.3g}, max |cos err| {err_cos:.3g} over {x.size} points")
    assert err_sin <= SIN_COS_TOL
    assert err_cos <= SIN_COS_TOL


def test_sincos_matches_sin_and_cos_bitwise() -> None:
    x = np.random.default_rng(2).uniform(-1e4, 1e4, 100_000).astype(F32)
    s, c = core.sincos(x)
    assert s.dtype == F32 and c.dtype == F32
    np.testing.assert_array_equal(s, core.sin(x))
    np.testing.assert_array_equal(c, core.cos(x))
    # Pythagoras holds to float32 precision
    assert np.max(np.abs(s.astype(np.float64) ** 2 + c.astype(np.float64) ** 2 - 1.0)) < 5e-7


def _atan2_points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 1_000_000
    ang = rng.uniform(-np.pi, np.pi, n)
    mag = 10.0 ** rng.uniform(-37.0, 38.0, n)
    y = (mag * np.sin(ang)).astype(F32)
    x = (mag * np.cos(ang)).astype(F32)
    # unrelated magnitudes per component, all four quadrants
    ys = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-37.0, 38.5, n)
    xs = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-37.0, 38.5, n)
    # both components near FLT_MAX, where y + x overflows float32
    fmax = float(np.finfo(F32).max)
    yb = rng.uniform(-fmax, fmax, 100_000)
    xb = rng.uniform(-fmax, fmax, 100_000)
    mags = np.array([1e-38, 1e-30, 1e-6, 1.0, 7.5, 1e6, 1e30, fmax], dtype=np.float64)
    my, mx = np.meshgrid(mags, mags)
    grid_y = np.concatenate([my.ravel(), -my.ravel(), my.ravel(), -my.ravel()])
    grid_x = np.concatenate([mx.ravel(), mx.ravel(), -mx.ravel(), -mx.ravel()])
    zeros = np.zeros_like(mags)
    axes_y = np.concatenate([mags, -mags, zeros, zeros])
    axes_x = np.concatenate([zeros, zeros, mags, -mags])
    ys_all = np.concatenate([y, ys, yb, grid_y, axes_y]).astype(F32)
    xs_all = np.concatenate([x, xs, xb, grid_x, axes_x]).astype(F32)
    return ys_all, xs_all


def test_atan2_error_all_quadrants_and_magnitudes() -> None:
    y, x = _atan2_points()
    got = core.atan2(y, x).astype(np.float64)
    ref = np.arctan2(y.astype(np.float64), x.astype(np.float64))
    err = np.abs(got - ref)
    print(f"max |atan2 err| {err.max():.3g} rad over {y.size} points")
    assert err.max() <= ATAN2_TOL, (y[err.argmax()], x[err.argmax()])
    assert np.all(np.abs(got) <= np.float32(np.pi))


def test_atan2_special_values() -> None:
    assert core.atan2(0.0, 0.0) == 0.0
    assert core.atan2(0.0, 5.0) == 0.0
    np.testing.assert_allclose(core.atan2(0.0, -5.0), np.pi, atol=ATAN2_TOL)
    np.testing.assert_allclose(core.atan2(-0.0, -5.0), -np.pi, atol=ATAN2_TOL)
    np.testing.assert_allclose(core.atan2([3.0, -3.0], 0.0), [np.pi / 2, -np.pi / 2], atol=ATAN2_TOL)


def test_wrap_pi_range_and_equivalence() -> None:
    x = np.random.default_rng(4).uniform(-1e4, 1e4, 1_000_000).astype(F32)
    x = np.concatenate([x, (np.arange(-1591, 1592) * np.pi).astype(F32)])
    for wrap, lo, hi in ((core.wrap_pi, -np.pi, np.pi), (core.wrap_2pi, 0.0, TWO_PI)):
        w = wrap(x)
        assert w.dtype == F32
        assert np.all(w >= F32(lo)) and np.all(w < F32(hi))  # [lo, hi) in float32
        d = x.astype(np.float64) - w.astype(np.float64)
        off = np.abs(d - TWO_PI * np.round(d / TWO_PI))  # distance to a multiple of 2pi
        print(f"{wrap.__name__}: max distance of x - wrap(x) from k 2pi {off.max():.3g} rad")
        assert off.max() <= 1e-6  # a few float32 ulps of pi
    # already in range: returned unchanged
    inside = np.linspace(-3.14159, 3.14159, 1001).astype(F32)
    np.testing.assert_array_equal(core.wrap_pi(inside), inside)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_in_gives_nan_out(bad: float) -> None:
    x = np.array([1.0, bad, -2.0], dtype=F32)
    for f in (core.sin, core.cos, core.wrap_pi, core.wrap_2pi):
        out = f(x)
        assert np.isnan(out[1]) and np.all(np.isfinite(out[[0, 2]]))
    s, c = core.sincos(x)
    assert np.isnan(s[1]) and np.isnan(c[1])
    assert np.isnan(core.atan2(bad, 1.0)) and np.isnan(core.atan2(1.0, bad))


def test_broadcast_and_dtype() -> None:
    y = np.ones((4, 1))
    x = np.linspace(-1.0, 1.0, 5)
    out = core.atan2(y, x)
    assert out.shape == (4, 5) and out.dtype == F32
    np.testing.assert_allclose(out, np.broadcast_to(np.arctan2(1.0, x.astype(F32)), (4, 5)), atol=ATAN2_TOL)
    assert core.sin(0.5).shape == ()
    assert core.cos([]).shape == (0,)
    strided = np.linspace(0.0, 10.0, 20, dtype=F32)[::3]
    np.testing.assert_allclose(core.sin(strided), np.sin(strided.astype(np.float64)), atol=SIN_COS_TOL)


SINCOS_E_TOL = 2e-7  # the current loop's table sin/cos on [0, 2 pi] (mf_math.h)


def test_sincos_e_table_error_on_a_turn() -> None:
    """Every float32 region of [0, 2 pi]: random points, the table's knots
    and their float32 neighbours, and both ends."""
    rng = np.random.default_rng(3)
    knots = (np.arange(1025) * (TWO_PI / 1024)).astype(F32)
    x = np.concatenate([rng.uniform(0.0, TWO_PI, 1_000_000).astype(F32), knots,
                        np.nextafter(knots, F32(np.inf)), np.nextafter(knots[1:], F32(0.0)),
                        np.array([0.0, F32(TWO_PI)], dtype=F32)])
    x = x[(x >= 0) & (x <= F32(TWO_PI))]
    s, c = core.sincos_e(x)
    x64 = x.astype(np.float64)
    err_s = np.max(np.abs(s.astype(np.float64) - np.sin(x64)))
    err_c = np.max(np.abs(c.astype(np.float64) - np.cos(x64)))
    print(f"table sin/cos: max err {err_s:.3g}, {err_c:.3g}")
    assert err_s <= SINCOS_E_TOL and err_c <= SINCOS_E_TOL
    # Pythagoras to float32 precision
    assert np.max(np.abs(s.astype(np.float64) ** 2 + c.astype(np.float64) ** 2 - 1.0)) <= 4e-7


def test_sincos_e_outside_its_domain_is_the_polynomial() -> None:
    x = np.array([-1.0, -1e-3, 7.0, 100.0, np.nan], dtype=F32)
    s, c = core.sincos_e(x)
    s0, c0 = core.sincos(x)
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(c, c0)


def test_sintab_file_is_what_the_generator_writes() -> None:
    """actuators/core/mf_sintab.c is exactly tools/gen_sintab.py's output (no drift, no hand edits)."""
    import importlib.util
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen_sintab", root / "tools" / "gen_sintab.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (root / "actuators" / "core" / "mf_sintab.c").read_text() == mod.render()
