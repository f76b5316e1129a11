"""Cogging torque map over CAN: the first three harmonics of
tau_cog(theta_y) = sum_k amp_k sin(k n theta_y + phase_k), MOTOR SIDE, N m,
theta_y the single-turn motor angle the encoder reports (the angle the
core's feed-forward uses, mf_ctrl.h), n = cog_n_per_rev.

Method: a slow synchronous rotating current vector (I_ROTATE, amplitude
a) drags the rotor through whole cogging periods; the field is a spring
K = 1.5 p^2 a (lambda + (L_d - L_q) a) (N m/rad) whose deflection makes the
motor torque follow the cogging torque. The chip's lock-in at harmonic
h = k n / p of the encoder's electrical angle gives the motor torque's k-th
harmonic (x_s, x_c) of x = m + x_c cos(h theta_e) + x_s sin(h theta_e);
h theta_e = k n theta_y - h offset_e, so phase_k = atan2(x_c, x_s) -
h offset_e. Two corrections:
- sampling: the samples are even in time, not in angle (the rotor runs
  faster where the spring is relaxed): the angle is psi - n x(phi) / K in
  phase units, which mixes the harmonics (the first's ripple makes a second
  and a third). ``sampling_model`` predicts the lock-in of a candidate map;
  ``invert_sampling`` solves for the map whose prediction is the measurement.
- dynamics: the motor torque is tau_cog K / (K + Z(w)), Z = -J w^2 + j c w
  (inertia, and friction damping c unknown); run both ways (w and -w: Z and
  its conjugate) and average the reciprocals: 1/tau_cog = (1/X+ + 1/X-) /
  (2 (1 - J w^2 / K)) (the damping cancels, J from the inertia stage).
The speed keeps the third harmonic well below the field's resonance
sqrt(K / J); the window holds whole cogging periods, so the harmonics are
orthogonal over it.
"""
from __future__ import annotations

import cmath
import math
from typing import Any

import numpy as np

from actuators.tune.identify import Fit, wrap_pi
from actuators.tune.identify_mech import MechPrior
from actuators.tune.motion import Mover

__all__ = ["HARMONICS", "sampling_model", "invert_sampling", "cogging_map", "cogging_torque"]

HARMONICS = 3
# the map is the (reciprocal) mean of the two directions: its error is about
# half their disagreement, so 0.3 keeps it near the 15 % floor
COG_DISAGREE_MAX = 0.3


def cogging_torque(theta_y: np.ndarray, n: int, amp_nm: list[float], phase_rad: list[float]) -> np.ndarray:
    """tau_cog(theta_y), N m (the model of mf_ctrl.h)."""
    out = np.zeros_like(np.asarray(theta_y, dtype=float))
    for k, (a, ph) in enumerate(zip(amp_nm, phase_rad), 1):
        out += a * np.sin(k * n * np.asarray(theta_y) + ph)
    return out


def sampling_model(x: np.ndarray, x0: float, kappa: float, n_grid: int = 2048) -> np.ndarray:
    """Lock-in (each harmonic fitted alone with a mean, as the chip does) of
    x(phi) = x0 + sum_k Im(X_k e^{j k phi}) sampled evenly in psi, where the
    angle phi solves psi = phi + kappa x(phi) (kappa = n / K, rad/(N m) in
    cogging phase). X_k = x_s + j x_c (amplitude, phase). Returns the X_k."""
    xs = np.asarray(x, dtype=complex)
    psi = np.arange(n_grid) * (2.0 * np.pi / n_grid)
    ks = np.arange(1, len(xs) + 1)

    def x_of(phi: np.ndarray) -> np.ndarray:
        ang = np.outer(phi, ks)
        return x0 + np.sin(ang) @ xs.real + np.cos(ang) @ xs.imag

    phi = psi.copy()
    for _ in range(40):
        phi = psi - kappa * x_of(phi)
    val = x_of(phi)
    out = []
    for k in ks:
        a = np.column_stack([np.ones_like(phi), np.cos(k * phi), np.sin(k * phi)])
        c, *_ = np.linalg.lstsq(a, val, rcond=None)
        out.append(complex(c[2], c[1]))
    return np.array(out)


def invert_sampling(measured: np.ndarray, x0: float, kappa: float, iters: int = 30) -> np.ndarray:
    """The harmonics X whose sampled lock-in is ``measured`` (fixed point)."""
    m = np.asarray(measured, dtype=complex)
    x = m.copy()
    for _ in range(iters):
        step = m - sampling_model(x, x0, kappa)
        x = x + step
        if np.max(np.abs(step)) < 1e-6 * max(np.max(np.abs(m)), 1e-12):
            break
    return x


def cogging_map(mv: Mover, mp: MechPrior, j_kgm2: float, offset_e_rad: float,
                window_min_s: float = 1.0) -> Fit:
    """The first three cogging harmonics (amp_nm, phase_rad), motor side.
    offset_e_rad: the node's estimator.offset_e_rad during the measurement."""
    n, p = mp.cog_n_per_rev, mp.pole_pairs
    if n <= 0:
        return Fit("cogging", {}, math.inf, "direction disagreement", False,
                   "the board sets no cog_n_per_rev: nothing to identify")
    if n % p != 0:
        return Fit("cogging", {}, math.inf, "direction disagreement", False,
                   f"cog_n_per_rev {n} is not a multiple of the pole pairs {p}: the chip's lock-in "
                   "(harmonic of the electrical angle) cannot reference the motor angle")
    amp = min(0.45 * mp.i_limit_a, 0.8 * mp.i_cont_a)
    k_field = mp.stiffness_nm_per_rad(amp)
    wn = math.sqrt(k_field / j_kgm2)
    # speed: the third harmonic far below the field's resonance, and the rotor
    # (its speed rippled by the cogging, by kappa x = n tau_cog / K) deep in the
    # linear part of the Coulomb smooth sign (|w| <= 0.12 w_c), where the
    # friction is a damper that the two directions cancel
    ripple = n * 1.5 * max(sum(mp.cog_amp_nm), 0.0) / k_field
    w = min(0.3 * wn / (HARMONICS * n), 0.05 * mp.v_max_m_rad_s,
            0.12 * mp.omega_coulomb_rad_s / (1.0 + ripple) if mp.omega_coulomb_rad_s > 0 else math.inf)
    period = 2.0 * math.pi / (n * w)                  # one cogging period, s
    window = period * max(3, math.ceil(window_min_s / period))
    settle = 0.3
    travel = HARMONICS * 2 * w * (window + settle)
    if travel > 0.8 * mv.band.span_m_rad:
        return Fit("cogging", {}, math.inf, "direction disagreement", False,
                   f"travel band too short for the cogging sweep ({travel:.2f} rad motor needed)")
    mv.brake()
    mv.move_to("cogging: to the band centre", mv.band.center_m_rad - 0.5 * travel / 2, amp, 10 * w)
    offset = offset_e_rad % (2.0 * math.pi)
    meas: dict[float, tuple[np.ndarray, float, float]] = {}
    raw_dir: dict[float, tuple[np.ndarray, float, float]] = {}
    raws: list[dict[str, Any]] = []
    for sgn in (1.0, -1.0):
        xs, x0s, ks = [], [], []
        for k in range(1, HARMONICS + 1):
            h = k * n / p
            r = mv.rotate(f"cogging harmonic {k}", amp, sgn * w, 50.0 * w, settle, window, lockin_harmonic=h)
            kk = 1.5 * p * (mp.flux_wb + (mp.ld_h - mp.lq_h) * r.i_d_rotor_mean)   # N m per A of i_q
            # referred to k n theta_y: the lock-in phase is h theta_e = k n theta_y - h offset
            xs.append(kk * complex(r.i_s, r.i_c) * cmath.exp(-1j * h * offset))
            x0s.append(kk * r.i_q_rotor_mean)
            ks.append(1.5 * p * p * (mp.flux_wb * r.i_d_rotor_mean
                                     + (mp.ld_h - mp.lq_h) * (r.i_d_rotor_mean ** 2 - r.i_q_rotor_mean ** 2)))
            raws.append({"harmonic": k, "direction": sgn, "x_s_nm": xs[-1].real, "x_c_nm": xs[-1].imag,
                         "i_q_mean_a": r.i_q_rotor_mean, "omega_e_mean": r.omega_e_mean})
        raw_dir[sgn] = (np.array(xs), float(np.mean(x0s)), float(np.mean(ks)))
    mv.pause()   # the host computes: motor off
    for sgn, (xs_a, x0, k_mean) in raw_dir.items():
        meas[sgn] = (invert_sampling(xs_a, x0, n / k_mean), k_mean, x0)
    amps, phases, disagree = [], [], []
    xp, k_p, _ = meas[1.0]
    xm, _, _ = meas[-1.0]
    for i, k in enumerate(range(1, HARMONICS + 1)):
        wh = k * n * w
        corr = 1.0 - j_kgm2 * wh * wh / k_p
        inv = 0.5 * (1.0 / xp[i] + 1.0 / xm[i]) / corr if xp[i] != 0 and xm[i] != 0 else 0.0
        x = 1.0 / inv if inv != 0 else 0.0
        amps.append(abs(x))
        phases.append(wrap_pi(cmath.phase(x)) if x != 0 else 0.0)
        disagree.append(abs(abs(xp[i]) - abs(xm[i])))
    floor = 0.1 * max(amps)                    # harmonics below a tenth of the largest: judged on that scale
    quality = max(d / max(a, floor) for d, a in zip(disagree, amps))
    ok = amps[0] > 0 and quality <= COG_DISAGREE_MAX
    values: dict[str, float] = {"cog_n_per_rev": float(n), "speed_m_rad_s": w, "amp_a": amp,
                                "field_resonance_hz": wn / (2 * math.pi)}
    for i in range(HARMONICS):
        values[f"amp_nm[{i}]"] = amps[i]
        values[f"phase_rad[{i}]"] = phases[i]
    return Fit("cogging", values, quality, "relative disagreement of the two directions", ok,
               "" if ok else "the two directions disagree: noise, slip or a load that is not cogging", raws)
