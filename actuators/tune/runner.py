"""The tune procedure: identify, design, write, persist, verify, over one
``TuneLink``, with the parameters the actuator had restored on any abort
(fault, timeout, refusal, poor fit, Ctrl-C).

Stages (``--only`` names): ``pp`` pole pairs and encoder direction,
``offset`` encoder offset, ``R`` resistance, ``L`` inductances, ``flux``
flux linkage, ``J`` inertia, ``friction`` viscous and Coulomb friction,
``cogging`` cogging map (``stages_mech``), ``design`` current and velocity
PI and the impedance envelope, ``write`` gains, cogging table and identified
values written and saved, ``verify`` current-loop bandwidth measured
(stepped sine) and a velocity step, against the design.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from actuators.tune import design as dz
from actuators.tune import identify as idf
from actuators.tune import stages_mech as smech
from actuators.tune.link import TuneAborted, TuneLink

__all__ = ["STAGES", "TuneResult", "prior_from_board", "run_tune", "measure_current_bandwidth"]

STAGES = ("pp", "offset", "R", "L", "flux", "J", "friction", "cogging", "design", "write", "verify")


@dataclass
class TuneResult:
    identified: dict[str, Any] = field(default_factory=dict)   # board-file key names
    gains: dict[str, float] = field(default_factory=dict)      # parameter-table names
    fits: list[dict[str, Any]] = field(default_factory=list)
    design: dict[str, Any] = field(default_factory=dict)
    verify: dict[str, Any] = field(default_factory=dict)
    stages_s: dict[str, float] = field(default_factory=dict)
    written: bool = False
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    sweep: dict[str, list[float]] = field(default_factory=dict)
    plots: dict[str, Any] = field(default_factory=dict)      # fit data for the report

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "identified": self.identified, "gains": self.gains, "design": self.design,
                "verify": {k: v for k, v in self.verify.items()}, "fits": self.fits, "written": self.written,
                "problems": self.problems, "restored": self.restored, "stages_s": self.stages_s,
                "plots": self.plots}


def prior_from_board(board: Any) -> idf.Prior:
    m = board.motor
    travel = board.limits.p_out_max_rad - board.limits.p_out_min_rad if board.limits.p_out_max_rad is not None \
        else 1.0
    return idf.Prior(pwm_period_s=board.pwm.period_s, pole_pairs=m.pole_pairs, direction=board.encoder.direction,
                     offset_e_rad=board.encoder.offset_e_rad, i_limit_a=board.limits.i_limit_a,
                     v_out_max_rad_s=board.limits.v_out_max_rad_s, gear_ratio=board.gearbox.ratio,
                     r_ohm=m.r_ohm, ld_h=m.ld_h, lq_h=m.lq_h, flux_wb=m.flux_wb,
                     p_out_range_rad=min(1.0, 0.25 * travel))


def measure_current_bandwidth(link: TuneLink, pr: idf.Prior, theta0_e: float, freqs_hz: list[float],
                              amp_a: float, bias_a: float) -> tuple[list[float], list[complex]]:
    """Closed-loop current response i/i_ref on the d axis at an aligned rotor,
    by stepped sine (lock-in of the measured current against the reference)."""
    t = pr.pwm_period_s
    hs = []
    for f in freqs_hz:
        n_per = max(2, int(0.05 * f))
        res = link.inject({"kind": "I_SINE", "axis": 0, "amp": amp_a, "offset": bias_a, "freq_hz": f,
                           "theta0_e": theta0_e, "settle_s": 0.01, "window_s": n_per / f})
        hs.append(complex(res.i_s, res.i_c) / amp_a)
    _ = t
    return list(freqs_hz), hs


def _bw_from_sweep(f: list[float], h: list[complex]) -> float:
    mag = np.abs(np.array(h))
    lvl = 1.0 / math.sqrt(2.0)
    for k in range(1, len(f)):
        if mag[k] < lvl <= mag[k - 1]:
            # interpolate in log f
            a = (mag[k - 1] - lvl) / (mag[k - 1] - mag[k])
            return float(math.exp(math.log(f[k - 1]) + a * (math.log(f[k]) - math.log(f[k - 1]))))
    return math.nan


def run_tune(link: TuneLink, board: Any, only: set[str] | None = None,
             progress: Callable[[str, str], None] | None = None, write: bool = True,
             travel_out_rad: float | None = None) -> TuneResult:
    """Run the stages (all, or ``only``) and return the result. On any
    exception the motor is disabled and the parameters restored, then the
    exception propagates (TuneAborted for the tune's own refusals).
    travel_out_rad: output travel (rad) the motion may use around the start
    (default: the prior's, min(1 rad, a quarter of the board's range))."""
    pr = prior_from_board(board)
    if travel_out_rad is not None:
        if not travel_out_rad > 0:
            raise ValueError(f"travel_out_rad = {travel_out_rad!r}: must be > 0")
        pr.p_out_range_rad = float(travel_out_rad)
    res = TuneResult()
    want = set(STAGES) if not only else set(only)
    say = progress or (lambda stage, msg: None)
    link.take_snapshot()
    try:
        _run(link, board, pr, want, res, say, write)
    except BaseException as exc:
        res.ok = False
        res.problems.append(f"aborted: {type(exc).__name__}: {exc}")
        try:
            res.restored = link.restore()
        finally:
            say("abort", f"motor disabled, {len(res.restored)} parameter(s) restored")
        raise
    return res


def _fit(res: TuneResult, fit: idf.Fit, say: Callable[[str, str], None]) -> idf.Fit:
    res.fits.append(fit.as_dict())
    if not fit.ok:
        res.ok = False
        res.problems.append(f"{fit.name}: poor fit ({fit.quality_name} = {fit.quality:.3g}): {fit.note}")
        say(fit.name, f"POOR FIT: {fit.note}")
    return fit


def _run(link: TuneLink, board: Any, pr: idf.Prior, want: set[str], res: TuneResult,
         say: Callable[[str, str], None], write: bool) -> None:
    ident = res.identified
    stage_t = time.monotonic()

    def done(stage: str) -> None:
        nonlocal stage_t
        now = time.monotonic()
        res.stages_s[stage] = res.stages_s.get(stage, 0.0) + now - stage_t
        stage_t = now

    link.enable()
    pp = pr.pole_pairs
    rough = 0.0
    if "pp" in want:
        say("pp", "rotating the current vector, counting encoder turns")
        f = _fit(res, idf.pole_pairs_direction(link, pr), say)
        if f.ok:
            pp = int(f.values["pole_pairs"])
            ident["pole_pairs"] = pp
            ident["encoder_direction"] = int(f.values["direction"])
            rough = f.values["offset_err_rough_rad"]
            if pp != pr.pole_pairs:
                res.ok = False
                res.problems.append(f"pole pairs {pp} differ from the board's {pr.pole_pairs}: "
                                    "fix the board file (not a parameter)")
            if ident["encoder_direction"] != pr.direction:
                link.write_idle({"estimator.direction": ident["encoder_direction"]})
                pr.direction = ident["encoder_direction"]
                rough = 0.0
        done("pp")
    if not res.ok:
        raise TuneAborted("; ".join(res.problems))
    offset_err = 0.0
    if "offset" in want:
        say("offset", "rotating both ways, encoder against commanded angle")
        f = _fit(res, idf.encoder_offset(link, pr, rough), say)
        if f.ok:
            ident["encoder_offset_e_rad"] = f.values["offset_e_rad"]
            link.write_idle({"estimator.offset_e_rad": f.values["offset_e_rad"]})
            pr.offset_e_rad = f.values["offset_e_rad"]
        done("offset")
    rotor = idf.wrap_pi(link.read("state.theta_e") - offset_err)
    theta_al = idf.sector_angle(rotor)
    r_hot = pr.r_ohm
    if "R" in want:
        say("R", "two-point DC current at two aligned angles")
        f = _fit(res, idf.resistance(link, pr, theta_al), say)
        ident["r_ohm"] = f.values["r_ohm"]
        r_hot = f.values["r_hot_ohm"]
        done("R")
    ld, lq = pr.ld_h, pr.lq_h
    if "L" in want:
        say("L", "sine current on d and q, lock-in, PWM delay removed")
        f = _fit(res, idf.inductance(link, pr, r_hot, theta_al), say)
        ld, lq = f.values["ld_h"], f.values["lq_h"]
        ident["ld_h"], ident["lq_h"] = ld, lq
        done("L")
    if "flux" in want:
        say("flux", "back-EMF of a synchronous rotating vector, both directions")
        f = _fit(res, idf.flux_linkage(link, pr, r_hot, ld, pp), say)
        ident["flux_wb"] = f.values["flux_wb"]
        done("flux")
    mech = smech.run_mech_stages(link, board, pr, want, ident, res.plots, lambda f: _fit(res, f, say), say, done)
    link.disable()   # nothing runs on the node while the host computes (its watchdog would trip)
    if "design" in want or "write" in want or "verify" in want:
        t = pr.pwm_period_s
        dd = dz.design_current_pi(r_hot, ld, t)
        dq = dz.design_current_pi(r_hot, lq, t)
        res.design["current_d"] = dd.as_dict()
        res.design["current_q"] = dq.as_dict()
        res.gains.update({"current.pi_d.kp": dd.kp_v_per_a, "current.pi_d.ki": dd.ki_v_per_as,
                          "current.pi_q.kp": dq.kp_v_per_a, "current.pi_q.ki": dq.ki_v_per_as})
        say("design", f"current PI d: kp {dd.kp_v_per_a:.4g} V/A ki {dd.ki_v_per_as:.4g} V/(A s), "
                      f"crossover {dd.wc_rad_s / 2 / math.pi:.0f} Hz, PM {dd.pm_deg:.1f} deg, "
                      f"GM {dd.gm_db:.1f} dB, closed-loop bandwidth {dd.bandwidth_hz:.0f} Hz")
        vd = smech.design_velocity(board, ident, dq.bandwidth_hz)
        if vd is not None:
            res.design["velocity"] = vd.as_dict()
            res.gains.update(smech.velocity_gains(board, ident, vd))
            res.plots["velocity_model"] = smech.velocity_model_step(board, ident, vd, dq.bandwidth_hz)
            say("design", f"velocity PI kp {vd.kp_nms_per_rad:.4g} N m s/rad ki {vd.ki_nm_per_rad:.4g} N m/rad "
                          f"(output), crossover {vd.wv_rad_s:.0f} rad/s, PM {vd.pm_deg:.1f} deg, step rise "
                          f"{1e3 * vd.rise_s:.2f} ms, overshoot {100 * vd.overshoot:.1f} %")
        done("design")
    if "write" in want and write:
        if not res.ok:
            raise TuneAborted("refusing to write gains: " + "; ".join(res.problems))
        values = dict(res.gains)
        if "ld_h" in ident:
            values["current.ld_h"], values["current.lq_h"] = ld, lq
        if "r_ohm" in ident:
            values["protect.r_ohm"] = ident["r_ohm"]
        for name, v in values.items():
            link.write(name, v)
        idle = smech.mech_write_values(board, ident)
        link.disable()
        for name, v in idle.items():
            link.write(name, v)
        link.act.save_params()
        link.enable()
        res.written = True
        say("write", f"{len(values) + len(idle)} parameters written and saved")
        done("write")
    if "verify" in want and "current_d" in res.design:
        link.enable()
        say("verify", "stepped-sine current response on d")
        rotor = idf.wrap_pi(link.read("state.theta_e"))
        theta_al = idf.sector_angle(rotor)
        idf.align(link, pr, theta_al, settle_s=0.3)
        bw_design = res.design["current_d"]["bandwidth_hz"]
        f_max = 0.24 / pr.pwm_period_s
        freqs = list(np.geomspace(0.15 * bw_design, min(2.5 * bw_design, f_max), 10))
        f, h = measure_current_bandwidth(link, pr, theta_al, freqs, 0.05 * pr.i_limit_a, 0.3 * pr.i_limit_a)
        bw = _bw_from_sweep(f, h)
        # refine around the crossing
        if math.isfinite(bw):
            f2, h2 = measure_current_bandwidth(link, pr, theta_al, list(np.geomspace(0.85 * bw, 1.15 * bw, 6)),
                                               0.05 * pr.i_limit_a, 0.3 * pr.i_limit_a)
            pairs = sorted(zip(f + f2, h + h2))
            f, h = [p[0] for p in pairs], [p[1] for p in pairs]
            bw = _bw_from_sweep(f, h)
        err = (bw - bw_design) / bw_design if math.isfinite(bw) else math.inf
        peak = float(np.max(np.abs(h)))
        res.verify = {"bandwidth_hz": bw, "bandwidth_design_hz": bw_design, "bandwidth_error": err,
                      "peak_gain": peak}
        res.sweep = {"f_hz": f, "mag": [abs(x) for x in h], "phase_deg": [math.degrees(np.angle(x)) for x in h]}
        if not abs(err) <= 0.10:
            res.ok = False
            res.problems.append(f"verify: measured current bandwidth {bw:.0f} Hz vs design {bw_design:.0f} Hz")
        say("verify", f"bandwidth {bw:.0f} Hz measured, {bw_design:.0f} Hz designed ({100 * err:+.1f} %)")
        if "velocity" in res.design and res.written:
            cmp, step = smech.verify_velocity(link, board, pr, ident, res.design["velocity"], mech)
            res.verify["velocity"] = cmp
            res.plots["velocity_step"] = step
            if not smech.velocity_ok(cmp):
                res.ok = False
                res.problems.append(f"verify: velocity step rise {1e3 * cmp['rise_s']:.2f} ms vs design "
                                    f"{1e3 * cmp['rise_design_s']:.2f} ms, overshoot {100 * cmp['overshoot']:.1f} % "
                                    f"vs {100 * cmp['overshoot_design']:.1f} %")
            say("verify", f"velocity step rise {1e3 * cmp['rise_s']:.2f} ms ({100 * cmp['rise_error']:+.1f} %), "
                          f"overshoot {100 * cmp['overshoot']:.1f} % (design {100 * cmp['overshoot_design']:.1f} %)")
        done("verify")
    link.disable()
