"""The drive train as the motor feels it, with the gearbox's loss by drive
direction (the plant's model, ``actuators/plant/mf_plant.c``, ``GearboxParams``).

Motor side (output quantities times 1/N^2), speed w of the rotor:

    j_free w' = tau - b_free w - tau_c sig(w / w_c) - tau_0 - G(tau_t)

tau_t is the torque the gearbox passes to what is behind it, the load's
inertial and damping torque tau_t = j_geared w' + b_geared w (the load moves
with the rotor: the tendon quasi-static, well below its mode), and the loss
makes the motor give G = tau_t / eta while it drives (tau_t w >= 0) and get
G = eta tau_t while the load drives it (tau_t w < 0), both faded in with
|sig(w / w_c)| as the plant does. Which of the two holds is the sign of
w (j_geared F + j_free b_geared w), F = tau - b_free w - tau_c sig - tau_0:
both candidates give it the same sign, so the regime is always defined.

What sits where depends on the coupling (the plant's physics): behind a
series-elastic tendon the load's inertia and damper are both behind the loss
(j_geared = J_load / N^2); with a rigid load the plant lumps the load's
inertia into the rotor's (j_free) and only its damper is behind the loss.

The identified totals stay what they were: j_total = j_free + j_geared (the
lossless inertia), b_total = b_free + b_geared / eta (the damping while the
motor drives, as at a constant speed). The split takes the load from the
board file (its [load] through its [gearbox], ``MechPrior.drivetrain``), a
prior: the error of j_total from a wrong prior is the prior's error times at
most 1 - eta (the coast) or 1 / eta - 1 (the drive).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["DriveTrain", "smooth_sign"]


def smooth_sign(x: np.ndarray | float) -> np.ndarray:
    """The plant's smooth sign of x = w / w_c: x (15 - 10 x^2 + 3 x^4) / 8, +-1 beyond |x| = 1."""
    x = np.clip(x, -1.0, 1.0)
    return x * (15.0 - 10.0 * x * x + 3.0 * x ** 4) / 8.0


@dataclass(frozen=True)
class DriveTrain:
    """Motor-side drive train: j_free_kgm2 kg m^2 (ahead of the gear loss),
    j_geared_kgm2 kg m^2 (behind it), b_free_nms_per_rad and
    b_geared_nms_per_rad N m s/rad (the same), efficiency eta in (0, 1]."""
    j_free_kgm2: float
    j_geared_kgm2: float
    b_free_nms_per_rad: float
    b_geared_nms_per_rad: float
    efficiency: float

    @property
    def j_total_kgm2(self) -> float:
        return self.j_free_kgm2 + self.j_geared_kgm2

    @property
    def b_total_nms_per_rad(self) -> float:
        return self.b_free_nms_per_rad + self.b_geared_nms_per_rad / self.efficiency

    @property
    def lossy(self) -> bool:
        return self.efficiency < 1.0

    def regime(self, g: float) -> tuple[float, float]:
        """(J, b) the motor feels with the loss factor g (1 / eta: it drives; eta: it is driven)."""
        return self.j_free_kgm2 + g * self.j_geared_kgm2, self.b_free_nms_per_rad + g * self.b_geared_nms_per_rad

    @property
    def driving(self) -> tuple[float, float]:
        """(J, b) while the motor drives the load."""
        return self.regime(1.0 / self.efficiency)

    @property
    def driven(self) -> tuple[float, float]:
        """(J, b) while the load drives the motor."""
        return self.regime(self.efficiency)

    def accel(self, force: np.ndarray, w: np.ndarray, w_c: float) -> np.ndarray:
        """w' (rad/s^2) for the free-side net torque force = tau - b_free w -
        tau_c sig - tau_0 (N m) at speed w (rad/s); arrays broadcast."""
        jf, jg, bg, eta = self.j_free_kgm2, self.j_geared_kgm2, self.b_geared_nms_per_rad, self.efficiency
        if not self.lossy:
            return (force - bg * w) / (jf + jg)
        fade = np.abs(smooth_sign(w / w_c))
        drive = w * (jg * force + jf * bg * w) >= 0.0
        g = np.where(drive, 1.0 + (1.0 / eta - 1.0) * fade, 1.0 - (1.0 - eta) * fade)
        return (force - g * bg * w) / (jf + g * jg)

    def coast_switch_rad_s(self, c_nm: float) -> float:
        """A coast at |w| (no motor torque, constant drag c_nm = tau_c +- tau_0 > 0):
        the motor drives above this speed, the load drives it below (0: the
        motor drives all the way, inf: it is driven all the way)."""
        jf, jg, bf, bg = self.j_free_kgm2, self.j_geared_kgm2, self.b_free_nms_per_rad, self.b_geared_nms_per_rad
        if not self.lossy or jg <= 0.0:
            return 0.0
        d = jf * bg - jg * bf
        return jg * c_nm / d if d > 0.0 else math.inf

    def coast_position(self, t: np.ndarray, u0: float, c_nm: float) -> np.ndarray:
        """Progress x(t) (rad) of a coast from speed u0 > 0 under the drag c_nm:
        the closed form J x'' = -b x' - c of each regime, joined where the
        speed passes ``coast_switch_rad_s`` (above |w| = w_c, where the loss
        is whole)."""
        w_s = self.coast_switch_rad_s(c_nm)
        if u0 <= w_s:
            j, b = self.driven
            return _coast(t, u0, j, b, c_nm)
        j1, b1 = self.driving
        if w_s <= 0.0:
            return _coast(t, u0, j1, b1, c_nm)
        t1 = _coast_time(u0, w_s, j1, b1, c_nm)
        x1 = _coast(np.minimum(t, t1), u0, j1, b1, c_nm)
        j2, b2 = self.driven
        return x1 + _coast(np.maximum(t - t1, 0.0), w_s, j2, b2, c_nm)


def _coast(t: np.ndarray, u0: float, j: float, b: float, c: float) -> np.ndarray:
    """(u0 + c/b)(J/b)(1 - exp(-b t / J)) - (c/b) t."""
    if b <= 1e-15:
        return u0 * t - 0.5 * c / j * t * t
    return (u0 + c / b) * (j / b) * (-np.expm1(-b * t / j)) - (c / b) * t


def _coast_time(u0: float, u1: float, j: float, b: float, c: float) -> float:
    """Time from speed u0 down to u1 (0 <= u1 <= u0) under J u' = -b u - c."""
    if b <= 1e-15:
        return j * (u0 - u1) / c
    return (j / b) * math.log((u0 + c / b) / (u1 + c / b))
