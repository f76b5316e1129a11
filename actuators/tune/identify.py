"""Identification of an actuator's motor over CAN with the core's injection
test modes (actuators/core/mf_inject.h), through a ``TuneLink``.

Each stage returns a ``Fit``: the value(s), a quality figure and whether it
passes (a poor fit refuses gain writing). Stages and methods:

- ``pole_pairs_direction``: rotate a current vector N electrical turns open
  loop, count the encoder's turns: p = turned_cmd / (turned_enc / p_cfg),
  the sign gives the encoder direction relative to the configured one.
- ``encoder_offset``: the same rotation slowly both ways from the rotor's
  angle; the circular mean of (encoder angle - commanded angle) is the
  offset error plus the load angle, which changes sign with the direction:
  their mean is the offset error.
- ``resistance``: two-point DC current on the d axis at the aligned rotor,
  R = (v2 - v1) / (i2 - i1) (the dead-time voltage, constant past the knee,
  cancels), at both polarities (repeat consistency), referred to 20 degC
  with the winding temperature from the Status frame.
- ``inductance``: sine current on d (DC bias past the dead-time knee) and on
  q (d-axis hold current keeps the rotor aligned) at f = PWM/10; lock-in of
  the commanded voltage and measured current; the one-period PWM delay and
  the zero-order hold are removed by solving the sampled model
  i[k+1] = a i[k] + b v[k-1] for a, b from Z = z (z - a) / b, then
  L = -R T / ln(1 - b R).
- ``flux_linkage``: a current vector rotating at a fixed electrical speed
  (ramped, open loop, the rotor synchronous), rotor-frame means:
  lambda = (v_q - R i_q) / omega_e - L_d i_d, both directions averaged.
"""
from __future__ import annotations

import cmath
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from actuators.tune.link import InjectResult, TuneAborted, TuneLink

__all__ = ["Fit", "Prior", "pole_pairs_direction", "encoder_offset", "resistance", "inductance",
           "flux_linkage", "wrap_pi", "align", "sector_angle"]

ALPHA_CU = 0.00393  # 1/K, copper


def wrap_pi(x: float) -> float:
    return (x + math.pi) % (2.0 * math.pi) - math.pi


@dataclass
class Prior:
    """What the tuner starts from (board file and node): PWM period s, pole
    pairs and encoder direction configured, current limit A, output speed
    limit rad/s, gear ratio, R ohm, L H, flux Wb (nominal)."""
    pwm_period_s: float
    pole_pairs: int
    direction: int
    offset_e_rad: float
    i_limit_a: float
    v_out_max_rad_s: float
    gear_ratio: float
    r_ohm: float
    ld_h: float
    lq_h: float
    flux_wb: float
    p_out_range_rad: float = 1.0   # travel the tune may use from where it starts, rad (output)


@dataclass
class Fit:
    """One identified quantity (or set): values, quality (relative spread of
    repeats, or the figure named in ``quality_name``), ok, note."""
    name: str
    values: dict[str, float]
    quality: float
    quality_name: str
    ok: bool
    note: str = ""
    raw: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("raw")
        return d


def _raw(r: InjectResult) -> dict[str, Any]:
    d = asdict(r)
    return d


# ---- pole pairs and direction ---------------------------------------------------
def pole_pairs_direction(link: TuneLink, pr: Prior, turns_e: float = 2.0) -> Fit:
    amp = 0.5 * pr.i_limit_a
    w = 2.0 * math.pi * 2.0  # 2 electrical turns per second
    res = link.inject({"kind": "I_ROTATE", "amp": amp, "omega_e_cmd": w, "accel_e": w / 0.1,
                       "theta0_e": 0.0, "settle_s": 0.3, "window_s": turns_e / 2.0})
    mech = res.theta_enc_turned / pr.pole_pairs
    if abs(mech) < 1e-6:
        return Fit("pole_pairs", {}, math.inf, "|ratio - round|", False,
                   "the encoder did not move: rotor blocked, encoder dead or current too low", [_raw(res)])
    ratio = res.theta_cmd_turned / mech
    p = int(round(abs(ratio)))
    resid = abs(abs(ratio) - p)
    sign = 1 if ratio > 0 else -1
    ok = p >= 1 and resid < 0.1
    return Fit("pole_pairs", {"pole_pairs": p, "direction": pr.direction * sign, "ratio": ratio,
                              "offset_err_rough_rad": res.theta_err_mean},
               resid, "|ratio - round|", ok, "" if ok else "turn ratio not near a whole number", [_raw(res)])


# ---- encoder offset -------------------------------------------------------------
def encoder_offset(link: TuneLink, pr: Prior, rough_err_rad: float = 0.0) -> Fit:
    """Offset to write (estimator.offset_e_rad), from rotations both ways."""
    amp = 0.5 * pr.i_limit_a
    w = 2.0 * math.pi * 2.0
    errs = []
    raws = []
    for sgn in (1.0, -1.0):
        start = wrap_pi(link.read("state.theta_e") - rough_err_rad)
        res = link.inject({"kind": "I_ROTATE", "amp": amp, "omega_e_cmd": sgn * w, "accel_e": w / 0.1,
                           "theta0_e": start, "settle_s": 0.4, "window_s": 0.5})
        errs.append(res.theta_err_mean)
        raws.append(_raw(res))
    err = math.atan2(sum(math.sin(e) for e in errs), sum(math.cos(e) for e in errs))
    lag = 0.5 * wrap_pi(errs[0] - errs[1])
    new = (pr.offset_e_rad + err) % (2.0 * math.pi)
    ok = abs(lag) < 0.5
    return Fit("encoder_offset", {"offset_e_rad": new, "offset_err_rad": err, "load_angle_rad": lag},
               abs(lag), "load angle, rad", ok, "" if ok else "large load angle: rotor loaded or stuck", raws)


# ---- alignment and resistance ----------------------------------------------------
def sector_angle(theta_e: float) -> float:
    """The multiple of pi/3 nearest theta_e: there every phase current is at
    least half the vector's, past the dead-time band."""
    return (round(theta_e / (math.pi / 3.0)) % 6) * (math.pi / 3.0)


def align(link: TuneLink, pr: Prior, theta_e: float, settle_s: float = 0.5) -> InjectResult:
    """Pull the rotor's d axis to theta_e with a DC d current (ringing decays in settle_s)."""
    return link.inject({"kind": "I_DC", "axis": 0, "amp": 0.5 * pr.i_limit_a, "theta0_e": theta_e,
                        "settle_s": settle_s, "window_s": 0.02})


def resistance(link: TuneLink, pr: Prior, theta0_e: float, use_temp: bool = True) -> Fit:
    """Two-point DC method at two aligned angles theta0_e and theta0_e + 2 pi/3
    (multiples of pi/3: no phase current inside the dead-time band). Leaves
    the rotor aligned at theta0_e. use_temp: refer R to 20 degC with the
    node's winding temperature (parameter state.temp_motor_c)."""
    lo, hi = 0.25 * pr.i_limit_a, 0.5 * pr.i_limit_a
    rs = []
    raws = []
    for th in (theta0_e + 2.0 * math.pi / 3.0, theta0_e):
        th = wrap_pi(th)
        raws.append(_raw(align(link, pr, th)))
        pts = []
        for i in (lo, hi):
            res = link.inject({"kind": "I_DC", "axis": 0, "amp": i, "theta0_e": th,
                               "settle_s": 0.05, "window_s": 0.1})
            pts.append((res.i_d_mean, res.v_d_mean))
            raws.append(_raw(res))
        (i1, v1), (i2, v2) = pts
        rs.append((v2 - v1) / (i2 - i1))
    temp_c = link.read("state.temp_motor_c") if use_temp else None
    r = 0.5 * (rs[0] + rs[1])
    spread = abs(rs[0] - rs[1]) / abs(r) if r else math.inf
    r20 = r / (1.0 + ALPHA_CU * (temp_c - 20.0)) if temp_c is not None else r
    ok = r > 0 and spread < 0.03
    return Fit("resistance", {"r_ohm": r20, "r_hot_ohm": r, "temp_c": temp_c if temp_c is not None else math.nan,
                              "r_a1_ohm": rs[0], "r_a2_ohm": rs[1]},
               spread, "relative spread over two angles", ok, "" if ok else "the two angles disagree", raws)


# ---- inductance -----------------------------------------------------------------
def _l_from_lockin(res: InjectResult, r_ohm: float, period_s: float, freq_hz: float) -> float:
    v = complex(res.v_s, res.v_c)   # phasors relative to sin(wt): sin -> 1, cos -> j
    i = complex(res.i_s, res.i_c)
    zm = v / i
    z = cmath.exp(1j * 2.0 * math.pi * freq_hz * period_s)
    w = zm / z                        # (z - a) / b
    b = z.imag / w.imag
    x = 1.0 - b * r_ohm
    if not (0.0 < x < 1.0):
        return math.nan
    return -r_ohm * period_s / math.log(x)


def inductance(link: TuneLink, pr: Prior, r_ohm: float, theta0_e: float) -> Fit:
    """L_d, L_q from sine injections at three frequencies (PWM/8, /11, /16).
    On q the rotor's motion adds a back-EMF in quadrature (motional
    impedance 1.5 p^2 lambda^2 / (J j w)), which shows as an apparent
    inductance L - k / w^2: each axis is fitted as L_eq(w) = L - k / w^2
    (least squares); the fit's residual is the quality."""
    t = pr.pwm_period_s
    bias, amp = 0.3 * pr.i_limit_a, 0.1 * pr.i_limit_a
    divs = (8, 11, 16)
    eq: dict[str, list[float]] = {"d": [], "q": []}
    ws = []
    raws = []
    for div in divs:
        f = 1.0 / (div * t)
        ws.append(2.0 * math.pi * f)
        n_per = max(1, int(0.1 * f))
        window = n_per / f
        rd = link.inject({"kind": "I_SINE", "axis": 0, "amp": amp, "offset": bias, "freq_hz": f,
                          "theta0_e": theta0_e, "settle_s": 0.02, "window_s": window})
        rq = link.inject({"kind": "I_SINE", "axis": 1, "amp": amp, "offset": 0.0, "hold": bias, "freq_hz": f,
                          "theta0_e": theta0_e, "settle_s": 0.02, "window_s": window})
        eq["d"].append(_l_from_lockin(rd, r_ohm, t, f))
        eq["q"].append(_l_from_lockin(rq, r_ohm, t, f))
        raws += [_raw(rd), _raw(rq)]
    out: dict[str, float] = {}
    worst = 0.0
    for ax in ("d", "q"):
        y = eq[ax]
        if not all(math.isfinite(v) and v > 0 for v in y):
            return Fit("inductance", {}, math.inf, "fit residual", False,
                       f"L_{ax}: the sampled RL model does not fit the response", raws)
        # y = L - k x, x = 1 / w^2
        xs = [1.0 / (w * w) for w in ws]
        n = len(xs)
        mx, my = sum(xs) / n, sum(y) / n
        sxx = sum((x - mx) ** 2 for x in xs)
        sxy = sum((x - mx) * (v - my) for x, v in zip(xs, y))
        k = -sxy / sxx
        lval = my + k * mx
        resid = max(abs(v - (lval - k * x)) for x, v in zip(xs, y)) / lval
        worst = max(worst, resid)
        out[f"l{ax}_h"] = lval
        out[f"k_motional_{ax}"] = k
        for div, v in zip(divs, y):
            out[f"l{ax}_eq_pwm_{div}_h"] = v
    ok = worst < 0.01 and out["ld_h"] > 0 and out["lq_h"] > 0
    return Fit("inductance", out, worst, "relative residual of L - k/w^2 over three frequencies", ok,
               "" if ok else "the three frequencies disagree (saturation, motion or noise)", raws)


# ---- flux linkage ---------------------------------------------------------------
def flux_linkage(link: TuneLink, pr: Prior, r_ohm: float, ld_h: float, pole_pairs: int) -> Fit:
    amp = 0.4 * pr.i_limit_a
    # speed: what the travel allows (ramp + settle + window at most half the travel each way)
    w_max_e = pr.v_out_max_rad_s * pr.gear_ratio * pole_pairs
    w = min(0.5 * w_max_e, 400.0)
    t_run = 0.4
    travel = w / (pole_pairs * pr.gear_ratio) * t_run
    if travel > 0.5 * pr.p_out_range_rad:
        w *= 0.5 * pr.p_out_range_rad / travel
    turns = max(1, int(w * 0.2 / (2.0 * math.pi)))
    window = turns * 2.0 * math.pi / w
    lams = []
    raws = []
    for sgn in (1.0, -1.0):
        start = link.read("state.theta_e")
        res = link.inject({"kind": "I_ROTATE", "amp": amp, "omega_e_cmd": sgn * w, "accel_e": w / 0.05,
                           "theta0_e": start, "settle_s": 0.15, "window_s": window})
        we = sgn * w
        lam = (res.v_q_rotor_mean - r_ohm * res.i_q_rotor_mean) / we - ld_h * res.i_d_rotor_mean
        lams.append(lam)
        raws.append(_raw(res))
        if abs(res.omega_e_mean - we) > 0.05 * abs(we):
            return Fit("flux_linkage", {"flux_wb": lam}, math.inf, "slip", False,
                       f"rotor not synchronous: estimator {res.omega_e_mean:.1f} rad/s, commanded {we:.1f}", raws)
    lam = 0.5 * (lams[0] + lams[1])
    spread = abs(lams[0] - lams[1]) / abs(lam) if lam else math.inf
    ok = lam > 0 and spread < 0.03
    return Fit("flux_linkage", {"flux_wb": lam, "flux_pos_wb": lams[0], "flux_neg_wb": lams[1],
                                "omega_e_rad_s": w},
               spread, "relative spread +/-", ok, "" if ok else "the two directions disagree", raws)


_ = TuneAborted
