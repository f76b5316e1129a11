"""Injected plant and sensor faults: the core's protections react in the time
the physics and the protection config allow.

- encoder stuck: MF_FAULT_ENCODER once the count has not moved for
  protect.enc_stuck_s while the motor turns (mf_protect.h), checked by the
  slow protections every outer_div periods;
- phase-a current-sense offset above i_max_a: MF_FAULT_OVERCURRENT in the
  very period the offset first shows in the ADC sample;
- extra heat into the winding: the winding temperature follows the exact
  solution of the two-node thermal network (matrix exponential, scipy) and
  MF_FAULT_OVERTEMP trips when it crosses temp_max_c.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.linalg import expm

from actuators import core
from actuators.sim import Event, SimActuator, SimBank


def _cfg(board):
    cfg = board.ctrl_config()
    cfg.protect.cmd_timeout_s = 10.0  # one command per run, not a 1 kHz stream
    return cfg


def _first(mask: np.ndarray) -> int:
    idx = np.nonzero(mask)[0]
    assert idx.size, "never"
    return int(idx[0])


def test_encoder_stuck_trips_after_enc_stuck_s(arm_board):
    """The encoder sticks while a heavy load keeps the motor turning (with
    the bare rotor the misaligned current stalls the motor within a few
    ms, the back-EMF falls below omega_e_stuck_rad_s and the stuck check
    rightly stays quiet)."""
    cfg, pp = _cfg(arm_board), arm_board.plant_params()
    pp = dataclasses.replace(pp, load=dataclasses.replace(pp.load, j_kgm2=4.0))
    sim = SimActuator(cfg, pp, seed=2)
    dt = sim.dt_s
    v_out = 3.0                                               # rad/s at the output
    omega_e = v_out * pp.gearbox.ratio * pp.motor.pole_pairs
    assert omega_e > 2 * cfg.protect.omega_e_stuck_rad_s      # fast enough to be seen as stuck
    t0 = 0.6
    rec = sim.run(t0 + 3 * cfg.protect.enc_stuck_s,
                  [Event(0.0, mode="velocity", fields={"v_out_ref": v_out}),
                   Event(t0, encoder_stuck=True)])
    k0 = int(round(t0 / dt))
    assert not (rec.faults[:k0] & core.FAULT_ENCODER).any()
    # turning fast enough to be seen as stuck when the fault comes
    assert rec.v_out[k0 - 1] * pp.gearbox.ratio * pp.motor.pole_pairs > 1.5 * cfg.protect.omega_e_stuck_rad_s
    trip = _first(rec.faults & core.FAULT_ENCODER)
    t_detect = (trip - k0 + 1) * dt                                # periods with the frozen count
    # still turning fast when it trips: the back-EMF shows the motion
    assert rec.v_out[trip] * pp.gearbox.ratio * pp.motor.pole_pairs > cfg.protect.omega_e_stuck_rad_s
    # the still-timer needs enc_stuck_s of unchanged counts from the frozen
    # count's own (last) change, one period after the fault; the slow check
    # runs every outer_div periods
    assert cfg.protect.enc_stuck_s - dt <= t_detect <= cfg.protect.enc_stuck_s + (cfg.outer_div + 2) * dt + 1e-9, \
        (t_detect, cfg.protect.enc_stuck_s)
    assert sim.injected()["encoder_stuck"] is True


def test_encoder_released_jumps_by_the_motion_it_missed(arm_board):
    """A stuck encoder that comes back reports the true angle again: the
    count jumps by the motion it missed, which the jump check catches."""
    cfg, pp = _cfg(arm_board), arm_board.plant_params()
    bank = SimBank([(cfg, pp)], seed=4)
    bank.command(0, "velocity", v_out_ref=1.0)
    bank.step(5000, record=False)
    bank.inject(0, encoder_stuck=True)
    rec = bank.step(int(0.5 * cfg.protect.enc_stuck_s / bank.dt_s))[0]
    assert not (rec.faults & core.FAULT_ENCODER).any()   # released before the detection time
    # the core's position estimate stood still while the motor turned on
    missed_rad = float(rec.theta_m[-1] - rec.theta_m[0])
    assert missed_rad > 0.1 and np.ptp(rec.p_out_est) < 1e-3
    jump_counts = missed_rad * pp.sensors.enc_counts_per_rev / (2 * math.pi)
    assert jump_counts > cfg.protect.enc_jump_counts
    bank.inject(0, encoder_stuck=False)
    rec = bank.step(3)[0]
    assert rec.faults[0] & core.FAULT_ENCODER            # the first sample after the release
    assert bank.injected(0)["encoder_stuck"] is False


def test_current_sense_offset_trips_overcurrent_in_the_next_period(arm_board):
    cfg, pp = _cfg(arm_board), arm_board.plant_params()
    sim = SimActuator(cfg, pp, seed=5)
    dt = sim.dt_s
    offset = cfg.protect.i_max_a + 3.0
    assert offset < 0.9 * pp.sensors.adc_i_a_per_count * pp.sensors.adc_i_offset_counts  # inside the ADC range
    t0 = 0.02
    rec = sim.run(0.03, [Event(0.0, mode="current", fields={"i_q_ref": 2.0}),
                         Event(t0, i_sense_offset_a=offset)])
    k0 = int(round(t0 / dt))
    assert not rec.faults[:k0].any()
    assert rec.faults[k0] & core.FAULT_OVERCURRENT          # the first period that samples it
    assert sim.faults & core.FAULT_OVERCURRENT
    # the true current never came near the trip: it is the sensor
    assert np.max(np.abs(rec.i_abc[:k0 + 1])) < 0.5 * cfg.protect.i_max_a
    # a smaller offset (below the trip) does not trip
    sim2 = SimActuator(cfg, pp, seed=5)
    rec2 = sim2.run(0.03, [Event(0.0, mode="current", fields={"i_q_ref": 2.0}),
                           Event(t0, i_sense_offset_a=0.3 * cfg.protect.i_max_a)])
    assert not (rec2.faults & core.FAULT_OVERCURRENT).any()


def _winding_rise(th, heat_w: float, t: np.ndarray) -> np.ndarray:
    """Exact winding temperature rise of the two-node network (winding ->
    housing -> ambient) under a step of heat_w into the winding, from rest."""
    a = np.array([[-1 / (th.c_winding_j_per_k * th.r_winding_housing_k_per_w),
                   1 / (th.c_winding_j_per_k * th.r_winding_housing_k_per_w)],
                  [1 / (th.c_housing_j_per_k * th.r_winding_housing_k_per_w),
                   -(1 / th.r_winding_housing_k_per_w + 1 / th.r_housing_ambient_k_per_w)
                   / th.c_housing_j_per_k]])
    b = np.array([heat_w / th.c_winding_j_per_k, 0.0])
    x_ss = -np.linalg.solve(a, b)
    return np.array([(x_ss - expm(a * tk) @ x_ss)[0] for tk in t])


def test_heat_follows_the_thermal_network_and_trips_overtemperature(arm_board):
    cfg, pp = _cfg(arm_board), arm_board.plant_params()
    th = pp.thermal
    sim = SimActuator(cfg, pp, seed=6)
    dt = sim.dt_s
    heat = 3000.0
    # the steady rise P (R_wh + R_ha) lies far above the trip
    assert heat * (th.r_winding_housing_k_per_w + th.r_housing_ambient_k_per_w) > 2 * (
        cfg.protect.temp_max_c - th.temp_ambient_c)
    rec = sim.run(1.2, [Event(0.0, heat_w=heat)], decimate=5)     # idle: no current, only the injected heat
    assert np.max(np.abs(rec.i_abc)) < 1e-6                       # no copper loss to speak of
    rise = _winding_rise(th, heat, rec.t_s)
    tripped = (rec.faults & core.FAULT_OVERTEMP) != 0
    before = ~tripped
    assert np.max(np.abs(rec.temp_winding_c[before] - th.temp_ambient_c - rise[before])) < 1e-3 * np.max(rise[before])
    # single-node bound: the rise is at most P R_th (1 - exp(-t / (R_th C_w))) with R_th = R_wh + R_ha
    r_th = th.r_winding_housing_k_per_w + th.r_housing_ambient_k_per_w
    assert np.all(rise <= heat * r_th * (1 - np.exp(-rec.t_s / (r_th * th.c_winding_j_per_k))) + 1e-9)
    # the trip: when the exact solution crosses temp_max_c (to a slow-protection period)
    fine = np.arange(0.0, 1.2, 1e-4)
    t_cross = fine[np.argmax(_winding_rise(th, heat, fine) >= cfg.protect.temp_max_c - th.temp_ambient_c)]
    t_trip = rec.t_s[_first(tripped)]
    assert -2 * 5 * dt <= t_trip - t_cross <= (cfg.outer_div + 2 * 5) * dt, (t_trip, t_cross)
    assert sim.injected()["heat_w"] == heat


def test_injection_is_refused_when_not_finite_and_persists(arm_board):
    sim = SimActuator(_cfg(arm_board), arm_board.plant_params())
    with pytest.raises(ValueError, match="i_sense_offset_a"):
        sim.inject(i_sense_offset_a=math.nan)
    with pytest.raises(ValueError, match="heat_w"):
        sim.inject(heat_w=math.inf)
    sim.inject(heat_w=5.0)
    sim.run(0.001, [Event(0.0, i_sense_offset_a=0.1)])
    assert sim.injected() == {"encoder_stuck": False, "i_sense_offset_a": 0.1, "heat_w": 5.0}
    sim.run(0.001, [(0.0, {"heat_w": 0.0, "encoder_stuck": True})])   # the tuple form of an event
    assert sim.injected() == {"encoder_stuck": True, "i_sense_offset_a": 0.1, "heat_w": 0.0}
