"""The CAN protocol as the DBC defines it: IDs, message lookup, checked encode/decode.

IDs are 11 bit: ``function << 7 | node_id`` (node ids 1-127, 0 = broadcast).
The DBC holds every message at node 1 (EmergencyStop at ID 0); the function
code of a message is its DBC frame id >> 7. Group frames carry the group id
in the node bits. The UDS request/response functions are DBC attributes.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import can
import cantools
from cantools.database.can import Database, Message, Signal

from .errors import ProtocolError

__all__ = [
    "BROADCAST_NODE_ID",
    "DBC_PATH",
    "Decoded",
    "Frame",
    "MAX_NODE_ID",
    "choices",
    "database",
    "decode",
    "decode_can",
    "encode",
    "frame_id",
    "function_code",
    "message",
    "protocol_version",
    "split_id",
    "uds_ids",
]

DBC_PATH = Path(__file__).with_name("myofoc.dbc")
NODE_BITS = 7
NODE_MASK = (1 << NODE_BITS) - 1
FUNCTION_COUNT = 16
BROADCAST_NODE_ID = 0
MAX_NODE_ID = NODE_MASK
FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True)
class Frame:
    """One CAN frame: 11-bit ID, data bytes, CAN FD or classic."""

    can_id: int
    data: bytes
    is_fd: bool

    def to_can(self) -> can.Message:
        """The python-can message of this frame (FD frames with bit-rate switching)."""
        return can.Message(arbitration_id=self.can_id, data=self.data, is_extended_id=False,
                           is_fd=self.is_fd, bitrate_switch=self.is_fd)


@dataclass(frozen=True)
class Decoded:
    """A decoded frame. ``node_id`` is the group id for group frames."""

    name: str
    function: int
    node_id: int
    values: dict[str, int | float]


@lru_cache(maxsize=1)
def database() -> Database:
    """The protocol's cantools database (loaded once, strict checks on)."""
    db = cantools.database.load_file(str(DBC_PATH), strict=True)
    if not isinstance(db, Database):
        raise ProtocolError(f"{DBC_PATH}: not a CAN database")
    return db


@lru_cache(maxsize=1)
def _by_function() -> dict[int, Message]:
    return {m.frame_id >> NODE_BITS: m for m in database().messages}


def _network_attribute(name: str) -> int:
    return int(database().dbc.attributes[name].value)


def protocol_version() -> int:
    """The protocol version (DBC attribute ProtocolVersion; Heartbeat.protocol_version)."""
    return _network_attribute("ProtocolVersion")


def message(name_or_function: str | int) -> Message:
    """The DBC message of a name or a function code; ProtocolError if none."""
    if isinstance(name_or_function, str):
        try:
            return database().get_message_by_name(name_or_function)
        except KeyError:
            names = ", ".join(m.name for m in database().messages)
            raise ProtocolError(f"unknown message {name_or_function!r} (messages: {names})") from None
    function = _check_function(name_or_function)
    try:
        return _by_function()[function]
    except KeyError:
        raise ProtocolError(f"function {function} has no message in the DBC "
                            f"({_function_label(function)})") from None


def function_code(name_or_function: str | int) -> int:
    """Function code (0-15) of a message name, or a checked function code."""
    if isinstance(name_or_function, str):
        return message(name_or_function).frame_id >> NODE_BITS
    return _check_function(name_or_function)


def frame_id(function_or_name: str | int, node_id: int) -> int:
    """11-bit CAN ID ``function << 7 | node_id`` (node_id 0 = broadcast; group id for group frames)."""
    function = function_code(function_or_name)
    if isinstance(node_id, bool) or not isinstance(node_id, int) or not 0 <= node_id <= MAX_NODE_ID:
        raise ProtocolError(f"node_id = {node_id!r} outside [0, {MAX_NODE_ID}]")
    return (function << NODE_BITS) | node_id


def split_id(can_id: int) -> tuple[int, int]:
    """(function, node_id) of an 11-bit CAN ID."""
    if isinstance(can_id, bool) or not isinstance(can_id, int) or not 0 <= can_id <= 0x7FF:
        raise ProtocolError(f"CAN ID {can_id!r} is not an 11-bit ID")
    return can_id >> NODE_BITS, can_id & NODE_MASK


def uds_ids(node_id: int) -> tuple[int, int]:
    """(request, response) CAN IDs of a node's UDS (ISO-TP, physical addressing) channel."""
    if isinstance(node_id, bool) or not isinstance(node_id, int) or not 1 <= node_id <= MAX_NODE_ID:
        raise ProtocolError(f"UDS node_id = {node_id!r} outside [1, {MAX_NODE_ID}]")
    return (frame_id(_network_attribute("UdsRequestFunction"), node_id),
            frame_id(_network_attribute("UdsResponseFunction"), node_id))


def choices(name: str, signal: str) -> dict[int, str]:
    """Value -> name table (DBC VAL_) of an enumerated signal ({} if none)."""
    sig = _signal(message(name), signal)
    return {int(v): str(n) for v, n in (sig.choices or {}).items()}


def encode(name: str, node_id: int, values: Mapping[str, float | int | str]) -> Frame:
    """Frame of message ``name`` to/from ``node_id`` with physical signal values.

    Every signal must be given. Enumerated signals accept their choice name.
    A missing or unknown signal, a non-finite value or one outside the
    signal's range raises ProtocolError naming the message and signal.
    """
    msg = message(name)
    can_id = frame_id(msg.frame_id >> NODE_BITS, node_id)
    given = set(values)
    expected = {s.name for s in msg.signals}
    if given != expected:
        missing = sorted(expected - given)
        unknown = sorted(given - expected)
        parts = ([f"missing {missing}"] if missing else []) + ([f"unknown {unknown}"] if unknown else [])
        raise ProtocolError(f"{msg.name}: signals {'; '.join(parts)}")
    checked = {s.name: _check_value(msg, s, values[s.name]) for s in msg.signals}
    try:
        data = msg.encode(checked, scaling=True, strict=True)
    except Exception as exc:  # cantools raises several types; name the message
        raise ProtocolError(f"{msg.name}: cannot encode: {exc}") from exc
    return Frame(can_id=can_id, data=bytes(data), is_fd=msg.is_fd)


def decode_can(msg: can.Message) -> Decoded:
    """Decode a received python-can message (see decode); extended or remote frames are refused."""
    if msg.is_extended_id or msg.is_remote_frame or msg.is_error_frame:
        kind = "extended" if msg.is_extended_id else "remote" if msg.is_remote_frame else "error"
        raise ProtocolError(f"frame 0x{msg.arbitration_id:X}: {kind} frames are not in the protocol")
    return decode(msg.arbitration_id, msg.data)


def decode(can_id: int, data: bytes | bytearray) -> Decoded:
    """Decode a received frame; ProtocolError naming the frame if it is not a protocol frame.

    Values are physical numbers (enumerations as their integer value). An
    EmergencyStop may have 0 or 1 data bytes (0 means estop_source 0).
    """
    function, node_id = split_id(can_id)
    label = f"frame 0x{can_id:03X}"
    msg = _by_function().get(function)
    if msg is None:
        raise ProtocolError(f"{label}: function {function} ({_function_label(function)}) "
                            f"is not a DBC message")
    where = f"{label} ({msg.name}, {'group' if msg.is_fd else 'node'} {node_id})"
    data = bytes(data)
    if msg.name == "EmergencyStop" and len(data) == 0:
        return Decoded(msg.name, function, node_id, {s.name: 0 for s in msg.signals})
    if len(data) != msg.length:
        raise ProtocolError(f"{where}: {len(data)} data bytes, expected {msg.length}")
    try:
        raw = msg.decode(data, decode_choices=False, scaling=True)
    except Exception as exc:
        raise ProtocolError(f"{where}: cannot decode: {exc}") from exc
    values: dict[str, int | float] = {sig.name: _number(raw[sig.name]) for sig in msg.signals}
    return Decoded(msg.name, function, node_id, values)


def _number(value: object) -> int | float:
    if isinstance(value, (int, float)):
        return value
    raise ProtocolError(f"decoded value {value!r} is not a number")  # cannot happen without choices


def _check_function(function: int) -> int:
    if isinstance(function, bool) or not isinstance(function, int) or not 0 <= function < FUNCTION_COUNT:
        raise ProtocolError(f"function = {function!r} outside [0, {FUNCTION_COUNT - 1}]")
    return function


def _function_label(function: int) -> str:
    if function == _network_attribute("UdsRequestFunction"):
        return "UDS request, ISO-TP"
    if function == _network_attribute("UdsResponseFunction"):
        return "UDS response, ISO-TP"
    return "unassigned"


def _signal(msg: Message, name: str) -> Signal:
    for sig in msg.signals:
        if sig.name == name:
            return sig
    raise ProtocolError(f"{msg.name} has no signal {name!r} (signals: {[s.name for s in msg.signals]})")


def _raw_limits(sig: Signal) -> tuple[int, int]:
    if sig.is_signed:
        return -(1 << (sig.length - 1)), (1 << (sig.length - 1)) - 1
    return 0, (1 << sig.length) - 1


def _check_value(msg: Message, sig: Signal, value: float | int | str) -> float | int:
    where = f"{msg.name}.{sig.name}"
    unit = f" {sig.unit}" if sig.unit else ""
    if isinstance(value, str):
        table = {str(n): int(v) for v, n in (sig.choices or {}).items()}
        if value not in table:
            raise ProtocolError(f"{where} = {value!r}: not one of {sorted(table)}")
        value = table[value]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ProtocolError(f"{where} = {value!r}: must be a number")
    x = float(value)
    if not math.isfinite(x):
        raise ProtocolError(f"{where} = {value!r}: must be finite")
    if sig.is_float:
        if abs(x) > FLOAT32_MAX:
            raise ProtocolError(f"{where} = {value!r}: beyond the float32 range")
        return x
    lo = sig.minimum
    hi = sig.maximum
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise ProtocolError(f"{where} = {value!r} outside [{lo}, {hi}]{unit}")
    raw = round((x - float(sig.offset)) / float(sig.scale))
    raw_lo, raw_hi = _raw_limits(sig)
    if not raw_lo <= raw <= raw_hi:
        raise ProtocolError(f"{where} = {value!r}: raw {raw} outside the {sig.length}-bit "
                            f"range [{raw_lo}, {raw_hi}]")
    if float(sig.scale) == 1.0 and float(sig.offset) == 0.0 and isinstance(value, numbers.Integral):
        return int(value)
    return x
