"""The generated C codec (myofoc_can.c) against cantools, for every message.

A shim written here (from the DBC's signal list) wraps each message's C
pack/unpack/encode/decode behind flat arrays; gcc builds it with the codec
into a shared library loaded with ctypes. Checks, per message:
- cantools encodes random physical values -> C unpacks the same raw values and
  decodes them within half a quantisation step of the originals;
- C encodes random float32 physical values -> cantools decodes them within half
  a step (and the raw values agree with cantools' own encoding within 1 LSB);
- random raw values of every bit width cross both ways bit-exactly;
- the MIT-layout frames match an independent byte packing written from the
  MIT mini-cheetah protocol.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from cantools.database.can import Message, Signal
from cantools.database.can.c_source import camel_to_snake_case

from actuators import protocol

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "actuators" / "protocol"
N_RANDOM = 300
MESSAGES = [m.name for m in protocol.database().messages]

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


def _ctype(sig: Signal) -> str:
    if sig.is_float:
        return "float"
    width = next(w for w in (8, 16, 32, 64) if sig.length <= w)
    return f"{'' if sig.is_signed else 'u'}int{width}_t"


def _shim_source() -> str:
    lines = ["#include <stddef.h>", "#include <stdint.h>", '#include "myofoc_can.h"', ""]
    for msg in protocol.database().messages:
        m = camel_to_snake_case(msg.name)
        t = f"struct myofoc_can_{m}_t"
        sigs = [camel_to_snake_case(s.name) for s in msg.signals]
        lines.append(f"int shim_{m}_unpack(const uint8_t *src, size_t size, double *raw, float *phys) {{")
        lines.append(f"    {t} msg;")
        lines.append(f"    int rc = myofoc_can_{m}_unpack(&msg, src, size);")
        lines.append("    if (rc != 0) return rc;")
        for i, s in enumerate(sigs):
            lines.append(f"    raw[{i}] = (double)msg.{s};")
            lines.append(f"    phys[{i}] = myofoc_can_{m}_{s}_decode(msg.{s});")
        lines += ["    return 0;", "}", ""]
        lines.append(f"int shim_{m}_pack_phys(const float *phys, uint8_t *dst, size_t size) {{")
        lines.append(f"    {t} msg;")
        lines.append(f"    myofoc_can_{m}_init(&msg);")
        for i, s in enumerate(sigs):
            lines.append(f"    msg.{s} = myofoc_can_{m}_{s}_encode(phys[{i}]);")
        lines += [f"    return myofoc_can_{m}_pack(dst, &msg, size);", "}", ""]
        lines.append(f"int shim_{m}_pack_raw(const double *raw, uint8_t *dst, size_t size) {{")
        lines.append(f"    {t} msg;")
        lines.append(f"    myofoc_can_{m}_init(&msg);")
        for i, (s, sig) in enumerate(zip(sigs, msg.signals)):
            lines.append(f"    msg.{s} = ({_ctype(sig)})raw[{i}];")
        lines += [f"    return myofoc_can_{m}_pack(dst, &msg, size);", "}", ""]
    return "\n".join(lines)


class CCodec:
    """ctypes view of the shim: raw/physical arrays in the DBC's signal order."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        dbl, flt, u8 = ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_uint8)
        for msg in protocol.database().messages:
            m = camel_to_snake_case(msg.name)
            getattr(lib, f"shim_{m}_unpack").argtypes = [u8, ctypes.c_size_t, dbl, flt]
            getattr(lib, f"shim_{m}_pack_phys").argtypes = [flt, u8, ctypes.c_size_t]
            getattr(lib, f"shim_{m}_pack_raw").argtypes = [dbl, u8, ctypes.c_size_t]

    def unpack(self, msg: Message, data: bytes) -> tuple[int, list[float], list[float]]:
        n = len(msg.signals)
        raw, phys = (ctypes.c_double * n)(), (ctypes.c_float * n)()
        buf = (ctypes.c_uint8 * max(len(data), 1)).from_buffer_copy(data.ljust(max(len(data), 1), b"\0"))
        rc = getattr(self.lib, f"shim_{camel_to_snake_case(msg.name)}_unpack")(buf, len(data), raw, phys)
        return rc, list(raw), list(phys)

    def pack_phys(self, msg: Message, phys: list[float]) -> bytes:
        arr = (ctypes.c_float * len(phys))(*phys)
        out = (ctypes.c_uint8 * msg.length)()
        rc = getattr(self.lib, f"shim_{camel_to_snake_case(msg.name)}_pack_phys")(arr, out, msg.length)
        assert rc == msg.length
        return bytes(out)

    def pack_raw(self, msg: Message, raw: list[float]) -> bytes:
        arr = (ctypes.c_double * len(raw))(*raw)
        out = (ctypes.c_uint8 * msg.length)()
        rc = getattr(self.lib, f"shim_{camel_to_snake_case(msg.name)}_pack_raw")(arr, out, msg.length)
        assert rc == msg.length
        return bytes(out)


@pytest.fixture(scope="module")
def c_codec(tmp_path_factory: pytest.TempPathFactory) -> CCodec:
    tmp = tmp_path_factory.mktemp("codec")
    shim = tmp / "shim.c"
    shim.write_text(_shim_source())
    lib = tmp / "libmyofoc_can.so"
    subprocess.run(["gcc", "-std=c99", "-O2", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Werror",
                    "-shared", "-fPIC", "-I", str(PROTO), str(PROTO / "myofoc_can.c"), str(shim), "-o", str(lib),
                    "-lm"], check=True, capture_output=True, timeout=300)
    return CCodec(ctypes.CDLL(str(lib)))


def _raw_bounds(sig: Signal) -> tuple[int, int]:
    lo, hi = (-(1 << (sig.length - 1)), (1 << (sig.length - 1)) - 1) if sig.is_signed else (0, (1 << sig.length) - 1)
    if sig.minimum is not None:
        lo = max(lo, int(np.ceil((sig.minimum - sig.offset) / sig.scale - 1e-9)))
    if sig.maximum is not None:
        hi = min(hi, int(np.floor((sig.maximum - sig.offset) / sig.scale + 1e-9)))
    return lo, hi


def _random_float32(rng: np.random.Generator) -> float:
    kind = rng.integers(4)
    if kind == 0:
        return float(np.float32(rng.uniform(-100.0, 100.0)))
    if kind == 1:
        return float(np.float32(rng.uniform(-1.0, 1.0) * 10.0 ** rng.integers(-30, 38)))
    if kind == 2:
        return float(rng.choice(np.array([0.0, -0.0, 1.0, -1.0, 3.4028234663852886e38, 1.17549435e-38],
                                         dtype=np.float32)))
    return float(np.float32(rng.integers(-(1 << 24), 1 << 24)))  # integer parameters travel as float32


def _random_physical(msg: Message, rng: np.random.Generator, as_float32: bool) -> list[float]:
    values = []
    for sig in msg.signals:
        if sig.is_float:
            values.append(_random_float32(rng))
            continue
        lo, hi = _raw_bounds(sig)
        raw = int(rng.integers(lo, hi, endpoint=True))
        x = raw * sig.scale + sig.offset + rng.uniform(-0.45, 0.45) * sig.scale
        x = min(max(x, lo * sig.scale + sig.offset), hi * sig.scale + sig.offset)
        values.append(float(np.float32(x)) if as_float32 else x)
    return values


def _random_raw(msg: Message, rng: np.random.Generator) -> list[float]:
    out = []
    for sig in msg.signals:
        if sig.is_float:
            out.append(_random_float32(rng))
        elif sig.is_signed:
            out.append(float(rng.integers(-(1 << (sig.length - 1)), (1 << (sig.length - 1)) - 1, endpoint=True)))
        else:
            out.append(float(rng.integers(0, (1 << sig.length) - 1, endpoint=True)))
    return out


def _half_step_bound(sig: Signal, x: float) -> float:
    """Allowed |decoded - x|: half a raw step plus float32 arithmetic on the C side."""
    return 0.5 * sig.scale + 4.0 * float(np.spacing(np.float32(abs(x) + abs(sig.offset) + sig.scale)))


@pytest.mark.parametrize("name", MESSAGES)
def test_c_decodes_every_frame_cantools_encodes(name: str, c_codec: CCodec) -> None:
    msg = protocol.message(name)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for _ in range(N_RANDOM):
        x = _random_physical(msg, rng, as_float32=False)
        data = bytes(msg.encode({s.name: v for s, v in zip(msg.signals, x)}, scaling=True, strict=True))
        rc, raw_c, phys_c = c_codec.unpack(msg, data)
        assert rc == 0
        raw_py = msg.decode(data, decode_choices=False, scaling=False)
        for sig, xi, rc_i, pc_i in zip(msg.signals, x, raw_c, phys_c):
            if sig.is_float:
                assert np.float32(pc_i) == np.float32(xi) and rc_i == raw_py[sig.name], sig.name
            else:
                assert rc_i == raw_py[sig.name], f"{name}.{sig.name}: raw C {rc_i} != cantools {raw_py[sig.name]}"
                assert abs(pc_i - xi) <= _half_step_bound(sig, xi), f"{name}.{sig.name}: {pc_i} vs {xi}"
    # the C side refuses a frame shorter than the message
    if msg.length > 0:
        rc, _, _ = c_codec.unpack(msg, bytes(msg.length - 1))
        assert rc < 0


@pytest.mark.parametrize("name", MESSAGES)
def test_cantools_decodes_every_frame_c_encodes(name: str, c_codec: CCodec) -> None:
    msg = protocol.message(name)
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    lsb_differences = 0
    for _ in range(N_RANDOM):
        x = _random_physical(msg, rng, as_float32=True)
        data = c_codec.pack_phys(msg, x)
        got = msg.decode(data, decode_choices=False, scaling=True)
        raw_c = msg.decode(data, decode_choices=False, scaling=False)
        raw_py = msg.decode(msg.encode({s.name: v for s, v in zip(msg.signals, x)}, scaling=True),
                            decode_choices=False, scaling=False)
        for sig, xi in zip(msg.signals, x):
            if sig.is_float:
                assert np.float32(got[sig.name]) == np.float32(xi), sig.name
                continue
            assert abs(got[sig.name] - xi) <= _half_step_bound(sig, xi), f"{name}.{sig.name}: {got[sig.name]} vs {xi}"
            diff = abs(raw_c[sig.name] - raw_py[sig.name])
            assert diff <= 1, f"{name}.{sig.name}: C raw {raw_c[sig.name]}, cantools raw {raw_py[sig.name]}"
            lsb_differences += diff
    # C rounds in float32, cantools in double: they may differ only for values within ~1e-7 of a half step
    assert lsb_differences <= max(2, N_RANDOM * len(msg.signals) // 200)


@pytest.mark.parametrize("name", MESSAGES)
def test_raw_values_cross_bit_exactly(name: str, c_codec: CCodec) -> None:
    msg = protocol.message(name)
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 2)
    for _ in range(N_RANDOM):
        raw = _random_raw(msg, rng)
        data_c = c_codec.pack_raw(msg, raw)
        data_py = bytes(msg.encode({s.name: v for s, v in zip(msg.signals, raw)}, scaling=False, strict=False))
        assert data_c == data_py
        back = msg.decode(data_c, decode_choices=False, scaling=False)
        rc, raw_c, _ = c_codec.unpack(msg, data_py)
        assert rc == 0
        for sig, r, rcv in zip(msg.signals, raw, raw_c):
            if sig.is_float:
                assert np.float32(back[sig.name]) == np.float32(r) and np.float32(rcv) == np.float32(r)
            else:
                assert back[sig.name] == r and rcv == r, sig.name


# --- the MIT layout, written from the mini-cheetah protocol -------------------------------------

def mit_command_bytes(p: int, v: int, kp: int, kd: int, t: int) -> bytes:
    """MIT command: [p 15-8][p 7-0][v 11-4][v 3-0 | kp 11-8][kp 7-0][kd 11-4][kd 3-0 | t 11-8][t 7-0]."""
    return bytes([p >> 8, p & 0xFF, v >> 4, ((v & 0xF) << 4) | (kp >> 8), kp & 0xFF,
                  kd >> 4, ((kd & 0xF) << 4) | (t >> 8), t & 0xFF])


def mit_state_bytes(p: int, v: int, t: int, temp: int, mode: int, faults: int) -> bytes:
    """Our state reply: MIT p/v/tau (without the node byte), then temp, mode | faults 11-8, faults 7-0."""
    return bytes([p >> 8, p & 0xFF, v >> 4, ((v & 0xF) << 4) | (t >> 8), t & 0xFF, temp,
                  (mode << 4) | (faults >> 8), faults & 0xFF])


CMD_FIELDS = [("p_des_raw", 16), ("v_des_raw", 12), ("kp_raw", 12), ("kd_raw", 12), ("tau_ff_raw", 12)]
STATE_FIELDS = [("p_out_raw", 16), ("v_out_raw", 12), ("tau_out_raw", 12), ("temp_c", 8), ("mode", 4),
                ("fault_bits", 12)]


def _mit_cases(fields: list[tuple[str, int]], rng: np.random.Generator) -> list[list[int]]:
    cases = []
    for i, (_, bits) in enumerate(fields):  # walking one through every bit of every field
        for b in range(bits):
            case = [0] * len(fields)
            case[i] = 1 << b
            cases.append(case)
    cases += [[int(rng.integers(0, 1 << bits)) for _, bits in fields] for _ in range(200)]
    cases.append([(1 << bits) - 1 for _, bits in fields])
    return cases


def test_impedance_command_is_the_mit_layout_bit_by_bit(c_codec: CCodec) -> None:
    msg = protocol.message("ImpedanceCommand")
    assert [s.name for s in msg.signals] == [f for f, _ in CMD_FIELDS]
    for case in _mit_cases(CMD_FIELDS, np.random.default_rng(10)):
        expected = mit_command_bytes(*case)
        assert bytes(msg.encode(dict(zip([f for f, _ in CMD_FIELDS], case)), scaling=False)) == expected
        assert c_codec.pack_raw(msg, [float(c) for c in case]) == expected


def test_state_reply_is_the_mit_style_layout_bit_by_bit(c_codec: CCodec) -> None:
    msg = protocol.message("StateReply")
    assert [s.name for s in msg.signals] == [f for f, _ in STATE_FIELDS]
    for case in _mit_cases(STATE_FIELDS, np.random.default_rng(11)):
        expected = mit_state_bytes(*case)
        assert bytes(msg.encode(dict(zip([f for f, _ in STATE_FIELDS], case)), scaling=False)) == expected
        assert c_codec.pack_raw(msg, [float(c) for c in case]) == expected


@pytest.mark.parametrize("name,fields,layout", [("GroupCommand", CMD_FIELDS, mit_command_bytes),
                                                ("GroupState", STATE_FIELDS, mit_state_bytes)])
def test_group_frames_are_eight_mit_slots(name: str, fields, layout, c_codec: CCodec) -> None:
    msg = protocol.message(name)
    rng = np.random.default_rng(12)
    order = [s.name for s in msg.signals]
    for _ in range(100):
        slots = [[int(rng.integers(0, 1 << bits)) for _, bits in fields] for _ in range(8)]
        values = {f"slot{k}_{f}": slots[k][i] for k in range(8) for i, (f, _) in enumerate(fields)}
        expected = b"".join(layout(*slot) for slot in slots)
        assert bytes(msg.encode(values, scaling=False)) == expected
        assert c_codec.pack_raw(msg, [float(values[n]) for n in order]) == expected
