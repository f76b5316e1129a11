"""MF_MODE_INJECT in the controller (mf_ctrl.h): the command path, the
frame and the voltage the step applies, the restart rule, refusal of a bad
inject config. The injection's own signals are mf_inject's tests."""
from __future__ import annotations

import math

import numpy as np
import pytest

from actuators import core
from actuators.core.config import make_ctrl_config

PWM_S = 25e-6
V_BUS = 48.0


def make() -> tuple[core.Controller, dict]:
    cfg = make_ctrl_config(r_ohm=0.12, ld_h=60e-6, lq_h=60e-6, flux_wb=0.006, pole_pairs=14, gear_ratio=9.0,
                           pwm_period_s=PWM_S)
    cfg.latency_steps = 0.0
    cfg.protect.cmd_timeout_s = 10.0
    return core.Controller(cfg), cfg


def step(ctrl: core.Controller, cfg, count: int = 0) -> int:
    adc0 = int(round(cfg.adc_i_offset))
    return ctrl.step([adc0] * 3, int(round(V_BUS / cfg.adc_vbus_gain_v)), count)


V_DC = {"kind": "v_dc", "axis": "d", "use_encoder": False, "amp": 2.0, "theta0_e": 0.7,
        "settle_s": 10 * PWM_S, "window_s": 20 * PWM_S}


def phase_voltages(duty) -> np.ndarray:
    d = np.asarray(duty, dtype=float)
    return (d - d.mean()) * V_BUS


def test_voltage_dc_at_a_fixed_angle_applies_that_vector():
    ctrl, cfg = make()
    ctrl.command("inject", inject=V_DC)
    assert ctrl.commanded_mode == core.MODE_INJECT
    assert step(ctrl, cfg) == 0 and ctrl.mode == core.MODE_INJECT and ctrl.pwm_enable
    v = phase_voltages(ctrl.duty)
    v_alpha = (2 * v[0] - v[1] - v[2]) / 3
    v_beta = (v[1] - v[2]) / math.sqrt(3)
    # amp on d at theta0: (v_alpha, v_beta) = amp (cos, sin)(theta0), whatever the encoder says
    assert v_alpha == pytest.approx(2.0 * math.cos(0.7), abs=2e-5)
    assert v_beta == pytest.approx(2.0 * math.sin(0.7), abs=2e-5)
    s = ctrl.signals()
    assert s["v_d"] == pytest.approx(2.0) and s["v_q"] == 0.0


def test_window_completes_and_the_same_command_does_not_restart():
    ctrl, cfg = make()
    ctrl.command("inject", inject=V_DC)
    for _ in range(15):
        step(ctrl, cfg)
        ctrl.command("inject", inject=V_DC)  # a host streaming the same command
    r = ctrl.inject_result()
    assert r["k"] >= 15 and 0 < r["n"] < 20 and not r["done"]
    for _ in range(20):
        step(ctrl, cfg)
    r = ctrl.inject_result()
    assert r["done"] and r["n"] == 20
    assert r["v_d_mean"] == pytest.approx(2.0, rel=1e-6)
    assert abs(r["i_d_mean"]) < 1e-6  # the ADC reads zero current
    # a changed config starts over
    ctrl.command("inject", inject={**V_DC, "amp": 1.0})
    assert ctrl.inject_result()["k"] == 0 and not ctrl.inject_result()["done"]


def test_voltage_references_stay_in_the_circle():
    ctrl, cfg = make()
    ctrl.command("inject", inject={**V_DC, "amp": 100.0})
    step(ctrl, cfg)
    s = ctrl.signals()
    v_max = cfg.current.v_max_frac * V_BUS / math.sqrt(3)
    assert math.hypot(s["v_d"], s["v_q"]) <= v_max * (1 + 1e-6)
    assert s["v_d"] == pytest.approx(v_max, rel=1e-6)


def test_bad_inject_config_is_refused_and_changes_nothing():
    ctrl, cfg = make()
    ctrl.command("current", i_q_ref=1.0)
    for bad in ({**V_DC, "window_s": 0.0}, {**V_DC, "amp": float("nan")}, {**V_DC, "kind": 17}):
        with pytest.raises(ValueError, match="refused"):
            ctrl.command("inject", inject=bad)
    assert ctrl.commanded_mode == core.MODE_CURRENT and ctrl.cmd_rejects == 3
    with pytest.raises(ValueError, match="inject"):
        ctrl.command("inject")


def test_protections_stay_active_in_inject_mode():
    ctrl, cfg = make()
    ctrl.command("inject", inject=V_DC)
    low = int(cfg.protect.v_bus_min_v * 0.5 / cfg.adc_vbus_gain_v)
    adc0 = int(round(cfg.adc_i_offset))
    faults = ctrl.step([adc0] * 3, low, 0)
    assert faults & core.FAULT_UNDERVOLTAGE and not ctrl.pwm_enable and ctrl.mode == core.MODE_IDLE
