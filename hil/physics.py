"""The board's physics the judges compare a run with (SI, output side).

Independent of the firmware's C code: every expected value here follows
from the board file and the equations of DESIGN.md section 3 (the plant)
and of ``actuators/core/mf_muscle.h`` (the muscle law as documented).

- ``output_inertia``, ``output_damping``: J = J_load + J_motor N^2 and
  B = b_load + b_motor N^2 of the rigid joint.
- Gear friction: the gearbox passes eta of the output torque to the motor
  while the load back-drives it and needs 1/eta of it while the motor drives
  the load. ``backdriven_speed`` is the steady speed a load torque drives a
  joint whose motor only damps (kd); ``damping_from_speed`` inverts it: the
  controller damping that explains a measured speed.
- ``stiffness_band``: a load applied to an impedance-held joint at rest
  back-drives the gear, so the output stiffness lies in about [eta kp,
  kp / eta] (widened by the motor's Coulomb friction; the high end when
  approached from rest; gear friction holds it anywhere in between).
- ``overtemp_trip_s``: the two-node thermal network's analytic time to the
  trip temperature.
- ``muscle_torque``, ``muscle_equilibrium``, ``activation``,
  ``muscle_response``: the Hill-type pair and the joint it drives.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["activation", "backdriven_speed", "damping_from_speed", "load_for_speed", "muscle_equilibrium", "muscle_law",
           "muscle_response", "muscle_torque", "output_damping", "output_inertia", "overtemp_trip_s", "stiffness_band"]

def output_inertia(board: Any) -> float:
    """J_load + J_motor N^2, kg m^2 (the motor's inertia seen at the output)."""
    return board.load.j_kgm2 + board.motor.j_kgm2 * board.gearbox.ratio ** 2


def output_damping(board: Any) -> float:
    """b_load + b_motor N^2, N m s/rad."""
    return board.load.b_nms_per_rad + board.motor.b_nms_per_rad * board.gearbox.ratio ** 2


def backdriven_speed(board: Any, kd_nms_rad: float, tau_ext_nm: float) -> float:
    """Steady output speed (rad/s, sign of tau_ext) of a joint whose motor
    applies only -kd v while the load torque tau_ext back-drives it. Motor
    side at constant speed: kd v + b_m N^2 v + tau_c N = eta (tau_ext - b_l v)
    (the gearbox passes eta of the output torque to a back-driven motor;
    the Coulomb friction tau_c is saturated: |N v| >> omega_coulomb)."""
    m, g, ld = board.motor, board.gearbox, board.load
    n, eta = g.ratio, g.efficiency
    t = abs(tau_ext_nm)
    v = (eta * t - m.tau_coulomb_nm * n) / (kd_nms_rad + m.b_nms_per_rad * n ** 2 + eta * ld.b_nms_per_rad)
    return math.copysign(max(v, 0.0), tau_ext_nm)


def load_for_speed(board: Any, kd_nms_rad: float, v_out_rad_s: float) -> float:
    """The load torque (N m) that back-drives a joint damped by kd at v_out
    (``backdriven_speed`` solved for the torque)."""
    m, g = board.motor, board.gearbox
    n, eta = g.ratio, g.efficiency
    v = abs(v_out_rad_s)
    t = (v * (kd_nms_rad + m.b_nms_per_rad * n ** 2 + eta * board.load.b_nms_per_rad)
         + m.tau_coulomb_nm * n) / eta
    return math.copysign(t, v_out_rad_s)


def damping_from_speed(board: Any, v_out_rad_s: float, tau_ext_nm: float) -> float:
    """The controller damping kd (N m s/rad) that makes tau_ext drive the
    back-driven joint at v_out (``backdriven_speed`` solved for kd)."""
    m, g, ld = board.motor, board.gearbox, board.load
    n, eta = g.ratio, g.efficiency
    v, t = abs(v_out_rad_s), abs(tau_ext_nm)
    if v == 0 or not math.isfinite(v):
        return math.inf
    return (eta * (t - ld.b_nms_per_rad * v) - m.tau_coulomb_nm * n) / v - m.b_nms_per_rad * n ** 2


def stiffness_band(board: Any, kp_nm_rad: float, tau_ext_nm: float) -> tuple[float, float]:
    """(low, high) output stiffness tau_ext / deflection (N m/rad) a load
    tau_ext measures on a joint held by kp, once it is at rest: the gear and
    the motor's Coulomb friction hold it anywhere between the back-driven
    balance kp dp = eta tau - tau_c N (the high end: where it stops when the
    load is applied from rest) and the driven one kp dp = tau / eta + tau_c N."""
    eta = board.gearbox.efficiency
    tc = board.motor.tau_coulomb_nm * board.gearbox.ratio
    t = abs(tau_ext_nm)
    lo = kp_nm_rad * t / (t / eta + tc)
    hi = kp_nm_rad * t / (eta * t - tc) if eta * t > tc else math.inf
    return lo, hi


def overtemp_trip_s(board: Any, heat_w: float, temp0_c: float | None = None) -> float:
    """Time (s) for the winding to reach the board's temp_max_c with heat_w (W)
    into the winding node of the two-node thermal network (winding - housing
    - ambient), from equilibrium at temp0_c (default the ambient; the
    ambient is then temp0_c too): the analytic step response."""
    th, pr = board.thermal, board.protect
    cw, ch = th.c_winding_j_per_k, th.c_housing_j_per_k
    rwh, rha = th.r_winding_housing_k_per_w, th.r_housing_ambient_k_per_w
    a = np.array([[-1 / (cw * rwh), 1 / (cw * rwh)], [1 / (ch * rwh), -1 / (ch * rwh) - 1 / (ch * rha)]])
    bvec = np.array([heat_w / cw, 0.0])
    x_ss = -np.linalg.solve(a, bvec)                      # rise at t -> inf
    lam, vec = np.linalg.eig(a)
    coef = np.linalg.solve(vec, -x_ss)                    # x(t) = x_ss + V exp(lam t) coef
    rise = pr.temp_max_c - (temp0_c if temp0_c is not None else th.temp_ambient_c)
    if rise <= 0:
        return 0.0
    if x_ss[0] <= rise:
        return math.inf
    lo, hi = 0.0, 1.0
    f = lambda t: float(x_ss[0] + (vec @ (np.exp(lam * t) * coef))[0].real) - rise  # noqa: E731
    while f(hi) < 0:
        hi *= 2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    return 0.5 * (lo + hi)


def muscle_law(board: Any) -> Callable[[float, float, float, float], float]:
    """mf_muscle.h's pair torque as a function tau(p, v, a_flex, a_ext) (N m,
    + = flexion) of the output angle p (rad), speed v (rad/s) and the two
    activations, with the board's constants bound once (a hot loop calls it)."""
    m = board.muscle
    f_max, l_ref, l_opt, width, k_pe = m.f_max_n, m.l_ref_m, m.l_opt_m, m.width, m.k_pe
    v_scale, curv, ecc = m.v_max_lopt_s * m.l_opt_m, m.curv, m.ecc
    r_flex, r_ext = m.moment_arm_m, -m.moment_arm_m
    lim = board.limits.tau_out_max_nm

    def one(r: float, a: float, p: float, v: float) -> float:
        lt = (l_ref - r * p) / l_opt
        vt = max(-r * v / v_scale, -1.0)
        fl = max(0.0, 1.0 - ((lt - 1.0) / width) ** 2)
        if vt < 0:
            fv = (1.0 + vt) / (1.0 - vt / curv)
        else:
            fv = ecc - (ecc - 1.0) * (1.0 - vt) / (1.0 + vt * 7.56 / curv)
        fpe = k_pe * (lt - 1.0) ** 2 if lt > 1.0 else 0.0
        return r * f_max * (a * fl * max(fv, 0.0) + fpe)

    def tau(p: float, v: float, a_flex: float, a_ext: float) -> float:
        out = one(r_flex, a_flex, p, v) + one(r_ext, a_ext, p, v)
        return min(max(out, -lim), lim)

    return tau


def muscle_torque(board: Any, p: float, v: float, a_flex: float, a_ext: float) -> float:
    """Pair torque (N m, + = flexion) of mf_muscle.h's Hill-type pair at
    output angle p (rad) and speed v (rad/s), saturated to tau_out_max_nm."""
    return muscle_law(board)(p, v, a_flex, a_ext)


def muscle_equilibrium(board: Any, a_flex: np.ndarray, a_ext: np.ndarray) -> np.ndarray:
    """Output angle (rad) where the pair's static torques cancel (f_V = 1),
    by bisection on [p_out_min, p_out_max]."""
    m = board.muscle
    lo = np.full(np.shape(a_flex), board.limits.p_out_min_rad)
    hi = np.full(np.shape(a_flex), board.limits.p_out_max_rad)

    def tau(pp: np.ndarray) -> np.ndarray:
        out = np.zeros_like(pp)
        for r, a in ((m.moment_arm_m, a_flex), (-m.moment_arm_m, a_ext)):
            lt = (m.l_ref_m - r * pp) / m.l_opt_m
            fl = np.maximum(0.0, 1 - ((lt - 1) / m.width) ** 2)
            fpe = np.where(lt > 1, m.k_pe * (lt - 1) ** 2, 0.0)
            out += r * m.f_max_n * (a * fl + fpe)
        return out

    for _ in range(60):
        mid = 0.5 * (lo + hi)
        pos = tau(mid) > 0          # net flexion torque: equilibrium lies above
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
    return 0.5 * (lo + hi)


def activation(u: np.ndarray, dt: float, tau_act: float, tau_deact: float, a0: float = 0.0) -> np.ndarray:
    """First-order muscle activation da/dt = (u - a)/tau (tau_act rising,
    tau_deact falling), exact for u held over each dt."""
    a = np.empty(len(u))
    x = a0
    e_act, e_deact = math.exp(-dt / tau_act), math.exp(-dt / tau_deact)
    for k, uk in enumerate(np.asarray(u, float).tolist()):
        x = uk + (x - uk) * (e_act if uk > x else e_deact)
        a[k] = x
    return a


def muscle_response(board: Any, u_flex: np.ndarray, u_ext: np.ndarray, dt: float | np.ndarray, p0: float,
                    v0: float = 0.0, a0: tuple[float, float] = (0.0, 0.0), substeps: int = 1) -> np.ndarray:
    """Output angle (rad) of the joint driven by the pair with excitations
    u_flex, u_ext (held over each dt, s; an array: the length of each
    interval, as a bench's clock stamped them), from p0 at speed v0, activations
    from a0 (flexor, extensor; 0: the muscle mode just entered,
    mf_muscle_reset). The motor side (J_1 = J_motor N^2, b_1 = b_motor N^2,
    Coulomb tau_c N) carries the pair's torque; the gearbox transmits the
    load's torque tau_t and needs tau_t / eta of it while driving, gives
    eta tau_t while back-driven (DESIGN.md section 3):
        J_1 a = tau_muscle(p, v, a) - b_1 v - tau_c N sig(N v / omega_c) - loss(tau_t)
    Rigid load: its inertia reflects losslessly, tau_t = b_load v. Series
    tendon (stiff against the pair): the load follows quasi-rigidly and
    tau_t = J_load a + b_load v goes through the efficiency too. Linearly
    implicit trapezoid in v (the force-velocity slope makes the pair stiff
    in v), the acceleration at mid-interval (activations and angle), the
    trapezoid in p: second order; ``substeps`` per dt (one at 1 ms: within
    1e-4 rad of solve_ivp on the boards' joints, tests/hil/test_physics.py). The sample k is the angle at
    the start of interval k (as the bench records the reply to command k)."""
    m, mo, g = board.muscle, board.motor, board.gearbox
    n, eta = g.ratio, g.efficiency
    j1, b1 = mo.j_kgm2 * n ** 2, mo.b_nms_per_rad * n ** 2
    jl, bl = board.load.j_kgm2, board.load.b_nms_per_rad
    tendon = board.tendon is not None
    tc, ws = mo.tau_coulomb_nm * n, mo.omega_coulomb_rad_s / n
    uf, ue = np.asarray(u_flex, float).tolist(), np.asarray(u_ext, float).tolist()
    hs = (np.broadcast_to(np.asarray(dt, float), (len(uf),)) / substeps).tolist()
    h = math.nan
    p, v = float(p0), float(v0)
    af, ae = float(a0[0]), float(a0[1])
    out = np.empty(len(uf))
    dv = 1e-4
    pair = muscle_law(board)

    def accel(p: float, v: float, af: float, ae: float) -> float:
        x = v / ws
        sig = x * (15 - 10 * x * x + 3 * x ** 4) / 8 if abs(x) < 1 else math.copysign(1.0, x)
        f = pair(p, v, af, ae) - b1 * v - tc * sig
        if not tendon:
            return (f - bl * v / eta) / (j1 + jl)
        acc = (f - bl * v / eta) / (j1 + jl / eta)          # the motor drives the load
        if (jl * acc + bl * v) * v < 0:                      # the load drives the motor
            acc = (f - eta * bl * v) / (j1 + eta * jl)
        return acc

    for k in range(len(uf)):
        out[k] = p
        if hs[k] != h:
            h = hs[k]
            e_act, e_deact = math.exp(-h / m.tau_act_s), math.exp(-h / m.tau_deact_s)
        for _ in range(substeps):
            af1 = uf[k] + (af - uf[k]) * (e_act if uf[k] > af else e_deact)
            ae1 = ue[k] + (ae - ue[k]) * (e_act if ue[k] > ae else e_deact)
            am_f, am_e, pm = 0.5 * (af + af1), 0.5 * (ae + ae1), p + 0.5 * h * v   # mid-interval
            a0_ = accel(pm, v, am_f, am_e)
            slope = (accel(pm, v + dv, am_f, am_e) - a0_) / dv       # d a / d v, <= 0
            v_new = v + h * a0_ / (1.0 - 0.5 * h * min(slope, 0.0))   # linearly implicit trapezoid
            p += 0.5 * h * (v + v_new)
            v, af, ae = v_new, af1, ae1
    return out
