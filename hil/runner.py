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
from hil.physics import (activation, backdriven_speed, damping_from_speed, load_for_speed, muscle_equilibrium,
                         muscle_response, overtemp_trip_s, stiffness_band)
from hil.scenario import FAULTS, Campaign, Scenario
from hil.targets.base import STATE_CODES, Target, TargetLost

__all__ = ["Check", "ScenarioResult", "activation", "judge", "load_for_speed", "muscle_equilibrium",
           "overtemp_trip_s", "run_campaign", "run_scenario"]



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


HOME_TOL_RAD = 0.01     # |p_out - home| below this: at home


def _go_home(target: Target, node: int, homes: dict[int, float]) -> str | None:
    """Bring the joint back to where it rested before the campaign's first
    scenario (a bench is not reset between scenarios: the last one may have
    left it anywhere in its travel), by the position loop, then to rest; a
    note if it does not get there. The first call records the home."""
    p = _hold_p0(target, node)
    home = homes.setdefault(node, p)
    if abs(p - home) <= HOME_TOL_RAD:
        return None
    for _ in range(int(round(REST_TIMEOUT_S / REST_CHUNK_S))):
        seg = target.segment(node, "position", {"p_out_ref_rad": home}, REST_CHUNK_S, 0.001)
        pp, v = seg["p_out_rad"][np.isfinite(seg["p_out_rad"])], seg["v_out_rad_s"][np.isfinite(seg["v_out_rad_s"])]
        if len(pp) and abs(float(pp[-1]) - home) <= HOME_TOL_RAD and float(np.max(np.abs(v))) < REST_V_RAD_S:
            return _come_to_rest(target, node)
    return f"node {node} not back at its home {home:.3f} rad after {REST_TIMEOUT_S} s; started anyway"


def _chirp(t: np.ndarray, f0: float, f1: float, dur: float) -> np.ndarray:
    return sps.chirp(t, f0, dur, f1, method="logarithmic")


def _first(t: np.ndarray, mask: np.ndarray) -> float:
    hit = np.nonzero(mask)[0]
    return float(t[hit[0]]) if len(hit) else math.inf


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
    elif sc.kind in ("impedance_step", "stiffness_sweep"):
        # per kp: an unloaded hold, then the load; the deflection between their tails
        values = [pr["kp_nm_rad"]] if sc.kind == "impedance_step" else pr["kp_values"]
        tau = sig["tau_out_nm"]
        rel, ctrl, settle = [], [], []
        for i, kp in enumerate(values):
            a_m, c_m = seg == 2 * i, seg == 2 * i + 1
            before = _tail_mean(y[a_m], 0.1)
            dp = _tail_mean(y[c_m], 0.1) - before
            k = abs(pr["tau_ext_nm"] / dp) if dp else math.inf
            lo, hi = stiffness_band(board, kp, pr["tau_ext_nm"])
            dtau = _tail_mean(tau[c_m], 0.1) - _tail_mean(tau[a_m], 0.1)
            k_ctrl = abs(dtau / dp) if dp else math.inf
            rel.append(max(0.0, lo - k, k - hi) / kp)
            ctrl.append(abs(k_ctrl / kp - 1.0))
            settle.append(metrics.step_metrics(t[c_m], y[c_m], before, before + dp)["settling_s"]
                          if dp and c_m.sum() >= 3 else math.inf)
            suffix = "" if sc.kind == "impedance_step" else f"@{kp:g}"
            figures[f"stiffness_nm_rad{suffix}"] = k
            figures[f"stiffness_ctrl_nm_rad{suffix}"] = k_ctrl
            figures[f"deflection_rad{suffix}"] = dp
        figures.update({"stiffness_rel_error": max(rel), "stiffness_ctrl_rel_error": max(ctrl),
                        "settling_s": max(settle)})
    elif sc.kind == "damping_sweep":
        errs = []
        for i, kd in enumerate(pr["kd_values"]):
            c_m = seg == 2 * i + 1
            vel = _tail_mean(y[c_m], 0.25)
            kd_meas = damping_from_speed(board, vel, _sweep_load(pr["tau_ext_nm"], i))
            figures[f"damping_nms_rad@{kd:g}"] = kd_meas
            figures[f"speed_rad_s@{kd:g}"] = vel
            errs.append(abs(kd_meas / kd - 1.0))
        figures["damping_rel_error"] = max(errs)
    elif sc.kind == "muscle_trajectory":
        # the samples the target kept (a slow link's gaps are interpolated in y: not judged)
        kept = np.isfinite(sig["p_out_rad"]) if "p_out_rad" in sig else np.ones(len(y), bool)
        err = (y - ref)[(seg == 1) & kept]
        err = err[np.isfinite(err)]
        figures = {"tracking_rms_rad": float(np.sqrt(np.mean(err ** 2))) if len(err) else math.inf,
                   "tracking_max_rad": float(np.max(np.abs(err))) if len(err) else math.inf}
        eq = sig.get("p_static_rad")
        if eq is not None:
            lag = (y - eq)[(seg == 1) & np.isfinite(y)]
            figures["static_lag_rms_rad"] = float(np.sqrt(np.mean(lag ** 2))) if len(lag) else math.inf
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
        hit = np.nonzero((faults[c] & bit) > 0)[0]
        first = int(faults[c][hit[0]]) if len(hit) else 0
        figures = {"reaction_s": abs(t_rep - t_from) if fault == "overtemp" else t_rep - t_from,
                   "report_after_inject_s": t_rep - t_step, "expected_bit": float(bit),
                   "faults_seen": float(seen), "faults_first_report": float(first),
                   "t_expected_s": t_from - t_step}
        if sc.kind == "fault_timeout":
            figures["report_after_last_cmd_s"] = t_rep - t_step
    return figures, bode


def _as_sent(u: np.ndarray, sent: np.ndarray) -> np.ndarray:
    """The command each row acts under: the last one sent (a slow link
    sends fewer than scheduled; the node holds the last it got)."""
    idx = np.where(sent > 0, np.arange(len(u)), 0)
    return u[np.maximum.accumulate(idx)] if len(u) else u


def _sweep_load(tau_ext_nm: float, i: int) -> float:
    """The load of a damping sweep's i-th value: alternating in sign, so the
    joint goes back and forth and stays inside its travel."""
    return tau_ext_nm if i % 2 == 0 else -tau_ext_nm


def _temp_start(board: Any, pr: dict[str, Any]) -> float:
    t = pr.get("temp_start_c")
    return board.thermal.temp_ambient_c if t is None else float(t)


def _injections_needed(sc: Scenario) -> set[str]:
    """The target injections a scenario needs (skipped on a target without them)."""
    pr = sc.params
    need: set[str] = set()
    if sc.kind in ("impedance_step", "stiffness_sweep", "damping_sweep") or pr.get("locked") \
            or pr.get("drive") == "load":
        need.add("load")
    if sc.kind == "fault":
        need.add({"overcurrent": "i_sense_offset_a", "overtemp": "heat_w", "encoder": "encoder_stuck",
                  "frame_loss": "frame_loss", "timeout": ""}[pr["fault"]])
        if pr["fault"] == "overtemp" and pr.get("temp_start_c") is not None:
            need.add("hot_start")
    need.discard("")
    return need


def run_scenario(target: Target, sc: Scenario, seed: int,
                 homes: dict[int, float] | None = None) -> ScenarioResult:
    """Run one scenario from a known state: reset (``sim``: fresh nodes),
    enabled, at rest and, with ``homes`` ({node: p_out_rad}, filled by the
    first scenario of a campaign), back at the campaign's home position."""
    b = target.board
    pr = sc.params
    node, dt, pre, dur = pr["node"], pr["period_s"], pr["pre_s"], pr["duration_s"]
    if dt < target.min_period_s * (1 - 1e-9):
        return ScenarioResult(sc, [], {}, {}, "", notes=list(sc.notes), skipped=(
            f"needs samples every {dt:g} s; target {target.name} keeps at most one every "
            f"{target.min_period_s:g} s (command + reply)"))
    need = sorted(_injections_needed(sc) - set(target.injections))
    if need:
        return ScenarioResult(sc, [], {}, {}, "", notes=list(sc.notes), skipped=(
            f"needs fault injection {', '.join(repr(n) for n in need)}, which target {target.name} cannot do"))
    target.reset(seed)
    if sc.kind == "fault" and pr["fault"] == "overtemp" and _temp_start(b, pr) != b.thermal.temp_ambient_c:
        # the bench's thermal chamber: the actuator soaked at temp_start_c before it moves
        target.inject("hot_start", temp_c=_temp_start(b, pr))
    t_start = target.t_s
    t_from = math.nan
    extra: dict[str, np.ndarray] = {}
    if sc.kind in ("fault_timeout", "fault"):
        target.write_param(node, "heartbeat_period_s", 0.01)   # the fastest report (params table)
    target.enable(node)
    rest = _come_to_rest(target, node)
    if rest:
        target.notes.append(rest)
    elif homes is not None:
        home = _go_home(target, node, homes)
        if home:
            target.notes.append(home)
    if sc.kind in ("current_step", "velocity_step", "position_step"):
        kind, fname, size = {"current_step": ("current", "i_q_ref_a", pr.get("i_q_a")),
                             "velocity_step": ("velocity", "v_out_ref_rad_s", pr.get("v_out_rad_s")),
                             "position_step": ("position", "p_out_ref_rad", pr.get("step_rad"))}[sc.kind]
        if pr.get("axis") == "d":
            fname = "i_d_ref_a"
        start = _hold_p0(target, node) if sc.kind == "position_step" else 0.0
        goal = start + size
        if sc.kind == "position_step":
            goal = min(max(goal, b.limits.p_out_min_rad), b.limits.p_out_max_rad)
        parts = [target.segment(node, kind, {fname: start}, pre, dt)]
        t_step = target.t_s
        if pr.get("locked"):
            # the bench holds the output: a load torque equal and opposite to the step's
            target.inject("load", tau_ext_nm=-_kt_out(b) * size)
        parts.append(target.segment(node, kind, {fname: start + size}, dur, dt))
        if pr.get("locked"):
            target.inject("load", tau_ext_nm=0.0)
        refs = [start, goal]
        y_name = {"current": "i_q from the reported torque (A)", "velocity": "v_out (rad/s)",
                  "position": "p_out (rad)"}[kind]
        ykey = {"current": "tau_out_nm", "velocity": "v_out_rad_s", "position": "p_out_rad"}[kind]
        scale = 1.0 / _kt_out(b) if kind == "current" else 1.0
        if pr.get("axis") == "d":
            y_name, ykey, scale = "i_d as the target records it (A)", "i_d_a", 1.0
    elif sc.kind in ("impedance_step", "stiffness_sweep"):
        values = [pr["kp_nm_rad"]] if sc.kind == "impedance_step" else pr["kp_values"]
        hold = pr["pre_s"] if sc.kind == "impedance_step" else dur
        p0 = _hold_p0(target, node)
        t_step = math.nan
        parts, refs = [], []
        for kp in values:
            f = {"p_des_rad": p0, "kp_nm_rad": kp, "kd_nms_rad": pr["kd_nms_rad"]}
            target.inject("load", tau_ext_nm=0.0)
            parts.append(target.segment(node, "impedance", f, hold, dt))
            if math.isnan(t_step):
                t_step = target.t_s
            target.inject("load", tau_ext_nm=pr["tau_ext_nm"])
            parts.append(target.segment(node, "impedance", f, dur, dt))
            # approached from rest, the load back-drives the gear: it stops at the band's high end
            refs += [p0, p0 + pr["tau_ext_nm"] / stiffness_band(b, kp, pr["tau_ext_nm"])[1]]
        target.inject("load", tau_ext_nm=0.0)
        y_name = "p_out (rad); expected: where the load back-driving the gear from rest stops"
        ykey, scale = "p_out_rad", 1.0
    elif sc.kind == "damping_sweep":
        p0 = _hold_p0(target, node)
        t_step = target.t_s
        parts, refs = [], []
        for i, kd in enumerate(pr["kd_values"]):
            f = {"p_des_rad": p0, "kp_nm_rad": 0.0, "kd_nms_rad": kd}
            target.inject("load", tau_ext_nm=0.0)
            parts.append(target.segment(node, "impedance", f, pr["pre_s"], dt))
            tau = _sweep_load(pr["tau_ext_nm"], i)
            target.inject("load", tau_ext_nm=tau)
            parts.append(target.segment(node, "impedance", f, dur, dt))
            refs += [0.0, backdriven_speed(b, kd, tau)]
        target.inject("load", tau_ext_nm=0.0)
        y_name = "v_out (rad/s); expected: the load back-driving the damped joint through the gear"
        ykey, scale = "v_out_rad_s", 1.0
    elif sc.kind == "muscle_trajectory":
        tt = np.arange(int(round(dur / dt))) * dt
        u_f = np.clip(pr["u_flex"] + pr["amplitude"] * np.sin(2 * np.pi * pr["f_hz"] * tt), 0.0, 1.0)
        parts = [target.segment(node, "muscle", {"u_flex": pr["u_flex"], "u_ext": pr["u_ext"]}, pre, dt)]
        t_step = target.t_s
        parts.append(target.segment(node, "muscle", {"u_flex": u_f, "u_ext": pr["u_ext"]}, dur, dt))
        mu = b.muscle
        uu_f = np.concatenate([np.full(len(parts[0]["t_s"]), pr["u_flex"]), u_f[:len(parts[1]["t_s"])]])
        uu_f = _as_sent(uu_f, np.concatenate([parts[0]["sent"], parts[1]["sent"]]))
        uu_e = np.full(len(uu_f), pr["u_ext"])
        first = parts[0] if len(parts[0]["t_s"]) else parts[1]
        p_start = float(first["p_out_rad"][0]) if len(first["t_s"]) else 0.0
        v_start = float(first["v_out_rad_s"][0]) if len(first["t_s"]) else 0.0
        if not math.isfinite(p_start):
            p_start, v_start = 0.0, 0.0
        # each row lasts until the next one starts by the bench clock (a bus target's
        # segments leave gaps between them); the last one period_s
        t_rows = np.concatenate([parts[0]["t_s"], parts[1]["t_s"]])
        dts = np.append(np.diff(t_rows), dt) if len(t_rows) else np.zeros(0)
        refs = [muscle_response(b, uu_f, uu_e, dts, p_start, v_start if math.isfinite(v_start) else 0.0)]
        static = muscle_equilibrium(b, activation(uu_f, dt, mu.tau_act_s, mu.tau_deact_s, pr["u_flex"]),
                                    activation(uu_e, dt, mu.tau_act_s, mu.tau_deact_s, pr["u_ext"]))
        extra["p_static_rad"] = static
        y_name = "p_out (rad); command: the Hill-type pair of mf_muscle.h driving the board's joint"
        ykey, scale = "p_out_rad", 1.0
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
        if pr.get("drive") == "load":
            # the load turns the joint; the motor only damps (kp 0, kd): a back-driven joint
            kind = "impedance"
            cmd = {"p_des_rad": _hold_p0(target, node), "kp_nm_rad": 0.0, "kd_nms_rad": pr["kd_nms_rad"]}
            target.inject("load", tau_ext_nm=load_for_speed(b, pr["kd_nms_rad"], pr["v_out_rad_s"]))
        else:
            kind, cmd = "velocity", {"v_out_ref_rad_s": pr["v_out_rad_s"]}
        parts = [target.segment(node, kind, cmd, pr["hold_s"], dt)]
        a = parts[0]
        t_step = float(a["t_s"][-1]) if fault == "timeout" and len(a["t_s"]) else target.t_s
        t_from = t_step
        if fault == "timeout":
            parts.append(target.segment(node, kind, None, dur, dt))
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
                target.inject("heat_w", heat_w=pr["heat_w"])
                t_from += overtemp_trip_s(b, pr["heat_w"], _temp_start(b, pr))
            parts.append(target.segment(node, kind, cmd, dur, dt))
            if fault == "frame_loss":
                target.inject("frame_loss", to_node=0.0)
        if pr.get("drive") == "load":
            target.inject("load", tau_ext_nm=0.0)
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
    for k, v in extra.items():
        rec[k] = np.asarray(v, float)
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
    homes: dict[int, float] = {}
    for sc in campaign.scenarios:
        if progress:
            progress(sc)
        if lost is not None:
            results.append(ScenarioResult(sc, [], {}, {}, "", notes=list(sc.notes),
                                          error=f"not run: {lost}"))
            continue
        w0 = time.perf_counter()
        try:
            r = run_scenario(target, sc, campaign.seed + sc.index, homes)
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
