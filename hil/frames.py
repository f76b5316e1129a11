"""Frames in bulk: the DBC codec over numpy arrays, and the frame log.

``encode_commands(kind, node_id, fields, ranges)`` builds the setpoint
frames of a whole command schedule at once (one row of bytes per command)
and ``decode_states(data, ranges)`` decodes many StateReply frames; both
follow the DBC signal by signal (start bit, length, byte order, sign,
float32, scale, offset, read from ``actuators.protocol.message``) and the
MIT-layout quantisation of ``actuators.protocol.impedance`` (rounded half
up, saturated to the board ranges), so they give the bytes and values of
the scalar codec (tested against it), a thousand times faster.

``FrameLog`` keeps every frame of a run (time, id, data, direction) and
writes them with python-can's ``can.Logger`` (``.asc``, ``.blf``, ...).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import can
import numpy as np

from actuators import protocol as p
from actuators.protocol import ImpedanceRanges

__all__ = ["COMMAND_MESSAGES", "FrameLog", "MessageCodec", "codec", "decode_states", "encode_commands", "quantise",
           "read_log"]

# command kind -> DBC message
COMMAND_MESSAGES = {"current": "CurrentCommand", "velocity": "VelocityCommand",
                    "position": "PositionCommand", "impedance": "ImpedanceCommand",
                    "muscle": "MuscleCommand"}
# (kind) -> {DBC signal: envelope field} for the float/scaled layouts
_SIGNALS = {
    "current": {"i_d_ref_a": "i_d_ref_a", "i_q_ref_a": "i_q_ref_a"},
    "velocity": {"v_out_ref_rad_s": "v_out_ref_rad_s", "tau_ff_nm": "tau_ff_nm"},
    "position": {"p_out_ref_rad": "p_out_ref_rad", "v_out_ff_rad_s": "v_out_ff_rad_s", "tau_ff_nm": "tau_ff_nm"},
    "muscle": {"u_flex": "u_flex", "u_ext": "u_ext"},
}
P_BITS, V_BITS, KP_BITS, KD_BITS, TAU_BITS = 16, 12, 12, 12, 12
REFUSED_BIT = 1 << 10


def quantise(x: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
    """Raw integers of x on [lo, hi] with ``bits`` bits, rounded half up,
    saturated (``actuators.protocol.quantise`` with saturate=True)."""
    full = (1 << bits) - 1
    xs = np.clip(np.asarray(x, float), lo, hi)
    raw = np.floor((xs - lo) / (hi - lo) * full + 0.5)
    return np.clip(raw, 0, full).astype(np.int64)


def _dequantise(raw: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
    full = (1 << bits) - 1
    return raw.astype(float) / full * (hi - lo) + lo


@dataclass
class _Sig:
    name: str
    shift: int          # left shift of the raw value in its 64-bit word
    length: int
    big_endian: bool
    signed: bool
    is_float: bool
    scale: float
    offset: float
    lo: float | None
    hi: float | None


class MessageCodec:
    """One DBC message (up to 8 bytes) over arrays: ``encode`` and ``decode``."""

    def __init__(self, name: str) -> None:
        m = p.message(name)
        if m.length > 8:
            raise ValueError(f"{name}: {m.length} bytes; MessageCodec handles up to 8")
        self.name, self.length, self.frame_id = name, m.length, m.frame_id
        self.signals: list[_Sig] = []
        for s in m.signals:
            if s.byte_order == "little_endian":
                shift = s.start
            else:  # Motorola: start is the MSB in sawtooth numbering; word = bytes big-endian
                msb_linear = (s.start // 8) * 8 + (7 - s.start % 8)
                shift = 64 - msb_linear - s.length
            self.signals.append(_Sig(s.name, shift, s.length, s.byte_order == "big_endian", s.is_signed,
                                     s.is_float, float(s.scale), float(s.offset),
                                     None if s.minimum is None else float(s.minimum),
                                     None if s.maximum is None else float(s.maximum)))

    def encode(self, values: Mapping[str, Any], n: int) -> np.ndarray:
        """(n, length) uint8: one frame per row of ``values`` (physical, scalars broadcast)."""
        le = np.zeros(n, np.uint64)
        be = np.zeros(n, np.uint64)
        for s in self.signals:
            v = np.broadcast_to(np.asarray(values.get(s.name, 0.0), float), (n,))
            if s.is_float:
                bits = v.astype(np.float32).view(np.uint32).astype(np.uint64)
            else:
                if s.lo is not None and s.hi is not None and s.lo < s.hi:
                    v = np.clip(v, s.lo, s.hi)
                raw = np.round((v - s.offset) / s.scale).astype(np.int64)
                lo_raw = -(1 << (s.length - 1)) if s.signed else 0
                hi_raw = (1 << (s.length - 1)) - 1 if s.signed else (1 << s.length) - 1
                raw = np.clip(raw, lo_raw, hi_raw)
                bits = (raw & ((1 << s.length) - 1)).astype(np.uint64)
            word = bits << np.uint64(s.shift)
            if s.big_endian:
                be |= word
            else:
                le |= word
        out = le.astype("<u8").view(np.uint8).reshape(n, 8) | be.astype(">u8").view(np.uint8).reshape(n, 8)
        return np.ascontiguousarray(out[:, :self.length])

    def decode(self, data: np.ndarray) -> dict[str, np.ndarray]:
        """Physical values of each signal of (n, length) uint8 frames."""
        d = np.zeros((len(data), 8), np.uint8)
        d[:, :self.length] = data[:, :self.length]
        le = d.view("<u8").reshape(-1)
        be = d.view(">u8").reshape(-1)
        out: dict[str, np.ndarray] = {}
        for s in self.signals:
            w = be if s.big_endian else le
            raw = (w >> np.uint64(s.shift)) & np.uint64((1 << s.length) - 1)
            if s.is_float:
                out[s.name] = raw.astype(np.uint32).view(np.float32).astype(float)
                continue
            r = raw.astype(np.int64)
            if s.signed:
                r = np.where(r >= (1 << (s.length - 1)), r - (1 << s.length), r)
            out[s.name] = r * s.scale + s.offset
        return out


_CODECS: dict[str, MessageCodec] = {}


def codec(name: str) -> MessageCodec:
    if name not in _CODECS:
        _CODECS[name] = MessageCodec(name)
    return _CODECS[name]


def encode_commands(kind: str, node_id: int, fields: Mapping[str, Any], n: int,
                    ranges: ImpedanceRanges | None) -> tuple[int, np.ndarray]:
    """(CAN id, (n, 8) uint8) of n setpoint frames of ``kind`` for node_id.
    ``fields`` SI as ``hil.limits.envelope`` names them (arrays of n or scalars)."""
    name = COMMAND_MESSAGES[kind]
    c = codec(name)
    can_id = p.frame_id(name, node_id)
    if kind == "impedance":
        if ranges is None:
            raise ValueError("impedance frames need the board's ImpedanceRanges")
        r = ranges

        def f(k: str) -> np.ndarray:
            return np.broadcast_to(np.asarray(fields.get(k, 0.0), float), (n,))

        raw = {"p_des_raw": quantise(f("p_des_rad"), r.p_min_rad, r.p_max_rad, P_BITS),
               "v_des_raw": quantise(f("v_des_rad_s"), r.v_min_rad_s, r.v_max_rad_s, V_BITS),
               "kp_raw": quantise(f("kp_nm_rad"), 0.0, r.kp_max_nm_rad, KP_BITS),
               "kd_raw": quantise(f("kd_nms_rad"), 0.0, r.kd_max_nms_rad, KD_BITS),
               "tau_ff_raw": quantise(f("tau_ff_nm"), r.tau_min_nm, r.tau_max_nm, TAU_BITS)}
        return can_id, c.encode(raw, n)
    return can_id, c.encode({sig: fields.get(fld, 0.0) for sig, fld in _SIGNALS[kind].items()}, n)


def decode_states(data: np.ndarray, ranges: ImpedanceRanges) -> dict[str, np.ndarray]:
    """StateReply frames ((n, 8) uint8) -> p_out_rad, v_out_rad_s, tau_out_nm,
    temp_c, mode (DBC value), faults (refusal bit removed), refused (0/1)."""
    v = codec("StateReply").decode(np.asarray(data, np.uint8).reshape(-1, 8))
    r = ranges
    bits = v["fault_bits"].astype(np.int64)
    return {"p_out_rad": _dequantise(v["p_out_raw"], r.p_min_rad, r.p_max_rad, P_BITS),
            "v_out_rad_s": _dequantise(v["v_out_raw"], r.v_min_rad_s, r.v_max_rad_s, V_BITS),
            "tau_out_nm": _dequantise(v["tau_out_raw"], r.tau_min_nm, r.tau_max_nm, TAU_BITS),
            "temp_c": v["temp_c"], "mode": v["mode"].astype(np.int64),
            "faults": bits & ~REFUSED_BIT, "refused": (bits & REFUSED_BIT) > 0}


@dataclass
class FrameLog:
    """Every frame of a run: (t_s, can_id, data, is_rx (node -> host), is_fd)."""

    frames: list[tuple[float, int, bytes, bool, bool]] = field(default_factory=list)

    def add(self, t_s: float, can_id: int, data: bytes, is_rx: bool, is_fd: bool = False) -> None:
        self.frames.append((t_s, can_id, data, is_rx, is_fd))

    def __len__(self) -> int:
        return len(self.frames)

    def messages(self) -> list[can.Message]:
        return [can.Message(timestamp=t, arbitration_id=i, data=d, is_extended_id=False, is_rx=rx,
                            is_fd=fd, bitrate_switch=fd, channel=0)
                for t, i, d, rx, fd in self.frames]

    def write(self, path: str | Path) -> int:
        """Write every frame with ``can.Logger`` (format from the suffix:
        .asc, .blf, .log, .csv, ...); returns the number written."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with can.Logger(str(path)) as log:
            for m in self.messages():
                log.on_message_received(m)
        return len(self.frames)


def read_log(path: str | Path) -> list[can.Message]:
    """Every frame of a log written by ``FrameLog.write`` (``can.LogReader``)."""
    return [m for m in can.LogReader(str(path))]
