"""Gain design from identified parameters, with python-control.

Current loop: PI by pole-zero cancellation, K_p = L w_c, K_i = R w_c, on the
discrete plant the firmware sees: the RL winding sampled at the PWM period T
(zero-order hold), one period of PWM/computation delay, and the core's
backward-Euler PI C(z) = K_p + K_i T z / (z - 1) (mf_pi.h). w_c is the
largest crossover that keeps a phase margin >= ``pm_min_deg`` (60 deg).

Velocity loop: PI on the motor-plus-load inertia J with viscous b, run at
the outer rate with the current loop as its actuator; K_p = J w_v,
K_i = b w_v + K_p w_v / 4 (integral corner a quarter of the crossover),
w_v the largest crossover with phase margin >= 60 deg.

Impedance envelope (Z-width, Colgate & Brown): a virtual spring K and damper
B rendered at the outer sample period T_o stay passive when
b_phys > K T_o / 2 + |B|; the largest K at B = 0 is 2 b_phys / T_o and the
largest B at K = 0 is b_phys (motor side, reflected to the output by N^2).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import warnings

import control
import numpy as np

__all__ = ["CurrentDesign", "VelocityDesign", "ImpedanceEnvelope", "current_plant", "design_current_pi",
           "design_velocity_pi", "impedance_envelope", "current_closed_loop", "velocity_plant",
           "velocity_closed_loop", "step_metrics", "TwoMass", "mech_plant"]


@dataclass(frozen=True)
class CurrentDesign:
    """Current PI for one axis: kp_v_per_a V/A, ki_v_per_as V/(A s), crossover
    wc_rad_s, phase margin pm_deg, gain margin gm_db, closed-loop -3 dB
    bandwidth bandwidth_hz and step overshoot (fraction) of the discrete model."""
    kp_v_per_a: float
    ki_v_per_as: float
    wc_rad_s: float
    pm_deg: float
    gm_db: float
    bandwidth_hz: float
    overshoot: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class VelocityDesign:
    """Velocity PI (motor side gains converted to the output side the core uses:
    kp_nms_per_rad N m s/rad, ki_nm_per_rad N m/rad at the output), crossover
    wv_rad_s, phase margin pm_deg, predicted 10-90 % rise time rise_s s and
    step overshoot (fraction) of the discrete model."""
    kp_nms_per_rad: float
    ki_nm_per_rad: float
    wv_rad_s: float
    pm_deg: float
    rise_s: float = math.nan
    overshoot: float = math.nan

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class ImpedanceEnvelope:
    """Largest passive output-side stiffness (N m/rad, at zero damping) and
    damping (N m s/rad, at zero stiffness) at the outer-loop period."""
    k_max_nm_per_rad: float
    b_max_nms_per_rad: float
    outer_period_s: float
    b_phys_out_nms_per_rad: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def current_plant(r_ohm: float, l_h: float, period_s: float) -> control.TransferFunction:
    """Voltage command -> sampled current: ZOH RL plus one period of delay,
    G(z) = b / (z (z - a)), a = exp(-R T / L), b = (1 - a) / R."""
    a = math.exp(-r_ohm * period_s / l_h)
    b = (1.0 - a) / r_ohm
    return control.tf([b], [1.0, -a, 0.0], period_s)


def _pi(kp: float, ki: float, period_s: float) -> control.TransferFunction:
    # kp + ki T z / (z - 1) = ((kp + ki T) z - kp) / (z - 1)
    return control.tf([kp + ki * period_s, -kp], [1.0, -1.0], period_s)


def current_closed_loop(r_ohm: float, l_h: float, period_s: float, kp: float, ki: float) \
        -> control.TransferFunction:
    """Reference -> sampled current of the discrete current loop."""
    loop = _pi(kp, ki, period_s) * current_plant(r_ohm, l_h, period_s)
    return control.feedback(loop, 1)


def _bandwidth_hz(sys: control.TransferFunction, f_max_hz: float) -> float:
    f = np.linspace(1.0, f_max_hz, 4000)
    mag = np.abs(sys(np.exp(1j * 2 * np.pi * f * sys.dt)))
    dc = abs(sys(1.0))
    below = np.nonzero(mag < dc / math.sqrt(2.0))[0]
    if not len(below):
        return math.nan
    k = int(below[0])
    if k == 0:
        return float(f[0])
    m0, m1 = mag[k - 1], mag[k]
    lvl = dc / math.sqrt(2.0)
    return float(f[k - 1] + (m0 - lvl) / (m0 - m1) * (f[k] - f[k - 1]))


def _margins(loop: control.TransferFunction) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the 'frd' fallback notice
        warnings.simplefilter("ignore", RuntimeWarning)  # the integrator's pole at z = 1, evaluated there
        gm, pm, _, _ = control.margin(loop)
    gm_db = 20.0 * math.log10(gm) if gm is not None and np.isfinite(gm) and gm > 0 else math.inf
    return float(pm), gm_db


def design_current_pi(r_ohm: float, l_h: float, period_s: float, pm_min_deg: float = 60.0) -> CurrentDesign:
    """Pole-zero-cancellation PI for one current axis (R ohm, L H, PWM period
    s); the crossover is the largest with phase margin >= pm_min_deg."""
    if not (r_ohm > 0 and l_h > 0 and period_s > 0):
        raise ValueError(f"design_current_pi needs r_ohm, l_h, period_s > 0, got {r_ohm}, {l_h}, {period_s}")
    g = current_plant(r_ohm, l_h, period_s)
    nyq = math.pi / period_s

    def pm_at(wc: float) -> float:
        pm, _ = _margins(_pi(l_h * wc, r_ohm * wc, period_s) * g)
        return pm

    lo, hi = 1e-3 * nyq, 0.9 * nyq
    if not pm_at(lo) >= pm_min_deg:
        raise ValueError("no crossover meets the phase margin")
    for _ in range(60):  # bisection on the monotone phase margin
        mid = math.sqrt(lo * hi)
        if pm_at(mid) >= pm_min_deg:
            lo = mid
        else:
            hi = mid
    wc = lo
    kp, ki = l_h * wc, r_ohm * wc
    pm, gm_db = _margins(_pi(kp, ki, period_s) * g)
    cl = current_closed_loop(r_ohm, l_h, period_s, kp, ki)
    _, y = control.step_response(cl, T=np.arange(0, 400) * period_s)
    overshoot = max(0.0, float(np.max(y)) - 1.0)
    return CurrentDesign(kp, ki, wc, pm, gm_db, _bandwidth_hz(cl, 0.5 / period_s), overshoot)


@dataclass(frozen=True)
class TwoMass:
    """A series-elastic load seen from the motor (motor side, ``x 1/N^2``):
    load inertia j_load_kgm2 kg m^2, tendon k_nm_per_rad N m/rad and
    c_nms_per_rad N m s/rad, load damper b_load_nms_per_rad N m s/rad; the
    velocity plant's j_kgm2 and b are then the rotor's own."""
    j_load_kgm2: float
    k_nm_per_rad: float
    c_nms_per_rad: float
    b_load_nms_per_rad: float


def mech_plant(j_kgm2: float, b_nms_per_rad: float, tendon: TwoMass | None = None) -> control.TransferFunction:
    """Motor torque -> motor speed: 1 / (J s + b), or the two-mass system
    (J_l s^2 + (c + b_l) s + k) / (s (J s + b)(J_l s + b_l) + (c s + k)((J + J_l) s + b + b_l))."""
    if tendon is None:
        return control.tf([1.0], [j_kgm2, b_nms_per_rad])
    jl, k, c, bl = tendon.j_load_kgm2, tendon.k_nm_per_rad, tendon.c_nms_per_rad, tendon.b_load_nms_per_rad
    num = [jl, c + bl, k]
    den = np.polyadd(np.polymul([1.0, 0.0], np.polymul([j_kgm2, b_nms_per_rad], [jl, bl])),
                     np.polymul([c, k], [j_kgm2 + jl, b_nms_per_rad + bl]))
    return control.tf(num, list(den))


def velocity_plant(j_kgm2: float, b_nms_per_rad: float, outer_period_s: float, current_bw_hz: float,
                   pll_bw_hz: float | None = None, tendon: TwoMass | None = None) -> control.TransferFunction:
    """Motor-side torque demand -> measured motor speed at the outer rate:
    the current loop (first order at current_bw_hz), 1 / (J s + b), the
    estimator's type-2 PLL (kp = 2 w_p, ki = w_p^2, when pll_bw_hz is given;
    its speed is the integrator's state: w_p^2 / (s^2 + 2 w_p s + w_p^2)),
    the chain ZOH-discretised as one (the torque demand is held over an
    outer period), and one outer period of computation delay."""
    t = outer_period_s
    wi = 2 * math.pi * current_bw_hz
    gc = control.tf([wi], [1.0, wi]) * mech_plant(j_kgm2, b_nms_per_rad, tendon)
    if pll_bw_hz:
        wp = 2 * math.pi * pll_bw_hz
        gc = gc * control.tf([wp * wp], [1.0, 2 * wp, wp * wp])
    # one ZOH on the whole chain: the torque demand is what the outer loop holds
    return control.c2d(gc, t, "zoh") * control.tf([1.0], [1.0, 0.0], t)


def _vel_gains(j_kgm2: float, b_nms_per_rad: float, wv: float) -> tuple[float, float]:
    kp = j_kgm2 * wv
    return kp, b_nms_per_rad * wv + kp * wv / 4.0


def velocity_closed_loop(j_kgm2: float, b_nms_per_rad: float, outer_period_s: float, current_bw_hz: float,
                         kp_m: float, ki_m: float, pll_bw_hz: float | None = None,
                         tendon: TwoMass | None = None) -> control.TransferFunction:
    """Speed reference -> measured speed with motor-side gains kp_m N m s/rad, ki_m N m/rad."""
    g = velocity_plant(j_kgm2, b_nms_per_rad, outer_period_s, current_bw_hz, pll_bw_hz, tendon)
    return control.feedback(_pi(kp_m, ki_m, outer_period_s) * g, 1)


def step_metrics(t_s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """10-90 % rise time (s, linear interpolation) and overshoot (fraction)
    of a unit step response sampled at t_s (sorted)."""
    t_s, y = np.asarray(t_s, float), np.asarray(y, float)

    def cross(level: float) -> float:
        k = int(np.argmax(y >= level))
        if y[k] < level:
            return math.nan
        if k == 0:
            return float(t_s[0])
        return float(t_s[k - 1] + (level - y[k - 1]) / (y[k] - y[k - 1]) * (t_s[k] - t_s[k - 1]))

    return cross(0.9) - cross(0.1), max(0.0, float(np.max(y)) - 1.0)


def design_velocity_pi(j_kgm2: float, b_nms_per_rad: float, outer_period_s: float, current_bw_hz: float,
                       gear_ratio: float, pm_min_deg: float = 60.0, pll_bw_hz: float | None = None,
                       tendon: TwoMass | None = None, gm_min_db: float = 6.0,
                       wv_max_rad_s: float | None = None,
                       also: tuple[tuple[float, float, TwoMass | None], ...] = ()) -> VelocityDesign:
    """Velocity PI at the outer rate: plant torque -> motor speed 1/(J s + b)
    (or the two-mass ``tendon`` system, J then the rotor's) behind the
    current loop (first order at current_bw_hz), the PLL (if pll_bw_hz) and
    one outer period of delay (``velocity_plant``); J, b motor side; K_p =
    J_all w_v (J_all = J + J_load), K_i = b_all w_v + K_p w_v / 4, w_v the largest crossover with phase
    margin >= pm_min_deg and gain margin >= gm_min_db (and at most
    wv_max_rad_s), on this plant and with the same gains on every plant
    (j, b, tendon) in ``also`` (the other states of a nonlinear drive train:
    the gear loss the other way, the rotor alone in a backlash). Gains
    returned on the output side (the core's motion.vel_pi acts on output
    speed and output torque: x N^2), with the predicted 10-90 % rise time
    and overshoot of this plant."""
    if not (j_kgm2 > 0 and b_nms_per_rad >= 0 and outer_period_s > 0 and current_bw_hz > 0):
        raise ValueError("design_velocity_pi needs j_kgm2 > 0, b >= 0, outer_period_s > 0, current_bw_hz > 0")
    t = outer_period_s
    wi = 2 * math.pi * current_bw_hz
    g = velocity_plant(j_kgm2, b_nms_per_rad, t, current_bw_hz, pll_bw_hz, tendon)
    b_all = b_nms_per_rad + (tendon.b_load_nms_per_rad if tendon else 0.0)
    j_all = j_kgm2 + (tendon.j_load_kgm2 if tendon else 0.0)   # below the tendon's mode they move as one

    def loop(wv: float) -> control.TransferFunction:
        kp, ki = _vel_gains(j_all, b_all, wv)
        return _pi(kp, ki, t) * g

    others = [velocity_plant(j_o, b_o, t, current_bw_hz, pll_bw_hz, tm_o) for j_o, b_o, tm_o in also]

    def good(wv: float) -> bool:
        pm, gm_db = _margins(loop(wv))
        if not (pm >= pm_min_deg and gm_db >= gm_min_db):
            return False
        kp, ki = _vel_gains(j_all, b_all, wv)
        for g_o in others:
            pm, gm_db = _margins(_pi(kp, ki, t) * g_o)
            if not (pm >= pm_min_deg and gm_db >= gm_min_db):
                return False
        return True

    # the largest good crossover below which every grid point is good (a
    # resonance can make the margins non-monotone), then bisection
    grid = np.geomspace(1e-3 / t, min(0.9 * math.pi / t, wi, wv_max_rad_s or math.inf), 48)
    if not good(grid[0]):
        raise ValueError("no velocity crossover meets the margins")
    k = 0
    while k + 1 < len(grid) and good(grid[k + 1]):
        k += 1
    lo, hi = float(grid[k]), float(grid[min(k + 1, len(grid) - 1)])
    for _ in range(40 if k + 1 < len(grid) else 0):     # good up to the grid's end (a cap): no bisection
        mid = math.sqrt(lo * hi)
        if good(mid):
            lo = mid
        else:
            hi = mid
    wv = lo
    kp, ki = _vel_gains(j_all, b_all, wv)
    cl = control.feedback(loop(wv), 1)
    n_t = int(max(200, 40.0 / (wv * t)))
    tt, y = control.step_response(cl, T=np.arange(0, n_t) * t)
    rise, over = step_metrics(tt, y)
    n2 = gear_ratio * gear_ratio
    return VelocityDesign(kp * n2, ki * n2, wv, _margins(loop(wv))[0], rise, over)


def impedance_envelope(b_motor_nms_per_rad: float, gear_ratio: float, outer_period_s: float) -> ImpedanceEnvelope:
    """Z-width bound b > K T / 2 + |B| at the output: b_out = b_motor N^2."""
    b_out = b_motor_nms_per_rad * gear_ratio * gear_ratio
    return ImpedanceEnvelope(2.0 * b_out / outer_period_s, b_out, outer_period_s, b_out)
