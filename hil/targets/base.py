"""The bench a scenario runs on: ``Target`` (base class, protected hooks).

A scenario never knows which target runs it. The base class owns what
every bench must do the same way: clamping every command to the board's
envelope (``hil.limits``), the command/reply sampling loop (``sample``) and
the record layout; a target implements the hooks ``_open``, ``_close``,
``_command``, ``_advance``, ``_observe``, ``_enable``, ``_disable_all``,
``_write_param`` and ``_inject`` (as python-can's ``BusABC`` has
``_recv_internal``).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Union

import numpy as np

from hil.errors import HilError
from hil.limits import clamp_command

__all__ = ["MODE_CODES", "RECORD_FIELDS", "STATE_CODES", "Target"]

KINDS = ("current", "velocity", "position", "impedance", "muscle")
MODE_CODES = {"IDLE": 0, "VOLTAGE": 1, "CURRENT": 2, "VELOCITY": 3, "POSITION": 4, "IMPEDANCE": 5,
              "MUSCLE": 6}
STATE_CODES = {"BOOT": 0, "IDLE": 1, "ARMED": 2, "RUNNING": 3, "FAULT": 4}
# one row per sample: time (s, the target's clock), the reply's fields (SI,
# output side), the latest node state, whether a command was sent
RECORD_FIELDS = ("t_s", "p_out_rad", "v_out_rad_s", "tau_out_nm", "temp_c", "faults", "mode",
                 "node_state", "sent")

FieldsLike = Union[Mapping[str, float], Callable[[float], Mapping[str, float]]]


class Target:
    """One bench: simulated nodes, a remote simulator, a real CAN bus, ...

    ``board``: the ``firmware_gen.board.Board`` of the actuators under test.
    Every command is clamped to the board's limits before it leaves;
    ``notes`` collects one line per clamped field (``take_notes`` empties it).
    """

    name: ClassVar[str] = "base"

    def __init__(self, board: Any, **opts: Any) -> None:
        self.board = board
        self.opts = opts
        self.notes: list[str] = []
        self.is_open = False

    # ---- life cycle -----------------------------------------------------
    def open(self, seed: int = 0) -> None:
        """Bring the bench to a known state (nodes powered, IDLE, no fault)."""
        if self.is_open:
            self.close()
        self._open(seed)
        self.is_open = True

    def reset(self, seed: int = 0) -> None:
        """Before each scenario: nodes IDLE, no fault, no injected fault
        (``sim``: fresh simulated nodes from ``seed``)."""
        self._need_open()
        self._reset(seed)
        self.notes = []

    def close(self) -> None:
        if self.is_open:
            try:
                self._disable_all()
            finally:
                self._close()
                self.is_open = False

    def __enter__(self) -> "Target":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- public API -----------------------------------------------------
    @property
    def t_s(self) -> float:
        """The bench clock, s (simulated time on ``sim``)."""
        return self._time()

    @property
    def firmware_version(self) -> str:
        return self._firmware_version()

    def take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return notes

    def enable(self, node: int) -> None:
        self._need_open()
        self._enable(node)

    def disable_all(self) -> None:
        if self.is_open:
            self._disable_all()

    def command(self, node: int, kind: str, **fields: float) -> dict[str, Any] | None:
        """Send one setpoint of ``kind`` (current, velocity, position,
        impedance, muscle; fields SI as ``hil.limits.envelope`` names them),
        clamped to the board's limits; returns the reply as a dict
        (p_out_rad, v_out_rad_s, tau_out_nm, temp_c, faults, mode) or None."""
        self._need_open()
        if kind not in KINDS:
            raise HilError(f"unknown command kind {kind!r} (one of {', '.join(KINDS)})")
        safe, notes = clamp_command(self.board, dict(fields))
        for n in notes:
            if n not in self.notes:
                self.notes.append(n)
        return self._command(node, kind, safe)

    def advance(self, duration_s: float) -> None:
        """Let duration_s (s) of bench time pass."""
        if not math.isfinite(duration_s) or duration_s < 0:
            raise ValueError(f"duration_s = {duration_s!r}: must be finite and >= 0")
        self._advance(duration_s)

    def observe(self, node: int) -> dict[str, Any]:
        """What the node last said without a command (Heartbeat, Status):
        {node_state, faults}."""
        return self._observe(node)

    def write_param(self, node: int, name: str, value: float) -> float:
        return self._write_param(node, name, value)

    def inject(self, fault: str, **params: Any) -> None:
        """Inject a fault: ``load`` (tau_ext_nm), ``hot_start`` (temp_c), ... (per target)."""
        self._need_open()
        self._inject(fault, **params)

    def sample(self, node: int, kind: str, fields: FieldsLike | None, duration_s: float,
               period_s: float) -> dict[str, np.ndarray]:
        """Command every period_s (s) for duration_s (s) and record each reply.
        ``fields``: a mapping, a function of the time since the start (s), or
        None to send nothing (the node's Heartbeat/Status are recorded)."""
        if not period_s > 0:
            raise ValueError(f"period_s = {period_s!r}: must be > 0")
        n = int(round(duration_s / period_s))
        rows: dict[str, list[float]] = {k: [] for k in RECORD_FIELDS}
        t0 = self.t_s
        last: dict[str, Any] = {"p_out_rad": math.nan, "v_out_rad_s": math.nan, "tau_out_nm": math.nan,
                                "temp_c": math.nan, "faults": 0, "mode": "IDLE"}
        for _ in range(n):
            t = self.t_s
            sent = fields is not None
            reply = None
            if fields is not None:
                f = fields(t - t0) if callable(fields) else fields
                reply = self.command(node, kind, **f)
            if reply is not None:
                last = reply
            obs = self._observe(node)
            rows["t_s"].append(t)
            for k in ("p_out_rad", "v_out_rad_s", "tau_out_nm", "temp_c"):
                rows[k].append(float(last[k]) if reply is not None else math.nan)
            faults = int(last["faults"]) if reply is not None else int(obs.get("faults", 0))
            rows["faults"].append(faults | int(obs.get("faults", 0)))
            rows["mode"].append(MODE_CODES.get(str(last["mode"]), -1) if reply is not None else -1)
            rows["node_state"].append(STATE_CODES.get(str(obs.get("node_state")), -1))
            rows["sent"].append(1.0 if sent else 0.0)
            self.advance(period_s)
        out = {k: np.asarray(v, dtype=float) for k, v in rows.items()}
        out["faults"] = out["faults"].astype(np.int64)
        return out

    def _need_open(self) -> None:
        if not self.is_open:
            raise HilError(f"target {self.name}: not open")

    # ---- hooks ------------------------------------------------------------
    def _open(self, seed: int) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _reset(self, seed: int) -> None:
        self._disable_all()

    def _time(self) -> float:
        raise NotImplementedError

    def _firmware_version(self) -> str:
        return "unknown"

    def _enable(self, node: int) -> None:
        raise NotImplementedError

    def _disable_all(self) -> None:
        raise NotImplementedError

    def _command(self, node: int, kind: str, fields: dict[str, float]) -> dict[str, Any] | None:
        raise NotImplementedError

    def _advance(self, duration_s: float) -> None:
        raise NotImplementedError

    def _observe(self, node: int) -> dict[str, Any]:
        return {}

    def _write_param(self, node: int, name: str, value: float) -> float:
        raise NotImplementedError

    def _inject(self, fault: str, **params: Any) -> None:
        raise HilError(f"target {self.name}: fault injection {fault!r} not supported")
