"""Host API: drive actuators over a python-can bus that the caller opened.

``Actuator(bus, node_id, board=...)`` sends one command and waits for the
node's answer (StateReply to a setpoint, Heartbeat to a Control, ParamReply
to a parameter request); ``ActuatorGroup(bus, actuators)`` runs one
synchronous command/reply cycle over many nodes (classic frames, or CAN FD
GroupCommand frames when every node has a group slot). Frames are built by
``actuators.commands`` (no I/O): ``Actuator.make_*`` return them for a cycle
of your own.

Replies from other nodes received while waiting are not lost: one
``BusDispatcher`` per bus owns the receive loop and keeps them until their
waiter asks (no threads). Timeouts raise ``ActuatorTimeout`` naming the
node(s) and the message. Units: SI, output side of the gearbox.

    import can
    from actuators.client import Actuator
    with can.Bus(interface="socketcan", channel="can0") as bus:
        leg = Actuator(bus, 5, board="boards/hip_knee_48v.toml")
        leg.enable()
        state = leg.set_impedance(0.3, 0.0, 40.0, 1.0, 0.0)
"""
from __future__ import annotations

import math
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Union, cast

import can

from actuators import commands as cmd
from actuators import protocol as p
from actuators.commands import GroupState, Heartbeat, ParamReply, State, Status
from actuators.protocol import ImpedanceRanges, ImpedanceSetpoint, ProtocolError

if TYPE_CHECKING:
    from firmware_gen.board import Board

__all__ = [
    "Actuator",
    "ActuatorError",
    "ActuatorGroup",
    "ActuatorTimeout",
    "BusDispatcher",
    "ControlRefused",
    "Heartbeat",
    "ParamError",
    "ParamReply",
    "State",
    "Status",
]

SETPOINT_TIMEOUT_S = 0.01
PARAM_TIMEOUT_S = 0.1
CONTROL_TIMEOUT_S = 0.1
SAVE_TIMEOUT_S = 2.0
STATUS_TIMEOUT_S = 0.35        # > 3 heartbeat periods of 0.1 s
REFUSAL_GRACE_S = 0.02         # after a Heartbeat without our control_seq
# node states in which mf_app refuses a Control (actuators/core/mf_app.h)
_REFUSED_IN = {"ENABLE": ("BOOT", "FAULT"), "DISABLE": ("BOOT",), "CLEAR_FAULTS": ("BOOT",)}

BoardLike = Union["Board", str, "os.PathLike[str]", ImpedanceRanges, None]
SetpointLike = Union[ImpedanceSetpoint, Sequence[float]]

_FN = {name: p.function_code(name) for name in
       ("StateReply", "GroupState", "Heartbeat", "ParamReply", "Status", "GroupCommand")}
# ImpedanceRanges fields as parameter-table names (mf_params.c), for Actuator.load_ranges.
_RANGE_PARAMS = ("p_min_rad", "p_max_rad", "v_min_rad_s", "v_max_rad_s", "kp_max_nm_rad",
                 "kd_max_nms_rad", "tau_min_nm", "tau_max_nm")


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class ActuatorError(RuntimeError):
    """An actuator did not do what the host asked; the message names the node."""


class ActuatorTimeout(ActuatorError, TimeoutError):
    """No answer in time. ``nodes``: the silent node ids; ``states``: the
    replies that did arrive (ActuatorGroup)."""

    def __init__(self, message: str, nodes: Sequence[int] = (),
                 states: Mapping[int, State] | None = None) -> None:
        super().__init__(message)
        self.nodes = tuple(nodes)
        self.states = dict(states or {})


class ParamError(ActuatorError):
    """A ParamRequest was answered with a status other than OK.
    ``node_id``, ``index``, ``status`` (the ParamReply's name), ``value``."""

    def __init__(self, message: str, node_id: int, index: int, status: str, value: float) -> None:
        super().__init__(message)
        self.node_id, self.index, self.status, self.value = node_id, index, status, value


class ControlRefused(ActuatorError):
    """A Control (enable, disable, clear faults) was refused: the node's
    Heartbeat kept an older control_seq. ``heartbeat``: that Heartbeat."""

    def __init__(self, message: str, heartbeat: Heartbeat) -> None:
        super().__init__(message)
        self.heartbeat = heartbeat


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def _nodes(ids: Iterable[int]) -> str:
    ids = sorted(ids)
    return ("node " if len(ids) == 1 else "nodes ") + ", ".join(str(i) for i in ids)


# ---------------------------------------------------------------------------
# The per-bus receive loop
# ---------------------------------------------------------------------------

Container = Union[frozenset, set, tuple, list, dict]  # of CAN IDs


class BusDispatcher:
    """Owns ``bus.recv`` for one bus and routes frames to whoever waits for them.

    Frames nodes send (StateReply, GroupState, ParamReply, Status,
    Heartbeat) that arrive while a caller waits for another one are kept,
    per CAN ID, up to ``stash_len`` each (the oldest dropped first), until a
    ``wait`` takes them. Other frames (commands echoed by the interface,
    foreign or extended IDs, error frames) are counted and dropped.
    Listeners (e.g. a ``can.Logger``) see every received frame. Not
    thread-safe: use one thread per bus, or lock around it.

    StateReply carries no sequence number: a reply that comes after its
    wait timed out is stale. After a timeout the next command first reads
    what has arrived (``settle``); a reply later still would be taken for
    the next command's answer, so treat the cycle after a timeout with care.

    Share one dispatcher between the actuators of a bus: ``BusDispatcher.of(bus)``
    returns the same instance for the same bus object (Actuator does this).
    """

    _registry: "weakref.WeakKeyDictionary[can.BusABC, BusDispatcher]" = weakref.WeakKeyDictionary()
    _registry_lock = threading.Lock()

    def __init__(self, bus: can.BusABC, stash_len: int = 64) -> None:
        self.bus = bus
        self.stash_len = stash_len
        self._stash: dict[int, deque[can.Message]] = {}
        self.listeners: list[Callable[[can.Message], object]] = []
        self.last_heartbeat: dict[int, can.Message] = {}
        self.rx_frames = 0
        self.rx_dropped = 0
        self.stale = False   # a wait timed out: its answer may still come

    @classmethod
    def of(cls, bus: "can.BusABC | BusDispatcher") -> "BusDispatcher":
        """The dispatcher of ``bus`` (created on first use, one per bus object)."""
        if isinstance(bus, BusDispatcher):
            return bus
        with cls._registry_lock:
            disp = cls._registry.get(bus)
            if disp is None:
                disp = cls(bus)
                cls._registry[bus] = disp
            return disp

    def send(self, msg: can.Message) -> None:
        """Send one frame (python-can ``bus.send``)."""
        self.bus.send(msg)

    def _keep(self, msg: can.Message) -> None:
        """Route a received frame that nobody waits for right now."""
        self.rx_frames += 1
        for listener in self.listeners:
            listener(msg)
        can_id = msg.arbitration_id
        if msg.is_extended_id or msg.is_error_frame or msg.is_remote_frame or can_id > 0x7FF \
                or (can_id >> 7) not in cmd.REPLY_FUNCTIONS:
            self.rx_dropped += 1
            return
        if can_id >> 7 == _FN["Heartbeat"]:
            self.last_heartbeat[can_id & 0x7F] = msg
        q = self._stash.get(can_id)
        if q is None:
            q = self._stash[can_id] = deque(maxlen=self.stash_len)
        elif len(q) == q.maxlen:
            self.rx_dropped += 1
        q.append(msg)

    def poll(self) -> int:
        """Take every frame already received without blocking; returns how many."""
        n = 0
        recv = self.bus.recv
        while True:
            msg = recv(0.0)
            if msg is None:
                return n
            self._keep(msg)
            n += 1

    def settle(self) -> None:
        """Before a command: after a timed-out wait, read (and keep) the frames
        already received, so that a late answer is not taken for the next one.
        Without a timeout nothing is read: on some interfaces an empty
        non-blocking read is slow (slcan: about 1 ms)."""
        if self.stale:
            self.stale = False
            self.poll()

    def discard(self, can_ids: Iterable[int]) -> None:
        """Forget the kept frames of these IDs (stale answers to earlier commands)."""
        for can_id in can_ids:
            q = self._stash.get(can_id)
            if q:
                q.clear()

    def kept(self, can_id: int) -> list[can.Message]:
        """The frames kept for ``can_id``, oldest first (not removed)."""
        return list(self._stash.get(can_id, ()))

    def _take(self, can_ids: Container, match: Callable[[can.Message], bool] | None) \
            -> can.Message | None:
        for can_id in can_ids:
            q = self._stash.get(can_id)
            if not q:
                continue
            for k, msg in enumerate(q):
                if match is None or match(msg):
                    del q[k]
                    return msg
        return None

    def wait(self, can_ids: "Container", deadline: float,
             match: Callable[[can.Message], bool] | None = None) -> can.Message | None:
        """The first frame with an ID in ``can_ids`` (and ``match(msg)`` true):
        from the kept frames, else from the bus until ``deadline``
        (``time.monotonic()`` seconds). None at the deadline."""
        msg = self._take(can_ids, match)
        if msg is not None:
            return msg
        recv = self.bus.recv
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0.0:
                self.stale = True
                return None
            msg = recv(remaining)
            if msg is None:
                continue  # loop: recomputes remaining (recv may return early)
            if msg.arbitration_id in can_ids and not msg.is_extended_id \
                    and (match is None or match(msg)):
                self.rx_frames += 1
                for listener in self.listeners:
                    listener(msg)
                return msg
            self._keep(msg)


# ---------------------------------------------------------------------------
# Ranges
# ---------------------------------------------------------------------------

def ranges_of(board: BoardLike) -> ImpedanceRanges | None:
    """MIT ranges of a Board, a board file path or ImpedanceRanges (None stays None)."""
    if board is None or isinstance(board, ImpedanceRanges):
        return board
    if isinstance(board, (str, os.PathLike)):
        from firmware_gen.board import load_board

        board = load_board(board)
    get = getattr(board, "impedance_ranges", None)
    if get is None:
        raise TypeError(f"board = {board!r}: expected a Board, a board file path or ImpedanceRanges")
    return get()


# ---------------------------------------------------------------------------
# One actuator
# ---------------------------------------------------------------------------

class Actuator:
    """One node on a bus: ``Actuator(bus, node_id, board=...)``.

    Arguments:
        bus: an open python-can bus (or a BusDispatcher); never opened here.
        node_id: 1-127.
        board: the node's board (a Board, a board file path, or
            ImpedanceRanges): the MIT ranges of impedance commands and state
            replies. None: call ``load_ranges()`` (reads them from the node).
        group: (group_id 1-127, slot 0-7) of the node for CAN FD group frames
            (what the node is configured with), or None.
        fd: send single frames as CAN FD with bit-rate switch (the node
            answers in the same format).
        timeout_s: default wait for a StateReply, s (0.01).
        param_timeout_s: default wait for a ParamReply or a Control's
            Heartbeat, s (0.1).
    """

    def __init__(self, bus: "can.BusABC | BusDispatcher", node_id: int, *, board: BoardLike = None,
                 group: tuple[int, int] | None = None, fd: bool = False,
                 timeout_s: float = SETPOINT_TIMEOUT_S, param_timeout_s: float = PARAM_TIMEOUT_S) -> None:
        if isinstance(node_id, bool) or not isinstance(node_id, int) or not 1 <= node_id <= p.MAX_NODE_ID:
            raise ValueError(f"Actuator node_id = {node_id!r} outside [1, {p.MAX_NODE_ID}]")
        if group is not None:
            gid, slot = group
            if not 1 <= gid <= p.MAX_NODE_ID or not 0 <= slot < p.GROUP_SLOTS:
                raise ValueError(f"Actuator group = {group!r}: group id 1-127, slot 0-7")
        for name, value in (("timeout_s", timeout_s), ("param_timeout_s", param_timeout_s)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Actuator {name} = {value!r}: must be a positive number of seconds")
        self.dispatcher = BusDispatcher.of(bus)
        self.node_id = node_id
        self.ranges = ranges_of(board)
        self.group = group
        self.fd = fd
        self.timeout_s = float(timeout_s)
        self.param_timeout_s = float(param_timeout_s)
        self._state_id = p.frame_id("StateReply", node_id)
        self._state_ids = frozenset({self._state_id})
        self._hb_ids = frozenset({p.frame_id("Heartbeat", node_id)})
        self._param_ids = frozenset({p.frame_id("ParamReply", node_id)})
        self._status_ids = frozenset({p.frame_id("Status", node_id)})
        self._control_seq = node_id % 251
        self._param_seq = (node_id * 7) % 251

    def __repr__(self) -> str:
        return f"Actuator(node_id={self.node_id}, group={self.group}, fd={self.fd})"

    @property
    def bus(self) -> can.BusABC:
        return self.dispatcher.bus

    def _need_ranges(self) -> ImpedanceRanges:
        if self.ranges is None:
            raise ActuatorError(f"node {self.node_id}: no MIT ranges: pass board=... or call load_ranges()")
        return self.ranges

    # ---- frames (no I/O) ------------------------------------------------
    def make_impedance(self, p_des_rad: float, v_des_rad_s: float = 0.0, kp_nm_rad: float = 0.0,
                       kd_nms_rad: float = 0.0, tau_ff_nm: float = 0.0) -> can.Message:
        """The ImpedanceCommand frame (see ``set_impedance``)."""
        return cmd.make_impedance(self.node_id, self._need_ranges(), p_des_rad, v_des_rad_s, kp_nm_rad,
                                  kd_nms_rad, tau_ff_nm, fd=self.fd)

    def make_current(self, i_q_ref_a: float, i_d_ref_a: float = 0.0) -> can.Message:
        return cmd.make_current(self.node_id, i_q_ref_a, i_d_ref_a, fd=self.fd)

    def make_velocity(self, v_out_ref_rad_s: float, tau_ff_nm: float = 0.0) -> can.Message:
        return cmd.make_velocity(self.node_id, v_out_ref_rad_s, tau_ff_nm, fd=self.fd)

    def make_position(self, p_out_ref_rad: float, v_out_ff_rad_s: float = 0.0,
                      tau_ff_nm: float = 0.0) -> can.Message:
        return cmd.make_position(self.node_id, p_out_ref_rad, v_out_ff_rad_s, tau_ff_nm, fd=self.fd)

    def make_muscle(self, u_flex: float, u_ext: float) -> can.Message:
        return cmd.make_muscle(self.node_id, u_flex, u_ext, fd=self.fd)

    def parse_state(self, msg: can.Message) -> State:
        """This node's StateReply frame as a State (ProtocolError otherwise)."""
        return cmd.parse_state(msg, self._need_ranges())

    # ---- setpoints --------------------------------------------------------
    def _setpoint(self, msg: can.Message, name: str, timeout_s: float | None) -> State:
        disp = self.dispatcher
        disp.settle()
        disp.discard(self._state_ids)    # kept answers to earlier commands are stale now
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        disp.send(msg)
        reply = disp.wait(self._state_ids, deadline)
        if reply is None:
            raise ActuatorTimeout(f"node {self.node_id}: no StateReply to {name} within {_ms(timeout)}",
                                  nodes=(self.node_id,))
        return cmd.parse_state(reply, self._need_ranges())

    def set_impedance(self, p_des_rad: float, v_des_rad_s: float = 0.0, kp_nm_rad: float = 0.0,
                      kd_nms_rad: float = 0.0, tau_ff_nm: float = 0.0, *,
                      timeout_s: float | None = None) -> State:
        """Impedance (MIT mode): tau = kp (p_des - p) + kd (v_des - v) + tau_ff.

        p_des_rad rad, v_des_rad_s rad/s, kp_nm_rad N m/rad, kd_nms_rad
        N m s/rad, tau_ff_nm N m (output side, within the board's ranges:
        ProtocolError otherwise). Returns the node's State; a refused command
        (node not enabled, value out of the node's range) still answers, with
        the unchanged ``mode``. ActuatorTimeout after ``timeout_s`` (default
        ``self.timeout_s``).
        """
        return self._setpoint(self.make_impedance(p_des_rad, v_des_rad_s, kp_nm_rad, kd_nms_rad, tau_ff_nm),
                              "ImpedanceCommand", timeout_s)

    def set_current(self, i_q_ref_a: float, i_d_ref_a: float = 0.0, *,
                    timeout_s: float | None = None) -> State:
        """Current (torque) mode: motor q/d-axis currents, A. Returns the State."""
        return self._setpoint(self.make_current(i_q_ref_a, i_d_ref_a), "CurrentCommand", timeout_s)

    def set_velocity(self, v_out_ref_rad_s: float, tau_ff_nm: float = 0.0, *,
                     timeout_s: float | None = None) -> State:
        """Velocity mode: output speed rad/s, feed-forward torque N m. Returns the State."""
        return self._setpoint(self.make_velocity(v_out_ref_rad_s, tau_ff_nm), "VelocityCommand",
                              timeout_s)

    def set_position(self, p_out_ref_rad: float, v_out_ff_rad_s: float = 0.0, tau_ff_nm: float = 0.0,
                     *, timeout_s: float | None = None) -> State:
        """Position mode: output position rad, speed feed-forward rad/s, torque
        feed-forward N m. Returns the State."""
        return self._setpoint(self.make_position(p_out_ref_rad, v_out_ff_rad_s, tau_ff_nm),
                              "PositionCommand", timeout_s)

    def set_muscle(self, u_flex: float, u_ext: float, *, timeout_s: float | None = None) -> State:
        """Muscle mode: flexor and extensor excitations in [0, 1]. Returns the State."""
        return self._setpoint(self.make_muscle(u_flex, u_ext), "MuscleCommand", timeout_s)

    # ---- control ----------------------------------------------------------
    def _next_control_seq(self) -> int:
        seq = (self._control_seq + 1) % 256
        last = self.dispatcher.last_heartbeat.get(self.node_id)
        if last is not None and len(last.data) >= 2 and last.data[1] == seq:
            seq = (seq + 1) % 256  # never the seq the node already shows
        self._control_seq = seq
        return seq

    def control(self, command: str, *, timeout_s: float | None = None) -> Heartbeat:
        """Send Control ``command`` (``ENABLE``, ``DISABLE``, ``CLEAR_FAULTS``)
        and return the Heartbeat that acknowledges it (``node_state`` after it).

        ControlRefused when the node's Heartbeat keeps an older control_seq
        (e.g. ENABLE while a fault is latched); ActuatorTimeout when no
        Heartbeat comes within ``timeout_s`` (default ``param_timeout_s``).
        """
        disp = self.dispatcher
        disp.poll()
        disp.discard(self._hb_ids)
        seq = self._next_control_seq()
        timeout = self.param_timeout_s if timeout_s is None else timeout_s
        start = time.monotonic()
        deadline = start + timeout
        disp.send(cmd.make_control(self.node_id, command, seq))
        refusing: Heartbeat | None = None
        alive: Heartbeat | None = None
        while True:
            msg = disp.wait(self._hb_ids, deadline)
            if msg is None:
                break
            hb = cast(Heartbeat, cmd.parse_reply(msg))
            if hb.control_seq == seq:
                return hb
            # Another Heartbeat: the periodic one, or the answer to a refused
            # Control (it keeps the older seq). Only a state that refuses the
            # command makes it a refusal; a periodic heartbeat may cross our
            # command, so the answer still gets a moment.
            if hb.node_state in _REFUSED_IN.get(command, ()):
                refusing = hb
                deadline = min(start + timeout, time.monotonic() + REFUSAL_GRACE_S)
            else:
                alive = hb
        if refusing is not None:
            raise ControlRefused(f"node {self.node_id}: Control {command} refused in state "
                                 f"{refusing.node_state} (its Heartbeat keeps control_seq "
                                 f"{refusing.control_seq}, not {seq})", refusing)
        tail = (f" (the node is alive: Heartbeat in state {alive.node_state} with control_seq "
                f"{alive.control_seq}, not {seq}: the Control was lost)" if alive is not None else "")
        raise ActuatorTimeout(f"node {self.node_id}: no Heartbeat to Control {command} within "
                              f"{_ms(timeout)}{tail}", nodes=(self.node_id,))

    def enable(self, *, timeout_s: float | None = None) -> Heartbeat:
        """Control ENABLE: IDLE -> ARMED (the next setpoint selects the mode)."""
        return self.control("ENABLE", timeout_s=timeout_s)

    def disable(self, *, timeout_s: float | None = None) -> Heartbeat:
        """Control DISABLE: motor off, mode IDLE."""
        return self.control("DISABLE", timeout_s=timeout_s)

    def clear_faults(self, *, timeout_s: float | None = None) -> Heartbeat:
        """Control CLEAR_FAULTS: clears faults whose cause is gone (node_state
        IDLE after it, FAULT if some remain); never restarts motion."""
        return self.control("CLEAR_FAULTS", timeout_s=timeout_s)

    def estop(self) -> None:
        """Broadcast EmergencyStop (every node on the bus stops; no reply)."""
        self.dispatcher.send(cmd.make_estop(0))

    # ---- parameters -------------------------------------------------------
    def _param(self, op: str, index: int, value: float, timeout_s: float | None) -> ParamReply:
        disp = self.dispatcher
        self._param_seq = seq = (self._param_seq + 1) % 256
        if op == "READ":
            msg = cmd.make_param_read(self.node_id, index, seq, fd=self.fd)
        elif op == "WRITE":
            msg = cmd.make_param_write(self.node_id, index, value, seq, fd=self.fd)
        else:
            msg = cmd.make_param_save(self.node_id, seq, fd=self.fd)
        timeout = (SAVE_TIMEOUT_S if op == "SAVE" else self.param_timeout_s) if timeout_s is None \
            else timeout_s
        deadline = time.monotonic() + timeout
        disp.send(msg)
        reply = disp.wait(self._param_ids, deadline, match=lambda m: len(m.data) == 8 and m.data[3] == seq)
        what = f"{op} of param {_param_label(index)}" if op != "SAVE" else "SAVE"
        if reply is None:
            raise ActuatorTimeout(f"node {self.node_id}: no ParamReply to ParamRequest {what} within "
                                  f"{_ms(timeout)}", nodes=(self.node_id,))
        pr = cast(ParamReply, cmd.parse_reply(reply))
        if pr.status != "OK":
            tail = f" = {value:g}" if op == "WRITE" else ""
            now = "" if math.isnan(pr.value) else f" (value now {pr.value:g})"
            raise ParamError(f"node {self.node_id}: {what}{tail} refused: {pr.status}{now}",
                             self.node_id, pr.index, pr.status, pr.value)
        return pr

    def read_param(self, index: int | str, *, timeout_s: float | None = None) -> float:
        """A parameter's value (float32, in its unit). ``index``: number or
        name (``"i_limit_a"``, from ``actuators.core.param_table()``).
        ParamError naming node, index and status if refused."""
        return self._param("READ", param_index(index), 0.0, timeout_s).value

    def write_param(self, index: int | str, value: float, *, timeout_s: float | None = None) -> float:
        """Write a parameter (RAM; ``save_params`` stores the table). Returns
        the value the node now holds (float32). ParamError naming node, index
        and status (OUT_OF_RANGE, READ_ONLY, WRONG_STATE, ...) if refused."""
        return self._param("WRITE", param_index(index), float(value), timeout_s).value

    def save_params(self, *, timeout_s: float | None = None) -> None:
        """Store the parameter table in flash (only in IDLE or FAULT); waits up
        to 2 s by default."""
        self._param("SAVE", 0, 0.0, timeout_s)

    def load_ranges(self, *, timeout_s: float | None = None) -> ImpedanceRanges:
        """Read the node's MIT ranges (parameters ``ranges.*``) and use them."""
        values = {f: self.read_param(f"ranges.{f}", timeout_s=timeout_s) for f in _RANGE_PARAMS}
        self.ranges = ImpedanceRanges(**values)
        return self.ranges

    # ---- status -----------------------------------------------------------
    def status(self, *, timeout_s: float = STATUS_TIMEOUT_S) -> Status:
        """The node's next Status frame (sent every heartbeat period, 0.1 s by
        default) with its latest Heartbeat attached (``Status.heartbeat``:
        node_state, rx_reject_count, uptime_ms). ActuatorTimeout if none comes
        within ``timeout_s``."""
        disp = self.dispatcher
        disp.poll()
        disp.discard(self._status_ids)
        msg = disp.wait(self._status_ids, time.monotonic() + timeout_s)
        if msg is None:
            raise ActuatorTimeout(f"node {self.node_id}: no Status within {_ms(timeout_s)}",
                                  nodes=(self.node_id,))
        st = cast(Status, cmd.parse_reply(msg))
        hb_msg = disp.last_heartbeat.get(self.node_id)
        hb = cmd.parse_reply(hb_msg) if hb_msg is not None else None
        return replace(st, heartbeat=hb if isinstance(hb, Heartbeat) else None)


def param_index(index: int | str) -> int:
    """Parameter index of a number or a parameter-table name."""
    if isinstance(index, str):
        table = _param_table()
        if index not in table:
            raise KeyError(f"no parameter named {index!r} (see actuators.core.param_table())")
        return table[index]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= 0xFFFF:
        raise ProtocolError(f"ParamRequest.param_index = {index!r} outside [0, 65535]")
    return index


@lru_cache(maxsize=1)
def _param_table() -> dict[str, int]:
    from actuators import core  # the compiled core holds the table (mf_params.c)

    return {row["name"]: int(row["index"]) for row in core.param_table()}


def _param_label(index: int) -> str:
    try:
        names = {v: k for k, v in _param_table().items()}
    except ImportError:  # the compiled core is not there: numbers only
        return str(index)
    return f"{index} ({names[index]})" if index in names else str(index)


# ---------------------------------------------------------------------------
# Many actuators, one cycle
# ---------------------------------------------------------------------------

class ActuatorGroup:
    """One synchronous command/reply cycle over several actuators of a bus.

    ``ActuatorGroup(bus, actuators, group_frames=None)``: the actuators must
    have distinct node ids. ``group_frames``: use CAN FD GroupCommand frames
    (one per group of up to 8 nodes) for impedance cycles; None = when every
    actuator has a ``group`` configured. A cycle sends every command, then
    collects every StateReply (or a hub's GroupState) and returns
    {node_id: State}; nodes that stay silent raise one ActuatorTimeout
    naming them all (its ``states`` holds the replies that came).
    """

    def __init__(self, bus: "can.BusABC | BusDispatcher", actuators: Sequence[Actuator], *,
                 group_frames: bool | None = None, timeout_s: float | None = None) -> None:
        self.dispatcher = BusDispatcher.of(bus)
        self.actuators = {a.node_id: a for a in actuators}
        if len(self.actuators) != len(actuators):
            raise ValueError("ActuatorGroup: two actuators share a node id")
        for a in actuators:
            if a.dispatcher is not self.dispatcher:
                raise ValueError(f"ActuatorGroup: node {a.node_id} is on another bus")
        all_grouped = bool(actuators) and all(a.group is not None for a in actuators)
        if group_frames and not all_grouped:
            loose = [a.node_id for a in actuators if a.group is None]
            raise ValueError(f"ActuatorGroup: group frames need a group slot for {_nodes(loose)}")
        self.group_frames = all_grouped if group_frames is None else group_frames
        self.slots: dict[tuple[int, int], int] = {}
        for a in actuators:
            if a.group is not None:
                if a.group in self.slots:
                    raise ValueError(f"ActuatorGroup: nodes {self.slots[a.group]} and {a.node_id} "
                                     f"share group {a.group[0]} slot {a.group[1]}")
                self.slots[a.group] = a.node_id
        self.timeout_s = (max(a.timeout_s for a in actuators) if actuators else SETPOINT_TIMEOUT_S) \
            if timeout_s is None else timeout_s
        self._state_ids = {p.frame_id("StateReply", n): n for n in self.actuators}

    def __len__(self) -> int:
        return len(self.actuators)

    def make_impedance(self, setpoints: Mapping[int, SetpointLike]) -> list[can.Message]:
        """The frames of one impedance cycle: {node_id: ImpedanceSetpoint or
        (p_des_rad, v_des_rad_s, kp_nm_rad, kd_nms_rad, tau_ff_nm)}. With
        group frames, one GroupCommand per group; else one frame per node."""
        unknown = set(setpoints) - set(self.actuators)
        if unknown:
            raise ValueError(f"ActuatorGroup: {_nodes(unknown)} not in the group")
        if not self.group_frames:
            out = []
            for node, sp in setpoints.items():
                s = sp if isinstance(sp, ImpedanceSetpoint) else ImpedanceSetpoint(*sp)
                out.append(self.actuators[node].make_impedance(s.p_des_rad, s.v_des_rad_s, s.kp_nm_rad,
                                                               s.kd_nms_rad, s.tau_ff_nm))
            return out
        by_group: dict[int, list] = {}
        ranges: dict[int, list] = {}
        for node, sp in setpoints.items():
            a = self.actuators[node]
            gid, slot = cast("tuple[int, int]", a.group)
            by_group.setdefault(gid, [None] * p.GROUP_SLOTS)[slot] = sp
            ranges.setdefault(gid, [None] * p.GROUP_SLOTS)[slot] = a._need_ranges()
        # every node of a group reads its slot and obeys it: none may be left out
        left_out = [n for (gid, _), n in self.slots.items() if gid in by_group and n not in setpoints]
        if left_out:
            raise ValueError(f"ActuatorGroup: {_nodes(left_out)} share a group frame with the "
                             f"commanded nodes and would read a zero slot: give them a setpoint")
        return [cmd.make_group_impedance(gid, slots, ranges[gid]) for gid, slots in sorted(by_group.items())]

    def set_impedance(self, setpoints: Mapping[int, SetpointLike], *,
                      timeout_s: float | None = None) -> dict[int, State]:
        """One impedance cycle (see ``make_impedance``); {node_id: State}."""
        return self.cycle(self.make_impedance(setpoints), timeout_s=timeout_s)

    def _expected(self, msg: can.Message) -> list[int]:
        function, node = p.split_id(msg.arbitration_id)
        if function == _FN["GroupCommand"]:  # every node of the group answers its slot
            nodes = [n for (gid, _), n in self.slots.items() if gid == node]
            if not nodes:
                raise ValueError(f"ActuatorGroup: no actuator in group {node} "
                                 f"(frame 0x{msg.arbitration_id:03X})")
            return nodes
        if node not in self.actuators:
            raise ValueError(f"ActuatorGroup: frame 0x{msg.arbitration_id:03X} is for node {node}, "
                             f"not in the group")
        return [node]

    def cycle(self, messages: Sequence[can.Message], *, timeout_s: float | None = None) \
            -> dict[int, State]:
        """Send setpoint frames (any mix of ``Actuator.make_*`` frames and
        GroupCommand frames) and collect the StateReply of every node they
        address. Returns {node_id: State}; ActuatorTimeout naming the silent
        nodes after ``timeout_s`` (default: the actuators' timeout)."""
        disp = self.dispatcher
        waiting: dict[int, int] = {}        # StateReply id -> node
        groups: set[int] = set()
        names: set[str] = set()
        for msg in messages:
            for node in self._expected(msg):
                waiting[p.frame_id("StateReply", node)] = node
            if msg.arbitration_id >> 7 == _FN["GroupCommand"]:
                groups.add(msg.arbitration_id & 0x7F)
            names.add(p.message(msg.arbitration_id >> 7).name)
        group_ids = {p.frame_id("GroupState", g): g for g in groups}
        disp.settle()
        disp.discard(list(waiting) + list(group_ids))
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        for msg in messages:
            disp.send(msg)
        states: dict[int, State] = {}
        ids: dict[int, int] = {**waiting, **group_ids}
        while waiting:
            msg = disp.wait(ids, deadline)
            if msg is None:
                break
            can_id = msg.arbitration_id
            if can_id in group_ids:
                self._take_group_state(msg, states, waiting, ids)
                continue
            node = waiting.pop(can_id)
            del ids[can_id]
            states[node] = self.actuators[node].parse_state(msg)
        if waiting:
            missing = sorted(waiting.values())
            raise ActuatorTimeout(f"{_nodes(missing)}: no StateReply to {'/'.join(sorted(names))} "
                                  f"within {_ms(timeout)} ({len(states)} of {len(states) + len(missing)} "
                                  f"answered)", nodes=missing, states=states)
        return states

    def _take_group_state(self, msg: can.Message, states: dict[int, State], waiting: dict[int, int],
                          ids: dict[int, int]) -> None:
        gid = msg.arbitration_id & 0x7F
        ranges = [self.actuators[self.slots[(gid, k)]].ranges if (gid, k) in self.slots else None
                  for k in range(p.GROUP_SLOTS)]
        gs = cast(GroupState, cmd.parse_reply(msg, ranges))
        for k, st in enumerate(gs.states):
            node = self.slots.get((gid, k))
            sid = p.frame_id("StateReply", node) if node is not None else None
            if sid is not None and sid in waiting:
                states[node] = replace(st, node_id=node)
                del waiting[sid]
                del ids[sid]

    def control(self, command: str, *, timeout_s: float | None = None) -> dict[int, Heartbeat]:
        """Control ``command`` to every node, one after the other; {node_id: Heartbeat}."""
        return {n: a.control(command, timeout_s=timeout_s) for n, a in self.actuators.items()}

    def enable(self, *, timeout_s: float | None = None) -> dict[int, Heartbeat]:
        return self.control("ENABLE", timeout_s=timeout_s)

    def disable(self, *, timeout_s: float | None = None) -> dict[int, Heartbeat]:
        return self.control("DISABLE", timeout_s=timeout_s)
