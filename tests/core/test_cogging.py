"""Cogging feed-forward of the core (mf_ctrl.h, CtrlConfig.cogging) against the
plant's cogging torque (MotorParams cog_*): with the plant's true harmonics
(moved into the encoder's frame) the speed ripple of a slow velocity-mode run
must fall by more than 5x; a wrong phase must not help."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from actuators import core
from actuators.core.config import CoggingConfig
from actuators.sim import SimActuator
from firmware_gen.board import load_board

BOARD = Path(__file__).resolve().parents[2] / "boards" / "arm_48v.toml"
N_PER_REV = 24
AMP_NM = (0.02, 0.008)     # motor side, N m: about 5 % of the torque at 1.5 A
PHASE_RAD = (0.3, -1.1)
V_OUT = 0.2                # rad/s output side: 6 rad/s motor, 23 Hz cogging
SETTLE_S, WINDOW_S = 0.4, 0.4


def setup() -> tuple:
    board = load_board(BOARD)
    cfg, pp = board.ctrl_config(), board.plant_params()
    cfg.protect.cmd_timeout_s = 10.0  # one command for the whole run
    motor = dataclasses.replace(pp.motor, cog_n_per_rev=N_PER_REV, cog_amp_nm=AMP_NM, cog_phase_rad=PHASE_RAD)
    return cfg, dataclasses.replace(pp, motor=motor)


def encoder_frame_phases(pp) -> list[float]:
    """The plant's phases in the frame of the angle the encoder reports:
    theta_enc = theta_m + direction * offset_counts * 2 pi / cpr."""
    s = pp.sensors
    delta = s.enc_direction * s.enc_offset_counts * 2 * math.pi / s.enc_counts_per_rev
    return [ph - (k + 1) * N_PER_REV * delta for k, ph in enumerate(PHASE_RAD)]


def speed_ripple(cfg, pp) -> tuple[float, float]:
    """(rms of the motor speed about its mean, mean) over the window, rad/s."""
    sim = SimActuator(cfg, pp, seed=1)
    rec = sim.run(SETTLE_S + WINDOW_S, [(0.0, {"mode": "velocity", "v_out_ref": V_OUT})], decimate=10)
    w = rec.omega_m[rec.t_s > SETTLE_S]
    assert sim.faults == 0
    return float(np.std(w)), float(np.mean(w))


def test_feed_forward_with_the_true_cogging_cuts_the_speed_ripple():
    cfg, pp = setup()
    ripple_off, mean_off = speed_ripple(cfg, pp)
    cfg.cogging = CoggingConfig(cog_n_per_rev=N_PER_REV, amp_nm=list(AMP_NM),
                                phase_rad=encoder_frame_phases(pp))
    ripple_on, mean_on = speed_ripple(cfg, pp)
    ratio = pp.gearbox.ratio
    # the run is the slow one intended, and the loop holds the speed either way
    assert mean_off == pytest.approx(V_OUT * ratio, rel=0.02)
    assert mean_on == pytest.approx(V_OUT * ratio, rel=0.02)
    print(f"speed ripple rms: off {ripple_off:.4f} rad/s, on {ripple_on:.4f} rad/s, "
          f"ratio {ripple_off / ripple_on:.1f}")
    assert ripple_off > 0.05 * V_OUT * ratio  # the cogging does show without the feed-forward
    assert ripple_off > 5.0 * ripple_on
    # the same amplitudes a quarter cogging period off in phase cancel nothing
    cfg.cogging.phase_rad = [ph + (k + 1) * math.pi / 2 for k, ph in enumerate(encoder_frame_phases(pp))]
    ripple_wrong, _ = speed_ripple(cfg, pp)
    assert ripple_wrong > 0.7 * ripple_off


def test_feed_forward_current_follows_the_model():
    """i_q_cog = tau_cog(theta_m) / kt at the encoder's angle (standing rotor,
    so no look-ahead), in the torque modes only."""
    cfg, _ = setup()
    cfg.cogging = CoggingConfig(cog_n_per_rev=N_PER_REV, amp_nm=[0.05, 0.01, 0.02], phase_rad=[0.3, -1.1, 2.0])
    cpr = cfg.estimator.counts_per_rev
    adc_zero = int(round(cfg.adc_i_offset))
    vbus = int(round(48.0 / cfg.adc_vbus_gain_v))
    for count in (0, 1234, 9000, cpr - 5):
        ctrl = core.Controller(cfg)
        ctrl.command("impedance", kp=0.0, kd=0.0)
        ctrl.step([adc_zero] * 3, vbus, count)
        y = (cpr - count) % cpr if cfg.estimator.direction < 0 else count
        x = N_PER_REV * y * 2 * math.pi / cpr
        tau = sum(a * math.sin((k + 1) * x + ph)
                  for k, (a, ph) in enumerate(zip(cfg.cogging.amp_nm, cfg.cogging.phase_rad)))
        assert ctrl.i_q_cog == pytest.approx(tau / ctrl.kt_nm_a, abs=1e-5)
        assert ctrl.signals()["i_q_ref"] == pytest.approx(tau / ctrl.kt_nm_a, abs=1e-5)
        ctrl = core.Controller(cfg)
        ctrl.command("current", i_q_ref=0.0)
        ctrl.step([adc_zero] * 3, vbus, count)
        assert ctrl.signals()["i_q_ref"] == 0.0


def test_bad_cogging_config_is_refused():
    cfg, _ = setup()
    cfg.cogging = CoggingConfig(cog_n_per_rev=20000)
    with pytest.raises(ValueError, match="cogging"):
        core.Controller(cfg)
    cfg.cogging = CoggingConfig(cog_n_per_rev=10, amp_nm=[float("nan"), 0.0, 0.0])
    with pytest.raises(ValueError, match="cogging"):
        core.Controller(cfg)
    cfg.cogging = CoggingConfig(cog_n_per_rev=10, amp_nm=[0.1, 0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="harmonics"):
        core.Controller(cfg)
