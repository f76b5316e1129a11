"""The drive-train model of the mechanical fits (gear loss by drive
direction) against an independent integration: motor and load joined by a
stiff damped tendon, the loss applied to the tendon's torque as the plant's
rule says (x 1/eta while the motor drives, x eta while the load drives it)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from actuators.tune.drivetrain import DriveTrain

# motor side: a light rotor, a heavy load behind the loss (hip_knee-like)
DT = DriveTrain(j_free_kgm2=3e-4, j_geared_kgm2=1.2e-3, b_free_nms_per_rad=1.3e-4, b_geared_nms_per_rad=2e-3,
                efficiency=0.85)


def _two_body(dt: DriveTrain, u0: float, c_nm: float, t: np.ndarray, k: float = 2e3) -> np.ndarray:
    """Coast of rotor and load from u0 (both), drag c_nm on the rotor: rotor angle."""
    eta = dt.efficiency
    c_t = 2.0 * np.sqrt(k * dt.j_geared_kgm2) * 0.7        # well damped: no ringing

    def f(_t: float, x: np.ndarray) -> list[float]:
        th, w, thl, wl = x
        tt = k * (th - thl) + c_t * (w - wl)
        g = tt / eta if tt * w >= 0 else eta * tt
        return [w, (-dt.b_free_nms_per_rad * w - c_nm - g) / dt.j_free_kgm2,
                wl, (tt - dt.b_geared_nms_per_rad * wl) / dt.j_geared_kgm2]

    sol = solve_ivp(f, (0.0, float(t[-1])), [0.0, u0, 0.0, u0], t_eval=t, rtol=1e-8, atol=1e-10, method="RK45")
    return sol.y[0]


@pytest.mark.parametrize("u0,t_end", [(20.0, 0.5), (120.0, 0.6)])
def test_coast_matches_the_two_body_integration(u0: float, t_end: float) -> None:
    # t_end: before the rotor stops (there the sign of w chatters)
    c = 0.03
    w_s = DT.coast_switch_rad_s(c)
    assert 20.0 < w_s < 120.0          # one coast driven all the way, one that starts driving
    t = np.linspace(0.0, t_end, 301)
    ref = _two_body(DT, u0, c, t)
    assert np.all(np.diff(ref) > 0)
    model = DT.coast_position(t, u0, c)
    assert np.max(np.abs(model - ref)) < 2e-3 * np.max(np.abs(ref))
    # the lossless inertia would be far off: the model is not trivially close
    j, b = DT.j_total_kgm2, DT.b_total_nms_per_rad
    naive = (u0 + c / b) * (j / b) * (1 - np.exp(-b * t / j)) - c / b * t
    assert np.max(np.abs(naive - ref)) > 10 * np.max(np.abs(model - ref))


def test_lossless_and_rigid_coasts_are_one_regime() -> None:
    lossless = DriveTrain(3e-4, 1.2e-3, 1.3e-4, 2e-3, 1.0)
    rigid = DriveTrain(1.5e-3, 0.0, 1.3e-4, 2e-3, 0.8)     # the plant lumps a rigid load's inertia with the rotor
    t = np.linspace(0.0, 0.3, 50)
    j, b = lossless.driving
    assert j == pytest.approx(1.5e-3) and b == pytest.approx(2.13e-3)
    assert rigid.coast_switch_rad_s(0.03) == 0.0        # the motor drives the damper all the way
    x = rigid.coast_position(t, 30.0, 0.03)
    j, b = rigid.driving
    ref = (30.0 + 0.03 / b) * (j / b) * (1 - np.exp(-b * t / j)) - 0.03 / b * t
    assert x == pytest.approx(ref, rel=1e-12)


def test_accel_picks_the_consistent_regime() -> None:
    rng = np.random.default_rng(3)
    force = rng.uniform(-1.0, 1.0, 2000)
    w = rng.uniform(-50.0, 50.0, 2000)
    a = DT.accel(force, w, w_c=1e-6)
    tt = DT.j_geared_kgm2 * a + DT.b_geared_nms_per_rad * w        # what the gearbox passes on
    g = np.where(tt * w >= 0, 1.0 / DT.efficiency, DT.efficiency)  # the plant's rule on that torque
    # the rotor's equation holds with the regime that torque implies
    assert np.allclose(DT.j_free_kgm2 * a, force - g * tt, rtol=0, atol=1e-12)
