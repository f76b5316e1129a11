"""Moving the rotor for the mechanical stages, inside a travel band.

Every position here is the node's own motor angle ``state.theta_m`` (rad,
motor side, multi-turn, the estimator's); the board's position limits are on
the output, p_out = theta_m / N. The band is where the tune started, +-
half the allowed travel, cut to the board's [p_out_min_rad, p_out_max_rad]
less a margin. A motion is planned to end inside the band, and checked after
it: outside (beyond a small tolerance) aborts the tune.

Stopping: the rotating current vector (I_ROTATE) cannot ramp down, and the
node keeps running an injection's references after it is done, so a fast
leg is ended by the node's own velocity loop (velocity mode, reference 0,
the gains the node has), which also holds the rotor still between
injections (a d-axis current would hold it on an undamped magnetic spring).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from actuators.tune.link import InjectResult, TuneAborted, TuneLink

__all__ = ["Band", "band_of", "Mover", "BRAKE_S"]

BRAKE_S = 0.03   # s: allowance for the velocity loop's stop (travel = speed x BRAKE_S)


@dataclass(frozen=True)
class Band:
    """Allowed motor angles [lo_m_rad, hi_m_rad] (rad, motor side, the
    estimator's theta_m) for a gear ratio ``gear_ratio``."""
    lo_m_rad: float
    hi_m_rad: float
    gear_ratio: float

    @property
    def span_m_rad(self) -> float:
        return self.hi_m_rad - self.lo_m_rad

    @property
    def center_m_rad(self) -> float:
        return 0.5 * (self.lo_m_rad + self.hi_m_rad)

    def contains(self, p_m_rad: float, tol_m_rad: float = 0.0) -> bool:
        return self.lo_m_rad - tol_m_rad <= p_m_rad <= self.hi_m_rad + tol_m_rad

    def as_dict(self) -> dict[str, float]:
        n = self.gear_ratio
        return {"lo_m_rad": self.lo_m_rad, "hi_m_rad": self.hi_m_rad, "lo_out_rad": self.lo_m_rad / n,
                "hi_out_rad": self.hi_m_rad / n}


def band_of(p_m_now_rad: float, gear_ratio: float, travel_out_rad: float, p_out_min_rad: float | None,
            p_out_max_rad: float | None, margin_frac: float = 0.05) -> Band:
    """The band around the current motor angle: +- travel_out_rad / 2 at the
    output, inside the board's output limits less margin_frac of their span.
    Raises TuneAborted when the joint starts outside the limits."""
    n = gear_ratio
    p_out = p_m_now_rad / n
    lo, hi = p_out - 0.5 * travel_out_rad, p_out + 0.5 * travel_out_rad
    if p_out_min_rad is not None and p_out_max_rad is not None:
        m = margin_frac * (p_out_max_rad - p_out_min_rad)
        if not (p_out_min_rad + m <= p_out <= p_out_max_rad - m):
            raise TuneAborted(f"the joint is at {p_out:.3f} rad, outside the board's limits "
                              f"[{p_out_min_rad:g}, {p_out_max_rad:g}] rad less a {m:.3f} rad margin: "
                              "move it inside first")
        lo, hi = max(lo, p_out_min_rad + m), min(hi, p_out_max_rad - m)
    return Band(lo * n, hi * n, n)


class Mover:
    """Motion helpers on one TuneLink inside ``band``: pole_pairs, the motor
    speed limit v_max_m_rad_s (rad/s), the still threshold still_m_rad_s."""

    def __init__(self, link: TuneLink, band: Band, pole_pairs: int, v_max_m_rad_s: float,
                 still_m_rad_s: float | None = None) -> None:
        self.link = link
        self.band = band
        self.pole_pairs = pole_pairs
        self.v_max_m_rad_s = v_max_m_rad_s
        # the StateReply speed is quantised (12 bits over the MIT range): two steps of it
        rng = getattr(link.act, "ranges", None)
        q_m = (rng.v_max_rad_s - rng.v_min_rad_s) / 4095.0 * band.gear_ratio if rng is not None else 0.0
        self.still_m_rad_s = still_m_rad_s if still_m_rad_s is not None else max(2.0 * q_m, 0.1)
        self.tol_m_rad = 0.02 * band.span_m_rad
        self.paused = False

    def pause(self) -> None:
        """Motor off while the host computes (the node's command watchdog
        would trip in a hold without commands); the next motion resumes."""
        self.link.disable()
        self.paused = True

    def resume(self) -> None:
        """Motor on again after ``pause`` (every motion here calls it)."""
        if self.paused:
            self.link.enable()
            self.paused = False

    def set_band(self, band: Band) -> None:
        self.band = band
        self.tol_m_rad = 0.02 * band.span_m_rad

    # ---- state -----------------------------------------------------------
    def p_m(self) -> float:
        """Motor angle, rad (state.theta_m)."""
        return self.link.read("state.theta_m")

    def w_m(self) -> float:
        """Motor speed, rad/s (state.omega_m, the estimator's)."""
        return self.link.read("state.omega_m")

    def check(self, what: str) -> float:
        """The motor angle; TuneAborted (after braking) when it left the band."""
        p = self.p_m()
        if not self.band.contains(p, self.tol_m_rad):
            self.brake()
            raise TuneAborted(f"{what}: the joint left the travel band: output {p / self.band.gear_ratio:.3f} rad, "
                              f"band [{self.band.lo_m_rad / self.band.gear_ratio:.3f}, "
                              f"{self.band.hi_m_rad / self.band.gear_ratio:.3f}] rad")
        return p

    def plan(self, what: str, p_end_m_rad: float) -> None:
        """Refuse a motion planned to end outside the band."""
        if not self.band.contains(p_end_m_rad):
            raise TuneAborted(f"{what}: planned end {p_end_m_rad / self.band.gear_ratio:.3f} rad (output) is "
                              "outside the travel band (internal planning error)")

    # ---- stopping ----------------------------------------------------------
    def brake(self, timeout_s: float = 1.5, still_s: float = 0.02, dt_s: float = 0.001) -> None:
        """Velocity mode at 0 until the rotor is still for still_s (the node's
        velocity gains), TuneAborted after timeout_s."""
        self.resume()
        lim = self.still_m_rad_s / self.band.gear_ratio
        t, still = 0.0, 0.0
        while t < timeout_s:
            s = self.link.act.set_velocity(0.0)
            if s.faults:
                raise TuneAborted(f"node {self.link.act.node_id}: fault {s.faults:#x} while braking")
            self.link.wait(dt_s)
            t += dt_s
            still = still + dt_s if abs(s.v_out_rad_s) <= lim else 0.0
            if still >= still_s:
                return
        raise TuneAborted(f"node {self.link.act.node_id}: the rotor did not stop within {timeout_s:g} s")

    def coast(self, t_s: float, dt_s: float = 0.005) -> None:
        """Current mode at zero for t_s: no torque, friction only."""
        self.resume()
        for _ in range(max(1, int(round(t_s / dt_s)))):
            s = self.link.act.set_current(0.0)
            if s.faults:
                raise TuneAborted(f"node {self.link.act.node_id}: fault {s.faults:#x} while coasting")
            self.link.wait(dt_s)

    # ---- moves ---------------------------------------------------------------
    def rotate(self, what: str, amp_a: float, w_m_rad_s: float, accel_m_rad_s2: float, settle_s: float,
               window_s: float, lockin_harmonic: float = 0.0, brake_after: bool = True) -> InjectResult:
        """A rotating current vector from the rotor's angle (I_ROTATE): speed
        w_m_rad_s (signed, motor), ramped at accel_m_rad_s2, settle_s then the
        window; stopped by the velocity loop. Planned to stay in the band."""
        if abs(w_m_rad_s) > self.v_max_m_rad_s:
            raise TuneAborted(f"{what}: {abs(w_m_rad_s):.1f} rad/s above the motor speed limit "
                              f"{self.v_max_m_rad_s:.1f} rad/s (internal planning error)")
        self.resume()
        p0 = self.p_m()
        w = abs(w_m_rad_s)
        t_ramp = w / accel_m_rad_s2
        # ramp, run, and what the brake adds (its response time, taken as BRAKE_S)
        travel = 0.5 * w * t_ramp + w * max(settle_s + window_s - t_ramp, 0.0) + w * BRAKE_S
        self.plan(what, p0 + math.copysign(travel, w_m_rad_s))
        p = self.pole_pairs
        res = self.link.inject({"kind": "I_ROTATE", "amp": amp_a, "omega_e_cmd": w_m_rad_s * p,
                                "accel_e": accel_m_rad_s2 * p, "theta0_e": self.link.read("state.theta_e"),
                                "settle_s": settle_s, "window_s": window_s, "lockin_harmonic": lockin_harmonic},
                               then=self.brake if brake_after else None, poll_s=0.001)
        self.check(what)
        return res

    def move_to(self, what: str, p_m_target: float, amp_a: float, w_m_rad_s: float) -> None:
        """Move slowly (synchronous rotating vector at w_m_rad_s) to p_m_target."""
        self.plan(what, p_m_target)
        d = p_m_target - self.p_m()
        if abs(d) < self.tol_m_rad:
            return
        w = min(abs(w_m_rad_s), self.v_max_m_rad_s)
        accel = max(w * w / (0.2 * abs(d)), 4.0 * w)
        t_ramp = w / accel
        window = max((abs(d) - 0.5 * w * t_ramp) / w, 0.002)
        self.rotate(what, amp_a, math.copysign(w, d), accel, t_ramp, window)
