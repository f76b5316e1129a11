"""The myofoc firmware image (``.mfw``), format version 1.

Implements docs/spec/image_format.md exactly: a 512-byte little-endian header
(magic, versions, board id, load address, payload length and CRC-32, build
hash, version text, flags, header CRC-32, Ed25519 signature slot) followed by
the payload (the raw application binary, vector table first).

``build_image`` writes an unsigned image; ``read_image`` checks every field
and refuses any corruption with an :class:`ImageError` naming the field;
``Image.signed_bytes()`` / ``Image.with_signature()`` are what a signer needs
(the signature itself is made and checked elsewhere: firmware_gen/signing.py).
"""
from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, replace

__all__ = [
    "FLAG_SIGNED", "FORMAT_VERSION", "HEADER_BYTES", "MAGIC", "SIGNED_HEADER_BYTES",
    "Image", "ImageError", "ImageHeader", "build_image", "pack_version", "read_image",
    "unpack_version", "write_image",
]

MAGIC = 0x3157464D  # b"MFW1"
FORMAT_VERSION = 1
HEADER_BYTES = 512
SIGNED_HEADER_BYTES = 128  # the signature covers header[0:128] + payload
FLAG_SIGNED = 0x1
KNOWN_FLAGS = FLAG_SIGNED

# offsets (docs/spec/image_format.md)
_OFF_FLAGS = 96
_OFF_RESERVED1 = 100
_OFF_HEADER_CRC = 124
_OFF_SIGNATURE = 128
_OFF_RESERVED2 = 192
_SIG_BYTES = 64
_HASH_BYTES = 32
_TEXT_BYTES = 32

# bytes [0, 100): magic .. flags
_FIXED = struct.Struct("<IHHIIIIII32s32sI")
assert _FIXED.size == _OFF_RESERVED1

_U32_MAX = 0xFFFFFFFF
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$")


class ImageError(ValueError):
    """An image that cannot be built or read; ``field`` names the header
    field (or ``"file"``/``"payload"``) at fault, and the message starts with it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def _crc32(data: bytes) -> int:
    return zlib.crc32(data) & _U32_MAX


def pack_version(text: str) -> int:
    """``"1.2.3"`` (optionally ``v`` prefix, ``+build``/``-pre`` suffix) ->
    ``major << 16 | minor << 8 | patch``; major < 65536, minor/patch < 256."""
    m = _VERSION_RE.match(text.strip())
    if not m:
        raise ImageError("fw_version", f"{text!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(g) for g in m.groups())
    if major > 0xFFFF or minor > 0xFF or patch > 0xFF:
        raise ImageError("fw_version", f"{text!r}: major 0..65535, minor and patch 0..255")
    return (major << 16) | (minor << 8) | patch


def unpack_version(value: int) -> str:
    """The packed ``fw_version`` as ``"major.minor.patch"``."""
    return f"{value >> 16}.{(value >> 8) & 0xFF}.{value & 0xFF}"


@dataclass(frozen=True)
class ImageHeader:
    """The decoded 512-byte header (field names as in the spec)."""

    fw_version: int
    security_counter: int
    board_id: int
    load_addr: int
    payload_bytes: int
    payload_crc32: int
    build_hash: bytes
    version_text: str
    flags: int = 0
    header_crc32: int = 0
    signature: bytes = bytes(_SIG_BYTES)
    magic: int = MAGIC
    format_version: int = FORMAT_VERSION
    header_bytes: int = HEADER_BYTES

    @property
    def signed(self) -> bool:
        """Flag bit 0: a signature is present."""
        return bool(self.flags & FLAG_SIGNED)

    @property
    def fw_version_text(self) -> str:
        """``fw_version`` as ``"major.minor.patch"``."""
        return unpack_version(self.fw_version)

    def pack(self) -> bytes:
        """The 512 header bytes, with ``header_crc32`` computed afresh
        (the stored ``header_crc32`` attribute is ignored)."""
        text = self.version_text.encode("ascii")
        first = _FIXED.pack(
            self.magic, self.format_version, self.header_bytes, self.fw_version,
            self.security_counter, self.board_id, self.load_addr, self.payload_bytes,
            self.payload_crc32, self.build_hash, text, self.flags,
        ) + bytes(_OFF_HEADER_CRC - _OFF_RESERVED1)
        return (first + struct.pack("<I", _crc32(first)) + self.signature
                + bytes(HEADER_BYTES - _OFF_RESERVED2))


@dataclass(frozen=True)
class Image:
    """A checked image: its header and payload."""

    header: ImageHeader
    payload: bytes

    def to_bytes(self) -> bytes:
        """The image file's bytes."""
        return self.header.pack() + self.payload

    def signed_bytes(self) -> bytes:
        """What the Ed25519 signature covers: header[0:128] + payload, with the
        header as it is in the *signed* image (flag bit 0 set, header CRC over
        that). For an already signed image these are exactly its own bytes;
        for an unsigned one they are what ``with_signature`` will write."""
        hdr = replace(self.header, flags=self.header.flags | FLAG_SIGNED)
        return hdr.pack()[:SIGNED_HEADER_BYTES] + self.payload

    def with_signature(self, sig64: bytes) -> bytes:
        """The image bytes with ``sig64`` in the signature field, flag bit 0 set
        and the header CRC updated (replaces any earlier signature)."""
        sig = bytes(sig64)
        if len(sig) != _SIG_BYTES:
            raise ImageError("signature", f"must be {_SIG_BYTES} bytes, got {len(sig)}")
        if sig == bytes(_SIG_BYTES):
            raise ImageError("signature", "an all-zero signature reads as unsigned")
        hdr = replace(self.header, flags=self.header.flags | FLAG_SIGNED, signature=sig)
        return hdr.pack() + self.payload


def _check_u32(field: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _U32_MAX:
        raise ImageError(field, f"{value!r} is not an integer in 0..{_U32_MAX}")
    return value


def build_image(payload: bytes, *, fw_version: str, security_counter: int, board_id: int,
                load_addr: int, build_hash: bytes, version_text: str) -> bytes:
    """An unsigned image (flags 0, zero signature) of ``payload`` (the raw
    binary linked at ``load_addr`` = slot start + 512).

    ``fw_version`` is ``"MAJOR.MINOR.PATCH"``; ``version_text`` the display
    text (ASCII, at most 32 bytes, e.g. ``"1.2.0+g1a2b3c4"``); ``build_hash``
    the 32-byte SHA-256 of the generated sources."""
    payload = bytes(payload)
    if not payload:
        raise ImageError("payload_bytes", "the payload is empty (must be > 0 bytes)")
    if len(payload) > _U32_MAX:
        raise ImageError("payload_bytes", f"{len(payload)} bytes does not fit in 32 bits")
    packed = pack_version(fw_version)
    _check_u32("security_counter", security_counter)
    _check_u32("board_id", board_id)
    _check_u32("load_addr", load_addr)
    if load_addr % HEADER_BYTES:
        raise ImageError("load_addr", f"0x{load_addr:08x} is not a multiple of {HEADER_BYTES} "
                                      "(slot start + 512, VTOR alignment)")
    build_hash = bytes(build_hash)
    if len(build_hash) != _HASH_BYTES:
        raise ImageError("build_hash", f"must be {_HASH_BYTES} bytes (SHA-256), got {len(build_hash)}")
    try:
        text = version_text.encode("ascii")
    except UnicodeEncodeError:
        raise ImageError("version_text", f"{version_text!r} is not ASCII") from None
    if len(text) > _TEXT_BYTES or b"\0" in text:
        raise ImageError("version_text", f"{version_text!r}: at most {_TEXT_BYTES} ASCII bytes, no NUL")
    hdr = ImageHeader(fw_version=packed, security_counter=security_counter, board_id=board_id,
                      load_addr=load_addr, payload_bytes=len(payload),
                      payload_crc32=_crc32(payload), build_hash=build_hash,
                      version_text=version_text)
    return hdr.pack() + payload


write_image = build_image  # the spec's name


def read_image(data: bytes) -> Image:
    """Parse and check an image; raises :class:`ImageError` naming the field on
    a short file, bad magic, unknown format version, wrong header size, header
    CRC mismatch, non-zero reserved bytes, unknown flags, signature/flag
    disagreement, zero or mismatched payload length (truncated or trailing
    bytes) or payload CRC mismatch. Does not verify the signature."""
    data = bytes(data)
    if len(data) < HEADER_BYTES:
        raise ImageError("file", f"short file: {len(data)} bytes, the header alone is {HEADER_BYTES}")
    (magic, fmt, hdr_bytes, fw_version, counter, board_id, load_addr, payload_bytes,
     payload_crc, build_hash, text, flags) = _FIXED.unpack_from(data, 0)
    if magic != MAGIC:
        raise ImageError("magic", f"0x{magic:08x}, expected 0x{MAGIC:08x} ('MFW1'): not a myofoc image")
    if fmt != FORMAT_VERSION:
        raise ImageError("format_version", f"{fmt} is unknown (this reader knows {FORMAT_VERSION})")
    if hdr_bytes != HEADER_BYTES:
        raise ImageError("header_bytes", f"{hdr_bytes}, expected {HEADER_BYTES}")
    (header_crc,) = struct.unpack_from("<I", data, _OFF_HEADER_CRC)
    want = _crc32(data[:_OFF_HEADER_CRC])
    if header_crc != want:
        raise ImageError("header_crc32", f"0x{header_crc:08x} stored, 0x{want:08x} computed over "
                                         "bytes [0, 124): header corrupt")
    if any(data[_OFF_RESERVED1:_OFF_HEADER_CRC]):
        raise ImageError("reserved", "bytes [100, 124) must be zero")
    if flags & ~KNOWN_FLAGS:
        raise ImageError("flags", f"0x{flags:08x} has unknown bits (known: 0x{KNOWN_FLAGS:x})")
    signature = data[_OFF_SIGNATURE:_OFF_SIGNATURE + _SIG_BYTES]
    has_sig = any(signature)
    if has_sig and not flags & FLAG_SIGNED:
        raise ImageError("signature", "a signature is present but the signed flag (bit 0) is clear")
    if flags & FLAG_SIGNED and not has_sig:
        raise ImageError("signature", "the signed flag (bit 0) is set but the signature is zero")
    if any(data[_OFF_RESERVED2:HEADER_BYTES]):
        raise ImageError("reserved", "bytes [192, 512) must be zero")
    try:
        version_text = text.rstrip(b"\0").decode("ascii")
    except UnicodeDecodeError:
        raise ImageError("version_text", "not ASCII") from None
    if "\0" in version_text:
        raise ImageError("version_text", "NUL inside the text (must be NUL-padded at the end only)")
    if payload_bytes == 0:
        raise ImageError("payload_bytes", "0 (must be > 0)")
    have = len(data) - HEADER_BYTES
    if have < payload_bytes:
        raise ImageError("payload_bytes", f"{payload_bytes} declared, {have} present: truncated")
    if have > payload_bytes:
        raise ImageError("payload_bytes", f"{payload_bytes} declared, {have} present: "
                                          f"{have - payload_bytes} trailing bytes")
    payload = data[HEADER_BYTES:]
    got = _crc32(payload)
    if got != payload_crc:
        raise ImageError("payload_crc32", f"0x{payload_crc:08x} stored, 0x{got:08x} computed: "
                                          "payload corrupt")
    header = ImageHeader(fw_version=fw_version, security_counter=counter, board_id=board_id,
                         load_addr=load_addr, payload_bytes=payload_bytes, payload_crc32=payload_crc,
                         build_hash=build_hash, version_text=version_text, flags=flags,
                         header_crc32=header_crc, signature=signature, magic=magic,
                         format_version=fmt, header_bytes=hdr_bytes)
    return Image(header=header, payload=payload)
