"""Gain design: pole-zero cancellation current PI on the discrete plant,
checked against an independent discrete simulation (scipy.signal) of the
loop and the phase-margin definition; velocity PI margins; Z-width."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from actuators.tune import design as dz


def _loop_response(r: float, l: float, t: float, kp: float, ki: float, f: np.ndarray) -> np.ndarray:
    """Open loop C(z) G(z) evaluated from the textbook forms, written out here:
    ZOH RL  G(z) = (1 - a) / R / (z - a), a = exp(-R T / L), times z^-1;
    backward-Euler PI  C(z) = kp + ki T z / (z - 1)."""
    z = np.exp(1j * 2 * np.pi * f * t)
    a = math.exp(-r * t / l)
    g = (1 - a) / r / (z - a) / z
    c = kp + ki * t * z / (z - 1)
    return c * g


@pytest.mark.parametrize("r, l, t", [(0.25, 110e-6, 40e-6), (0.09, 65e-6, 50e-6), (0.55, 220e-6, 25e-6)])
def test_current_pi_cancels_the_pole_and_meets_60_deg(r: float, l: float, t: float) -> None:
    d = dz.design_current_pi(r, l, t)
    wc = d.wc_rad_s
    assert d.kp_v_per_a == pytest.approx(l * wc, rel=1e-12)
    assert d.ki_v_per_as == pytest.approx(r * wc, rel=1e-12)
    # phase margin from the definition: phase of L at |L| = 1, on a fine grid
    f = np.geomspace(1.0, 0.5 / t, 40000)
    lo = _loop_response(r, l, t, d.kp_v_per_a, d.ki_v_per_as, f)
    k = int(np.argmin(np.abs(np.abs(lo) - 1.0)))
    pm = 180.0 + math.degrees(np.angle(lo[k]))
    assert pm == pytest.approx(60.0, abs=0.3)
    # the largest such crossover: 10 % more gain loses the margin
    lo2 = 1.1 * lo
    k2 = int(np.argmin(np.abs(np.abs(lo2) - 1.0)))
    assert 180.0 + math.degrees(np.angle(lo2[k2])) < 60.0
    # closed-loop bandwidth of the design against scipy's discrete simulation of the loop
    a = math.exp(-r * t / l)
    b = (1 - a) / r
    kp, ki = d.kp_v_per_a, d.ki_v_per_as
    num_l = np.polymul([kp + ki * t, -kp], [b])
    den_l = np.polymul([1, -1], [1, -a, 0])
    cl = signal.dlti(num_l, np.polyadd(den_l, np.pad(num_l, (len(den_l) - len(num_l), 0))), dt=t)
    w, h = signal.dfreqresp(cl, w=2 * np.pi * np.linspace(1, 0.5 / t, 5000) * t)
    mag = np.abs(h)
    f_bw = (w[np.argmax(mag < mag[0] / math.sqrt(2))] / (2 * np.pi * t))
    assert d.bandwidth_hz == pytest.approx(f_bw, rel=2e-3)
    _, y = signal.dstep(cl, n=400)
    assert d.overshoot == pytest.approx(max(0.0, float(np.max(y[0])) - 1.0), abs=1e-6)


def test_fast_sampling_approaches_the_continuous_design() -> None:
    # T << L/R: the loop is w_c / s with a delay of 1.5 T (one period + half the
    # ZOH), so PM = 90 deg - 1.5 w_c T = 60 deg gives w_c T = pi / 9
    t = 1e-6
    d = dz.design_current_pi(0.2, 100e-6, t)
    assert d.wc_rad_s * t == pytest.approx(math.pi / 9.0, rel=0.05)


def test_velocity_pi_margin_and_units() -> None:
    v = dz.design_velocity_pi(1.2e-4, 1.5e-4, 2e-4, 3000.0, 30.0)
    assert v.pm_deg >= 60.0 - 1e-6
    assert v.kp_nms_per_rad == pytest.approx(1.2e-4 * v.wv_rad_s * 900.0, rel=1e-9)


def test_impedance_envelope_is_the_z_width_bound() -> None:
    e = dz.impedance_envelope(1.5e-4, 30.0, 2e-4)
    b_out = 1.5e-4 * 900
    assert e.b_max_nms_per_rad == pytest.approx(b_out)
    assert e.k_max_nm_per_rad * e.outer_period_s / 2 + 0.0 == pytest.approx(b_out)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        dz.design_current_pi(0.0, 1e-4, 4e-5)
    with pytest.raises(ValueError):
        dz.design_velocity_pi(0.0, 1e-4, 2e-4, 1000.0, 10.0)
