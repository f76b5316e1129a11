"""The bench a scenario runs on: ``Target`` (base class, protected hooks).

A scenario never knows which target runs it. The base class owns what
every bench must do the same way: clamping every command to the board's
envelope (``hil.limits``), the record layout and the **segment**: a whole
pre-computed command schedule (one value per sample, ``period_s`` apart)
handed to the target at once. The default ``_segment`` streams it in real
time, one command and one reply per sample (bus targets); the ``sim``
target runs it in big C chunks. A target implements the hooks ``_open``,
``_close``, ``_command``, ``_advance``, ``_observe``, ``_enable``,
``_disable_all``, ``_write_param`` and ``_inject`` (as python-can's
``BusABC`` has ``_recv_internal``), and may override ``_segment``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Union

import numpy as np

from hil.errors import HilError
from hil.limits import clamp_arrays, clamp_command

__all__ = ["MODE_CODES", "RECORD_FIELDS", "STATE_CODES", "Target", "TargetLost", "empty_record"]

KINDS = ("current", "velocity", "position", "impedance", "muscle")
MODE_CODES = {"IDLE": 0, "VOLTAGE": 1, "CURRENT": 2, "VELOCITY": 3, "POSITION": 4, "IMPEDANCE": 5,
              "MUSCLE": 6}
STATE_CODES = {"BOOT": 0, "IDLE": 1, "ARMED": 2, "RUNNING": 3, "FAULT": 4}
# one row per sample: time (s, the target's clock), the reply's fields (SI,
# output side), the latest node state, whether a command was sent; i_d_a:
# the measured d-axis current where the target can record it (sim), else NaN
RECORD_FIELDS = ("t_s", "p_out_rad", "v_out_rad_s", "tau_out_nm", "temp_c", "faults", "mode",
                 "node_state", "sent", "i_d_a")

FieldsLike = Union[Mapping[str, float], Callable[[float], Mapping[str, float]]]
# a schedule: one array of n values (or a scalar) per command field
ScheduleLike = Mapping[str, Any]


class TargetLost(HilError):
    """The target stopped answering mid-run (``where`` says when and what)."""

    def __init__(self, message: str, t_s: float = math.nan) -> None:
        super().__init__(message)
        self.t_s = t_s


def empty_record(n: int) -> dict[str, np.ndarray]:
    """A record of n rows: NaN signals, faults 0, mode/node_state -1, nothing sent."""
    out = {k: np.full(n, np.nan) for k in RECORD_FIELDS}
    out["faults"] = np.zeros(n, np.int64)
    out["mode"] = np.full(n, -1.0)
    out["node_state"] = np.full(n, -1.0)
    out["sent"] = np.zeros(n)
    return out


class Target:
    """One bench: simulated nodes, a remote simulator, a real CAN bus, ...

    ``board``: the ``firmware_gen.board.Board`` of the actuators under test.
    Every command is clamped to the board's limits before it leaves;
    ``notes`` collects one line per clamped field (``take_notes`` empties it).
    """

    name: ClassVar[str] = "base"
    # the shortest sample period the target can keep, s (a bus target: one
    # command and one reply per sample); scenarios that need less are skipped
    min_period_s: float = 1e-3
    # a constant command is re-sent at least this often (the CAN rate), s
    cmd_period_s: float = 1e-3
    # fault injections (``inject``) this target can do
    injections: ClassVar[frozenset[str]] = frozenset()

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

    def segment(self, node: int, kind: str | None, fields: ScheduleLike | None, duration_s: float,
                period_s: float) -> dict[str, np.ndarray]:
        """Run a pre-computed schedule: n = round(duration_s / period_s)
        samples period_s (s) apart; ``fields``: {field: array of n values or
        a scalar} (SI, ``hil.limits.envelope`` names) commanded as ``kind``,
        clamped to the board's envelope first; None sends nothing (the
        node's Heartbeat/Status are recorded). Returns one row per sample
        (``RECORD_FIELDS``; the signals are what the node reports)."""
        self._need_open()
        if not period_s > 0 or not math.isfinite(period_s):
            raise ValueError(f"period_s = {period_s!r}: must be finite and > 0")
        if period_s < self.min_period_s * (1 - 1e-9):
            raise HilError(f"target {self.name}: period_s {period_s:g} s is shorter than its "
                           f"{self.min_period_s:g} s")
        n = int(round(duration_s / period_s))
        if n <= 0:
            return empty_record(0)
        sched = None
        if fields is not None:
            if kind not in KINDS:
                raise HilError(f"unknown command kind {kind!r} (one of {', '.join(KINDS)})")
            arrs = {k: np.broadcast_to(np.asarray(v, float), (n,)) for k, v in fields.items()}
            sched, notes = clamp_arrays(self.board, arrs)
            for note in notes:
                if note not in self.notes:
                    self.notes.append(note)
        return self._segment(node, kind, sched, n, float(period_s))

    def sample(self, node: int, kind: str, fields: FieldsLike | None, duration_s: float,
               period_s: float) -> dict[str, np.ndarray]:
        """``segment`` with fields a mapping, a function of the time since the
        start (s, evaluated on the sample grid first), or None."""
        n = int(round(duration_s / period_s))
        if callable(fields):
            rows = [dict(fields(k * period_s)) for k in range(n)]
            fields = {f: np.array([r[f] for r in rows]) for f in (rows[0] if rows else {})}
        return self.segment(node, kind, fields, duration_s, period_s)

    def _segment(self, node: int, kind: str | None, fields: dict[str, np.ndarray] | None, n: int,
                 period_s: float) -> dict[str, np.ndarray]:
        """Default: stream the schedule by the bench clock: row k belongs to
        t0 + k period_s; each pass sends the command of the row whose time
        has come, records its reply and ``advance``s to the next row. Rows a
        slow link could not keep stay NaN (``sent`` 0); the segment always
        lasts n period_s of bench time."""
        rec = empty_record(n)
        t0 = self.t_s
        rec["t_s"][:] = t0 + np.arange(n) * period_s
        last_faults = 0
        k = 0
        while k < n:
            reply = None
            if fields is not None:
                reply = self._command(node, kind or "", {f: float(a[k]) for f, a in fields.items()})
                rec["sent"][k] = 1.0
            obs = self._observe(node)
            if reply is not None:
                for f in ("p_out_rad", "v_out_rad_s", "tau_out_nm", "temp_c"):
                    rec[f][k] = float(reply[f])
                last_faults = int(reply["faults"])
                rec["mode"][k] = MODE_CODES.get(str(reply["mode"]), -1)
            rec["faults"][k] = (last_faults if reply is not None else 0) | int(obs.get("faults", 0))
            rec["node_state"][k] = STATE_CODES.get(str(obs.get("node_state")), -1)
            nxt = max(k + 1, int((self.t_s - t0) / period_s + 1e-9) + 1)   # skip rows already past
            self.advance(max(0.0, t0 + min(nxt, n) * period_s - self.t_s))
            k = nxt
        return rec

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
