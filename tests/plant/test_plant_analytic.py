"""The plant against analytic cases: RL step, back-EMF, energy balance,
thermal steady state, cogging, friction at standstill, gearbox, tendon, load
spring, coast."""
from __future__ import annotations

import math

import numpy as np

from actuators.plant import (GearboxParams, InverterParams, LoadParams, MotorParams, Plant,
                             PlantParams, TendonParams, ThermalParams)

LOCKED_J = 1e6   # kg m^2: the rotor does not move


def ideal_motor(**kw: float) -> MotorParams:
    """A motor without friction and with R independent of temperature."""
    base = dict(r_ohm=0.2, ld_h=50e-6, lq_h=70e-6, flux_wb=0.006, pole_pairs=7, j_kgm2=LOCKED_J,
                b_nms_per_rad=0.0, tau_coulomb_nm=0.0, r_temp_coeff_per_k=0.0)
    base.update(kw)
    return MotorParams(**base)


def test_locked_rotor_rl_step_has_time_constant_l_over_r() -> None:
    m = ideal_motor()
    dt = 25e-6
    n = 400
    t = dt * np.arange(1, n + 1)
    v = 2.0
    # d axis (theta_e = 0 is phase a): v_abc = v (1, -1/2, -1/2)
    run = Plant(m, dt).run_voltages(np.tile([v, -0.5 * v, -0.5 * v], (n, 1)))
    expected_d = v / m.r_ohm * (1.0 - np.exp(-t * m.r_ohm / m.ld_h))
    # RK4 at z = h R / L = 0.1: per-step error z^5/120 = 8e-8, at most ~4x that accumulated
    assert np.max(np.abs(run.i_d - expected_d)) < 5e-7 * v / m.r_ohm
    assert np.max(np.abs(run.i_q)) < 1e-9
    np.testing.assert_allclose(run.i_abc[:, 0], expected_d, atol=5e-7 * v / m.r_ohm)
    # q axis: v_beta = v -> v_abc = v (0, sqrt3/2, -sqrt3/2)
    run = Plant(m, dt).run_voltages(np.tile([0.0, math.sqrt(3) / 2 * v, -math.sqrt(3) / 2 * v], (n, 1)))
    expected_q = v / m.r_ohm * (1.0 - np.exp(-t * m.r_ohm / m.lq_h))
    assert np.max(np.abs(run.i_q - expected_q)) < 5e-7 * v / m.r_ohm


def test_resistance_follows_winding_temperature() -> None:
    m = ideal_motor(r_temp_coeff_per_k=0.00393)
    th = ThermalParams(temp_ambient_c=60.0, c_winding_j_per_k=1e9, c_housing_j_per_k=1e9)
    run = Plant(PlantParams(motor=m, thermal=th), 1e-4).run_voltages(np.tile([1.0, -0.5, -0.5], (2000, 1)))
    r_60 = m.r_ohm * (1.0 + 0.00393 * (60.0 - 20.0))
    assert abs(run.i_d[-1] - 1.0 / r_60) < 1e-9 / r_60


def test_short_circuit_currents_at_constant_speed_match_back_emf_solution() -> None:
    m = ideal_motor()
    plant = Plant(m, 20e-6)
    omega_m = 150.0
    plant.set_state(omega_m=omega_m)
    run = plant.run_voltages(np.zeros((5000, 3)))      # 0.1 s = 30 electrical time constants
    w = m.pole_pairs * omega_m
    den = m.r_ohm ** 2 + w ** 2 * m.ld_h * m.lq_h
    i_q = -w * m.flux_wb * m.r_ohm / den
    i_d = -w ** 2 * m.flux_wb * m.lq_h / den
    assert abs(run.omega_m[-1] - omega_m) < 1e-6 * omega_m      # constant speed (huge J)
    assert abs(run.i_d[-1] - i_d) < 1e-7 * abs(i_d)
    assert abs(run.i_q[-1] - i_q) < 1e-7 * abs(i_d)


def test_open_circuit_back_emf_amplitude_is_flux_times_omega_e() -> None:
    m = ideal_motor()
    plant = Plant(PlantParams(motor=m, inverter=InverterParams(v_bus_v=48.0)), 25e-6)
    omega_m = 100.0                                  # line-line EMF peak 7.3 V < 48 V
    plant.set_state(omega_m=omega_m)
    run = plant.run_pwm(np.full((400, 3), 0.5), enable=False)
    assert np.max(np.abs(run.i_abc)) == 0.0 and np.max(np.abs(run.tau_e)) == 0.0
    amp = np.sqrt(np.sum(run.v_abc ** 2, axis=1) / 1.5)     # balanced set: sum of squares = 1.5 A^2
    expected = m.flux_wb * m.pole_pairs * omega_m
    np.testing.assert_allclose(amp, expected, rtol=2e-4)
    # e_a = -flux w_e sin(theta_e), 90 deg ahead of the d axis; v_abc is the mean over
    # the step's coast sub-steps, whose start times average 0.4375 dt into the step
    theta_e = m.pole_pairs * (run.theta_m - omega_m * 0.5625 * 25e-6)
    assert np.max(np.abs(run.v_abc[:, 0] + expected * np.sin(theta_e))) < 1e-3 * expected


def test_coast_above_bus_voltage_brakes_through_the_diodes() -> None:
    m = ideal_motor(j_kgm2=1e-3)
    plant = Plant(PlantParams(motor=m, inverter=InverterParams(v_bus_v=12.0)), 25e-6)
    omega_m = 400.0                                 # sqrt3 * flux * w_e = 29 V > 12 V
    plant.set_state(omega_m=omega_m)
    run = plant.run_pwm(np.full((2000, 3), 0.5), enable=False)
    assert np.mean(run.tau_e[200:]) < -0.05         # braking
    assert run.omega_m[-1] < omega_m


def test_energy_balance_closes_to_0p1_percent() -> None:
    """Electrical energy in = copper loss + friction loss + kinetic + magnetic energy."""
    m = MotorParams(r_ohm=0.2, ld_h=50e-6, lq_h=70e-6, flux_wb=0.006, pole_pairs=7, j_kgm2=3e-4,
                    b_nms_per_rad=5e-3, tau_coulomb_nm=0.02, omega_coulomb_rad_s=0.5,
                    r_temp_coeff_per_k=0.0)
    dt = 5e-6
    n = 40000                                       # 0.2 s
    rng = np.random.default_rng(5)
    t = np.arange(n) * dt
    phase = 2 * np.pi * 30.0 * t + 2 * np.pi * 150.0 * t ** 2
    v = np.stack([1.5 * np.cos(phase - k * 2 * np.pi / 3) for k in range(3)], axis=1)
    v += np.repeat(rng.uniform(-1.0, 1.0, (n // 5, 3)), 5, axis=0)   # held over 25 us
    plant = Plant(m, dt)
    w0 = 150.0
    plant.set_state(omega_m=w0)                     # a spinning rotor that brakes and is driven
    run = plant.run_voltages(v)
    i_abc = np.vstack([np.zeros((1, 3)), run.i_abc])
    w = np.concatenate([[w0], run.omega_m])
    i2 = np.concatenate([[0.0], run.i_d ** 2 + run.i_q ** 2])
    # voltage held over each step, currents trapezoidal inside it
    e_in = dt * np.sum(v * 0.5 * (i_abc[:-1] + i_abc[1:]))
    e_cu = 1.5 * m.r_ohm * dt * np.sum(0.5 * (i2[:-1] + i2[1:]))
    x = w / m.omega_coulomb_rad_s
    sig = np.where(np.abs(x) >= 1.0, np.sign(x), x * (15 - 10 * x ** 2 + 3 * x ** 4) / 8)
    p_fr = w * (m.b_nms_per_rad * w + m.tau_coulomb_nm * sig)
    e_fr = dt * np.sum(0.5 * (p_fr[:-1] + p_fr[1:]))
    d_kin = 0.5 * m.j_kgm2 * (run.omega_m[-1] ** 2 - w0 ** 2)
    e_mag = 0.75 * (m.ld_h * run.i_d[-1] ** 2 + m.lq_h * run.i_q[-1] ** 2)
    terms = [e_cu, e_fr, d_kin, e_mag]
    scale = abs(e_in) + sum(abs(x) for x in terms)
    assert abs(d_kin) > 0.1 * scale and e_fr > 0.05 * scale and e_cu > 0.1 * scale, terms
    balance = e_in - sum(terms)
    assert abs(balance) < 1e-3 * scale


def test_thermal_steady_state_is_power_times_thermal_resistance() -> None:
    m = ideal_motor(r_temp_coeff_per_k=0.00393)
    th = ThermalParams(temp_ambient_c=25.0, c_winding_j_per_k=0.02, r_winding_housing_k_per_w=1.5,
                       c_housing_j_per_k=0.05, r_housing_ambient_k_per_w=2.5)
    run = Plant(PlantParams(motor=m, thermal=th), 1e-4).run_voltages(np.tile([1.0, -0.5, -0.5], (40000, 1)))
    t_w, t_h = run.temp_winding_c[-1], run.temp_housing_c[-1]
    p = 1.5 * m.r_ohm * (1 + 0.00393 * (t_w - 20.0)) * (run.i_d[-1] ** 2 + run.i_q[-1] ** 2)
    assert t_w - 25.0 > 5.0
    assert abs((t_w - 25.0) - p * (1.5 + 2.5)) < 1e-4 * (t_w - 25.0)
    assert abs((t_h - 25.0) - p * 2.5) < 1e-4 * (t_h - 25.0)
    assert abs(run.temp_fet_c[-1] - 25.0) < 1e-12     # no inverter loss with ideal voltages


def test_cogging_torque_matches_formula() -> None:
    amps, phases, n_cog = (0.02, 0.005, 0.001), (0.4, -1.2, 2.0), 36
    m = ideal_motor(cog_n_per_rev=n_cog, cog_amp_nm=amps, cog_phase_rad=phases)
    plant = Plant(m, 25e-6)
    for theta in np.linspace(-3.0, 7.0, 37):
        plant.set_state(theta_m=theta, omega_m=0.0)
        run = plant.run_voltages(np.zeros((1, 3)))
        th = run.theta_m[-1]
        expected = sum(a * math.sin((k + 1) * n_cog * th + ph) for k, (a, ph) in enumerate(zip(amps, phases)))
        assert abs(run.tau_cog_nm[-1] - expected) < 1e-12


def test_cogging_detent_oscillation_frequency() -> None:
    """A free rotor held by the first cogging harmonic: J th'' = -A N cos(phase) dth (small)."""
    a, n_cog, j = 0.01, 12, 1e-4
    m = ideal_motor(j_kgm2=j, cog_n_per_rev=n_cog, cog_amp_nm=(a,), cog_phase_rad=(0.0,), flux_wb=0.0)
    plant = Plant(m, 25e-6)
    plant.set_state(theta_m=1e-4)
    run = plant.run_voltages(np.zeros((40000, 3)))
    x = run.theta_m
    ups = np.nonzero((x[:-1] < 0) & (x[1:] >= 0))[0]
    frac = -x[ups] / (x[ups + 1] - x[ups])
    t_up = (ups + 1 + frac) * 25e-6
    f = 1.0 / np.mean(np.diff(t_up))
    assert abs(f - math.sqrt(a * n_cog / j) / (2 * math.pi)) < 1e-4 * f


def test_coulomb_friction_does_not_chatter_at_standstill() -> None:
    m = MotorParams(r_ohm=0.2, ld_h=50e-6, lq_h=50e-6, flux_wb=0.006, pole_pairs=7, j_kgm2=1e-5,
                    b_nms_per_rad=0.0, tau_coulomb_nm=0.02, omega_coulomb_rad_s=0.05,
                    r_temp_coeff_per_k=0.0)
    plant = Plant(m, 25e-6)
    # a spinning rotor, no drive (v = 0 brakes a little too): it stops and stays
    plant.set_state(omega_m=30.0)
    run = plant.run_voltages(np.zeros((40000, 3)))
    w = run.omega_m
    assert abs(w[-1]) < 1e-3 * m.omega_coulomb_rad_s
    signs = np.sign(w[np.abs(w) > 1e-9])
    assert np.count_nonzero(np.diff(signs)) <= 1
    # a steady torque below tau_c: a steady creep inside the smoothing band, no sign flips
    plant.reset()
    kt = 1.5 * m.pole_pairs * m.flux_wb
    i_q = 0.5 * m.tau_coulomb_nm / kt
    v_q = i_q * m.r_ohm
    run = plant.run_voltages(np.tile([0.0, math.sqrt(3) / 2 * v_q, -math.sqrt(3) / 2 * v_q], (40000, 1)))
    tail = run.omega_m[-20000:]
    assert np.all(tail > 0.0) and np.all(tail < m.omega_coulomb_rad_s)
    assert np.ptp(tail) < 0.05 * np.mean(tail)


def test_static_torque_through_tendon_spring() -> None:
    m = ideal_motor(j_kgm2=1e-4, b_nms_per_rad=1e-3)
    g = GearboxParams(ratio=8.0, efficiency=0.9)
    tendon = TendonParams(k_nm_per_rad=30.0, c_nms_per_rad=0.3)
    load = LoadParams(j_kgm2=2e-3, b_nms_per_rad=0.2, k_nm_per_rad=10.0, theta0_rad=0.05)
    plant = Plant(PlantParams(motor=m, gearbox=g, tendon=tendon, load=load), 1e-4)
    run = plant.run_voltages(np.tile([0.0, 0.5, -0.5], (30000, 1)))
    tau_e = run.tau_e[-1]
    assert abs(run.omega_m[-1]) < 1e-6 and abs(tau_e) > 0.01
    tau_out = g.ratio * tau_e                       # at rest the gear loss vanishes
    assert abs(run.tau_out_nm[-1] - tau_out) < 1e-5 * abs(tau_out)
    deflection = run.theta_m[-1] / g.ratio - run.theta_load[-1]
    assert abs(deflection - tau_out / tendon.k_nm_per_rad) < 1e-5 * abs(deflection)
    spring = run.theta_load[-1] - load.theta0_rad
    assert abs(spring - tau_out / load.k_nm_per_rad) < 1e-5 * abs(spring)


def test_gear_efficiency_when_the_load_back_drives_the_motor() -> None:
    """Coasting, no friction: the motor gets eta of the load's torque, times 1/N."""
    m = ideal_motor(j_kgm2=1e-4)
    g = GearboxParams(ratio=5.0, efficiency=0.8)
    load = LoadParams(j_kgm2=1e-2, tau_ext_nm=0.5)
    plant = Plant(PlantParams(motor=m, gearbox=g, load=load), 25e-6)
    run = plant.run_pwm(np.full((4000, 3), 0.5), enable=False)
    j_eff = m.j_kgm2 + load.j_kgm2 / g.ratio ** 2
    alpha = np.polyfit(run.t_s[1000:], run.omega_m[1000:], 1)[0]
    assert abs(alpha - g.efficiency * load.tau_ext_nm / (g.ratio * j_eff)) < 1e-6 * alpha


def test_gear_efficiency_when_the_motor_drives_the_load() -> None:
    """Driving against a resisting torque: tau_e = J dw/dt + tau_res / (N eta)."""
    m = ideal_motor(j_kgm2=1e-4)
    g = GearboxParams(ratio=5.0, efficiency=0.8)
    load = LoadParams(j_kgm2=1e-2, tau_ext_nm=-0.3)
    dt = 25e-6
    plant = Plant(PlantParams(motor=m, gearbox=g, load=load), dt)
    run = plant.run_voltages(np.tile([0.0, 3.0, -3.0], (3000, 1)))
    j_eff = m.j_kgm2 + load.j_kgm2 / g.ratio ** 2
    w = run.omega_m
    k = np.nonzero(w > 1.0)[0]
    k = k[(k > 0) & (k < len(w) - 1)]
    assert k.size > 200                             # driving forward against the load
    alpha = (w[k + 1] - w[k - 1]) / (2 * dt)
    tau_res = -load.tau_ext_nm
    np.testing.assert_allclose(run.tau_e[k], j_eff * alpha + tau_res / (g.ratio * g.efficiency),
                               rtol=1e-4, atol=1e-6)


def test_load_spring_natural_frequency_is_sqrt_k_over_j() -> None:
    m = ideal_motor(j_kgm2=2e-5, flux_wb=0.0)        # no EMF: the motor is a free inertia
    g = GearboxParams(ratio=6.0)
    load = LoadParams(j_kgm2=4e-3, k_nm_per_rad=8.0)
    plant = Plant(PlantParams(motor=m, gearbox=g, load=load), 25e-6)
    plant.set_state(theta_m=0.05 * g.ratio)
    run = plant.run_voltages(np.zeros((20000, 3)))
    x = run.theta_load
    ups = np.nonzero((x[:-1] < 0) & (x[1:] >= 0))[0]
    frac = -x[ups] / (x[ups + 1] - x[ups])
    f = 1.0 / np.mean(np.diff((ups + 1 + frac) * 25e-6))
    j_out = load.j_kgm2 + g.ratio ** 2 * m.j_kgm2
    assert abs(f - math.sqrt(load.k_nm_per_rad / j_out) / (2 * math.pi)) < 1e-4 * f
    # amplitude preserved (no numerical damping to speak of)
    assert abs(np.max(x[-2000:]) - 0.05) < 1e-4


def test_tendon_link_oscillates_at_sqrt_k_over_j_with_the_motor_locked() -> None:
    m = ideal_motor(flux_wb=0.0)                     # J = 1e6: locked
    tendon = TendonParams(k_nm_per_rad=50.0, c_nms_per_rad=0.0)
    load = LoadParams(j_kgm2=2e-3, k_nm_per_rad=30.0)
    plant = Plant(PlantParams(motor=m, tendon=tendon, load=load), 25e-6)
    plant.set_state(theta_l=0.1)
    run = plant.run_voltages(np.zeros((8000, 3)))
    x = run.theta_load
    ups = np.nonzero((x[:-1] < 0) & (x[1:] >= 0))[0]
    frac = -x[ups] / (x[ups + 1] - x[ups])
    f = 1.0 / np.mean(np.diff((ups + 1 + frac) * 25e-6))
    expected = math.sqrt((tendon.k_nm_per_rad + load.k_nm_per_rad) / load.j_kgm2) / (2 * math.pi)
    assert abs(f - expected) < 1e-4 * f


def test_backlash_dead_band_transmits_no_torque_inside_the_play() -> None:
    m = ideal_motor(flux_wb=0.0)
    g = GearboxParams(ratio=4.0, backlash_rad=0.02)
    tendon = TendonParams(k_nm_per_rad=100.0, c_nms_per_rad=0.0)
    load = LoadParams(j_kgm2=1e-3)
    plant = Plant(PlantParams(motor=m, gearbox=g, tendon=tendon, load=load), 25e-6)
    plant.set_state(theta_l=0.005, omega_l=0.0)     # inside the play: no torque, no motion
    run = plant.run_voltages(np.zeros((100, 3)))
    assert np.all(run.tau_out_nm == 0.0) and np.all(run.theta_load == 0.005)
    plant.set_state(theta_l=-0.03, omega_l=0.0)     # 0.02 beyond the edge at 0.01
    run = plant.run_voltages(np.zeros((1, 3)))
    assert abs(run.tau_out_nm[-1] - tendon.k_nm_per_rad * 0.02) < 1e-3


def test_dead_time_lowers_the_pole_voltage_in_the_current_direction() -> None:
    m = ideal_motor()
    inv = InverterParams(v_bus_v=24.0, dead_time_s=1e-6, dead_time_i_band_a=0.01)
    dt = 25e-6
    plant = Plant(PlantParams(motor=m, inverter=inv), dt)
    duty = np.tile([0.6, 0.5, 0.5], (2000, 1))
    run = plant.run_pwm(duty)
    # steady state: i_a > 0 so a loses dead/T of duty; i_b = i_c < 0 so they gain it
    frac = inv.dead_time_s / dt
    d_a = float(np.float32(0.6))                    # duties are float32, as the core's
    poles = np.array([d_a - frac, 0.5 + frac, 0.5 + frac]) * inv.v_bus_v
    v_a = poles[0] - poles.mean()
    assert abs(run.i_abc[-1, 0] - v_a / m.r_ohm) < 1e-6 * v_a / m.r_ohm
