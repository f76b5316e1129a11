"""Impedance mode of the simulated actuator: the measured stiffness and
damping at the output equal the commanded K_p (2 %) and K_d (5 %).

The plant's mechanics are made ideal (no friction, cogging or gear loss) so
that what is measured is the controller's impedance alone: with the board's
80 % gearbox the output creeps while back-driven and the impedance seen at
the output depends on the direction of the load (tau_out = eta tau or tau /
eta), which is mechanics, not control."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from actuators.sim import SimActuator


def _long_watchdog(cfg):
    cfg.protect.cmd_timeout_s = 10.0  # these runs send one command, not a 1 kHz stream
    return cfg


def _ideal_mechanics(pp):
    return dataclasses.replace(
        pp,
        motor=dataclasses.replace(pp.motor, b_nms_per_rad=0.0, tau_coulomb_nm=0.0, cog_amp_nm=[0.0]),
        gearbox=dataclasses.replace(pp.gearbox, efficiency=1.0),
        load=dataclasses.replace(pp.load, b_nms_per_rad=0.0))


@pytest.mark.parametrize("kp", [40.0, 150.0])
def test_static_stiffness_equals_kp(arm_board, kp):
    """External torques +-tau on the load (the difference cancels the
    encoder's offset between the core's position and the true one)."""
    cfg = _long_watchdog(arm_board.ctrl_config())
    pp = _ideal_mechanics(arm_board.plant_params())
    tau = 20.0
    p_end = []
    for sign in (+1.0, -1.0):
        sim = SimActuator(cfg, pp, seed=11)
        rec = sim.run(0.6, [(0.0, {"mode": "impedance", "p_des": 0.0, "kp": kp, "kd": 3.0}),
                            (0.0, {"tau_ext_nm": sign * tau})], decimate=5)
        assert sim.faults == 0
        p_end.append(float(np.mean(rec.p_out[-200:])))
        assert np.std(rec.p_out[-200:]) < 1e-3  # settled
    k_meas = 2 * tau / (p_end[0] - p_end[1])
    assert abs(k_meas / kp - 1) < 0.02, (k_meas, kp)


def test_damping_equals_kd(arm_board):
    """kp = 0 and a constant external torque: the output settles at the speed
    tau / K_d."""
    cfg = _long_watchdog(arm_board.ctrl_config())
    pp = _ideal_mechanics(arm_board.plant_params())
    kd = 2.0
    tau = 8.0
    sim = SimActuator(cfg, pp, seed=5)
    rec = sim.run(0.5, [(0.0, {"mode": "impedance", "kp": 0.0, "kd": kd}),
                        (0.0, {"tau_ext_nm": tau})], decimate=5)
    assert sim.faults == 0
    v_end = float(np.mean(rec.v_out[-400:]))
    kd_meas = tau / v_end
    assert abs(kd_meas / kd - 1) < 0.05, (kd_meas, kd)
