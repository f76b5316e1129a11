"""The mechanical stages of ``run_tune``: ``J`` (inertia pulses), ``friction``
(speed sweep), ``cogging`` (harmonic map), the velocity PI designed from
them, the values they write, and the velocity-step verification.

Identified values (``TuneResult.identified``), all motor side:
``j_total_motor_side_kgm2`` / ``b_total_motor_side_nms_per_rad`` (what was
measured: rotor + gearbox + load), ``tau_coulomb_nm``; the board file's
[motor] keys ``j_kgm2`` / ``b_nms_per_rad`` (the rotor's own: the totals
less the board's [load] through the gearbox, ``identify_mech.board_split``);
``cog_n_per_rev``, ``cog_amp_nm``, ``cog_phase_rad`` (the encoder's angle,
what the core's feed-forward uses).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from actuators.tune import design as dz
from actuators.tune import identify_cog as icog
from actuators.tune import identify_mech as imech
from actuators.tune.identify import Fit, Prior
from actuators.tune.link import TuneAborted, TuneLink
from actuators.tune.motion import Band, Mover, band_of
from actuators.tune.verify_velocity import compare_step, velocity_steps

__all__ = ["MECH_STAGES", "MechContext", "mech_prior", "run_mech_stages", "design_velocity", "mech_write_values",
           "torque_scale", "velocity_gains", "verify_velocity", "velocity_ok", "VELOCITY_RISE_TOL",
           "VELOCITY_OVERSHOOT_TOL", "VEL_TENDON_FRAC", "velocity_limit", "two_mass"]

MECH_STAGES = ("J", "friction", "cogging")
VELOCITY_RISE_TOL = 0.25        # measured 10-90 % rise time within 25 % of the design's
VELOCITY_OVERSHOOT_TOL = 0.10   # measured overshoot within 10 points of the design's
# tendon boards: the velocity crossover at most this fraction of the load's
# antiresonance sqrt(k / J_load); above it the rotor's own lobe of the step
# (the tendon winding up) nears 90 % and the rise time is no longer the loop's
VEL_TENDON_FRAC = 0.4

FitFn = Callable[[Fit], Fit]
Say = Callable[[str, str], None]


@dataclass
class MechContext:
    """What the mechanical stages share: prior, travel band, mover."""
    prior: imech.MechPrior
    band: Band
    mover: Mover
    j_kgm2: float
    b_nms_per_rad: float
    tau_c_nm: float
    pulses: list[dict[str, float]] = field(default_factory=list)
    cogging: tuple[int, list[float], list[float]] | None = None
    decays: dict[str, Any] | None = None


def mech_prior(board: Any, ident: dict[str, Any]) -> imech.MechPrior:
    """MechPrior from the board and what the tune identified so far."""
    m, n = board.motor, board.gearbox.ratio
    pp = board.plant_params()
    j_load, b_load = pp.load.j_kgm2, pp.load.b_nms_per_rad
    eta = board.gearbox.efficiency
    return imech.MechPrior(
        pole_pairs=int(ident.get("pole_pairs", m.pole_pairs)), flux_wb=float(ident.get("flux_wb", m.flux_wb)),
        ld_h=float(ident.get("ld_h", m.ld_h)), lq_h=float(ident.get("lq_h", m.lq_h)),
        i_limit_a=board.limits.i_limit_a, i_cont_a=board.protect.i_cont_a,
        v_max_m_rad_s=board.limits.v_out_max_rad_s * n,
        j_kgm2=m.j_kgm2 + j_load / (n * n), b_nms_per_rad=m.b_nms_per_rad + b_load / (n * n * eta),
        tau_c_nm=m.tau_coulomb_nm, omega_coulomb_rad_s=m.omega_coulomb_rad_s,
        enc_latency_s=board.encoder.latency_s, cog_n_per_rev=int(m.cog_n_per_rev),
        cog_amp_nm=tuple(m.cog_amp_nm), gear_ratio=n,
        gear_efficiency=eta, j_load_kgm2=j_load, b_load_nms_per_rad=b_load, flux_node_wb=m.flux_wb,
        tendon=board.tendon is not None)


def _context(link: TuneLink, board: Any, pr: Prior, ident: dict[str, Any]) -> MechContext:
    mp = mech_prior(board, ident)
    if not link.read("motion.vel_pi.kp") > 0.0:
        raise TuneAborted("the node has no velocity gains (motion.vel_pi.kp = 0): the mechanical stages brake "
                          "with its velocity loop; write a conservative kp first")
    mover = Mover(link, Band(-math.inf, math.inf, mp.gear_ratio), mp.pole_pairs, mp.v_max_m_rad_s)
    mover.brake()     # a stage before may have left the rotor turning
    band = band_of(mover.p_m(), mp.gear_ratio, pr.p_out_range_rad, board.limits.p_out_min_rad,
                   board.limits.p_out_max_rad)
    mover.set_band(band)
    return MechContext(mp, band, mover, mp.j_kgm2, mp.b_nms_per_rad, mp.tau_c_nm)


def _solve(ctx: MechContext) -> tuple[Fit | None, Fit | None]:
    """J from the pulses and b, tau_c from the decays depend on each other:
    alternate the two least squares (no motion)."""
    f_j = f_fr = None
    for _ in range(3):
        if ctx.pulses:
            f_j = imech.fit_inertia(ctx.pulses, ctx.prior, ctx.b_nms_per_rad, ctx.tau_c_nm, ctx.j_kgm2)
            f_j.raw = [dict(r) for r in ctx.pulses]
            ctx.j_kgm2 = f_j.values.get("j_total_kgm2", ctx.j_kgm2)
        if ctx.decays is not None:
            raw = f_fr.raw if f_fr is not None else []
            f_fr = imech.fit_friction(ctx.decays, ctx.j_kgm2 if ctx.pulses else None, ctx.prior)
            f_fr.raw = raw
            if f_fr.ok:
                ctx.b_nms_per_rad = f_fr.values["b_total_nms_per_rad"]
                ctx.tau_c_nm = f_fr.values["tau_coulomb_nm"]
                if not ctx.pulses:
                    ctx.j_kgm2 = f_fr.values["j_used_kgm2"]
        if not (ctx.pulses and ctx.decays is not None):
            break
    return f_j, f_fr


def run_mech_stages(link: TuneLink, board: Any, pr: Prior, want: set[str], ident: dict[str, Any],
                    plots: dict[str, Any], fit: FitFn, say: Say, done: Callable[[str], None]) -> MechContext | None:
    """Run J, friction, cogging (those in ``want``), fill ``ident`` and
    ``plots``; the motor is braked and disabled at the end."""
    if not want & set(MECH_STAGES):
        return None
    link.enable()
    ctx = _context(link, board, pr, ident)
    mv, mp = ctx.mover, ctx.prior
    plots["band"] = ctx.band.as_dict()
    decay_plot: dict[str, Any] = {}
    f_j: Fit | None = None
    f_fr: Fit | None = None
    if "J" in want:
        say("J", "sine torque pulses from rest, on-chip mean speed, least squares")
        f_j, ctx.pulses = imech.inertia_pulses(mv, mp, ctx.b_nms_per_rad, ctx.tau_c_nm)
        ctx.j_kgm2 = f_j.values.get("j_total_kgm2", ctx.j_kgm2)
        done("J")
    if "friction" in want:
        say("friction", "torque steps and speed decays both ways, least squares")
        f_fr, ctx.decays = imech.friction_decay(mv, mp, ctx.j_kgm2 if ctx.pulses else None)
        decay_plot = f_fr.raw[-1]["decay"] if f_fr.raw else {}
        f_j, f_fr = _solve(ctx)   # J and friction final (the cogging stage uses this J)
        done("friction")
    if "cogging" in want:
        say("cogging", "slow synchronous rotation both ways, lock-in at 3 harmonics")
        f = fit(icog.cogging_map(mv, mp, ctx.j_kgm2, link.read("estimator.offset_e_rad")))
        if f.ok:
            k = icog.HARMONICS
            ident["cog_n_per_rev"] = int(f.values["cog_n_per_rev"])
            ident["cog_amp_nm"] = [float(f.values[f"amp_nm[{i}]"]) for i in range(k)]
            ident["cog_phase_rad"] = [float(f.values[f"phase_rad[{i}]"]) for i in range(k)]
            plots["cogging"] = {"n": ident["cog_n_per_rev"], "amp_nm": ident["cog_amp_nm"],
                                "phase_rad": ident["cog_phase_rad"], "board_amp_nm": list(board.motor.cog_amp_nm)}
            ctx.cogging = (ident["cog_n_per_rev"], ident["cog_amp_nm"], ident["cog_phase_rad"])
        done("cogging")
    mv.brake()
    link.disable()
    if ctx.pulses and f_fr is None:
        f_j, _ = _solve(ctx)
    if f_j is not None:
        fit(f_j)
        ident["j_total_motor_side_kgm2"] = ctx.j_kgm2
        model = imech.pulse_mean_speed(ctx.pulses, ctx.j_kgm2, f_j.values.get("tau_offset_nm", 0.0), mp,
                                       ctx.b_nms_per_rad, ctx.tau_c_nm)
        plots["inertia"] = {"measured_m_rad_s": [r["w_mean_m_rad_s"] for r in ctx.pulses],
                            "model_m_rad_s": [float(x) for x in model], "amp_a": [r["amp_a"] for r in ctx.pulses],
                            "freq_hz": [r["freq_hz"] for r in ctx.pulses], "j": ctx.j_kgm2}
    if f_fr is not None:
        fit(f_fr)
        plots["friction"] = {**decay_plot, "b": f_fr.values.get("b_total_nms_per_rad"),
                             "tau_c": f_fr.values.get("tau_coulomb_nm"), "j": ctx.j_kgm2}
        if f_fr.ok:
            ident["b_total_motor_side_nms_per_rad"] = ctx.b_nms_per_rad
            ident["tau_coulomb_nm"] = ctx.tau_c_nm
            if f_j is None:
                ident["j_total_motor_side_kgm2"] = ctx.j_kgm2
    split = imech.board_split(ctx.j_kgm2, ctx.b_nms_per_rad, mp)
    if "j_total_motor_side_kgm2" in ident:
        ident["j_kgm2"] = split["j_kgm2"]
    if "b_total_motor_side_nms_per_rad" in ident:
        ident["b_nms_per_rad"] = split["b_nms_per_rad"]
    done([s for s in MECH_STAGES if s in want][-1])   # the final fits count to the last stage run
    return ctx


def two_mass(board: Any, ident: dict[str, Any]) -> tuple[float, dz.TwoMass] | None:
    """For a board with a tendon: (the rotor's J, the load as the motor feels
    it while it drives it). Everything behind the gearbox is felt through its
    loss, x 1 / eta while the motor drives (a speed step up, a constant speed):
    load inertia, tendon stiffness and damping, load damper (motor side, x 1 /
    N^2, the board's tendon and load). The rotor's J is the identified total
    less the board's load (``identify_mech.board_split``), the board's when
    there is none."""
    if board.tendon is None:
        return None
    n2 = board.gearbox.ratio ** 2
    g = 1.0 / board.gearbox.efficiency
    pp = board.plant_params()
    j_m = float(ident["j_kgm2"]) if ident.get("j_kgm2", 0.0) > 0 else board.motor.j_kgm2
    return j_m, dz.TwoMass(g * pp.load.j_kgm2 / n2, g * board.tendon.k_nm_per_rad / n2,
                           g * board.tendon.c_nms_per_rad / n2, g * pp.load.b_nms_per_rad / n2)


def velocity_limit(board: Any) -> float | None:
    """The largest velocity crossover for a tendon board (rad/s):
    ``VEL_TENDON_FRAC`` of the load's antiresonance sqrt(k / J_load) (the
    gearbox's loss scales both alike), so the load moves with the rotor and
    the tendon stays loaded one way in a step up (the backlash is not
    crossed); None without a tendon."""
    if board.tendon is None:
        return None
    return VEL_TENDON_FRAC * math.sqrt(board.tendon.k_nm_per_rad / board.plant_params().load.j_kgm2)


def _velocity_args(board: Any, ident: dict[str, Any]) -> tuple[float, float, float, dz.TwoMass | None] | None:
    j = ident.get("j_total_motor_side_kgm2")
    if j is None:
        return None
    pp = board.plant_params()
    n = board.gearbox.ratio
    b = ident.get("b_total_motor_side_nms_per_rad",
                  board.motor.b_nms_per_rad + pp.load.b_nms_per_rad / (n * n * board.gearbox.efficiency))
    outer = board.pwm.period_s * board.pwm.outer_div
    tm = two_mass(board, ident)
    if tm is None:
        return j, b, outer, None
    j_m, tendon = tm
    # the rotor's own damping: the total less the load's damper as the motor feels it driving
    return j_m, max(b - tendon.b_load_nms_per_rad, 0.0), outer, tendon


def velocity_model_step(board: Any, ident: dict[str, Any], vd: dz.VelocityDesign,
                        current_bw_hz: float) -> dict[str, list[float]]:
    """The design's speed-step response (outer-rate samples, 40 / w_v long)."""
    import control
    import numpy as np
    args = _velocity_args(board, ident)
    if args is None:
        return {"t_s": [], "y": []}
    j, b, outer, tendon = args
    n2 = board.gearbox.ratio ** 2
    cl = dz.velocity_closed_loop(j, b, outer, current_bw_hz, vd.kp_nms_per_rad / n2, vd.ki_nm_per_rad / n2,
                                 board.encoder.pll_bandwidth_hz, tendon)
    t, y = control.step_response(cl, T=np.arange(0, int(max(100, 40.0 / (vd.wv_rad_s * outer)))) * outer)
    return {"t_s": [float(x) for x in t], "y": [float(x) for x in y]}


def design_velocity(board: Any, ident: dict[str, Any], current_bw_hz: float) -> dz.VelocityDesign | None:
    """The velocity PI from the identified J_total and b_total (None without
    them); a tendon board: on the two-mass model (``two_mass``)."""
    args = _velocity_args(board, ident)
    if args is None:
        return None
    j, b, outer, tendon = args
    also: tuple[tuple[float, float, dz.TwoMass | None], ...] = ()
    if tendon is not None:
        # the margins also hold while the load drives the motor (the gear loss
        # the other way: x eta^2 on the driving figures) and, in the backlash, on the rotor alone
        e2 = board.gearbox.efficiency ** 2
        driven = dz.TwoMass(e2 * tendon.j_load_kgm2, e2 * tendon.k_nm_per_rad, e2 * tendon.c_nms_per_rad,
                            e2 * tendon.b_load_nms_per_rad)
        also = ((j, b, driven), (j, b, None))
    return dz.design_velocity_pi(j, b, outer, current_bw_hz, board.gearbox.ratio,
                                 pll_bw_hz=board.encoder.pll_bandwidth_hz, tendon=tendon,
                                 wv_max_rad_s=velocity_limit(board), also=also)


def torque_scale(board: Any, ident: dict[str, Any]) -> float:
    """The node turns a torque into a current with the flux its firmware was
    built with (the board's, not a parameter): a torque it is asked for comes
    out times lambda_true / lambda_board. Torque-valued settings written to it
    (velocity gains, cogging amplitudes) are multiplied by this to come out
    as designed, until the firmware is rebuilt with the identified flux."""
    return board.motor.flux_wb / float(ident.get("flux_wb", board.motor.flux_wb))


def velocity_gains(board: Any, ident: dict[str, Any], vd: dz.VelocityDesign) -> dict[str, float]:
    """The velocity PI's parameters as written (``torque_scale`` applied)."""
    k = torque_scale(board, ident)
    return {"motion.vel_pi.kp": vd.kp_nms_per_rad * k, "motion.vel_pi.ki": vd.ki_nm_per_rad * k}


def mech_write_values(board: Any, ident: dict[str, Any]) -> dict[str, float]:
    """Idle-only parameters to write from the mechanical identification: the
    cogging table (amplitudes times ``torque_scale``)."""
    idle: dict[str, float] = {}
    if "cog_n_per_rev" in ident:
        k = torque_scale(board, ident)
        idle["cogging.cog_n_per_rev"] = float(ident["cog_n_per_rev"])
        for i, (a, ph) in enumerate(zip(ident["cog_amp_nm"], ident["cog_phase_rad"])):
            idle[f"cogging.amp_nm[{i}]"] = float(a) * k
            idle[f"cogging.phase_rad[{i}]"] = float(ph)
    return idle


def verify_velocity(link: TuneLink, board: Any, pr: Prior, ident: dict[str, Any], vd: dict[str, float],
                    ctx: MechContext | None) -> tuple[dict[str, float], dict[str, Any]]:
    """Velocity steps with the written gains against the design's rise time
    and overshoot; returns (comparison, normalised samples)."""
    link.enable()
    if ctx is None:
        ctx = _context(link, board, pr, ident)
    mv = ctx.mover
    duration = max(0.02, 12.0 * vd["rise_s"])
    settle = max(0.06, 4.0 * duration)
    # one repeat: settle at v_lo, duration at 2 v_lo, duration at v_lo, then the stop
    down = board.tendon is None
    v_lo = min(0.15 * ctx.prior.v_max_m_rad_s,
               0.3 * ctx.band.span_m_rad / (settle + (3.0 if down else 2.0) * duration + 0.1))
    step = velocity_steps(mv, v_lo, duration, settle_s=settle, down=down)
    cmp = compare_step(step, vd["rise_s"], vd["overshoot"])
    mv.brake()
    return cmp, step


def velocity_ok(cmp: dict[str, float]) -> bool:
    """The step agrees with the design within the tolerances."""
    return abs(cmp["rise_error"]) <= VELOCITY_RISE_TOL and abs(cmp["overshoot_error"]) <= VELOCITY_OVERSHOOT_TOL

