"""SimActuator and SimBank: reproducibility, independence, bad input."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from actuators import core
from actuators.plant import PlantDivergedError
from actuators.sim import Event, SimActuator, SimBank, SimError

SCHEDULE = [(0.0, {"mode": "velocity", "v_out_ref": 2.0}),
            (0.02, {"mode": "position", "p_out_ref": 0.1}),
            (0.04, {"mode": "impedance", "kp": 50.0, "kd": 1.0})]


def _fields(rec) -> dict:
    return {k: v for k, v in rec.__dict__.items()}


def test_same_seed_is_bit_identical_and_another_seed_is_not(arm_board):
    cfg, pp = arm_board.ctrl_config(), arm_board.plant_params()
    a = SimActuator(cfg, pp, seed=42).run(0.06, SCHEDULE)
    b = SimActuator(cfg, pp, seed=42).run(0.06, SCHEDULE)
    c = SimActuator(cfg, pp, seed=43).run(0.06, SCHEDULE)
    for name, x in _fields(a).items():
        assert np.array_equal(x, getattr(b, name)), name
    assert not np.array_equal(a.i_q, c.i_q)  # the ADC noise differs
    assert abs(a.p_out[-1] - c.p_out[-1]) < 1e-3  # but not the motion


def test_bank_nodes_equal_single_actuators(arm_board):
    """Node i of a bank runs exactly as a lone actuator with seed + i."""
    cfg, pp = arm_board.ctrl_config(), arm_board.plant_params()
    bank = SimBank([(cfg, pp)] * 3, seed=10)
    recs = bank.run(0.03, {i: [(0.0, {"mode": "current", "i_q_ref": 1.0 + i})] for i in range(3)})
    for i in range(3):
        lone = SimActuator(cfg, pp, seed=10 + i).run(0.03, [(0.0, {"mode": "current", "i_q_ref": 1.0 + i})])
        assert np.array_equal(recs[i].i_abc, lone.i_abc)
        assert np.array_equal(recs[i].duty, lone.duty)


def test_decimation_and_events(arm_board):
    sim = SimActuator(arm_board.ctrl_config(), arm_board.plant_params())
    dt = sim.dt_s
    rec = sim.run(0.01, [Event(0.0, mode="current", fields={"i_d_ref": 1.0})], decimate=10)
    n = int(round(0.01 / dt)) // 10
    assert rec.t_s.shape == (n,)
    assert np.allclose(np.diff(rec.t_s), 10 * dt)
    assert rec.mode[-1] == core.MODE_CURRENT


def test_watchdog_stops_the_motor_when_commands_stop(arm_board):
    cfg = arm_board.ctrl_config()
    sim = SimActuator(cfg, arm_board.plant_params())
    rec = sim.run(cfg.protect.cmd_timeout_s + 0.02, [(0.0, {"mode": "velocity", "v_out_ref": 1.0})])
    assert sim.faults & core.FAULT_CMD_TIMEOUT
    tripped = np.nonzero(rec.faults & core.FAULT_CMD_TIMEOUT)[0][0]
    assert abs(rec.t_s[tripped] - cfg.protect.cmd_timeout_s) < 0.002
    assert not rec.pwm_enable[tripped:].any() or cfg.protect.safe_state == 1
    assert (rec.mode[tripped:] == core.MODE_IDLE).all()


def test_estop_and_clear(arm_board):
    sim = SimActuator(arm_board.ctrl_config(), arm_board.plant_params())
    sim.run(0.005, [(0.0, {"mode": "current", "i_q_ref": 2.0}), Event(0.004, estop=True)])
    assert sim.faults & core.FAULT_ESTOP
    with pytest.raises(SimError, match="fault"):
        sim.command("current", i_q_ref=1.0)
    sim.run(0.001, [Event(0.0, clear_faults=True)])
    assert sim.faults == 0


def test_refused_command_names_the_problem(arm_board):
    sim = SimActuator(arm_board.ctrl_config(), arm_board.plant_params())
    with pytest.raises(SimError, match="non-finite or out of range"):
        sim.command("current", i_q_ref=float("nan"))
    with pytest.raises(TypeError, match="unknown command fields"):
        sim.command("current", i_q=1.0)


def test_mismatched_controller_and_plant_are_refused(arm_board):
    cfg, pp = arm_board.ctrl_config(), arm_board.plant_params()
    pp = dataclasses.replace(pp, motor=dataclasses.replace(pp.motor, pole_pairs=pp.motor.pole_pairs + 1))
    with pytest.raises(SimError, match="pole_pairs"):
        SimActuator(cfg, pp)


def test_bad_controller_config_is_refused_naming_the_field(arm_board):
    cfg = arm_board.ctrl_config()
    cfg.pwm_period_s = -1.0
    with pytest.raises(ValueError, match="pwm_period_s"):
        SimActuator(cfg, arm_board.plant_params())


def test_divergence_stops_with_the_step(arm_board):
    cfg, pp = arm_board.ctrl_config(), arm_board.plant_params()
    sim = SimActuator(cfg, pp)
    with pytest.raises(PlantDivergedError, match="step"):
        sim.run(0.01, [Event(0.0, tau_ext_nm=1e308), Event(0.002, tau_ext_nm=float("inf"))])
