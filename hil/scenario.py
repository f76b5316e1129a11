"""Campaign files (TOML): a list of scenarios with pass/fail limits.

    [campaign]
    name = "acceptance arm_48v"
    board = "arm_48v"                 # a name in boards/ or a path
    seed = 1

    [[scenario]]
    name = "current step"
    kind = "current_step"
    i_q_a = 7.5                       # step size, A
    [scenario.limits]
    rise_s_max = 0.0005

``load_campaign(path)`` validates everything before any motion and raises
``ScenarioError`` naming the file, the scenario (index and name) and the
field. Commanded values beyond the board's limits are clamped (and noted).
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.errors import ScenarioError
from hil.limits import clamp_command, envelope

__all__ = ["FAULTS", "KINDS", "Campaign", "Scenario", "load_campaign", "parse_campaign"]

BOARDS_DIR = Path(__file__).resolve().parent.parent / "boards"

# kind -> (required fields, optional fields with defaults, metrics it can be judged on)
_COMMON = {"duration_s": None, "period_s": 0.001, "pre_s": 0.01, "node": 0.0}
KINDS: dict[str, tuple[tuple[str, ...], dict[str, Any], tuple[str, ...]]] = {
    "current_step": ((), {"i_q_a": None, "i_d_a": None, "locked": False}, ("rise_s", "overshoot", "settling_s", "steady_state_error")),
    "velocity_step": (("v_out_rad_s",), {}, ("rise_s", "overshoot", "settling_s", "steady_state_error")),
    "position_step": (("step_rad",), {}, ("rise_s", "overshoot", "settling_s", "steady_state_error")),
    "impedance_step": (("kp_nm_rad", "kd_nms_rad", "tau_ext_nm"), {},
                       ("stiffness_nm_rad", "stiffness_rel_error", "stiffness_ctrl_rel_error", "settling_s")),
    "chirp": (("mode", "amplitude", "f0_hz", "f1_hz"), {"offset": 0.0}, ("bandwidth_hz",)),
    "fault_timeout": (("v_out_rad_s",), {"hold_s": 0.05}, ("reaction_s",)),
    "stiffness_sweep": (("kp_values", "kd_nms_rad", "tau_ext_nm"), {},
                        ("stiffness_rel_error", "stiffness_ctrl_rel_error", "settling_s")),
    "damping_sweep": (("kd_values", "tau_ext_nm"), {}, ("damping_rel_error",)),
    "muscle_trajectory": (("u_flex", "u_ext", "amplitude", "f_hz"), {},
                          ("tracking_rms_rad", "tracking_max_rad", "static_lag_rms_rad")),
    "fault": (("fault",), {"v_out_rad_s": 0.5, "hold_s": 0.05, "i_offset_a": 0.0, "heat_w": 0.0, "loss": 1.0,
                           "drive": "velocity", "kd_nms_rad": 0.0, "temp_start_c": None},
              ("reaction_s",)),
}
# fault kinds -> the fault bit (MF_FAULT_*, actuators/core/mf_protect.h) each must end in
FAULTS = {"timeout": 1 << 6, "frame_loss": 1 << 6, "overcurrent": 1 << 0, "overtemp": 1 << 4,
          "encoder": 1 << 5}
_LISTS = {"kp_values": "kp_nm_rad", "kd_values": "kd_nms_rad"}
# fields that are numbers, with their allowed range
_RANGES: dict[str, tuple[float, float]] = {
    "duration_s": (1e-4, 60.0), "period_s": (1e-5, 0.1), "pre_s": (0.0, 10.0), "node": (0, 127),
    "i_q_a": (-1e3, 1e3), "i_d_a": (-1e3, 1e3), "v_out_rad_s": (-1e3, 1e3), "step_rad": (-100.0, 100.0),
    "kp_nm_rad": (0.0, 1e4), "kd_nms_rad": (0.0, 1e3), "tau_ext_nm": (-1e4, 1e4),
    "amplitude": (0.0, 1e3), "f0_hz": (0.01, 1e5), "f1_hz": (0.01, 1e5), "offset": (-1e3, 1e3),
    "hold_s": (0.0, 10.0), "kp_nm_rad_item": (0.0, 1e4), "kd_nms_rad_item": (0.0, 1e3),
    "u_flex": (0.0, 1.0), "u_ext": (0.0, 1.0), "f_hz": (0.001, 100.0), "i_offset_a": (-1e3, 1e3),
    "heat_w": (0.0, 1e5), "loss": (0.0, 1.0), "temp_start_c": (-40.0, 200.0),
}
_BOOLS = ("locked",)
_DRIVES = ("velocity", "load")
_CHIRP_MODES = {"current": "i_q_ref_a", "velocity": "v_out_ref_rad_s"}


@dataclass
class Scenario:
    """One validated scenario: ``params`` (SI, clamped), ``limits``
    {metric_max|metric_min: value}, ``notes`` (clamping)."""

    index: int
    name: str
    kind: str
    params: dict[str, Any]
    limits: dict[str, float]
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"scenario {self.index} ({self.name!r})"


@dataclass
class Campaign:
    name: str
    board: Any
    seed: int
    scenarios: list[Scenario]
    path: str
    text: str


def _board(path: str, spec: Any) -> Any:
    from firmware_gen.board import load_board
    from firmware_gen.errors import BoardFileError

    if not isinstance(spec, str) or not spec:
        raise ScenarioError(path, "must be a board name or a board file path", "[campaign]", "board")
    candidates = [Path(spec), Path(path).parent / spec, BOARDS_DIR / spec, BOARDS_DIR / f"{spec}.toml"]
    for c in candidates:
        if c.is_file():
            try:
                return load_board(c)
            except BoardFileError as e:
                raise ScenarioError(path, f"board file refused: {e}", "[campaign]", "board") from e
    raise ScenarioError(path, f"no board {spec!r} (a name in {BOARDS_DIR} or a path)", "[campaign]", "board")


def _number(path: str, where: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(path, f"must be a finite number, got {value!r}", where, name)
    lo, hi = _RANGES.get(name, (-math.inf, math.inf))
    if not lo <= value <= hi:
        raise ScenarioError(path, f"= {value!r} outside [{lo:g}, {hi:g}]", where, name)
    return float(value)


def _clamp_motion(board: Any, kind: str, params: dict[str, Any]) -> list[str]:
    """Loads that would drive the joint beyond the board's speed or torque
    limits, clamped (one note each): a damping sweep's load at its smallest
    kd, a load-driven fault's speed."""
    from hil.physics import backdriven_speed, load_for_speed

    notes: list[str] = []
    v_max, tau_max = board.limits.v_out_max_rad_s, board.limits.tau_out_max_nm
    if kind == "damping_sweep":
        kd = min(params["kd_values"])
        if abs(backdriven_speed(board, kd, params["tau_ext_nm"])) > v_max:
            t = load_for_speed(board, kd, math.copysign(v_max, params["tau_ext_nm"]))
            notes.append(f"tau_ext_nm = {params['tau_ext_nm']:g} clamped to {t:.4g}: at kd {kd:g} it would drive "
                         f"the joint beyond the board's v_out_max_rad_s {v_max:g}")
            params["tau_ext_nm"] = t
    if kind == "fault" and params.get("drive") == "load":
        t = load_for_speed(board, params["kd_nms_rad"], params["v_out_rad_s"])
        if abs(t) > tau_max:
            v = backdriven_speed(board, params["kd_nms_rad"], math.copysign(tau_max, t))
            notes.append(f"v_out_rad_s = {params['v_out_rad_s']:g} clamped to {v:.4g}: its load would exceed the "
                         f"board's tau_out_max_nm {tau_max:g}")
            params["v_out_rad_s"] = v
    return notes


def _scenario(path: str, k: int, raw: Any, board: Any) -> Scenario:
    where = f"scenario {k}"
    if not isinstance(raw, dict):
        raise ScenarioError(path, "must be a table", where)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ScenarioError(path, "every scenario needs a name (a string)", where, "name")
    where = f"scenario {k} ({name!r})"
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ScenarioError(path, f"unknown kind {kind!r} (one of {', '.join(KINDS)})", where, "kind")
    required, optional, metrics = KINDS[kind]
    allowed = {"name", "kind", "limits", *required, *optional, *_COMMON}
    for key in raw:
        if key not in allowed:
            raise ScenarioError(path, f"unknown field for kind {kind} (allowed: "
                                      f"{', '.join(sorted(allowed - {'name', 'kind'}))})", where, key)
    params: dict[str, Any] = {}
    for key in (*required, "duration_s"):
        if key not in raw:
            raise ScenarioError(path, f"missing (kind {kind} needs {', '.join((*required, 'duration_s'))})",
                                where, key)
    for key, default in {**_COMMON, **optional}.items():
        params[key] = raw.get(key, default)
    for key in required:
        params[key] = raw[key]
    for key, value in params.items():
        if key == "mode":
            if value not in _CHIRP_MODES:
                raise ScenarioError(path, f"= {value!r}: one of {', '.join(_CHIRP_MODES)}", where, key)
        elif key == "fault":
            if value not in FAULTS:
                raise ScenarioError(path, f"= {value!r}: one of {', '.join(FAULTS)}", where, key)
        elif key == "drive":
            if value not in _DRIVES:
                raise ScenarioError(path, f"= {value!r}: one of {', '.join(_DRIVES)}", where, key)
        elif key in _BOOLS:
            if not isinstance(value, bool):
                raise ScenarioError(path, f"must be true or false, got {value!r}", where, key)
        elif value is None and key in ("temp_start_c", "i_q_a", "i_d_a"):
            pass
        elif key in _LISTS:
            if not isinstance(value, list) or not value:
                raise ScenarioError(path, f"must be a non-empty list of numbers, got {value!r}", where, key)
            items = [_number(path, where, f"{key}[{i}]", v) for i, v in enumerate(value)]
            for i, v in enumerate(items):
                lo, hi = _RANGES[_LISTS[key] + "_item"]
                if not lo < v <= hi:
                    raise ScenarioError(path, f"= {v!r} outside ({lo:g}, {hi:g}]", where, f"{key}[{i}]")
            params[key] = items
        else:
            params[key] = _number(path, where, key, value)
    params["node"] = int(params["node"]) or board.can.node_id_min
    lo, hi = board.can.node_id_min, board.can.node_id_max
    if not lo <= params["node"] <= hi:
        raise ScenarioError(path, f"= {params['node']} outside the board's node range {lo}-{hi}", where, "node")
    if kind == "chirp" and not params["f0_hz"] < params["f1_hz"] < 0.5 / params["period_s"]:
        raise ScenarioError(path, f"need f0_hz < f1_hz < the Nyquist frequency {0.5 / params['period_s']:g} Hz "
                                  f"of period_s", where, "f1_hz")
    if kind == "current_step":
        given = [k for k in ("i_q_a", "i_d_a") if params[k] is not None]
        if len(given) != 1:
            raise ScenarioError(path, "give the step size as exactly one of i_q_a (torque axis) or i_d_a "
                                      "(flux axis: no torque, the rotor stays still)", where, "i_q_a")
        params["axis"] = "d" if given == ["i_d_a"] else "q"
        if params["axis"] == "d":
            if params["locked"]:
                raise ScenarioError(path, "a d-axis step makes no torque: nothing to hold", where, "locked")
            params["i_q_a"] = params.pop("i_d_a")      # the step size, on the d axis
        else:
            params.pop("i_d_a")
    if params.get("drive") == "load" and not params["kd_nms_rad"] > 0:
        raise ScenarioError(path, "drive = \"load\" needs kd_nms_rad > 0 (the damping that sets the speed)",
                            where, "kd_nms_rad")
    pwm_s = 1.0 / board.pwm.pwm_hz
    if params["period_s"] < pwm_s * (1 - 1e-9):
        raise ScenarioError(path, f"= {params['period_s']:g} s shorter than the PWM period {pwm_s:g} s",
                            where, "period_s")
    # clamp what will be commanded to the board's envelope (and say so)
    notes: list[str] = []
    probe = {"current_step": {"i_q_ref_a" if params.get("axis") != "d" else "i_d_ref_a": params.get("i_q_a")},
             "velocity_step": {"v_out_ref_rad_s": params.get("v_out_rad_s")},
             "fault_timeout": {"v_out_ref_rad_s": params.get("v_out_rad_s")},
             "fault": {"v_out_ref_rad_s": params.get("v_out_rad_s"), "kd_nms_rad": params.get("kd_nms_rad")},
             "impedance_step": {"kp_nm_rad": params.get("kp_nm_rad"), "kd_nms_rad": params.get("kd_nms_rad")},
             "chirp": {_CHIRP_MODES.get(str(params.get("mode")), ""): (abs(params.get("offset", 0.0))
                                                                        + params.get("amplitude", 0.0))},
             }.get(kind, {})
    back = {"current_step": "i_q_a", "velocity_step": "v_out_rad_s", "fault_timeout": "v_out_rad_s",
            "fault": "v_out_rad_s"}
    clamped, notes = clamp_command(board, probe)
    for fname, value in clamped.items():
        if kind == "fault" and fname == "kd_nms_rad":
            params["kd_nms_rad"] = value
        elif kind in back:
            params[back[kind]] = value
        elif kind == "impedance_step":
            params[fname] = value
        elif kind == "chirp" and value != probe[fname]:
            params["amplitude"] = max(value - abs(params["offset"]), 0.0)
    for key, fname in _LISTS.items():
        if key in params:
            hi = envelope(board)[fname][1]
            for i, v in enumerate(params[key]):
                if v > hi:
                    notes.append(f"{key}[{i}] = {v:g} clamped to {hi:g} (board {board.name} limits [0, {hi:g}])")
            params[key] = [min(v, hi) for v in params[key]]
    if kind in ("impedance_step", "stiffness_sweep", "damping_sweep") and \
            abs(params["tau_ext_nm"]) > board.limits.tau_out_max_nm:
        t = math.copysign(board.limits.tau_out_max_nm, params["tau_ext_nm"])
        notes.append(f"tau_ext_nm = {params['tau_ext_nm']:g} clamped to {t:g} (board tau_out_max_nm)")
        params["tau_ext_nm"] = t
    notes += _clamp_motion(board, kind, params)
    limits_raw = raw.get("limits", {})
    if not isinstance(limits_raw, dict):
        raise ScenarioError(path, "must be a table", where, "limits")
    limits: dict[str, float] = {}
    for key, value in limits_raw.items():
        metric = key[:-4] if key.endswith(("_max", "_min")) else ""
        if metric not in metrics:
            raise ScenarioError(path, f"unknown limit for kind {kind} (allowed: "
                                      f"{', '.join(m + s for m in metrics for s in ('_max', '_min'))})",
                                where, f"limits.{key}")
        limits[key] = _number(path, where, f"limits.{key}", value)
    if not limits:
        raise ScenarioError(path, "a scenario needs at least one limit to judge", where, "limits")
    return Scenario(k, name, kind, params, limits, notes)


def parse_campaign(text: str, path: str = "<campaign>", board: Any = None) -> Campaign:
    """Validate a campaign's TOML text (``board``: override the file's board)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(path, f"not valid TOML: {e}") from e
    head = doc.get("campaign")
    if not isinstance(head, dict):
        raise ScenarioError(path, "missing [campaign] table (name, board)", "[campaign]")
    name = head.get("name")
    if not isinstance(name, str) or not name:
        raise ScenarioError(path, "must be a non-empty string", "[campaign]", "name")
    seed = head.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError(path, f"must be an integer >= 0, got {seed!r}", "[campaign]", "seed")
    if board is None:
        board = _board(path, head.get("board"))
    elif not hasattr(board, "limits"):
        board = _board(path, str(board))
    extra = set(doc) - {"campaign", "scenario"}
    if extra:
        raise ScenarioError(path, f"unknown top-level table(s) {sorted(extra)}")
    raw = doc.get("scenario")
    if not isinstance(raw, list) or not raw:
        raise ScenarioError(path, "no [[scenario]] tables", "[[scenario]]")
    scenarios = [_scenario(path, k, s, board) for k, s in enumerate(raw)]
    names = [s.name for s in scenarios]
    for s in scenarios:
        if names.count(s.name) > 1:
            raise ScenarioError(path, "two scenarios share this name", s.label, "name")
    return Campaign(name, board, seed, scenarios, path, text)


def load_campaign(path: str | Path, board: Any = None) -> Campaign:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ScenarioError(str(p), f"cannot read: {e.strerror}") from e
    return parse_campaign(text, str(p), board)
