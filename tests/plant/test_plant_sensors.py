"""Sensors of the plant: ADC quantisation and noise, encoder, determinism."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from actuators.plant import InverterParams, MotorParams, Plant, PlantParams, SensorParams

LOCKED = dict(j_kgm2=1e6, b_nms_per_rad=0.0, tau_coulomb_nm=0.0, r_temp_coeff_per_k=0.0)


def sinus_voltages(n: int, amp: float = 2.0, f_hz: float = 300.0, dt: float = 25e-6) -> np.ndarray:
    t = np.arange(n) * dt
    return np.stack([amp * np.cos(2 * np.pi * f_hz * t - k * 2 * np.pi / 3) for k in range(3)], axis=1)


def test_adc_counts_are_rounded_offset_plus_current_over_gain_and_clamped() -> None:
    se = SensorParams(adc_bits=12, adc_i_a_per_count=0.05, adc_i_offset_counts=2000.0, adc_noise_a=0.0,
                      adc_vbus_v_per_count=0.025)
    pp = PlantParams(motor=MotorParams(**LOCKED), sensors=se, inverter=InverterParams(v_bus_v=36.0))
    run = Plant(pp, 25e-6).run_voltages(sinus_voltages(2000, amp=16.0), sense=True)
    expected = np.clip(np.floor(2000.0 + run.i_abc / 0.05 + 0.5), 0, 4095)
    assert np.max(np.abs(run.i_abc)) > 2100 * 0.05          # over range on both ends
    np.testing.assert_array_equal(run.adc_i, expected.astype(np.uint16))
    assert run.adc_i.max() == 4095 and run.adc_i.min() == 0
    # the core's conversion gives the current back within half a count where in range
    inside = (expected > 0) & (expected < 4095)
    back = 0.05 * (run.adc_i.astype(float) - 2000.0)
    assert np.max(np.abs(back - run.i_abc)[inside]) <= 0.5 * 0.05 + 1e-12
    assert np.all(run.adc_vbus == round(36.0 / 0.025))


def test_adc_noise_has_the_set_standard_deviation() -> None:
    sigma, q = 0.3, 0.01
    se = SensorParams(adc_i_a_per_count=q, adc_noise_a=sigma)
    plant = Plant(PlantParams(motor=MotorParams(**LOCKED), sensors=se), 25e-6, seed=11)
    run = plant.run_voltages(np.zeros((30000, 3)), sense=True)        # zero current
    err = q * (run.adc_i.astype(float) - se.adc_i_offset_counts)
    expected_std = math.sqrt(sigma ** 2 + q ** 2 / 12)
    assert abs(np.mean(err)) < 4 * expected_std / math.sqrt(err.size)
    assert abs(np.std(err) / expected_std - 1.0) < 0.01
    # the three phases are independent
    c = np.corrcoef(err.T)
    assert np.max(np.abs(c - np.eye(3))) < 0.03


def test_noise_generator_is_standard_normal() -> None:
    x = Plant(MotorParams(), 25e-6, seed=3).randn(400000)
    assert abs(np.mean(x)) < 0.01 and abs(np.std(x) - 1.0) < 0.005
    assert abs(stats.kurtosis(x)) < 0.05 and abs(stats.skew(x)) < 0.02
    assert stats.kstest(x, "norm").pvalue > 1e-3
    tail = np.mean(np.abs(x) > 3.5)                 # the ziggurat's tail beyond 3.44
    assert abs(tail - 2 * stats.norm.sf(3.5)) < 1e-4


def test_encoder_count_with_offset_direction_and_latency() -> None:
    cpr, offset, latency = 4096, 1234.0, 37.5e-6     # 1.5 steps of latency
    dt = 25e-6
    for direction in (1, -1):
        se = SensorParams(enc_counts_per_rev=cpr, enc_offset_counts=offset, enc_direction=direction,
                          enc_latency_s=latency, adc_noise_a=0.0)
        plant = Plant(PlantParams(motor=MotorParams(**LOCKED), sensors=se), dt)
        plant.set_state(omega_m=37.0, theta_m=-2.0)
        run = plant.run_voltages(np.zeros((3000, 3)), sense=True)     # about 2.7 turns
        theta_late = run.theta_m[2:] - 37.0 * latency                  # constant speed
        expected = np.mod(np.floor(offset + direction * theta_late * cpr / (2 * np.pi)), cpr)
        np.testing.assert_array_equal(run.enc_count[2:], expected.astype(np.uint32))
    # no latency: the present angle
    se = SensorParams(enc_counts_per_rev=cpr, adc_noise_a=0.0)
    plant = Plant(PlantParams(motor=MotorParams(**LOCKED), sensors=se), dt)
    plant.set_state(theta_m=1.0)
    assert plant.sense().enc_count == math.floor(1.0 * cpr / (2 * np.pi))


def test_temperatures_are_reported() -> None:
    plant = Plant(MotorParams(), 25e-6)
    plant.set_state(temp_winding_c=61.5, temp_fet_c=44.25)
    s = plant.sense()
    assert s.temp_motor_c == 61.5 and s.temp_fet_c == 44.25


def test_same_seed_gives_bit_identical_runs_and_another_seed_differs() -> None:
    pp = PlantParams(sensors=SensorParams(adc_noise_a=0.1, adc_vbus_noise_v=0.05))
    v = sinus_voltages(3000)
    a = Plant(pp, 25e-6, seed=7).run_voltages(v, sense=True)
    b = Plant(pp, 25e-6, seed=7).run_voltages(v, sense=True)
    c = Plant(pp, 25e-6, seed=8).run_voltages(v, sense=True)
    for name in ("adc_i", "adc_vbus", "enc_count", "i_abc", "omega_m", "theta_m"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert np.any(a.adc_i != c.adc_i)
    np.testing.assert_array_equal(a.i_abc, c.i_abc)     # noise only in the sensors
    # reset replays the same sequence
    plant = Plant(pp, 25e-6, seed=7)
    first = plant.run_voltages(v[:100], sense=True).adc_i
    plant.reset()
    np.testing.assert_array_equal(plant.run_voltages(v[:100], sense=True).adc_i, first)


def test_encoder_count_wraps_for_any_counts_per_rev_and_sign() -> None:
    """floor(offset + dir theta cpr / 2pi) mod cpr for a cpr that is not a power
    of two, negative and many-turn angles (numpy's floor and mod as reference)."""
    cpr, offset = 4000, 3999.5
    for direction in (1, -1):
        se = SensorParams(enc_counts_per_rev=cpr, enc_offset_counts=offset, enc_direction=direction,
                          adc_noise_a=0.0)
        plant = Plant(PlantParams(motor=MotorParams(**LOCKED), sensors=se), 25e-6)
        for theta in (0.0, -1e-9, -3.0, -2 * np.pi, 2 * np.pi * 1234.5678, -2 * np.pi * 98765.4321, 7e5):
            plant.set_state(theta_m=theta)
            expected = np.mod(np.floor(offset + direction * theta * cpr / (2 * np.pi)), cpr)
            assert plant.sense().enc_count == int(expected), (direction, theta)
