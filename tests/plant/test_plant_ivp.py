"""The C plant against scipy's solve_ivp (DOP853, rtol 1e-10) on the same equations.

Arbitrary voltages: a rotating vector with a frequency sweep and an amplitude
wobble plus uniform noise on each phase, held per step at 40 kHz.
"""
from __future__ import annotations

import numpy as np
import pytest

from actuators.plant import (GearboxParams, LoadParams, MotorParams, Plant, PlantParams,
                             TendonParams, ThermalParams)
from .plant_reference import simulate_ivp

DT = 25e-6


def arbitrary_voltages(n: int, seed: int, amp_v: float = 6.0, noise_v: float = 4.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) * DT
    phase = 2 * np.pi * np.cumsum(40.0 + 400.0 * t / (n * DT)) * DT
    amp = amp_v * (1.0 + 0.6 * np.sin(2 * np.pi * 7.0 * t))
    v = np.stack([amp * np.cos(phase - k * 2 * np.pi / 3) for k in range(3)], axis=1)
    return v + rng.uniform(-noise_v, noise_v, (n, 3))


def ref_i_abc(ref: np.ndarray, pole_pairs: int) -> np.ndarray:
    """Phase currents from the reference's i_d, i_q, theta_m (inverse Park + Clarke)."""
    te = pole_pairs * ref[:, 3]
    ia = np.cos(te) * ref[:, 0] - np.sin(te) * ref[:, 1]
    ib = np.sin(te) * ref[:, 0] + np.cos(te) * ref[:, 1]
    return np.stack([ia, -0.5 * ia + np.sqrt(3) / 2 * ib, -0.5 * ia - np.sqrt(3) / 2 * ib], axis=1)


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_salient_motor_with_cogging_friction_rigid_load_and_thermal_matches_solve_ivp() -> None:
    pp = PlantParams(
        motor=MotorParams(r_ohm=0.15, ld_h=45e-6, lq_h=60e-6, cog_n_per_rev=12,
                          cog_amp_nm=(0.004, 0.001), cog_phase_rad=(0.3, -1.0)),
        load=LoadParams(j_kgm2=2e-3, b_nms_per_rad=0.01, k_nm_per_rad=2.0, tau_ext_nm=0.1),
        thermal=ThermalParams(c_winding_j_per_k=2.0),   # fast heating: R(T) matters
    )
    n = 8000                                            # 0.2 s at 40 kHz
    v = arbitrary_voltages(n, seed=1)
    ref = simulate_ivp(pp, v, DT)
    run = Plant(pp, DT).run_voltages(v)
    i_ref = ref_i_abc(ref, pp.motor.pole_pairs)
    assert np.max(np.abs(i_ref)) > 20.0 and np.max(np.abs(ref[:, 2])) > 50.0   # a real workout
    assert rel_err(run.i_abc, i_ref) < 1e-4
    assert rel_err(run.i_d, ref[:, 0]) < 1e-4
    assert rel_err(run.i_q, ref[:, 1]) < 1e-4
    assert rel_err(run.omega_m, ref[:, 2]) < 1e-4
    assert rel_err(run.theta_m, ref[:, 3]) < 1e-4
    assert rel_err(run.temp_winding_c - 25.0, ref[:, 6] - 25.0) < 1e-3


def test_tendon_gear_loss_and_load_match_solve_ivp() -> None:
    pp = PlantParams(
        motor=MotorParams(r_ohm=0.2, ld_h=60e-6, lq_h=60e-6, pole_pairs=7, flux_wb=0.01),
        gearbox=GearboxParams(ratio=6.0, efficiency=0.85),
        tendon=TendonParams(k_nm_per_rad=40.0, c_nms_per_rad=0.02),
        load=LoadParams(j_kgm2=5e-3, b_nms_per_rad=0.02, k_nm_per_rad=5.0, tau_ext_nm=-0.2),
    )
    n = 4000
    v = arbitrary_voltages(n, seed=2, amp_v=4.0, noise_v=3.0)
    ref = simulate_ivp(pp, v, DT)
    run = Plant(pp, DT).run_voltages(v)
    assert np.max(np.abs(ref[:, 4])) > 1e-2          # the load link moves
    assert rel_err(run.i_abc, ref_i_abc(ref, pp.motor.pole_pairs)) < 1e-4
    assert rel_err(run.omega_m, ref[:, 2]) < 1e-4
    assert rel_err(run.theta_load, ref[:, 4]) < 1e-4
    assert rel_err(run.omega_load, ref[:, 5]) < 1e-4


@pytest.mark.parametrize("ratio", [2.0, 4.0])
def test_error_shrinks_as_dt4_without_friction(ratio: float) -> None:
    """RK4: halving the step (voltages held over the same intervals) cuts the error ~16x."""
    pp = PlantParams(motor=MotorParams(r_ohm=0.15, ld_h=45e-6, lq_h=60e-6, tau_coulomb_nm=0.0,
                                       r_temp_coeff_per_k=0.0))
    n = 1500
    v = arbitrary_voltages(n, seed=3)
    ref = simulate_ivp(pp, v, DT)
    e1 = rel_err(Plant(pp, DT).run_voltages(v).i_q, ref[:, 1])
    m = int(ratio)
    fine = Plant(pp, DT / m).run_voltages(np.repeat(v, m, axis=0))
    e2 = rel_err(fine.i_q[m - 1::m], ref[:, 1])
    assert e1 < 1e-5
    assert e2 < e1 / (0.5 * ratio ** 4)
