"""Frames to and from an actuator, built and parsed with no I/O.

``make_*`` return a python-can ``Message`` ready for ``bus.send``;
``parse_reply`` turns a received message into a ``State``, ``Heartbeat``,
``ParamReply``, ``Status`` or ``GroupState``. Everything goes through the
DBC (cantools): the MIT-layout frames are packed with
``actuators.protocol.pack_impedance`` (range-checked) and encoded by the
DBC message; every other frame by ``actuators.protocol.encode``, which
raises ``ProtocolError`` naming the message, signal and range of a bad
value. Units are SI on the output side of the gearbox (rad, rad/s, N m,
N m/rad, N m s/rad, A, degC, V).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Union

import can

from actuators import protocol as p
from actuators.protocol import ImpedanceRanges, ImpedanceSetpoint, ProtocolError

__all__ = [
    "GroupState",
    "Heartbeat",
    "ParamReply",
    "Reply",
    "SETPOINT_MODES",
    "State",
    "Status",
    "fault_names",
    "make_clear_faults",
    "make_control",
    "make_current",
    "make_disable",
    "make_enable",
    "make_estop",
    "make_group_impedance",
    "make_impedance",
    "make_muscle",
    "make_param_read",
    "make_param_save",
    "make_param_write",
    "make_position",
    "make_velocity",
    "mode_name",
    "parse_reply",
    "parse_state",
]

# The mode each setpoint message selects (docs/protocol.md section 4).
SETPOINT_MODES = {
    "ImpedanceCommand": "IMPEDANCE",
    "GroupCommand": "IMPEDANCE",
    "CurrentCommand": "CURRENT",
    "VelocityCommand": "VELOCITY",
    "PositionCommand": "POSITION",
    "MuscleCommand": "MUSCLE",
}

SlotLike = Union[ImpedanceSetpoint, Sequence[float], None]


# ---------------------------------------------------------------------------
# Name tables (the DBC's value tables)
# ---------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _table(message: str, signal: str) -> dict[int, str]:
    return p.choices(message, signal)


def mode_name(mode: int) -> str:
    """Name of a StateReply mode value (``IMPEDANCE``; ``MODE<n>`` if not in the DBC)."""
    return _table("StateReply", "mode").get(mode, f"MODE{mode}")


@lru_cache(maxsize=4096)
def fault_names(bits: int) -> tuple[str, ...]:
    """Names of the set fault bits, lowest bit first, lowercase as ``core.fault_names``
    (the DBC value table of ``Status.fault_bits``; unknown bits as ``bit<n>``)."""
    table = _table("Status", "fault_bits")
    names = []
    for k in range(32):
        if bits >> k & 1:
            names.append(table.get(1 << k, f"bit{k}").lower())
    return tuple(names)


def _name(message: str, signal: str, value: int) -> str:
    return _table(message, signal).get(value, str(value))


# ---------------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class State:
    """A StateReply: the joint after a setpoint (output side, SI).

    ``mode`` is the controller's commanded mode after the command (``IDLE``,
    ``CURRENT``, ``VELOCITY``, ``POSITION``, ``IMPEDANCE``, ``MUSCLE``): a
    refused setpoint shows the unchanged mode and ``refused`` True (StateReply
    fault bit 10, MF_APP_REPLY_REFUSED). ``faults`` are the latched fault bits
    0-9 (``fault_names`` names them). ``fd``: the reply came as a CAN FD frame.
    """

    node_id: int
    p_out_rad: float
    v_out_rad_s: float
    tau_out_nm: float
    temp_c: float
    mode: str
    faults: int
    fd: bool = False
    refused: bool = False

    @property
    def fault_names(self) -> tuple[str, ...]:
        return fault_names(self.faults)


REFUSED_BIT = 1 << 10  # StateReply fault_bits: this reply answers a refused setpoint


@dataclass(frozen=True)
class Heartbeat:
    """A Heartbeat: node state (``BOOT``, ``IDLE``, ``ARMED``, ``RUNNING``,
    ``FAULT``), the ``control_seq`` of the last Control applied, refused
    frames since boot (wrapping at 2^16) and uptime in ms (wrapping)."""

    node_id: int
    node_state: str
    protocol_version: int
    control_seq: int
    rx_reject_count: int
    uptime_ms: int


@dataclass(frozen=True)
class ParamReply:
    """A ParamReply: ``status`` ``OK``, ``UNKNOWN_INDEX``, ``READ_ONLY``,
    ``OUT_OF_RANGE``, ``WRONG_STATE``, ``STORAGE_ERROR`` or ``BAD_OP``;
    ``value`` the parameter after the request (its unit; NaN if unknown)."""

    node_id: int
    index: int
    status: str
    seq: int
    value: float


@dataclass(frozen=True)
class Status:
    """A Status frame (10 Hz): every latched fault bit (32), bus voltage (V),
    winding and power-stage temperatures (degC). ``heartbeat``: the node's
    latest Heartbeat, when the client attaches one (``Actuator.status``)."""

    node_id: int
    faults: int
    v_bus_v: float
    temp_motor_c: float
    temp_fet_c: float
    heartbeat: Heartbeat | None = field(default=None, compare=False)

    @property
    def fault_names(self) -> tuple[str, ...]:
        return fault_names(self.faults)


@dataclass(frozen=True)
class GroupState:
    """A GroupState frame (CAN FD, from a hub): eight StateReply slots.

    The node of a slot is not in the frame; ``states[k].node_id`` is 0 until
    the caller maps slots to nodes."""

    group_id: int
    states: tuple[State, ...]


Reply = Union[State, Heartbeat, ParamReply, Status, GroupState]


# ---------------------------------------------------------------------------
# Building frames
# ---------------------------------------------------------------------------

def _message(can_id: int, data: bytes, fd: bool) -> can.Message:
    return can.Message(arbitration_id=can_id, data=data, is_extended_id=False, is_fd=fd,
                       bitrate_switch=fd)


def _encode(name: str, node_id: int, values: Mapping[str, float | int | str], fd: bool) -> can.Message:
    frame = p.encode(name, node_id, values)
    return _message(frame.can_id, frame.data, fd or frame.is_fd)


def _check_seq(seq: int, what: str) -> int:
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= 255:
        raise ProtocolError(f"{what} = {seq!r} outside [0, 255]")
    return seq


def make_control(node_id: int, command: str | int, seq: int) -> can.Message:
    """Control frame: ``command`` ``DISABLE``, ``ENABLE`` or ``CLEAR_FAULTS``;
    ``seq`` 0-255, echoed in the Heartbeat that acknowledges it."""
    return _encode("Control", node_id, {"control_cmd": command,
                                        "control_seq": _check_seq(seq, "Control.control_seq")}, False)


def make_enable(node_id: int, seq: int) -> can.Message:
    """Control ENABLE (IDLE -> ARMED; the next setpoint selects the mode)."""
    return make_control(node_id, "ENABLE", seq)


def make_disable(node_id: int, seq: int) -> can.Message:
    """Control DISABLE (motor off, mode IDLE, watchdog off)."""
    return make_control(node_id, "DISABLE", seq)


def make_clear_faults(node_id: int, seq: int) -> can.Message:
    """Control CLEAR_FAULTS (clears faults whose cause is gone; never restarts motion)."""
    return make_control(node_id, "CLEAR_FAULTS", seq)


def make_estop(source: int = 0) -> can.Message:
    """EmergencyStop, broadcast (ID 0): every node stops. ``source`` 0 host, 1-127 a node."""
    return _encode("EmergencyStop", p.BROADCAST_NODE_ID, {"estop_source": source}, False)


@lru_cache(maxsize=None)
def _mit_message(name: str):  # cantools Message (its compiled codec)
    return p.message(name)


_IMP_ID = p.function_code("ImpedanceCommand") << 7
_GROUP_ID = p.function_code("GroupCommand") << 7


def make_impedance(node_id: int, ranges: ImpedanceRanges, p_des_rad: float, v_des_rad_s: float,
                   kp_nm_rad: float, kd_nms_rad: float, tau_ff_nm: float, *,
                   fd: bool = False) -> can.Message:
    """ImpedanceCommand (MIT layout): tau = kp (p_des - p) + kd (v_des - v) + tau_ff.

    Units rad, rad/s, N m/rad, N m s/rad, N m, mapped onto the node's board
    ``ranges``; a value outside its range raises ProtocolError naming it.
    ``fd``: send as a CAN FD frame with bit-rate switch (same 8 bytes).
    """
    raw = p.pack_impedance(p_des_rad, v_des_rad_s, kp_nm_rad, kd_nms_rad, tau_ff_nm, ranges)
    if isinstance(node_id, bool) or not isinstance(node_id, int) or not 0 <= node_id <= p.MAX_NODE_ID:
        raise ProtocolError(f"node_id = {node_id!r} outside [0, {p.MAX_NODE_ID}]")
    data = _mit_message("ImpedanceCommand").encode(raw, scaling=False, strict=False)
    return _message(_IMP_ID | node_id, bytes(data), fd)


def make_current(node_id: int, i_q_ref_a: float, i_d_ref_a: float = 0.0, *,
                 fd: bool = False) -> can.Message:
    """CurrentCommand: motor q- and d-axis current references, A."""
    return _encode("CurrentCommand", node_id, {"i_d_ref_a": i_d_ref_a, "i_q_ref_a": i_q_ref_a}, fd)


def make_velocity(node_id: int, v_out_ref_rad_s: float, tau_ff_nm: float = 0.0, *,
                  fd: bool = False) -> can.Message:
    """VelocityCommand: output speed reference (rad/s) and feed-forward torque (N m)."""
    return _encode("VelocityCommand", node_id,
                   {"v_out_ref_rad_s": v_out_ref_rad_s, "tau_ff_nm": tau_ff_nm}, fd)


def make_position(node_id: int, p_out_ref_rad: float, v_out_ff_rad_s: float = 0.0,
                  tau_ff_nm: float = 0.0, *, fd: bool = False) -> can.Message:
    """PositionCommand: output position (rad, float32), speed feed-forward
    (rad/s, 0.002 steps, about +-65.5) and torque feed-forward (N m, 0.01 steps)."""
    return _encode("PositionCommand", node_id, {"p_out_ref_rad": p_out_ref_rad,
                                                "v_out_ff_rad_s": v_out_ff_rad_s,
                                                "tau_ff_nm": tau_ff_nm}, fd)


def make_muscle(node_id: int, u_flex: float, u_ext: float, *, fd: bool = False) -> can.Message:
    """MuscleCommand: flexor and extensor excitations, each in [0, 1]."""
    return _encode("MuscleCommand", node_id, {"u_flex": u_flex, "u_ext": u_ext}, fd)


def _param(node_id: int, op: str, index: int, value: float, seq: int, fd: bool) -> can.Message:
    return _encode("ParamRequest", node_id, {"param_index": index, "param_op": op,
                                             "param_seq": _check_seq(seq, "ParamRequest.param_seq"),
                                             "param_value": value}, fd)


def make_param_read(node_id: int, index: int, seq: int, *, fd: bool = False) -> can.Message:
    """ParamRequest READ of parameter ``index`` (answered by a ParamReply with ``seq``)."""
    return _param(node_id, "READ", index, 0.0, seq, fd)


def make_param_write(node_id: int, index: int, value: float, seq: int, *,
                     fd: bool = False) -> can.Message:
    """ParamRequest WRITE: ``value`` (float32, the parameter's unit) to ``index``."""
    return _param(node_id, "WRITE", index, value, seq, fd)


def make_param_save(node_id: int, seq: int, *, fd: bool = False) -> can.Message:
    """ParamRequest SAVE: store the parameter table in flash (answered once stored)."""
    return _param(node_id, "SAVE", 0, 0.0, seq, fd)


def _slot_setpoint(slot: SlotLike, k: int) -> ImpedanceSetpoint | None:
    if slot is None or isinstance(slot, ImpedanceSetpoint):
        return slot
    values = tuple(slot)
    if len(values) != 5:
        raise ProtocolError(f"GroupCommand slot {k}: {len(values)} values, expected 5 "
                            f"(p_des_rad, v_des_rad_s, kp_nm_rad, kd_nms_rad, tau_ff_nm)")
    return ImpedanceSetpoint(*values)


def make_group_impedance(group_id: int, slots: Sequence[SlotLike],
                         ranges: ImpedanceRanges | Sequence[ImpedanceRanges | None]) -> can.Message:
    """GroupCommand (CAN FD, 64 bytes, bit-rate switch) to group ``group_id`` (1-127).

    ``slots``: up to 8 entries, each None (no actuator: zeros) or an
    ImpedanceSetpoint / a 5-tuple (p_des_rad, v_des_rad_s, kp_nm_rad,
    kd_nms_rad, tau_ff_nm). ``ranges``: one ImpedanceRanges for every slot or
    one per slot (each node's board). Out-of-range values raise
    ProtocolError naming the slot and field.
    """
    if isinstance(group_id, bool) or not isinstance(group_id, int) or not 1 <= group_id <= p.MAX_NODE_ID:
        raise ProtocolError(f"GroupCommand group_id = {group_id!r} outside [1, {p.MAX_NODE_ID}]")
    if len(slots) > p.GROUP_SLOTS:
        raise ProtocolError(f"GroupCommand: {len(slots)} slots, at most {p.GROUP_SLOTS}")
    per_slot = (list(ranges) if not isinstance(ranges, ImpedanceRanges)
                else [ranges] * len(slots))
    if len(per_slot) < len(slots):
        raise ProtocolError(f"GroupCommand: {len(slots)} slots but ranges for {len(per_slot)}")
    raws: list[dict[str, int] | None] = []
    for k, slot in enumerate(slots):
        sp = _slot_setpoint(slot, k)
        if sp is None:
            raws.append(None)
            continue
        r = per_slot[k]
        if r is None:
            raise ProtocolError(f"GroupCommand slot {k}: no ranges for a used slot")
        try:
            raws.append(p.pack_impedance(sp.p_des_rad, sp.v_des_rad_s, sp.kp_nm_rad, sp.kd_nms_rad,
                                         sp.tau_ff_nm, r))
        except ProtocolError as exc:
            raise ProtocolError(f"GroupCommand slot {k}: {exc}") from None
    values = p.group_slots_to_values(raws)
    data = _mit_message("GroupCommand").encode(values, scaling=False, strict=False)
    return _message(_GROUP_ID | group_id, bytes(data), True)


# ---------------------------------------------------------------------------
# Parsing replies
# ---------------------------------------------------------------------------

_STATE_FN = p.function_code("StateReply")
_GROUP_STATE_FN = p.function_code("GroupState")
_HEARTBEAT_FN = p.function_code("Heartbeat")
_PARAM_REPLY_FN = p.function_code("ParamReply")
_STATUS_FN = p.function_code("Status")
REPLY_FUNCTIONS = frozenset({_STATE_FN, _GROUP_STATE_FN, _HEARTBEAT_FN, _PARAM_REPLY_FN, _STATUS_FN})


def _state(node_id: int, v: Mapping[str, int | float], ranges: ImpedanceRanges, fd: bool) -> State:
    js = p.unpack_state(v, ranges)  # type: ignore[arg-type]
    return State(node_id=node_id, p_out_rad=js.p_out_rad, v_out_rad_s=js.v_out_rad_s,
                 tau_out_nm=js.tau_out_nm, temp_c=float(v["temp_c"]), mode=mode_name(int(v["mode"])),
                 faults=int(v["fault_bits"]) & ~REFUSED_BIT, fd=fd,
                 refused=bool(int(v["fault_bits"]) & REFUSED_BIT))


def parse_state(msg: can.Message, ranges: ImpedanceRanges) -> State:
    """A StateReply (the fast path of ``parse_reply``); ProtocolError for any other frame."""
    can_id = msg.arbitration_id
    if can_id >> 7 != _STATE_FN or msg.is_extended_id or msg.dlc != 8 or len(msg.data) != 8:
        return _expect(parse_reply(msg, ranges), State, msg)
    values = _mit_message("StateReply").decode(bytes(msg.data), decode_choices=False, scaling=True)
    return _state(can_id & 0x7F, values, ranges, bool(msg.is_fd))


def _expect(reply: Reply, kind: type, msg: can.Message):  # type: ignore[no-untyped-def]
    if not isinstance(reply, kind):
        raise ProtocolError(f"frame 0x{msg.arbitration_id:03X}: a {type(reply).__name__}, "
                            f"expected a {kind.__name__}")
    return reply


def parse_reply(msg: can.Message, ranges: ImpedanceRanges | Sequence[ImpedanceRanges | None] | None
                = None) -> Reply:
    """Decode a frame an actuator (or a hub) sends.

    ``ranges`` (the node's board MIT ranges) is needed for StateReply; for
    GroupState it may be one per slot (a None slot decodes to NaN p/v/tau).
    ProtocolError, naming the frame, for anything else: a host command, a
    wrong length, an unknown ID.
    """
    d = p.decode_can(msg)
    v = d.values
    fd = bool(msg.is_fd)
    if d.name == "StateReply":
        if ranges is None or not isinstance(ranges, ImpedanceRanges):
            raise ProtocolError(f"frame 0x{msg.arbitration_id:03X} (StateReply, node {d.node_id}): "
                                f"decoding needs the node's ImpedanceRanges")
        return _state(d.node_id, v, ranges, fd)
    if d.name == "Heartbeat":
        return Heartbeat(node_id=d.node_id, node_state=_name("Heartbeat", "node_state", int(v["node_state"])),
                         protocol_version=int(v["protocol_version"]), control_seq=int(v["control_seq"]),
                         rx_reject_count=int(v["rx_reject_count"]), uptime_ms=int(v["uptime_ms"]))
    if d.name == "ParamReply":
        return ParamReply(node_id=d.node_id, index=int(v["param_index"]),
                          status=_name("ParamReply", "param_status", int(v["param_status"])),
                          seq=int(v["param_seq"]), value=float(v["param_value"]))
    if d.name == "Status":
        return Status(node_id=d.node_id, faults=int(v["fault_bits"]), v_bus_v=float(v["v_bus_v"]),
                      temp_motor_c=float(v["temp_motor_c"]), temp_fet_c=float(v["temp_fet_c"]))
    if d.name == "GroupState":
        per_slot = ([ranges] * p.GROUP_SLOTS if ranges is None or isinstance(ranges, ImpedanceRanges)
                    else list(ranges) + [None] * (p.GROUP_SLOTS - len(ranges)))
        states = []
        for k, slot in enumerate(p.group_values_to_slots(v)):
            r = per_slot[k]
            if r is None:
                nan = math.nan
                bits = int(slot["fault_bits"])
                states.append(State(0, nan, nan, nan, float(slot["temp_c"]), mode_name(int(slot["mode"])),
                                    bits & ~REFUSED_BIT, fd, refused=bool(bits & REFUSED_BIT)))
            else:
                states.append(_state(0, slot, r, fd))
        return GroupState(group_id=d.node_id, states=tuple(states))
    raise ProtocolError(f"frame 0x{msg.arbitration_id:03X} ({d.name}, node {d.node_id}) is not "
                        f"a frame an actuator sends")
