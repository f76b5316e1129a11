"""The whole current-loop step (mf_ctrl_step) against independent references.

The plant here is a locked-rotor RL load simulated exactly (zero-order hold)
in numpy, with the one-period PWM delay of a real MCU; python-control gives
the closed loop the step must reproduce.
"""
from __future__ import annotations

import math

import control
import numpy as np
import pytest

from actuators import core
from actuators.core.config import CtrlConfig, make_ctrl_config

R_OHM = 0.12
L_H = 60e-6
FLUX_WB = 0.006
POLE_PAIRS = 14
PWM_S = 25e-6
V_BUS = 48.0
ADC_GAIN = 0.005  # A per count
ADC_OFFSET = 32768.0
VBUS_GAIN = 0.01  # V per count
CPR = 16384


def make_config(**overrides) -> CtrlConfig:
    cfg = make_ctrl_config(r_ohm=R_OHM, ld_h=L_H, lq_h=L_H, flux_wb=FLUX_WB, pole_pairs=POLE_PAIRS,
                           gear_ratio=9.0, pwm_period_s=PWM_S,
                           current_bandwidth_rad_s=2 * math.pi * 1000.0)
    cfg.adc_i_gain_a = ADC_GAIN
    cfg.adc_i_offset = ADC_OFFSET
    cfg.adc_vbus_gain_v = VBUS_GAIN
    cfg.estimator.counts_per_rev = CPR
    cfg.latency_steps = 1.0
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


def adc_counts(i_abc: np.ndarray) -> list[int]:
    return [int(round(i / ADC_GAIN + ADC_OFFSET)) for i in i_abc]


def theta_e_of(count: int) -> float:
    return (POLE_PAIRS * count % CPR) * 2 * math.pi / CPR


class LockedRL:
    """Exact ZOH RL in the dq frame of a locked rotor; voltage from duties
    with a one-period delay (duties computed at k are applied over k+1)."""

    def __init__(self, theta_e: float) -> None:
        self.theta_e = theta_e
        self.i_dq = np.zeros(2)
        self.a = math.exp(-R_OHM * PWM_S / L_H)
        self.pending = np.full(3, 0.5)

    def phase_currents(self) -> np.ndarray:
        c, s = math.cos(self.theta_e), math.sin(self.theta_e)
        i_alpha = self.i_dq[0] * c - self.i_dq[1] * s
        i_beta = self.i_dq[0] * s + self.i_dq[1] * c
        return np.array([i_alpha, -0.5 * i_alpha + math.sqrt(3) / 2 * i_beta,
                         -0.5 * i_alpha - math.sqrt(3) / 2 * i_beta])

    def apply(self, duty: tuple[float, float, float], enabled: bool) -> None:
        d = self.pending
        self.pending = np.array(duty) if enabled else None
        if d is None:
            self.i_dq[:] = 0.0  # coast at standstill: the diodes empty the inductance
            return
        v = (d - d.mean()) * V_BUS
        v_alpha = (2 * v[0] - v[1] - v[2]) / 3
        v_beta = (v[1] - v[2]) / math.sqrt(3)
        c, s = math.cos(self.theta_e), math.sin(self.theta_e)
        v_dq = np.array([v_alpha * c + v_beta * s, -v_alpha * s + v_beta * c])
        self.i_dq = self.a * self.i_dq + (1 - self.a) * v_dq / R_OHM
        if self.pending is None:
            self.pending = np.full(3, 0.5)


def run_current_step(ctrl: core.Controller, plant: LockedRL, count: int, i_q_ref: float, n: int):
    ctrl.command(core.MODE_CURRENT, i_q_ref=i_q_ref)
    i_q = np.empty(n)
    for k in range(n):
        ctrl.step(adc_counts(plant.phase_currents()), int(V_BUS / VBUS_GAIN), count)
        i_q[k] = ctrl.signals()["i_q"]
        plant.apply(ctrl.duty, ctrl.pwm_enable)
    return i_q


def predicted_step(cfg: CtrlConfig, n: int) -> np.ndarray:
    """python-control: PI (backward Euler) x one-period delay x ZOH RL."""
    a = math.exp(-R_OHM * PWM_S / L_H)
    plant = control.tf([(1 - a) / R_OHM], [1, -a], PWM_S)
    delay = control.tf([1], [1, 0], PWM_S)
    kp, ki = cfg.current.pi_q.kp, cfg.current.pi_q.ki
    pi = control.tf([kp + ki * PWM_S, -kp], [1, -1], PWM_S)
    loop = control.feedback(pi * delay * plant, 1)
    _, y = control.forced_response(loop, T=np.arange(n) * PWM_S, U=np.ones(n))
    return np.asarray(y)


def test_current_step_matches_python_control_closed_loop():
    cfg = make_config()
    ctrl = core.Controller(cfg)
    count = 1234
    plant = LockedRL(theta_e_of(count))
    n = 400
    i_q = run_current_step(ctrl, plant, count, 10.0, n)
    # sample k of the core's measurement is sample k of the discrete loop;
    # the bound is two ADC counts (quantisation) of a 10 A step
    expected = 10.0 * predicted_step(cfg, n)
    err = np.abs(i_q - expected)
    assert err.max() < 2 * ADC_GAIN, f"max deviation {err.max():.4f} A"
    assert abs(i_q[-50:].mean() - 10.0) < 0.02
    assert abs(ctrl.signals()["i_d"]) < 0.05


def test_fault_gives_safe_state_in_the_same_period():
    cfg = make_config()
    cfg.protect.safe_state = 0
    ctrl = core.Controller(cfg)
    ctrl.command(core.MODE_CURRENT, i_q_ref=1.0)
    vbus = int(V_BUS / VBUS_GAIN)
    ctrl.step(adc_counts([0.0, 0.0, 0.0]), vbus, 0)
    assert ctrl.pwm_enable and ctrl.faults == 0
    i_trip = cfg.protect.i_max_a * 1.05
    faults = ctrl.step(adc_counts([i_trip, -i_trip / 2, -i_trip / 2]), vbus, 0)
    assert faults & core.FAULT_OVERCURRENT
    assert not ctrl.pwm_enable and ctrl.duty == (0.0, 0.0, 0.0)
    assert ctrl.mode == core.MODE_IDLE
    # the brake safe state shorts the phases instead
    cfg.protect.safe_state = 1
    ctrl = core.Controller(cfg)
    ctrl.command(core.MODE_CURRENT, i_q_ref=1.0)
    ctrl.step(adc_counts([i_trip, -i_trip / 2, -i_trip / 2]), vbus, 0)
    assert ctrl.pwm_enable and ctrl.duty == (0.0, 0.0, 0.0)


def test_clear_needs_the_cause_gone_and_does_not_restart_motion():
    cfg = make_config()
    ctrl = core.Controller(cfg)
    ctrl.command(core.MODE_CURRENT, i_q_ref=1.0)
    low_vbus = int(cfg.protect.v_bus_min_v * 0.9 / VBUS_GAIN)
    ctrl.step(adc_counts([0, 0, 0]), low_vbus, 0)
    assert ctrl.faults & core.FAULT_UNDERVOLTAGE
    assert ctrl.clear_faults() & core.FAULT_UNDERVOLTAGE  # still low: refused
    with pytest.raises(ValueError, match="fault"):
        ctrl.command(core.MODE_CURRENT, i_q_ref=1.0)
    ctrl.step(adc_counts([0, 0, 0]), int(V_BUS / VBUS_GAIN), 0)
    assert ctrl.clear_faults() == 0
    ctrl.step(adc_counts([0, 0, 0]), int(V_BUS / VBUS_GAIN), 0)
    assert ctrl.mode == core.MODE_IDLE and not ctrl.pwm_enable


def test_watchdog_stops_when_commands_stop():
    cfg = make_config()
    cfg.protect.cmd_timeout_s = 0.01
    ctrl = core.Controller(cfg)
    vbus = int(V_BUS / VBUS_GAIN)
    n_timeout = int(round(0.01 / PWM_S))
    # idle: never times out
    for _ in range(2 * n_timeout):
        ctrl.step(adc_counts([0, 0, 0]), vbus, 0)
    assert ctrl.faults == 0
    ctrl.command(core.MODE_CURRENT, i_q_ref=0.5)
    trip_step = None
    for k in range(2 * n_timeout):
        if ctrl.step(adc_counts([0, 0, 0]), vbus, 0) & core.FAULT_CMD_TIMEOUT:
            trip_step = k + 1
            break
    assert trip_step is not None
    assert abs(trip_step - n_timeout) <= 2
    assert not ctrl.pwm_enable


def test_refused_command_changes_nothing():
    ctrl = core.Controller(make_config())
    ctrl.command(core.MODE_CURRENT, i_q_ref=2.0)
    for bad in ({"i_q_ref": float("nan")}, {"i_q_ref": float("inf")}, {"u_flex": 1.5}, {"kp": -1.0}):
        with pytest.raises(ValueError, match="refused"):
            ctrl.command(core.MODE_CURRENT, **bad)
    assert ctrl.cmd_rejects == 4
    assert ctrl.commanded_mode == core.MODE_CURRENT
    ctrl.step(adc_counts([0, 0, 0]), int(V_BUS / VBUS_GAIN), 0)
    assert ctrl.signals()["i_q_ref"] == pytest.approx(2.0)


@pytest.mark.parametrize("field,value", [("pwm_period_s", 0.0), ("pwm_period_s", float("nan")),
                                         ("outer_div", 0), ("pole_pairs", 0), ("flux_wb", -1.0),
                                         ("gear_ratio", 0.5), ("i_limit_a", 1e6),
                                         ("adc_vbus_gain_v", float("inf"))])
def test_bad_config_names_the_field_and_stays_safe(field, value):
    cfg = make_config()
    setattr(cfg, field, value)
    with pytest.raises(ValueError, match=field):
        core.Controller(cfg)


def test_bad_sub_config_names_the_block():
    cfg = make_config()
    cfg.estimator.counts_per_rev = 0
    with pytest.raises(ValueError, match="estimator"):
        core.Controller(cfg)


def test_non_finite_sense_trips_bad_input():
    ctrl = core.Controller(make_config())
    ctrl.command(core.MODE_CURRENT, i_q_ref=1.0)
    faults = ctrl.step(adc_counts([0, 0, 0]), int(V_BUS / VBUS_GAIN), 0, temp_motor_c=float("nan"))
    assert faults & core.FAULT_BAD_INPUT and not ctrl.pwm_enable


def test_batch_run_equals_single_steps_bit_for_bit():
    cfg = make_config()
    rng = np.random.default_rng(3)
    n = 2000
    adc = (ADC_OFFSET + rng.normal(0, 200, size=(n, 3))).astype(np.uint16)
    enc = (np.arange(n) * 7 % CPR).astype(np.uint32)
    vbus = np.full(n, int(V_BUS / VBUS_GAIN), dtype=np.uint16)
    a = core.Controller(cfg)
    b = core.Controller(cfg)
    for c in (a, b):
        c.command(core.MODE_VELOCITY, v_out_ref=1.0)
    duty_batch, en_batch, _ = a.run(adc, vbus, enc, 30.0, 30.0)
    duty_single = np.empty((n, 3), dtype=np.float32)
    for k in range(n):
        b.step(adc[k], int(vbus[k]), int(enc[k]), 30.0, 30.0)
        duty_single[k] = b.duty
    assert np.array_equal(duty_batch.view(np.uint32), duty_single.view(np.uint32))
    assert en_batch.all()


def test_mode_switch_is_bumpless():
    """Switching velocity -> position keeps the torque being produced."""
    cfg = make_config()
    ctrl = core.Controller(cfg)
    vbus = int(V_BUS / VBUS_GAIN)
    ctrl.command(core.MODE_VELOCITY, v_out_ref=0.0, tau_ff_nm=0.0)
    # a standing rotor with a velocity reference the encoder never meets: the integrator builds torque
    ctrl.command(core.MODE_VELOCITY, v_out_ref=0.2)
    for _ in range(400):
        ctrl.step(adc_counts([0, 0, 0]), vbus, 0)
    tau_before = ctrl.signals()["tau_out_ref"]
    assert tau_before > 0.05
    ctrl.command(core.MODE_POSITION, p_out_ref=0.0)
    ctrl.step(adc_counts([0, 0, 0]), vbus, 0)
    tau_after = ctrl.signals()["tau_out_ref"]
    assert abs(tau_after - tau_before) < 0.05 * abs(tau_before)


@pytest.mark.parametrize("outer_div", [1, 4, 5])
def test_slow_protection_latency_is_within_one_outer_period(outer_div):
    """I2t, temperature and encoder-stuck run at the outer-loop rate: an
    over-temperature is caught at most outer_div - 1 periods after it
    appears, and the output is safe in the period it is caught."""
    cfg = make_config(outer_div=outer_div)
    vbus = int(V_BUS / VBUS_GAIN)
    for start in range(outer_div + 3):
        ctrl = core.Controller(cfg)
        ctrl.command(core.MODE_CURRENT, i_q_ref=0.5)
        for _ in range(start):
            ctrl.step(adc_counts([0, 0, 0]), vbus, 0, 30.0, 30.0)
        caught = None
        for k in range(outer_div + 2):
            faults = ctrl.step(adc_counts([0, 0, 0]), vbus, 0, cfg.protect.temp_max_c + 1.0, 30.0)
            if faults & core.FAULT_OVERTEMP:
                caught = k
                break
        assert caught is not None and caught <= outer_div - 1, (start, caught)
        assert not ctrl.pwm_enable


def test_run_repeat_equals_run():
    """The benchmark entry point runs the same C loop as run()."""
    cfg = make_config()
    n = 64
    adc = np.full((n, 3), int(ADC_OFFSET), dtype=np.uint16)
    enc = (np.arange(n) * 4 % CPR).astype(np.uint32)
    vbus = np.full(n, int(V_BUS / VBUS_GAIN), dtype=np.uint16)
    a, b = core.Controller(cfg), core.Controller(cfg)
    for c in (a, b):
        c.command(core.MODE_CURRENT, i_q_ref=1.0)
    for _ in range(3):
        a.run(adc, vbus, enc, 30.0, 30.0)
    b.run_repeat(adc, vbus, enc, 30.0, 30.0, 3)
    assert a.duty == b.duty and a.step_count == b.step_count
