"""Identification of the mechanics over CAN: inertia J, viscous friction b,
Coulomb friction tau_c (``identify_cog`` has the cogging map).

Side: every figure is MOTOR SIDE and the whole drive train as the motor
feels it: J_total = J_rotor + J_load / N^2 (the gearbox and a rigid or
tendon-coupled load moving with the rotor at these low frequencies, the
lossless sum), b_total = b_motor + b_load / (N^2 eta) (the load's damper
seen through the gearbox while the motor drives it), tau_c the Coulomb
torque at the motor. The fits' model has the gearbox's loss by drive
direction (``drivetrain``): behind a tendon the load's inertial torque
passes the loss too, so the motor feels J_rotor + J_load / (N^2 eta) while
it accelerates the load and J_rotor + eta J_load / N^2 while the load drives
it (braking, coasting); the board's [load] and [gearbox] say what is behind
the loss.
``board_split`` refers them to the board file's [motor] keys (the rotor's
own j_kgm2, b_nms_per_rad, tau_coulomb_nm) by removing the board's
[load] and [gearbox] share.

Torque: tau = kt i_q, kt = 1.5 p lambda with the identified flux (i_d = 0
here); the node's StateReply torque is its own kt (the board's flux) times
i_q and is rescaled to the identified one.

- ``friction_decay``: torque steps in current mode (the node's StateReply
  every millisecond: time, position, speed, torque), then zero current and
  the rotor coasts down: J w' = -b w - tau_c sgn(w) - tau_0. b, tau_c, tau_0
  by least squares on the decays' positions (the encoder: finer than the
  reply's 12-bit speed) against the closed-form coast
  x(t) = (u0 + c/b)(J/b)(1 - exp(-b t / J)) - (c/b) t, c = tau_c + s tau_0,
  both ways (s = +-1: an offset torque, gravity, separates from tau_c), two
  pairs, the second planned with the friction the first showed. J comes
  from the inertia stage (b and tau_c scale with it); the steps' integral
  equations also give J alone, a check. The decays are a sweep of speed
  from the peak down to where the cogging would ripple the speed by 2 %.
- ``inertia_pulses``: one period of a sine q current at the encoder angle
  (a torque pulse that accelerates and brakes again, so the rotor ends near
  rest, whatever the host's latency) from rest; the on-chip mean speed over
  the period against J w_mean = (1/T) int_0^T int_0^t (tau - b w - tau_c
  sig(w / w_c) - tau_0) ds dt integrated with the measured current (mean and
  fundamental), least squares over pulses of two amplitudes, two periods,
  both ways for (J, tau_0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from actuators.tune.drivetrain import DriveTrain, smooth_sign
from actuators.tune.identify import Fit
from actuators.tune.link import InjectResult, TuneAborted
from actuators.tune.motion import BRAKE_S, Mover

# moves between the measurements: this fraction of the speed limit
MOVE_FRAC = 0.2
# single-pulse J may spread this much (cogging and the Coulomb corner at the
# pulse's ends act on small pulses most); more means the pulses disagree
J_SPREAD_MAX = 0.08
# b of the two decay pairs (each both ways) may differ this much; the figure
# is their joint fit
B_REPEAT_MAX = 0.15

__all__ = ["MechPrior", "friction_decay", "fit_friction", "inertia_pulses", "fit_inertia", "board_split", "pulse_mean_speed",
           "coast_distance_m_rad"]


@dataclass
class MechPrior:
    """What the mechanical stages start from (board file, identified motor):
    pole_pairs, flux_wb Wb, ld_h/lq_h H, i_limit_a / i_cont_a A, motor speed
    limit v_max_m_rad_s rad/s, motor-side totals j_kgm2 kg m^2,
    b_nms_per_rad N m s/rad, tau_c_nm N m (priors), omega_coulomb_rad_s
    rad/s (smooth-sign width), encoder latency enc_latency_s s, cogging
    periods per turn cog_n_per_rev and amplitudes cog_amp_nm N m (board), gear_ratio, gear_efficiency, the board's
    load j_load_kgm2 kg m^2 and b_load_nms_per_rad N m s/rad (output side),
    flux_node_wb Wb the flux the node's reply torque is computed with."""
    pole_pairs: int
    flux_wb: float
    ld_h: float
    lq_h: float
    i_limit_a: float
    i_cont_a: float
    v_max_m_rad_s: float
    j_kgm2: float
    b_nms_per_rad: float
    tau_c_nm: float
    omega_coulomb_rad_s: float
    enc_latency_s: float
    cog_n_per_rev: int
    cog_amp_nm: tuple[float, ...]
    gear_ratio: float
    gear_efficiency: float
    j_load_kgm2: float
    b_load_nms_per_rad: float
    flux_node_wb: float = 0.0     # the flux the node's firmware computes its torque with (0: flux_wb)
    tendon: bool = False          # the load behind a series-elastic tendon: its inertia behind the gear loss

    def __post_init__(self) -> None:
        if not self.flux_node_wb > 0:
            self.flux_node_wb = self.flux_wb

    def drivetrain(self, j_total_kgm2: Any, b_total_nms_per_rad: float) -> DriveTrain:
        """The motor-side drive train of these totals with the board's load
        behind the gear loss (its inertia only behind a tendon: the plant
        lumps a rigid load's inertia with the rotor's). j_total_kgm2 may be
        an array (candidates)."""
        n2 = self.gear_ratio * self.gear_ratio
        eta = self.gear_efficiency
        jg = np.minimum(self.j_load_kgm2 / n2 if self.tendon else 0.0, 0.95 * np.asarray(j_total_kgm2, dtype=float))
        bg = min(self.b_load_nms_per_rad / n2, 0.95 * max(b_total_nms_per_rad, 0.0) * eta)
        return DriveTrain(np.asarray(j_total_kgm2, dtype=float) - jg, jg, b_total_nms_per_rad - bg / eta,  # type: ignore[arg-type]
                          bg, eta)

    def coast_jb(self, j_total_kgm2: float, b_total_nms_per_rad: float) -> tuple[float, float]:
        """(J, b) a slow coast feels (no motor torque: the load drives the
        motor behind a tendon; the motor drives a rigid load's damper)."""
        dt = self.drivetrain(j_total_kgm2, b_total_nms_per_rad)
        j, b = dt.driven if dt.coast_switch_rad_s(max(self.tau_c_nm, 1e-6)) > 0.0 else dt.driving
        return float(j), float(b)

    @property
    def kt_nm_a(self) -> float:
        return 1.5 * self.pole_pairs * self.flux_wb

    def stiffness_nm_per_rad(self, amp_a: float) -> float:
        """Spring of a current vector amp_a on the rotor's d axis, N m/rad (mech)."""
        p = self.pole_pairs
        return 1.5 * p * p * amp_a * (self.flux_wb + (self.ld_h - self.lq_h) * amp_a)


def _raw(r: InjectResult) -> dict[str, Any]:
    return {k: v for k, v in r.__dict__.items() if k != "config"}


# ---- friction: torque step and speed decay ------------------------------------------
def coast_distance_m_rad(w0: float, j: float, b: float, tau_c: float) -> float:
    """Distance a rotor coasts from w0 (rad/s) to rest under b w + tau_c, rad."""
    if b <= 0:
        return j * w0 * w0 / (2.0 * tau_c)
    return (j / b) * (w0 - (tau_c / b) * math.log1p(b * w0 / tau_c))


def _record(mv: Mover, i_up_a: float, t_up_s: float, t_max_s: float, w_stop: float, p_stop_m: float,
            sgn: float, kt_scale: float, dt_s: float = 0.001) -> np.ndarray:
    """Current mode: i_up for t_up, then zero (coast) until the speed is below
    w_stop, the joint passes p_stop_m or t_max; rows (t s, theta_m rad,
    omega_m rad/s, tau_m N m, i_ref A) from the StateReplies (motor side;
    the reply's torque is the node's kt times i_q: kt_scale = identified kt
    / the node's)."""
    link, n = mv.link, mv.band.gear_ratio
    mv.resume()
    rows = []
    t0 = link.now()
    while True:
        t = link.now() - t0
        i = i_up_a if t < t_up_s else 0.0
        s = link.act.set_current(i)
        if s.faults:
            raise TuneAborted(f"node {link.act.node_id}: fault {s.faults:#x} in the speed decay")
        p_m, w_m = s.p_out_rad * n, s.v_out_rad_s * n
        rows.append((t, p_m, w_m, s.tau_out_nm / n * kt_scale, i))
        if t > t_up_s and (abs(w_m) < w_stop or t > t_max_s or sgn * (p_m - p_stop_m) > 0):
            break
        link.wait(dt_s)
    mv.brake()
    mv.check("speed decay")
    return np.array(rows)


def _decay_rows(rec: np.ndarray, sgn: float) -> tuple[list[list[float]], list[float]]:
    """Integral equations int tau dt = J dw + b dtheta + (tau_c s + tau_0) dt
    over the spin-up (from its second sample) and the decay (from two samples
    after the switch); columns (dw, dtheta, s dt, dt, decay 1 / spin-up 0)
    and the right side."""
    t, th, w, tau, i = rec.T
    cols: list[list[float]] = []
    rhs: list[float] = []
    off = np.nonzero(i == 0.0)[0]
    if len(off) < 8:
        return cols, rhs
    k_off = int(off[0])
    for k0, k1, decay in ((1, k_off - 1, 0.0), (k_off + 2, len(t), 1.0)):
        if k1 - k0 < 4:
            continue
        seg = slice(k0, k1)
        imp = np.concatenate([[0.0], np.cumsum(0.5 * (tau[seg][1:] + tau[seg][:-1]) * np.diff(t[seg]))])
        for k in range(k0 + 1, k1):
            dt = t[k] - t[k0]
            cols.append([w[k] - w[k0], th[k] - th[k0], sgn * dt, dt, decay])
            rhs.append(float(imp[k - k0]))
    return cols, rhs


def friction_decay(mv: Mover, mp: MechPrior, j_kgm2: float | None) -> tuple[Fit, dict[str, Any]]:
    """b_total, tau_c (and J, free) from torque steps and speed decays both
    ways (current mode, StateReply samples), least squares on the integral
    of J dw/dt = tau - b w - tau_c sgn(w) - tau_0. j_kgm2: J held at the
    inertia stage's value (None: J fitted too). Returns the fit and the
    recorded equations (``fit_friction`` refits them)."""
    span = mv.band.span_m_rad
    j_plan = j_kgm2 or mp.j_kgm2
    b_p, tc_p = max(mp.b_nms_per_rad, 1e-9), max(mp.tau_c_nm, 1e-6)
    j_c, b_c = mp.coast_jb(j_plan, b_p)      # what the coast feels
    # the coast planned with the prior's friction over 0.6 of the band; a rotor
    # that coasts further is stopped at the band's end (the decay is cut there)
    w0 = 0.6 * mp.v_max_m_rad_s
    while w0 > 0.5 and coast_distance_m_rad(w0, j_c, b_c, tc_p) > 0.6 * span:
        w0 *= 0.9
    tau_up = min(10.0 * (tc_p + b_p * w0), 0.5 * mp.kt_nm_a * mp.i_limit_a)
    i_up = tau_up / mp.kt_nm_a
    t_up = j_plan * w0 / max(tau_up - tc_p - b_p * w0, 0.5 * tau_up)
    # stop where the cogging would modulate the speed by more than 2 % (its
    # time average is not zero then): w^2 >= tau_cog / (0.02 J n), the board's map doubled
    cog = 2.0 * sum(mp.cog_amp_nm) if mp.cog_n_per_rev > 0 else 0.0
    w_cog = math.sqrt(cog / (0.02 * j_plan * mp.cog_n_per_rev)) if cog > 0 else 0.0
    w_stop = max(4.0 * mp.omega_coulomb_rad_s, 0.04 * w0, w_cog)
    rows: list[list[float]] = []
    rhs: list[float] = []
    decays: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = []
    plot: dict[str, list[float]] = {"t_s": [], "w_m_rad_s": [], "dir": []}
    hold_a = min(0.4 * mp.i_limit_a, 0.8 * mp.i_cont_a)
    sets = []
    for run in range(2):
        if run == 1:   # plan the second pair with the friction the first one showed
            mv.pause()
            rough = fit_friction({"rows": rows, "rhs": rhs, "decays": decays, "w_peak_m_rad_s": w0,
                                  "i_step_a": i_up}, j_kgm2, mp)
            b_r = rough.values.get("b_total_nms_per_rad", 0.5 * b_p)
            tc_r = rough.values.get("tau_coulomb_nm", 0.5 * tc_p)
            if b_r > 0 and tc_r > 0:
                w1 = w0
                j_c, b_c = mp.coast_jb(j_plan, b_r)
                while w1 < 0.6 * mp.v_max_m_rad_s and \
                        coast_distance_m_rad(1.1 * w1, j_c, b_c, tc_r) < 0.7 * 0.75 * span:
                    w1 *= 1.1
                w0, b_p, tc_p = w1, b_r, tc_r
                tau_up = min(10.0 * (tc_p + b_p * w0), 0.5 * mp.kt_nm_a * mp.i_limit_a)
                i_up = tau_up / mp.kt_nm_a
                t_up = j_plan * w0 / max(tau_up - tc_p - b_p * w0, 0.5 * tau_up)
        sets.append(len(decays))
        for sgn in (1.0, -1.0):
            start = mv.band.lo_m_rad + 0.08 * span if sgn > 0 else mv.band.hi_m_rad - 0.08 * span
            mv.move_to("friction: to the start", start, hold_a, MOVE_FRAC * mp.v_max_m_rad_s)
            mv.brake()
            stop = (mv.band.hi_m_rad - 0.05 * span if sgn > 0 else mv.band.lo_m_rad + 0.05 * span) \
                - sgn * w0 * BRAKE_S
            rec = _record(mv, sgn * i_up, t_up, 4.0 * t_up + 5.0 * j_plan * w0 / tc_p, w_stop, stop, sgn,
                          mp.flux_wb / mp.flux_node_wb)
            c, r = _decay_rows(rec, sgn)
            rows += c
            rhs += r
            off = np.nonzero(rec[:, 4] == 0.0)[0]
            if len(off) > 8:
                k0 = int(off[0]) + 2
                decays.append((sgn, rec[k0:, 0] - rec[k0, 0], rec[k0:, 1], rec[k0:, 2]))
            plot["t_s"] += rec[:, 0].tolist()
            plot["w_m_rad_s"] += rec[:, 2].tolist()
            plot["dir"] += [sgn] * len(rec)
    mv.pause()
    data = {"rows": rows, "rhs": rhs, "decays": decays, "sets": sets, "w_peak_m_rad_s": w0, "i_step_a": i_up}
    fit = fit_friction(data, j_kgm2, mp)
    fit.raw.append({"decay": plot})
    return fit, data


def _fit_decays(decays: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]], j: float,
                b0: float, c0: float, mp: MechPrior) -> tuple[float, float, float, float]:
    """(b_total, tau_c, tau_0, R^2) from the positions of the decays (least
    squares; per direction s the speed u0 and the start x0 are free, c_s =
    tau_c + s tau_0; the coast of each regime of the gear loss,
    ``DriveTrain.coast_position``)."""
    from scipy.optimize import least_squares

    signs = [d[0] for d in decays]
    two = len(set(signs)) == 2
    scale = max(c0, 1e-6)

    def resid(x: np.ndarray) -> np.ndarray:
        b, tc, t0 = x[0] * b0, x[1] * scale, (x[2] * scale if two else 0.0)
        dt = mp.drivetrain(j, b)
        out = []
        for k, (sgn, t, th, _w) in enumerate(decays):
            u0, x0 = x[3 + 2 * k], x[4 + 2 * k]
            out.append(sgn * (th - th[0]) - x0 - dt.coast_position(t, u0, tc + sgn * t0))
        return np.concatenate(out)

    x_init = [1.0, c0 / scale, 0.0]
    for sgn, t, th, w in decays:
        x_init += [max(abs(float(w[0])), 1e-3), 0.0]
    sol = least_squares(resid, x_init, method="lm")
    r = resid(sol.x)
    ys = np.concatenate([sgn * (th - th[0]) for sgn, _t, th, _w in decays])
    r2 = 1.0 - float(np.sum(r ** 2) / np.sum((ys - ys.mean()) ** 2))
    return float(sol.x[0] * b0), float(sol.x[1] * scale), float(sol.x[2] * scale if two else 0.0), r2


def fit_friction(data: dict[str, Any], j_kgm2: float | None, mp: MechPrior) -> Fit:
    """The least squares of ``friction_decay`` on its records (again with a
    better J, no new motion): b, tau_c, tau_0 from the decays' positions
    (the encoder: finer than the reply's speed), J (free) from the integral
    equations of steps and decays as a check. The gear loss by direction
    (``MechPrior.drivetrain``): the steps drive the load, the slow coasts
    behind a tendon are driven by it."""
    rows, rhs = data["rows"], data["rhs"]
    decays = data["decays"]
    if len(rows) < 20 or not decays:
        return Fit("friction", {}, math.inf, "1 - R^2", False, "too few samples in the speed decays")
    full, y = np.array(rows), np.array(rhs)
    a, dec = full[:, :4], full[:, 4] == 1.0
    y = np.where(dec, 0.0, y)     # no current while coasting (the reply's zero torque is quantised)
    # the rows in the totals: the steps drive (1 / eta), the coasts as a slow coast
    # does (eta behind a tendon); what is behind the loss is the board's load
    eta = mp.gear_efficiency
    n2 = mp.gear_ratio * mp.gear_ratio
    jg = mp.j_load_kgm2 / n2 if mp.tendon else 0.0
    bg = mp.b_load_nms_per_rad / n2
    g_coast = eta if mp.drivetrain(max(mp.j_kgm2, 1e-12), mp.b_nms_per_rad).coast_switch_rad_s(
        max(mp.tau_c_nm, 1e-6)) > 0.0 else 1.0 / eta
    g = np.where(dec, g_coast, 1.0 / eta)
    y_tot = y - jg * (g - 1.0) * a[:, 0] - bg * (g - 1.0 / eta) * a[:, 1]
    x_free, *_ = np.linalg.lstsq(a, y_tot, rcond=None)    # J too, with the steps: a check on the inertia stage
    j_use = j_kgm2 if j_kgm2 else float(x_free[0])
    j_c = j_use + jg * (g_coast - 1.0)
    xd, *_ = np.linalg.lstsq(a[dec][:, 1:], -j_c * a[dec][:, 0], rcond=None)   # first guess (the coast's b)
    b0, c0 = max(float(xd[0]) + bg * (1.0 / eta - g_coast), 1e-9), max(float(xd[1]), 1e-6)
    b, tc, tau0, r2 = _fit_decays(decays, j_use, b0, c0, mp)
    # repeat consistency: each pair of decays (both ways) alone
    sets = list(data.get("sets", [0])) + [len(decays)]
    bs = [_fit_decays(decays[a0:a1], j_use, b0, c0, mp)[0] for a0, a1 in zip(sets[:-1], sets[1:]) if a1 - a0 == 2]
    spread = (max(bs) - min(bs)) / abs(b) if len(bs) >= 2 and b != 0 else math.inf
    # and each direction alone (friction that depends on the direction: a drag, a ratchet)
    by_dir = [_fit_decays([d for d in decays if d[0] == sgn], j_use, b0, c0, mp)[0] for sgn in (1.0, -1.0)
              if sum(1 for d in decays if d[0] == sgn) >= 2]
    spread_dir = (max(by_dir) - min(by_dir)) / abs(b) if len(by_dir) == 2 and b != 0 else math.inf
    quality = max(spread, spread_dir)
    ok = b > 0 and tc >= 0 and r2 >= 0.999 and quality <= B_REPEAT_MAX
    note = "" if ok else (f"R^2 {r2:.5f}, b of the two repeats {100 * spread:.1f} % apart, of the two directions "
                          f"{100 * spread_dir:.1f} %" if b > 0 and tc >= 0
                          else "negative friction fitted: sensor or model fault")
    values = {"b_total_nms_per_rad": b, "tau_coulomb_nm": tc, "tau_offset_nm": tau0, "r2": r2,
              "b_repeat_spread": spread, "b_direction_spread": spread_dir, "j_free_kgm2": float(x_free[0]), "j_used_kgm2": j_use,
              "w_peak_m_rad_s": data["w_peak_m_rad_s"], "i_step_a": data["i_step_a"]}
    return Fit("friction", values, quality, "relative spread of b over repeats and directions", ok, note)


# ---- inertia: sine torque pulses ---------------------------------------------------
def pulse_mean_speed(rows: list[dict[str, float]], j_kgm2: float | np.ndarray, tau0_nm: float | np.ndarray,
                     mp: MechPrior, b_nms_per_rad: float, tau_c_nm: float, n_steps: int = 600) -> np.ndarray:
    """Model mean speed over each pulse (rad/s): RK2 of J dw/dt = kt i(t) - b w
    - tau_c sig(w / w_c) - tau_0 from w0, i(t) = i_m + i_s sin + i_c cos, with
    the gear loss by direction (``MechPrior.drivetrain``: the pulse's first
    half drives the load, its braking half is driven by it behind a tendon);
    j_kgm2, b_nms_per_rad the totals. All pulses at once; j_kgm2 and tau0_nm
    broadcast against the pulses (e.g. shape (m, 1) for m candidate values at
    once: the result is (m, pulses))."""
    f = np.array([r["freq_hz"] for r in rows])
    i_m = np.array([r["i_mean_a"] for r in rows])
    i_s = np.array([r["i_s_a"] for r in rows])
    i_c = np.array([r["i_c_a"] for r in rows])
    shape = np.broadcast_shapes(np.shape(j_kgm2), np.shape(tau0_nm), f.shape)
    dt = mp.drivetrain(np.broadcast_to(np.asarray(j_kgm2, dtype=float), shape), b_nms_per_rad)
    tau0 = np.broadcast_to(np.asarray(tau0_nm, dtype=float), shape)
    b_free = dt.b_free_nms_per_rad
    w = np.broadcast_to(np.array([r["w0_m_rad_s"] for r in rows], dtype=float), shape).copy()
    t_end = 1.0 / f
    kt, wc = mp.kt_nm_a, mp.omega_coulomb_rad_s
    h = t_end / n_steps
    k = np.arange(n_steps + 1)[:, None]
    ph = 2.0 * np.pi * f * h
    tau_tab = kt * (i_m + i_s * np.sin(ph * k) + i_c * np.cos(ph * k))

    def acc(tau_now: np.ndarray, w_: np.ndarray) -> np.ndarray:
        return dt.accel(tau_now - tau0 - b_free * w_ - tau_c_nm * smooth_sign(w_ / wc), w_, wc)

    area = np.zeros(shape)
    for n in range(n_steps):
        k1 = acc(tau_tab[n], w)
        k2 = acc(tau_tab[n + 1], w + h * k1)
        w_new = w + 0.5 * h * (k1 + k2)
        area += 0.5 * h * (w + w_new)
        w = w_new
    return area / t_end


def fit_inertia(rows: list[dict[str, float]], mp: MechPrior, b_nms_per_rad: float, tau_c_nm: float,
                j_guess: float) -> Fit:
    """(J, tau_0) by least squares (Gauss-Newton) on the pulses' mean speeds;
    quality: the spread of the single-pulse J (tau_0 from the joint fit)."""
    meas = np.array([r["w_mean_m_rad_s"] for r in rows])
    scale = np.abs(meas)

    def resid(j: np.ndarray, tau0: np.ndarray) -> np.ndarray:
        return (pulse_mean_speed(rows, j, tau0, mp, b_nms_per_rad, tau_c_nm) - meas) / scale

    j, tau0 = j_guess, 0.0
    dt0 = max(tau_c_nm, 1e-4) * 0.01
    for _ in range(8):   # Gauss-Newton, the two derivatives in the same batch
        r = resid(np.array([[j], [j * 1.001], [j]]), np.array([[tau0], [tau0], [tau0 + dt0]]))
        a = np.column_stack([(r[1] - r[0]) / (0.001 * j), (r[2] - r[0]) / dt0])
        if len(rows) < 2:
            a = a[:, :1]
        step, *_ = np.linalg.lstsq(a, -r[0], rcond=None)
        j = float(np.clip(j + step[0], 0.3 * j, 3.0 * j))
        if len(step) > 1:
            tau0 += float(step[1])
        if abs(step[0]) < 1e-5 * j:
            break
    # one J per pulse at that tau_0: Newton steps on each pulse alone, all at once
    js = np.full(len(rows), j)
    for _ in range(8):
        r = resid(np.stack([js, js * 1.001]), np.array(tau0))
        d = (r[1] - r[0]) / (0.001 * js)
        step = -r[0] / np.where(d != 0, d, 1e-30)
        js = js + np.clip(step, -0.2 * js, 0.2 * js)   # damped: the model is not smooth where w crosses 0
        if np.max(np.abs(r[0])) < 1e-6:
            break
    singles = [float(x) for x in js]
    spread = float((max(singles) - min(singles)) / j) if all(np.isfinite(singles)) else math.inf
    ok = j > 0 and spread <= J_SPREAD_MAX and len(rows) >= 2
    return Fit("inertia", {"j_total_kgm2": j, "tau_offset_nm": tau0, "j_single_kgm2": singles,  # type: ignore[dict-item]
                           "b_used_nms_per_rad": b_nms_per_rad, "tau_c_used_nm": tau_c_nm},
               spread, "relative spread of single-pulse J", ok,
               "" if ok else "the pulses disagree (friction, load or a slipping coupling)")


def _pulse(mv: Mover, mp: MechPrior, amp_a: float, period_s: float) -> dict[str, float]:
    link = mv.link
    mv.resume()
    w0 = mv.w_m()
    p0 = mv.p_m()
    r = link.inject({"kind": "I_SINE", "axis": 1, "use_encoder": 1, "amp": amp_a, "offset": 0.0,
                     "freq_hz": 1.0 / period_s, "settle_s": 0.0, "window_s": period_s * (1.0 + 1e-5)},
                    then=lambda: link.act.set_current(0.0), poll_s=0.0005)
    mv.brake()
    p1 = mv.check("inertia pulse")
    return {"freq_hz": 1.0 / period_s, "amp_a": amp_a, "w0_m_rad_s": w0, "p0_m_rad": p0, "i_mean_a": r.i_q_mean, "i_s_a": r.i_s,
            "i_c_a": r.i_c, "w_mean_m_rad_s": r.omega_e_mean / mp.pole_pairs, "travel_m_rad": p1 - p0}


def inertia_pulses(mv: Mover, mp: MechPrior, b_nms_per_rad: float, tau_c_nm: float) -> tuple[Fit, list[dict[str, float]]]:
    """J_total from sine torque pulses (see the module doc). Returns the fit
    and the pulse records (for a refit with better friction values)."""
    span = mv.band.span_m_rad
    d_plan = 0.35 * span
    t_min = 2.0 * d_plan / (0.6 * mp.v_max_m_rad_s)    # peak speed 2 D / T <= 0.6 of the limit
    period = max(t_min, 0.05)
    j_est = mp.j_kgm2
    hold_a = min(0.4 * mp.i_limit_a, 0.8 * mp.i_cont_a)
    mv.brake()
    mv.move_to("inertia: to the band centre", mv.band.center_m_rad, hold_a, MOVE_FRAC * mp.v_max_m_rad_s)
    mv.brake()
    rows: list[dict[str, float]] = []

    def amp_for(scale: float, t: float) -> float:
        tau = scale * 2.0 * math.pi * j_est * d_plan / (t * t)
        return min(tau / mp.kt_nm_a, 0.8 * mp.i_limit_a)

    def toward_centre() -> float:
        return 1.0 if mv.p_m() < mv.band.center_m_rad else -1.0

    # a small pulse first: the J it shows scales the others (the prior may be far off)
    first = _pulse(mv, mp, toward_centre() * amp_for(0.25, period), period)
    mv.pause()
    rough = fit_inertia([first], mp, b_nms_per_rad, tau_c_nm, j_est)
    if rough.values.get("j_total_kgm2", 0.0) > 0:
        j_est = rough.values["j_total_kgm2"]
    for scale, t in ((1.0, period), (0.7, period), (0.7, 1.3 * period)):
        for _ in range(2):
            rows.append(_pulse(mv, mp, toward_centre() * amp_for(scale, t), t))
    mv.pause()
    fit = fit_inertia(rows, mp, b_nms_per_rad, tau_c_nm, j_est)
    fit.raw = [dict(r) for r in rows]
    return fit, rows


# ---- board-file keys ----------------------------------------------------------------
def board_split(j_total_kgm2: float, b_total_nms_per_rad: float, mp: MechPrior) -> dict[str, float]:
    """The rotor's own j_kgm2 and b_nms_per_rad (board [motor] keys): the
    motor-side totals less the board's load through the gearbox."""
    n2 = mp.gear_ratio * mp.gear_ratio
    return {"j_kgm2": j_total_kgm2 - mp.j_load_kgm2 / n2,
            "b_nms_per_rad": b_total_nms_per_rad - mp.b_load_nms_per_rad / (n2 * mp.gear_efficiency)}
