"""Config dataclasses of the control core, field for field as the C structs.

Each dataclass mirrors one ``mf_*_config_t`` of ``actuators/core/*.h`` with
the same field names, so the binding converts it to the C struct with
``dataclasses.asdict``. SI units throughout (see the C headers for each
field's unit).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PIConfig:
    """mf_pi_config_t: kp in output/error units, ki in output/(error s)."""

    kp: float = 0.0
    ki: float = 0.0


@dataclass
class CurrentConfig:
    """mf_current_config_t: dq current PI gains (V/A, V/(A s)) and decoupling."""

    pi_d: PIConfig = field(default_factory=PIConfig)
    pi_q: PIConfig = field(default_factory=PIConfig)
    ld_h: float = 50e-6
    lq_h: float = 50e-6
    flux_wb: float = 0.005
    decouple: bool = True
    v_max_frac: float = 0.95


@dataclass
class EstimatorConfig:
    """mf_estimator_config_t: encoder geometry and PLL bandwidth (rad/s)."""

    counts_per_rev: int = 16384
    direction: int = 1
    pole_pairs: int = 14
    offset_e_rad: float = 0.0
    pll_bandwidth_rad_s: float = 2000.0


@dataclass
class MotionConfig:
    """mf_motion_config_t: output-side velocity PI (N m s/rad, N m/rad) and position P (1/s)."""

    vel_pi: PIConfig = field(default_factory=lambda: PIConfig(kp=2.0, ki=20.0))
    pos_kp: float = 20.0
    v_max_rad_s: float = 10.0


@dataclass
class MuscleConfig:
    """mf_muscle_config_t: Hill-type muscle pair (N, m, l_opt/s, s)."""

    f_max_n: float = 1000.0
    l_opt_m: float = 0.1
    l_ref_m: float = 0.1
    moment_arm_m: float = 0.03
    v_max_lopt_s: float = 10.0
    width: float = 0.5
    curv: float = 0.25
    ecc: float = 1.5
    k_pe: float = 1.0
    tau_act_s: float = 0.01
    tau_deact_s: float = 0.04


@dataclass
class ProtectConfig:
    """mf_protect_config_t: trip thresholds (A, V, degC, s) and the safe state."""

    i_max_a: float = 40.0
    i_cont_a: float = 15.0
    tau_i2t_s: float = 5.0
    v_bus_max_v: float = 56.0
    v_bus_min_v: float = 18.0
    temp_derate_c: float = 90.0
    temp_max_c: float = 110.0
    temp_hyst_c: float = 10.0
    r_ohm: float = 0.1
    flux_wb: float = 0.005
    omega_e_stuck_rad_s: float = 500.0
    enc_stuck_s: float = 0.05
    enc_jump_counts: int = 1000
    cmd_timeout_s: float = 0.1
    safe_state: int = 0  # 0 coast, 1 brake (mf_safe_state_t)


COGGING_HARMONICS = 3  # MF_COGGING_HARMONICS


@dataclass
class CoggingConfig:
    """mf_cogging_config_t: cogging feed-forward, motor side, in the plant's model
    tau_cog = sum_k amp_nm[k] sin((k+1) cog_n_per_rev theta_m + phase_rad[k])
    (N m, rad; theta_m the encoder's single-turn motor angle). cog_n_per_rev = 0: off."""

    cog_n_per_rev: int = 0
    amp_nm: list[float] = field(default_factory=lambda: [0.0] * COGGING_HARMONICS)
    phase_rad: list[float] = field(default_factory=lambda: [0.0] * COGGING_HARMONICS)


@dataclass
class CtrlConfig:
    """mf_ctrl_config_t: the whole actuator controller."""

    pwm_period_s: float = 25e-6
    outer_div: int = 4
    three_shunt: bool = True
    adc_i_gain_a: float = 0.02
    adc_i_offset: float = 2048.0
    adc_vbus_gain_v: float = 0.02
    dead_time_s: float = 0.0
    deadtime_i_band_a: float = 0.5
    latency_steps: float = 1.5
    pole_pairs: int = 14
    flux_wb: float = 0.005
    gear_ratio: float = 9.0
    i_limit_a: float = 30.0
    tau_out_max_nm: float = 20.0
    current: CurrentConfig = field(default_factory=CurrentConfig)
    estimator: EstimatorConfig = field(default_factory=EstimatorConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    muscle: MuscleConfig = field(default_factory=MuscleConfig)
    protect: ProtectConfig = field(default_factory=ProtectConfig)
    cogging: CoggingConfig = field(default_factory=CoggingConfig)

    def as_dict(self) -> dict[str, Any]:
        """Nested dict with the C field names (what the binding converts);
        the cogging harmonics padded with zeros to COGGING_HARMONICS."""
        d = dataclasses.asdict(self)
        cog = d["cogging"]
        for key in ("amp_nm", "phase_rad"):
            values = [float(x) for x in cog[key]]
            if len(values) > COGGING_HARMONICS:
                raise ValueError(f"CtrlConfig.cogging.{key} has at most {COGGING_HARMONICS} harmonics, "
                                 f"got {len(values)}")
            cog[key] = values + [0.0] * (COGGING_HARMONICS - len(values))
        return d


def current_gains(r_ohm: float, l_h: float, bandwidth_rad_s: float) -> PIConfig:
    """PI by pole-zero cancellation: kp = L w_c (V/A), ki = R w_c (V/(A s))."""
    return PIConfig(kp=l_h * bandwidth_rad_s, ki=r_ohm * bandwidth_rad_s)


def make_ctrl_config(
    *,
    r_ohm: float,
    ld_h: float,
    lq_h: float,
    flux_wb: float,
    pole_pairs: int,
    gear_ratio: float = 1.0,
    pwm_period_s: float = 25e-6,
    current_bandwidth_rad_s: float | None = None,
    **overrides: Any,
) -> CtrlConfig:
    """A consistent CtrlConfig for a motor (ohm, H, Wb, s, rad/s).

    Current gains by pole-zero cancellation at ``current_bandwidth_rad_s``
    (default 2 pi f_pwm / 20, which leaves a phase margin above 60 degrees
    with the 1.5-period PWM and computation delay); the motor constants are
    copied where the core needs them. ``overrides`` set top-level fields."""
    if current_bandwidth_rad_s is None:
        current_bandwidth_rad_s = 2.0 * math.pi / (20.0 * pwm_period_s)
    cfg = CtrlConfig(pwm_period_s=pwm_period_s, pole_pairs=pole_pairs, flux_wb=flux_wb,
                     gear_ratio=gear_ratio)
    cfg.current = CurrentConfig(
        pi_d=current_gains(r_ohm, ld_h, current_bandwidth_rad_s),
        pi_q=current_gains(r_ohm, lq_h, current_bandwidth_rad_s),
        ld_h=ld_h, lq_h=lq_h, flux_wb=flux_wb,
    )
    cfg.estimator.pole_pairs = pole_pairs
    cfg.protect.r_ohm = r_ohm
    cfg.protect.flux_wb = flux_wb
    for key, value in overrides.items():
        if not hasattr(cfg, key):
            raise TypeError(f"CtrlConfig has no field {key!r}")
        setattr(cfg, key, value)
    return cfg
