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
from hil.scenario import FAULTS, Campaign, Scenario
from hil.targets.base import STATE_CODES, Target, TargetLost

__all__ = ["Check", "ScenarioResult", "activation", "muscle_equilibrium", "overtemp_trip_s", "judge",
           "run_campaign", "run_scenario"]



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
    skipped: str | None = None           # why the target could not run it (not a failure)
    t_from_s: float = math.nan           # faults: when the fault bit is due (s, record time)

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)


def _kt_out(board: Any) -> float:
    """Output torque per q-axis ampere (N m/A) as the firmware reports it (no gear losses)."""
    m = board.motor
    return 1.5 * m.pole_pairs * m.flux_wb * board.gearbox.ratio


def _cat(*parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _hold_p0(target: Target, node: int) -> float:
    first = target.command(node, "velocity", v_out_ref_rad_s=0.0)
    return float(first["p_out_rad"]) if first else 0.0


REST_V_RAD_S = 0.05     # |v_out| below this over a whole chunk: at rest
REST_CHUNK_S = 0.02
REST_TIMEOUT_S = 2.0


def _come_to_rest(target: Target, node: int) -> str | None:
    """Hold v_out = 0 until the joint is at rest (a real bench cannot be
    reset: the load may still be moving from the scenario before); a note
    if it is not within REST_TIMEOUT_S."""
    for _ in range(int(round(REST_TIMEOUT_S / REST_CHUNK_S))):
        seg = target.segment(node, "velocity", {"v_out_ref_rad_s": 0.0}, REST_CHUNK_S, 0.001)
        v = seg["v_out_rad_s"][np.isfinite(seg["v_out_rad_s"])]
        if len(v) and float(np.max(np.abs(v))) < REST_V_RAD_S:
            return None
    return f"node {node} not at rest (|v_out| >= {REST_V_RAD_S} rad/s) after {REST_TIMEOUT_S} s; started anyway"


def _chirp(t: np.ndarray, f0: float, f1: float, dur: float) -> np.ndarray:
    return sps.chirp(t, f0, dur, f1, method="logarithmic")


def _first(t: np.ndarray, mask: np.ndarray) -> float:
    hit = np.nonzero(mask)[0]
    return float(t[hit[0]]) if len(hit) else math.inf


def overtemp_trip_s(board: Any, heat_w: float, temp0_c: float | None = None) -> float:
    """Time (s) for the winding to reach the board's temp_max_c with heat_w (W)
    into the winding node of the two-node thermal network (winding - housing
    - ambient), from equilibrium at ambient: the analytic step response."""
    th, pr = board.thermal, board.protect
    cw, ch = th.c_winding_j_per_k, th.c_housing_j_per_k
    rwh, rha = th.r_winding_housing_k_per_w, th.r_housing_ambient_k_per_w
    a = np.array([[-1 / (cw * rwh), 1 / (cw * rwh)], [1 / (ch * rwh), -1 / (ch * rwh) - 1 / (ch * rha)]])
    bvec = np.array([heat_w / cw, 0.0])
    x_ss = -np.linalg.solve(a, bvec)                      # rise at t -> inf
    lam, vec = np.linalg.eig(a)
    coef = np.linalg.solve(vec, -x_ss)                    # x(t) = x_ss + V exp(lam t) coef
    rise = pr.temp_max_c - (temp0_c if temp0_c is not None else th.temp_ambient_c)
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


def muscle_equilibrium(board: Any, a_flex: np.ndarray, a_ext: np.ndarray) -> np.ndarray:
    """Output angle (rad) where the Hill-type pair's static torques cancel
    (force-length and passive terms, f_V = 1; actuators/core/mf_muscle.h),
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
    """First-order muscle activation da/dt = (u - a)/tau (tau_act rising, tau_deact falling)."""
    a = np.empty(len(u))
    x = a0
    for k, uk in enumerate(u):
        tau = tau_act if uk > x else tau_deact
        x = uk + (x - uk) * math.exp(-dt / tau)
        a[k] = x
    return a


def _tail_mean(x: np.ndarray, frac: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.mean(x[-max(1, int(len(x) * frac)):])) if len(x) else math.nan


def judge(sc: Scenario, board: Any, sig: dict[str, np.ndarray], t_step: float,
          t_from: float = math.nan) -> tuple[dict[str, float], dict[str, np.ndarray] | None]:
    """The figures (and Bode data) of a scenario from its recorded signals
    (``t_s``, ``y``, ``ref``, ``seg`` = segment number of each row, the
    target's record): the same code judges a run and its replay."""
    pr = sc.params
    t, y, ref, seg = sig["t_s"], sig["y"], sig["ref"], sig["seg"]
    figures: dict[str, float] = {}
    bode = None
    if sc.kind in ("current_step", "velocity_step", "position_step"):
        m, pre = seg == 1, seg == 0
        y0 = {"current_step": _tail_mean(y[pre], 0.0), "velocity_step": 0.0,
              "position_step": float(ref[0])}[sc.kind]
        if sc.kind == "current_step":
            y0 = float(np.mean(y[pre][-5:]))
        figures = metrics.step_metrics(t[m], y[m], y0, float(ref[-1]))
    elif sc.kind == "impedance_step":
        dp = _tail_mean(y[seg == 1], 0.1) - float(np.mean(y[seg == 0][-5:]))
        k = abs(pr["tau_ext_nm"] / dp) if dp else math.inf
        m = seg == 1
        p0 = float(ref[0])
        st = metrics.step_metrics(t[m], y[m], p0, p0 + dp) if dp else {"settling_s": math.inf}
        figures = {"stiffness_nm_rad": k, "stiffness_rel_error": abs(k / pr["kp_nm_rad"] - 1.0),
                   "settling_s": st["settling_s"], "deflection_rad": dp}
    elif sc.kind in ("stiffness_sweep", "damping_sweep"):
        stiff = sc.kind == "stiffness_sweep"
        values = pr["kp_values"] if stiff else pr["kd_values"]
        b_visc = board.load.b_nms_per_rad + board.motor.b_nms_per_rad * board.gearbox.ratio ** 2
        errs, settle = [], []
        for i, v in enumerate(values):
            a_m, c_m = seg == 2 * i, seg == 2 * i + 1
            if stiff:
                before = float(np.mean(y[a_m][-5:]))
                dp = _tail_mean(y[c_m], 0.1) - before
                k = abs(pr["tau_ext_nm"] / dp) if dp else math.inf
                figures[f"stiffness_nm_rad@{v:g}"] = k
                errs.append(abs(k / v - 1.0))
                settle.append(metrics.step_metrics(t[c_m], y[c_m], before, before + dp)["settling_s"]
                              if dp else math.inf)
            else:
                vel = _tail_mean(y[c_m], 0.25)
                bm = abs(pr["tau_ext_nm"] / vel) - b_visc if vel else math.inf
                figures[f"damping_nms_rad@{v:g}"] = bm
                errs.append(abs(bm / v - 1.0))
        if stiff:
            figures.update({"stiffness_rel_error": max(errs), "settling_s": max(settle)})
        else:
            figures["damping_rel_error"] = max(errs)
    elif sc.kind == "muscle_trajectory":
        err = (y - ref)[seg == 1]
        err = err[np.isfinite(err)]
        figures = {"tracking_rms_rad": float(np.sqrt(np.mean(err ** 2))) if len(err) else math.inf,
                   "tracking_max_rad": float(np.max(np.abs(err))) if len(err) else math.inf}
    elif sc.kind == "chirp":
        m = seg == 1
        # the reply to a command carries the state before that command acts:
        # compare each command with the next reply
        uu, yy = ref[m][:-1], y[m][1:]
        dt = pr["period_s"]
        f_hz, h, coh = metrics.frequency_response(uu, yy, 1.0 / dt, nperseg=min(len(uu), 512))
        figures = {"bandwidth_hz": metrics.bandwidth_hz(f_hz, h, pr["f0_hz"], pr["f1_hz"])}
        sel = (f_hz >= pr["f0_hz"]) & (f_hz <= pr["f1_hz"])
        bode = {"f_hz": f_hz[sel], "mag_db": 20 * np.log10(np.abs(h[sel])),
                "phase_deg": np.degrees(np.unwrap(np.angle(h[sel]))), "coherence": coh[sel]}
    elif sc.kind in ("fault_timeout", "fault"):
        fault = "timeout" if sc.kind == "fault_timeout" else pr["fault"]
        bit = FAULTS[fault]
        c = seg == 1
        faults = sig["faults"].astype(np.int64)
        t_rep = _first(t[c], (faults[c] & bit) > 0)
        seen = int(np.bitwise_or.reduce(faults[c])) if np.any(c) else 0
        figures = {"reaction_s": abs(t_rep - t_from) if fault == "overtemp" else t_rep - t_from,
                   "report_after_inject_s": t_rep - t_step, "expected_bit": float(bit),
                   "faults_seen": float(seen), "t_expected_s": t_from - t_step}
        if sc.kind == "fault_timeout":
            figures["report_after_last_cmd_s"] = t_rep - t_step
    return figures, bode


def run_scenario(target: Target, sc: Scenario, seed: int) -> ScenarioResult:
    b = target.board
    pr = sc.params
    node, dt, pre, dur = pr["node"], pr["period_s"], pr["pre_s"], pr["duration_s"]
    if dt < target.min_period_s * (1 - 1e-9):
        return ScenarioResult(sc, [], {}, {}, "", notes=list(sc.notes), skipped=(
            f"needs samples every {dt:g} s; target {target.name} keeps at most one every "
            f"{target.min_period_s:g} s (command + reply)"))
    need = {"fault": {"overcurrent": "i_sense_offset_a", "overtemp": "heat_w", "encoder": "encoder_stuck",
                      "frame_loss": "frame_loss"}.get(str(pr.get("fault")), ""),
            "impedance_step": "load", "stiffness_sweep": "load", "damping_sweep": "load"}.get(sc.kind, "")
    if need and need not in target.injections:
        return ScenarioResult(sc, [], {}, {}, "", notes=list(sc.notes), skipped=(
            f"needs fault injection {need!r}, which target {target.name} cannot do"))
    target.reset(seed)
    t_start = target.t_s
    t_from = math.nan
    if sc.kind in ("fault_timeout", "fault"):
        target.write_param(node, "heartbeat_period_s", 0.01)   # the fastest report (params table)
    target.enable(node)
    rest = _come_to_rest(target, node)
    if rest:
        target.notes.append(rest)
    if sc.kind in ("current_step", "velocity_step", "position_step"):
        kind, fname, size = {"current_step": ("current", "i_q_ref_a", pr.get("i_q_a")),
                             "velocity_step": ("velocity", "v_out_ref_rad_s", pr.get("v_out_rad_s")),
                             "position_step": ("position", "p_out_ref_rad", pr.get("step_rad"))}[sc.kind]
        start = _hold_p0(target, node) if sc.kind == "position_step" else 0.0
        goal = start + size
        if sc.kind == "position_step":
            goal = min(max(goal, b.limits.p_out_min_rad), b.limits.p_out_max_rad)
        parts = [target.segment(node, kind, {fname: start}, pre, dt)]
        t_step = target.t_s
        parts.append(target.segment(node, kind, {fname: start + size}, dur, dt))
        refs = [start, goal]
        y_name = {"current": "i_q from the reported torque (A)", "velocity": "v_out (rad/s)",
                  "position": "p_out (rad)"}[kind]
        ykey = {"current": "tau_out_nm", "velocity": "v_out_rad_s", "position": "p_out_rad"}[kind]
        scale = 1.0 / _kt_out(b) if kind == "current" else 1.0
    elif sc.kind == "impedance_step":
        p0 = _hold_p0(target, node)
        f = {"p_des_rad": p0, "kp_nm_rad": pr["kp_nm_rad"], "kd_nms_rad": pr["kd_nms_rad"]}
        parts = [target.segment(node, "impedance", f, pre, dt)]
        t_step = target.t_s
        target.inject("load", tau_ext_nm=pr["tau_ext_nm"])
        parts.append(target.segment(node, "impedance", f, dur, dt))
        refs = [p0, p0 + pr["tau_ext_nm"] / max(pr["kp_nm_rad"], 1e-9)]
        y_name, ykey, scale = "p_out (rad)", "p_out_rad", 1.0
    elif sc.kind in ("stiffness_sweep", "damping_sweep"):
        stiff = sc.kind == "stiffness_sweep"
        b_visc = b.load.b_nms_per_rad + b.motor.b_nms_per_rad * b.gearbox.ratio ** 2
        parts, refs = [], []
        p0 = _hold_p0(target, node)
        t_step = target.t_s
        for v in (pr["kp_values"] if stiff else pr["kd_values"]):
            target.inject("load", tau_ext_nm=0.0)
            f = ({"p_des_rad": p0, "kp_nm_rad": v, "kd_nms_rad": pr["kd_nms_rad"]} if stiff else
                 {"p_des_rad": p0, "kp_nm_rad": 0.0, "kd_nms_rad": v})
            parts.append(target.segment(node, "impedance", f, pre, dt))
            target.inject("load", tau_ext_nm=pr["tau_ext_nm"])
            parts.append(target.segment(node, "impedance", f, dur, dt))
            target.inject("load", tau_ext_nm=0.0)
            refs += [p0, p0 + pr["tau_ext_nm"] / v] if stiff else [0.0, pr["tau_ext_nm"] / (v + b_visc)]
            if not stiff:
                p0 = _hold_p0(target, node)
        y_name = ("p_out (rad); command p0 + tau_ext / kp" if stiff else
                  "v_out (rad/s); expected tau_ext / (kd + b)")
        ykey, scale = ("p_out_rad" if stiff else "v_out_rad_s"), 1.0
    elif sc.kind == "muscle_trajectory":
        n = int(round(dur / dt))
        tt = np.arange(n) * dt
        u_f = np.clip(pr["u_flex"] + pr["amplitude"] * np.sin(2 * np.pi * pr["f_hz"] * tt), 0.0, 1.0)
        parts = [target.segment(node, "muscle", {"u_flex": pr["u_flex"], "u_ext": pr["u_ext"]}, pre, dt)]
        t_step = target.t_s
        parts.append(target.segment(node, "muscle", {"u_flex": u_f, "u_ext": pr["u_ext"]}, dur, dt))
        mu = b.muscle
        uu_f = np.concatenate([np.full(len(parts[0]["t_s"]), pr["u_flex"]), u_f])
        uu_e = np.full(len(uu_f), pr["u_ext"])
        refs = [muscle_equilibrium(b, activation(uu_f, dt, mu.tau_act_s, mu.tau_deact_s),
                                   activation(uu_e, dt, mu.tau_act_s, mu.tau_deact_s))]
        y_name, ykey, scale = "p_out (rad); command: the muscle pair's static equilibrium", "p_out_rad", 1.0
    elif sc.kind == "chirp":
        kind = pr["mode"]
        fname = "i_q_ref_a" if kind == "current" else "v_out_ref_rad_s"
        parts = [target.segment(node, kind, {fname: pr["offset"]}, pre, dt)]
        t_step = target.t_s
        n = int(round(dur / dt))
        u = pr["offset"] + pr["amplitude"] * _chirp(np.arange(n) * dt, pr["f0_hz"], pr["f1_hz"], dur)
        parts.append(target.segment(node, kind, {fname: u}, dur, dt))
        refs = [pr["offset"], u]
        y_name = "i_q from the reported torque (A)" if kind == "current" else "v_out (rad/s)"
        ykey = "tau_out_nm" if kind == "current" else "v_out_rad_s"
        scale = 1.0 / _kt_out(b) if kind == "current" else 1.0
    elif sc.kind in ("fault_timeout", "fault"):
        fault = "timeout" if sc.kind == "fault_timeout" else pr["fault"]
        v_cmd = {"v_out_ref_rad_s": pr["v_out_rad_s"]}
        parts = [target.segment(node, "velocity", v_cmd, pr["hold_s"], dt)]
        a = parts[0]
        t_step = float(a["t_s"][-1]) if fault == "timeout" and len(a["t_s"]) else target.t_s
        t_from = t_step
        if fault == "timeout":
            parts.append(target.segment(node, "velocity", None, dur, dt))
            t_from += b.protect.cmd_timeout_s
        else:
            if fault == "frame_loss":
                target.inject("frame_loss", to_node=pr["loss"])
                t_from += b.protect.cmd_timeout_s
            elif fault == "overcurrent":
                target.inject("i_sense_offset_a", i_sense_offset_a=pr["i_offset_a"])
            elif fault == "encoder":
                target.inject("encoder_stuck", encoder_stuck=True)
                t_from += b.protect.enc_stuck_s
            elif fault == "overtemp":
                temps = a["temp_c"][np.isfinite(a["temp_c"])]
                target.inject("heat_w", heat_w=pr["heat_w"])
                t_from += overtemp_trip_s(b, pr["heat_w"], float(temps[-1]) if len(temps) else None)
            parts.append(target.segment(node, "velocity", v_cmd, dur, dt))
            if fault == "frame_loss":
                target.inject("frame_loss", to_node=0.0)
        refs = [float(STATE_CODES["RUNNING"]), float(STATE_CODES["FAULT"])]
        y_name, ykey, scale = "node state (1 IDLE, 2 ARMED, 3 RUNNING, 4 FAULT)", "node_state", 1.0
    else:  # pragma: no cover - the loader refuses other kinds
        raise ValueError(sc.kind)
    target.disable_all()
    for i, part in enumerate(parts):
        part["seg"] = np.full(len(part["t_s"]), float(i))
    rec = _cat(*parts)
    if len(refs) == 1:
        ref = np.asarray(refs[0], float)
    else:
        ref = np.concatenate([np.broadcast_to(np.asarray(r, float), (len(part["t_s"]),))
                              for r, part in zip(refs, parts)])
    rec["ref"] = ref
    y = rec[ykey] * scale
    notes = list(sc.notes) + target.take_notes()
    gap = ~np.isfinite(y) & (rec["seg"] > 0 if sc.kind not in ("fault", "fault_timeout") else False)
    if sc.kind not in ("fault", "fault_timeout") and np.any(gap) and np.any(np.isfinite(y)):
        ok = np.isfinite(y)
        notes.append(f"{int(gap.sum())} of {len(y)} samples not kept by target {target.name} "
                     f"(link too slow for period_s {dt:g} s): interpolated in y")
        y = np.interp(rec["t_s"], rec["t_s"][ok], y[ok])
    rec["y"] = y
    figures, bode = judge(sc, b, rec, t_step, t_from)
    checks = [Check(key[:-4], key[-3:], lim, float(figures.get(key[:-4], math.nan)))
              for key, lim in sc.limits.items()]
    return ScenarioResult(sc, checks, figures, rec, y_name, notes=notes,
                          bode=bode, t_step_s=t_step, sim_s=target.t_s - t_start, t_from_s=t_from)


def run_campaign(campaign: Campaign, target: Target,
                 progress: Callable[[Scenario], None] | None = None) -> list[ScenarioResult]:
    """Run every scenario (the target must be open); one result each. A
    target that stops answering ends the run: every node is disabled, the
    scenario records where it stopped and the rest are marked not run."""
    results: list[ScenarioResult] = []
    lost: str | None = None
    for sc in campaign.scenarios:
        if progress:
            progress(sc)
        if lost is not None:
            results.append(ScenarioResult(sc, [], {}, {}, "", notes=list(sc.notes),
                                          error=f"not run: {lost}"))
            continue
        w0 = time.perf_counter()
        try:
            r = run_scenario(target, sc, campaign.seed + sc.index)
        except TargetLost as e:
            _safe_disable(target)
            lost = f"target {target.name} stopped answering in {sc.label}: {e}"
            r = ScenarioResult(sc, [], {}, {}, "", notes=list(sc.notes), error=lost)
        except Exception as e:  # one broken scenario must not hide the others
            _safe_disable(target)
            r = ScenarioResult(sc, [], {}, {}, "", notes=list(sc.notes), error=f"{type(e).__name__}: {e}")
        r.wall_s = time.perf_counter() - w0
        results.append(r)
    return results


def _safe_disable(target: Target) -> None:
    try:
        target.disable_all()
    except Exception:  # the bench is gone: nothing more to send
        pass
