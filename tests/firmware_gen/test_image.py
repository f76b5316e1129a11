"""firmware_gen.image against docs/spec/image_format.md: layout written from the
spec table with struct/zlib here, round trip, and every corruption refused with
the field named."""
from __future__ import annotations

import hashlib
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_gen.image import (
    Image, ImageError, build_image, pack_version, read_image, unpack_version,
)

PAYLOAD = bytes((i * 37 + 11) & 0xFF for i in range(1000))  # a stand-in binary
HASH = hashlib.sha256(b"sources").digest()
KW = dict(fw_version="1.2.3", security_counter=7, board_id=0x0102, load_addr=0x08008200,
          build_hash=HASH, version_text="1.2.3+g1a2b3c4")


def _image(payload: bytes = PAYLOAD) -> bytes:
    return build_image(payload, **KW)


def _u32(data: bytes, off: int) -> int:
    return struct.unpack_from("<I", data, off)[0]


def _put(data: bytes, off: int, fmt: str, value: int, fix_crc: bool) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, off, value)
    if fix_crc:  # make the header CRC right again so the field's own check is reached
        struct.pack_into("<I", b, 124, zlib.crc32(bytes(b[:124])) & 0xFFFFFFFF)
    return bytes(b)


def _refused(data: bytes, field: str) -> ImageError:
    with pytest.raises(ImageError) as ei:
        read_image(data)
    assert ei.value.field == field, str(ei.value)
    assert str(ei.value).startswith(field)
    return ei.value


def test_layout_matches_the_spec_table() -> None:
    data = _image()
    assert len(data) == 512 + len(PAYLOAD)
    assert data[:4] == b"MFW1" and _u32(data, 0) == 0x3157464D
    assert struct.unpack_from("<HH", data, 4) == (1, 512)
    assert _u32(data, 8) == (1 << 16) | (2 << 8) | 3
    assert _u32(data, 12) == 7 and _u32(data, 16) == 0x0102 and _u32(data, 20) == 0x08008200
    assert _u32(data, 24) == len(PAYLOAD)
    assert _u32(data, 28) == zlib.crc32(PAYLOAD)
    assert data[32:64] == HASH
    assert data[64:96] == b"1.2.3+g1a2b3c4".ljust(32, b"\0")
    assert _u32(data, 96) == 0                      # flags: unsigned
    assert data[100:124] == bytes(24)
    assert _u32(data, 124) == zlib.crc32(data[:124])
    assert data[128:512] == bytes(384)              # signature + reserved
    assert data[512:] == PAYLOAD


def test_round_trip() -> None:
    img = read_image(_image())
    h = img.header
    assert img.payload == PAYLOAD
    assert (h.fw_version_text, h.security_counter, h.board_id, h.load_addr) == ("1.2.3", 7, 0x0102, 0x08008200)
    assert (h.payload_bytes, h.build_hash, h.version_text, h.signed) == (len(PAYLOAD), HASH, "1.2.3+g1a2b3c4", False)
    assert img.to_bytes() == _image()
    # 32-byte version text (no NUL terminator) and a 1-byte payload also round-trip
    kw = dict(KW, version_text="x" * 32)
    assert read_image(build_image(b"\x01", **kw)).header.version_text == "x" * 32


def test_version_packing() -> None:
    assert pack_version("0.0.1") == 1 and pack_version("v2.10.255+dirty") == 0x020AFF
    assert unpack_version(pack_version("65535.255.255")) == "65535.255.255"
    for bad in ("1.2", "1.2.x", "1.256.0", "65536.0.0", ""):
        with pytest.raises(ImageError, match="^fw_version"):
            pack_version(bad)


@pytest.mark.parametrize("field, kw", [
    ("payload_bytes", dict(payload=b"")),
    ("fw_version", dict(fw_version="1.2")),
    ("security_counter", dict(security_counter=-1)),
    ("security_counter", dict(security_counter=1 << 32)),
    ("board_id", dict(board_id=1 << 32)),
    ("load_addr", dict(load_addr=0x08008100)),     # not 512-aligned
    ("build_hash", dict(build_hash=b"\0" * 31)),
    ("version_text", dict(version_text="x" * 33)),
    ("version_text", dict(version_text="\u00e9")),
])
def test_build_refuses_bad_arguments(field: str, kw: dict) -> None:
    args = dict(KW, payload=PAYLOAD)
    args.update(kw)
    payload = args.pop("payload")
    with pytest.raises(ImageError) as ei:
        build_image(payload, **args)
    assert ei.value.field == field


# Header fields checked before the CRC: changed alone, their own check fires.
@pytest.mark.parametrize("off, fmt, value, field", [
    (0, "<I", 0x3257464D, "magic"),
    (0, "<I", 0, "magic"),
    (4, "<H", 2, "format_version"),
    (4, "<H", 0, "format_version"),
    (6, "<H", 256, "header_bytes"),
    (6, "<H", 1024, "header_bytes"),
])
def test_identity_fields_refused(off: int, fmt: str, value: int, field: str) -> None:
    _refused(_put(_image(), off, fmt, value, fix_crc=False), field)


# Every other field of [0, 124) changed alone: the header CRC catches it.
@pytest.mark.parametrize("off, fmt, value", [
    (8, "<I", 0x010204), (12, "<I", 8), (16, "<I", 0x0103), (20, "<I", 0x08010200),
    (24, "<I", len(PAYLOAD) - 1), (28, "<I", 0), (32, "<B", 0), (63, "<B", 0xAA),
    (64, "<B", ord("2")), (95, "<B", 1), (96, "<I", 1), (100, "<B", 1), (123, "<B", 1),
    (124, "<I", 0),
])
def test_any_header_field_change_fails_the_header_crc(off: int, fmt: str, value: int) -> None:
    _refused(_put(_image(), off, fmt, value, fix_crc=False), "header_crc32")


# With the header CRC recomputed (a forged header), each field's own check fires.
@pytest.mark.parametrize("off, fmt, value, field", [
    (24, "<I", len(PAYLOAD) - 1, "payload_bytes"),    # declares less: trailing byte
    (24, "<I", len(PAYLOAD) + 1, "payload_bytes"),    # declares more: truncated
    (24, "<I", 0, "payload_bytes"),
    (28, "<I", 0x12345678, "payload_crc32"),
    (96, "<I", 2, "flags"),
    (96, "<I", 0x80000000, "flags"),
    (96, "<I", 1, "signature"),                       # signed flag, zero signature
    (100, "<B", 1, "reserved"),
    (120, "<I", 0xFFFFFFFF, "reserved"),
    (64, "<B", 0xC3, "version_text"),                 # not ASCII
    (66, "<B", 0, "version_text"),                    # NUL inside the text
])
def test_forged_header_fields_refused(off: int, fmt: str, value: int, field: str) -> None:
    _refused(_put(_image(), off, fmt, value, fix_crc=True), field)


@pytest.mark.parametrize("off", [128, 150, 191])
def test_signature_without_flag_refused(off: int) -> None:
    _refused(_put(_image(), off, "<B", 0x5A, fix_crc=False), "signature")


@pytest.mark.parametrize("off", [192, 300, 511])
def test_reserved_tail_refused(off: int) -> None:
    _refused(_put(_image(), off, "<B", 1, fix_crc=False), "reserved")


@pytest.mark.parametrize("where", [0, 1, 4, 255, 500, 998, 999])
@pytest.mark.parametrize("change", ["flip1", "flip8", "zero", "ones"])
def test_payload_byte_changes_refused(where: int, change: str) -> None:
    b = bytearray(_image())
    i = 512 + where
    b[i] = {"flip1": b[i] ^ 0x01, "flip8": b[i] ^ 0x80, "zero": 0x00 if b[i] else 0x01,
            "ones": 0xFF if b[i] != 0xFF else 0xFE}[change]
    _refused(bytes(b), "payload_crc32")


def test_payload_swap_refused() -> None:
    b = bytearray(_image())
    b[512], b[513] = b[513], b[512]
    assert b[512] != b[513]
    _refused(bytes(b), "payload_crc32")


@pytest.mark.parametrize("cut", [0, 1, 3, 4, 100, 127, 128, 300, 511])
def test_truncated_inside_the_header(cut: int) -> None:
    e = _refused(_image()[:cut], "file")
    assert "short" in str(e)


@pytest.mark.parametrize("cut", [512, 513, 600, 1000, 1511])
def test_truncated_payload(cut: int) -> None:
    e = _refused(_image()[:cut], "payload_bytes")
    assert "truncated" in str(e)


@pytest.mark.parametrize("extra", [b"\0", b"\xff" * 4, bytes(512)])
def test_trailing_bytes(extra: bytes) -> None:
    e = _refused(_image() + extra, "payload_bytes")
    assert "trailing" in str(e)


@settings(max_examples=300, deadline=None)
@given(pos=st.integers(0, 127 + len(PAYLOAD)), delta=st.integers(1, 255))
def test_any_single_byte_change_refused(pos: int, delta: int) -> None:
    data = bytearray(_image())
    i = pos if pos < 128 else 512 + (pos - 128)
    data[i] = (data[i] + delta) & 0xFF
    with pytest.raises(ImageError):
        read_image(bytes(data))


@settings(max_examples=100, deadline=None)
@given(pos=st.integers(0, 511), delta=st.integers(1, 255))
def test_any_single_byte_change_of_the_unsigned_header_refused(pos: int, delta: int) -> None:
    data = bytearray(_image())
    data[pos] = (data[pos] + delta) & 0xFF
    with pytest.raises(ImageError):
        read_image(bytes(data))


def test_signature_round_trip_with_ed25519() -> None:
    ed = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    key = ed.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    img = read_image(_image())
    to_sign = img.signed_bytes()
    signed = img.with_signature(key.sign(to_sign))
    back = read_image(signed)
    assert back.header.signed and back.header.flags == 1
    assert back.payload == PAYLOAD and back.header.board_id == img.header.board_id
    # the signature covers the signed image's own header[0:128] + payload
    assert back.signed_bytes() == to_sign == signed[:128] + signed[512:]
    key.public_key().verify(back.header.signature, signed[:128] + signed[512:])
    assert _u32(signed, 124) == zlib.crc32(signed[:124])
    # re-signing replaces the signature; bad signature sizes are refused
    other = back.with_signature(b"\x01" * 64)
    assert read_image(other).header.signature == b"\x01" * 64
    for bad in (b"\x01" * 63, bytes(64)):
        with pytest.raises(ImageError, match="^signature"):
            img.with_signature(bad)
    # a signed image with its flag cleared (CRC fixed) is refused
    _refused(_put(signed, 96, "<I", 0, fix_crc=True), "signature")


def test_image_is_an_image() -> None:
    assert isinstance(read_image(_image()), Image)
