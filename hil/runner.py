"""Run a campaign on a target and judge every check.

Each scenario starts from a known state (``Target.reset(seed + index)``),
runs its command sequence, computes its figures (``hil.metrics``) and
compares them with its limits. A scenario that raises is recorded as an
error (a failed check named ``error``), never hides the others.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal as sps

from hil import metrics
from hil.scenario import Campaign, Scenario
from hil.targets.base import STATE_CODES, Target

__all__ = ["Check", "ScenarioResult", "run_campaign", "run_scenario"]

_FAULT_TIMEOUT_BIT = 1 << 6   # MF_FAULT_CMD_TIMEOUT (actuators/core/mf_protect.h)


@dataclass
class Check:
    """One limit: ``metric`` compared with ``limit`` (``bound`` "max" or "min")."""

    metric: str
    bound: str
    limit: float
    value: float

    @property
    def passed(self) -> bool:
        if not math.isfinite(self.value) and not (self.bound == "min" and self.value == math.inf):
            return False
        return self.value <= self.limit if self.bound == "max" else self.value >= self.limit

    @property
    def name(self) -> str:
        return f"{self.metric}_{self.bound}"


@dataclass
class ScenarioResult:
    scenario: Scenario
    checks: list[Check]
    figures: dict[str, float]
    signals: dict[str, np.ndarray]       # t_s, ref, y, and the target's record
    y_name: str                          # what ``y`` is, with its unit
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    bode: dict[str, np.ndarray] | None = None
    t_step_s: float = 0.0                # when the step / fault happened (s, record time)
    sim_s: float = 0.0
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)


def _kt_out(board: Any) -> float:
    """Output torque per q-axis ampere (N m/A) as the firmware reports it (no gear losses)."""
    m = board.motor
    return 1.5 * m.pole_pairs * m.flux_wb * board.gearbox.ratio


def _cat(*parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def run_scenario(target: Target, sc: Scenario, seed: int) -> ScenarioResult:
    target.reset(seed)
    b = target.board
    pr = sc.params
    node, dt, pre, dur = pr["node"], pr["period_s"], pr["pre_s"], pr["duration_s"]
    t_start = target.t_s
    figures: dict[str, float] = {}
    bode = None
    if sc.kind == "fault_timeout":
        target.write_param(node, "heartbeat_period_s", 0.01)   # the fastest report (params table)
    target.enable(node)
    if sc.kind == "current_step":
        kt = _kt_out(b)
        a = target.sample(node, "current", {"i_q_ref_a": 0.0}, pre, dt)
        t_step = target.t_s
        c = target.sample(node, "current", {"i_q_ref_a": pr["i_q_a"]}, dur, dt)
        rec = _cat(a, c)
        y = rec["tau_out_nm"] / kt
        ref = np.where(rec["t_s"] >= t_step, pr["i_q_a"], 0.0)
        y_name = "i_q from the reported torque (A)"
        m = rec["t_s"] >= t_step
        figures = metrics.step_metrics(rec["t_s"][m], y[m], float(np.mean(y[~m][-5:])), pr["i_q_a"])
    elif sc.kind == "velocity_step":
        a = target.sample(node, "velocity", {"v_out_ref_rad_s": 0.0}, pre, dt)
        t_step = target.t_s
        c = target.sample(node, "velocity", {"v_out_ref_rad_s": pr["v_out_rad_s"]}, dur, dt)
        rec = _cat(a, c)
        y = rec["v_out_rad_s"]
        ref = np.where(rec["t_s"] >= t_step, pr["v_out_rad_s"], 0.0)
        y_name = "v_out (rad/s)"
        m = rec["t_s"] >= t_step
        figures = metrics.step_metrics(rec["t_s"][m], y[m], 0.0, pr["v_out_rad_s"])
    elif sc.kind == "position_step":
        first = target.command(node, "velocity", v_out_ref_rad_s=0.0)
        p0 = float(first["p_out_rad"]) if first else 0.0
        a = target.sample(node, "position", {"p_out_ref_rad": p0}, pre, dt)
        t_step = target.t_s
        goal = p0 + pr["step_rad"]
        lo, hi = b.limits.p_out_min_rad, b.limits.p_out_max_rad
        goal_c = min(max(goal, lo), hi)
        c = target.sample(node, "position", {"p_out_ref_rad": goal}, dur, dt)
        rec = _cat(a, c)
        y = rec["p_out_rad"]
        ref = np.where(rec["t_s"] >= t_step, goal_c, p0)
        y_name = "p_out (rad)"
        m = rec["t_s"] >= t_step
        figures = metrics.step_metrics(rec["t_s"][m], y[m], p0, goal_c)
    elif sc.kind == "impedance_step":
        first = target.command(node, "velocity", v_out_ref_rad_s=0.0)
        p0 = float(first["p_out_rad"]) if first else 0.0
        f = {"p_des_rad": p0, "kp_nm_rad": pr["kp_nm_rad"], "kd_nms_rad": pr["kd_nms_rad"]}
        a = target.sample(node, "impedance", f, pre, dt)
        t_step = target.t_s
        target.inject("load", tau_ext_nm=pr["tau_ext_nm"])
        c = target.sample(node, "impedance", f, dur, dt)
        rec = _cat(a, c)
        y = rec["p_out_rad"]
        dp = float(np.mean(c["p_out_rad"][-max(1, len(c["t_s"]) // 10):]) - np.mean(a["p_out_rad"][-5:]))
        k = abs(pr["tau_ext_nm"] / dp) if dp else math.inf
        ref = np.where(rec["t_s"] >= t_step, p0 + pr["tau_ext_nm"] / max(pr["kp_nm_rad"], 1e-9), p0)
        y_name = "p_out (rad)"
        m = rec["t_s"] >= t_step
        st = metrics.step_metrics(rec["t_s"][m], y[m], p0, p0 + dp)
        figures = {"stiffness_nm_rad": k, "stiffness_rel_error": abs(k / pr["kp_nm_rad"] - 1.0),
                   "settling_s": st["settling_s"], "deflection_rad": dp}
    elif sc.kind == "chirp":
        kind = pr["mode"]
        fname = "i_q_ref_a" if kind == "current" else "v_out_ref_rad_s"
        a = target.sample(node, kind, {fname: pr["offset"]}, pre, dt)
        t_step = target.t_s

        def u(t: float) -> dict[str, float]:
            x = sps.chirp(t, pr["f0_hz"], dur, pr["f1_hz"], method="logarithmic")
            return {fname: pr["offset"] + pr["amplitude"] * float(x)}

        c = target.sample(node, kind, u, dur, dt)
        rec = _cat(a, c)
        tt = rec["t_s"] - t_step
        ref = np.where(tt >= 0, pr["offset"] + pr["amplitude"] * sps.chirp(np.maximum(tt, 0), pr["f0_hz"], dur,
                                                                             pr["f1_hz"], method="logarithmic"),
                       pr["offset"])
        y = rec["tau_out_nm"] / _kt_out(b) if kind == "current" else rec["v_out_rad_s"]
        y_name = "i_q from the reported torque (A)" if kind == "current" else "v_out (rad/s)"
        m = tt >= 0
        # the reply to a command carries the state before that command acts:
        # compare each command with the next reply
        uu, yy = ref[m][:-1], y[m][1:]
        f_hz, h, coh = metrics.frequency_response(uu, yy, 1.0 / dt, nperseg=min(len(uu), 512))
        bw = metrics.bandwidth_hz(f_hz, h, pr["f0_hz"], pr["f1_hz"])
        figures = {"bandwidth_hz": bw}
        sel = (f_hz >= pr["f0_hz"]) & (f_hz <= pr["f1_hz"])
        bode = {"f_hz": f_hz[sel], "mag_db": 20 * np.log10(np.abs(h[sel])),
                "phase_deg": np.degrees(np.unwrap(np.angle(h[sel]))), "coherence": coh[sel]}
    elif sc.kind == "fault_timeout":
        a = target.sample(node, "velocity", {"v_out_ref_rad_s": pr["v_out_rad_s"]}, pr["hold_s"], dt)
        t_step = float(a["t_s"][-1])          # the last command
        c = target.sample(node, "velocity", None, dur, dt)
        rec = _cat(a, c)
        y = rec["node_state"]
        ref = np.where(rec["t_s"] > t_step, STATE_CODES["FAULT"], STATE_CODES["RUNNING"]).astype(float)
        y_name = "node state (1 IDLE, 2 ARMED, 3 RUNNING, 4 FAULT)"
        hit = np.nonzero((c["node_state"] == STATE_CODES["FAULT"]) | (c["faults"] & _FAULT_TIMEOUT_BIT > 0))[0]
        t_rep = float(c["t_s"][hit[0]]) if len(hit) else math.inf
        figures = {"reaction_s": t_rep - t_step - b.protect.cmd_timeout_s,
                   "report_after_last_cmd_s": t_rep - t_step}
    else:  # pragma: no cover - the loader refuses other kinds
        raise ValueError(sc.kind)
    target.disable_all()
    checks = [Check(key[:-4], key[-3:], lim, float(figures.get(key[:-4], math.nan)))
              for key, lim in sc.limits.items()]
    rec = dict(rec)
    rec["ref"] = np.asarray(ref, float)
    rec["y"] = np.asarray(y, float)
    return ScenarioResult(sc, checks, figures, rec, y_name, notes=list(sc.notes) + target.take_notes(),
                          bode=bode, t_step_s=t_step, sim_s=target.t_s - t_start)


def run_campaign(campaign: Campaign, target: Target,
                 progress: Callable[[Scenario], None] | None = None) -> list[ScenarioResult]:
    """Run every scenario (the target must be open); one result each."""
    results = []
    for sc in campaign.scenarios:
        if progress:
            progress(sc)
        w0 = time.perf_counter()
        try:
            r = run_scenario(target, sc, campaign.seed + sc.index)
        except Exception as e:  # one broken scenario must not hide the others
            target.disable_all()
            r = ScenarioResult(sc, [], {}, {}, "", notes=list(sc.notes), error=f"{type(e).__name__}: {e}")
        r.wall_s = time.perf_counter() - w0
        results.append(r)
    return results
