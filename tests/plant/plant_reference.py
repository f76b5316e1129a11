"""Independent reference of the plant equations for the tests (numpy/scipy).

Written from DESIGN.md section 3 and the model text of mf_plant.h, not from
the C: rotor-frame PMSM, amplitude-invariant Clarke, Park d = a cos + b sin,
smooth Coulomb sign, cogging, rigid or tendon load, gear efficiency as a
speed-opposing loss, two-node + FET thermal model with R(T).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

from actuators.plant import PlantParams


def sig(x: float) -> float:
    """Smooth sign of mf_plant.h: x (15 - 10 x^2 + 3 x^4) / 8 on |x| < 1, sign beyond."""
    if x >= 1.0:
        return 1.0
    if x <= -1.0:
        return -1.0
    return x * (15.0 - 10.0 * x * x + 3.0 * x ** 4) / 8.0


def clarke(v_abc: np.ndarray) -> tuple[float, float]:
    """Amplitude-invariant Clarke of one (3,) vector."""
    a, b, c = v_abc
    return (2.0 * a - b - c) / 3.0, (b - c) / math.sqrt(3.0)


def make_rhs(pp: PlantParams):
    """The right-hand side f(t, y, v_alpha, v_beta) of the whole plant.

    y = [i_d, i_q, omega_m, theta_m, theta_l, omega_l, T_winding, T_housing, T_fet]
    (theta_l, omega_l unused when rigid)."""
    m, g, ld, th, tn = pp.motor, pp.gearbox, pp.load, pp.thermal, pp.tendon
    p = m.pole_pairs
    n = g.ratio
    eta = g.efficiency
    j_eff = m.j_kgm2 if tn is not None else m.j_kgm2 + ld.j_kgm2 / n ** 2
    amps = list(m.cog_amp_nm)
    phases = list(m.cog_phase_rad) or [0.0] * len(amps)

    def rhs(_t: float, y: np.ndarray, va: float, vb: float) -> np.ndarray:
        i_d, i_q, w, theta, thl, wl, tw, thh, tf = y
        r = m.r_ohm * (1.0 + m.r_temp_coeff_per_k * (tw - 20.0))
        te = p * theta
        c, s = math.cos(te), math.sin(te)
        v_d = c * va + s * vb
        v_q = -s * va + c * vb
        we = p * w
        did = (v_d - r * i_d + we * m.lq_h * i_q) / m.ld_h
        diq = (v_q - r * i_q - we * (m.ld_h * i_d + m.flux_wb)) / m.lq_h
        tau_e = 1.5 * p * (m.flux_wb * i_q + (m.ld_h - m.lq_h) * i_d * i_q)
        sw = sig(w / m.omega_coulomb_rad_s)
        fric = m.b_nms_per_rad * w + m.tau_coulomb_nm * sw
        cog = sum(a * math.sin((k + 1) * m.cog_n_per_rev * theta + ph)
                  for k, (a, ph) in enumerate(zip(amps, phases)))
        if tn is None:
            tau_g = ld.b_nms_per_rad * w / n + ld.k_nm_per_rad * (theta / n - ld.theta0_rad) - ld.tau_ext_nm
            dwl = 0.0
        else:
            dl = theta / n - thl
            ddl = w / n - wl
            hb = 0.5 * g.backlash_rad
            if hb <= 0.0:
                tau_g = tn.k_nm_per_rad * dl + tn.c_nms_per_rad * ddl
            elif abs(dl) > hb:
                tau_g = tn.k_nm_per_rad * (dl - math.copysign(hb, dl)) + tn.c_nms_per_rad * ddl
            else:
                tau_g = 0.0
            dwl = (tau_g - ld.b_nms_per_rad * wl - ld.k_nm_per_rad * (thl - ld.theta0_rad)
                   + ld.tau_ext_nm) / ld.j_kgm2
        tt = tau_g / n
        # gear loss: the motor gives tt/eta driving, gets eta tt back-driven
        coef = (1.0 / eta - 1.0) if tt * w >= 0.0 else (1.0 - eta)
        loss = abs(tt) * coef * sw
        dw = (tau_e - fric - cog - tt - loss) / j_eff
        p_cu = 1.5 * r * (i_d ** 2 + i_q ** 2)
        q_wh = (tw - thh) / th.r_winding_housing_k_per_w
        q_ha = (thh - th.temp_ambient_c) / th.r_housing_ambient_k_per_w
        q_fa = (tf - th.temp_ambient_c) / th.r_fet_ambient_k_per_w
        return np.array([did, diq, dw, w, wl, dwl,
                         (p_cu - q_wh) / th.c_winding_j_per_k,
                         (q_wh - q_ha) / th.c_housing_j_per_k,
                         -q_fa / th.c_fet_j_per_k])

    return rhs


def simulate_ivp(pp: PlantParams, v_abc: np.ndarray, dt_s: float, rtol: float = 1e-10) -> np.ndarray:
    """Integrate with solve_ivp (DOP853) step by step, voltages held per row.

    Returns the states (n, 9) at the end of each step."""
    rhs = make_rhs(pp)
    t0 = pp.thermal.temp_ambient_c if pp.thermal.temp_init_c is None else pp.thermal.temp_init_c
    y = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, t0, t0, t0])
    out = np.empty((v_abc.shape[0], 9))
    for k, row in enumerate(v_abc):
        va, vb = clarke(row)
        sol = solve_ivp(rhs, (0.0, dt_s), y, method="DOP853", rtol=rtol, atol=1e-12, args=(va, vb))
        y = sol.y[:, -1]
        out[k] = y
    return out
