"""Host side of the STM32 USART bootloader protocol (ST application note AN3155)
on pyserial.

Line: 8 data bits, even parity, 1 stop bit (8E1), any baud rate the ROM's
autobaud accepts (the host's first 0x7F). Every command is a byte and its
complement; the ROM answers ACK 0x79 or NACK 0x1F at each stage. Addresses
travel as 4 bytes MSB first followed by their XOR; data blocks are at most
256 bytes.

    with An3155Client.open("/dev/ttyUSB0", baud=115200) as rom:
        rom.connect()
        print(hex(rom.get_id()))
        rom.erase_range(0x0800_6000, len(data), page_bytes=2048)
        rom.write(0x0800_6000, data)
        assert rom.read(0x0800_6000, len(data)) == data
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable

import serial

__all__ = [
    "ACK", "NACK", "An3155Client", "An3155Error", "An3155Nack", "An3155Timeout",
    "CMD_ERASE", "CMD_EXT_ERASE", "CMD_GET", "CMD_GET_ID", "CMD_GET_VERSION", "CMD_GO",
    "CMD_READ", "CMD_WRITE", "MAX_BLOCK", "open_serial", "page_numbers",
]

ACK = 0x79
NACK = 0x1F
SYNC = 0x7F
CMD_GET = 0x00
CMD_GET_VERSION = 0x01
CMD_GET_ID = 0x02
CMD_READ = 0x11
CMD_GO = 0x21
CMD_WRITE = 0x31
CMD_ERASE = 0x43
CMD_EXT_ERASE = 0x44
MAX_BLOCK = 256
WRITE_ALIGN = 8  # the G4 programs 64-bit double words: blocks are padded with 0xFF to this

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


class An3155Error(Exception):
    """The ROM bootloader refused, did not answer, or answered nonsense."""


class An3155Nack(An3155Error):
    """The ROM answered NACK (0x1F)."""


class An3155Timeout(An3155Error):
    """No answer within the timeout."""


def _xor(data: bytes | bytearray) -> int:
    x = 0
    for b in data:
        x ^= b
    return x


def page_numbers(addr: int, length: int, page_bytes: int, base: int = 0x0800_0000) -> list[int]:
    """Flash pages (numbered linearly from ``base``) that [addr, addr + length) touches."""
    if length <= 0:
        return []
    if addr < base:
        raise ValueError(f"0x{addr:08x} is below the flash base 0x{base:08x}")
    first = (addr - base) // page_bytes
    last = (addr + length - 1 - base) // page_bytes
    return list(range(first, last + 1))


def _is_pty(url: str) -> bool:
    try:
        return os.path.realpath(url).startswith("/dev/pts/")
    except (OSError, ValueError):
        return False


def open_serial(url: str, baud: int = 115200) -> Any:
    """Open a serial port (device path or pyserial URL) as 8E1 at ``baud``.

    The port's read timeout is short (50 ms) and set once: the client's waits
    are loops of reads up to a deadline, since changing pyserial's timeout
    reprograms the line. A pseudo-terminal (a simulated ROM) carries bytes, not
    bits: it has no parity to send, and some kernels drop or refuse PARENB on
    one, so a pty is opened without parity (the bytes are the same)."""
    parity = serial.PARITY_NONE if _is_pty(url) else serial.PARITY_EVEN
    return serial.serial_for_url(url, baudrate=baud, bytesize=serial.EIGHTBITS, parity=parity,
                                 stopbits=serial.STOPBITS_ONE, timeout=0.05)


class An3155Client:
    """An AN3155 session on an open serial port (or any object with pyserial's
    ``read``, ``write``, ``reset_input_buffer``, ``timeout``).

    ``timeout_s``: wait for each answer; ``erase_timeout_s``: wait for an
    erase to finish (a full 512 KiB erase takes seconds on the chip)."""

    def __init__(self, port: Any, *, timeout_s: float = 1.0, erase_timeout_s: float = 30.0) -> None:
        if getattr(port, "timeout", None) is None:
            raise ValueError("the serial port needs a read timeout (pyserial timeout=...)")
        self.port = port
        self.timeout_s = float(timeout_s)
        self.erase_timeout_s = float(erase_timeout_s)
        self.version: int | None = None
        self.commands: list[int] = []

    @classmethod
    def open(cls, url: str, baud: int = 115200, **kw: Any) -> "An3155Client":
        """Open a serial port (device path or pyserial URL) as 8E1 at ``baud``."""
        return cls(open_serial(url, baud), **kw)

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> "An3155Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------ link

    def _write(self, data: bytes | bytearray) -> None:
        self.port.write(bytes(data))

    def _read(self, n: int, what: str, timeout_s: float | None = None) -> bytes:
        wait = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait
        data = bytearray()
        while len(data) < n:
            data += self.port.read(n - len(data))
            if len(data) < n and time.monotonic() >= deadline:
                raise An3155Timeout(f"{what}: no answer within {wait:g} s ({len(data)} of {n} bytes)")
        return bytes(data)

    def _ack(self, what: str, timeout_s: float | None = None) -> None:
        b = self._read(1, what, timeout_s)[0]
        if b == NACK:
            raise An3155Nack(f"{what}: NACK")
        if b != ACK:
            raise An3155Error(f"{what}: 0x{b:02x} is neither ACK (0x79) nor NACK (0x1f)")

    def _command(self, cmd: int, name: str) -> None:
        if self.commands and cmd not in self.commands:
            raise An3155Error(f"{name} (0x{cmd:02x}): not offered by this bootloader "
                              f"(Get lists {', '.join(f'0x{c:02x}' for c in self.commands)})")
        self.port.reset_input_buffer()
        self._write(bytes([cmd, cmd ^ 0xFF]))
        self._ack(f"{name} (0x{cmd:02x})")

    def _address(self, addr: int, what: str) -> None:
        a = int(addr).to_bytes(4, "big")
        self._write(a + bytes([_xor(a)]))
        self._ack(f"{what}: address 0x{addr:08x}")

    # ------------------------------------------------------------ commands

    def connect(self, attempts: int = 3) -> None:
        """Autobaud: send 0x7F until ACK (or NACK: already synchronised), then Get."""
        last: Exception | None = None
        for _ in range(max(1, attempts)):
            self.port.reset_input_buffer()
            self._write(bytes([SYNC]))
            try:
                b = self._read(1, "sync (0x7f)")[0]
            except An3155Timeout as e:
                last = e
                continue
            if b in (ACK, NACK):
                self.get()
                return
            last = An3155Error(f"sync: unexpected 0x{b:02x}")
        raise last if last else An3155Error("sync failed")

    def get(self) -> tuple[int, list[int]]:
        """Get (0x00): (bootloader version, supported command codes)."""
        self.commands = []
        self._command(CMD_GET, "Get")
        n = self._read(1, "Get: length")[0]
        body = self._read(n + 1, "Get: body")
        self._ack("Get: end")
        self.version, self.commands = body[0], list(body[1:])
        return self.version, self.commands

    def get_version(self) -> tuple[int, int, int]:
        """Get Version (0x01): (version, option byte 1, option byte 2)."""
        self._command(CMD_GET_VERSION, "Get Version")
        v = self._read(3, "Get Version: body")
        self._ack("Get Version: end")
        return v[0], v[1], v[2]

    def get_id(self) -> int:
        """Get ID (0x02): the product ID (0x469 for STM32G47x/G48x)."""
        self._command(CMD_GET_ID, "Get ID")
        n = self._read(1, "Get ID: length")[0]
        pid = self._read(n + 1, "Get ID: body")
        self._ack("Get ID: end")
        return int.from_bytes(pid, "big")

    def read_memory(self, addr: int, n: int) -> bytes:
        """Read Memory (0x11): n (1..256) bytes from addr."""
        if not 1 <= n <= MAX_BLOCK:
            raise ValueError(f"read of {n} bytes: 1..{MAX_BLOCK}")
        self._command(CMD_READ, "Read Memory")
        self._address(addr, "Read Memory")
        self._write(bytes([n - 1, (n - 1) ^ 0xFF]))
        self._ack(f"Read Memory: length {n}")
        return self._read(n, f"Read Memory 0x{addr:08x}: data")

    def write_memory(self, addr: int, data: bytes) -> None:
        """Write Memory (0x31): 1..256 bytes (a multiple of 4) at addr (4-aligned)."""
        data = bytes(data)
        if not 1 <= len(data) <= MAX_BLOCK or len(data) % 4 or addr % 4:
            raise ValueError(f"write of {len(data)} bytes at 0x{addr:08x}: 4..256 bytes, "
                             "a multiple of 4, at a 4-byte aligned address")
        self._command(CMD_WRITE, "Write Memory")
        self._address(addr, "Write Memory")
        n1 = len(data) - 1
        self._write(bytes([n1]) + data + bytes([n1 ^ _xor(data)]))
        self._ack(f"Write Memory 0x{addr:08x}: {len(data)} bytes")

    def go(self, addr: int) -> None:
        """Go (0x21): jump to the application whose vector table is at addr."""
        self._command(CMD_GO, "Go")
        self._address(addr, "Go")

    def erase_pages(self, pages: list[int]) -> None:
        """Erase flash pages with Extended Erase (0x44) or, when the bootloader
        offers only that, Erase (0x43)."""
        pages = [int(p) for p in pages]
        if not pages:
            return
        if not self.commands or CMD_EXT_ERASE in self.commands:
            for i in range(0, len(pages), 512):  # keep each command's frame modest
                chunk = pages[i:i + 512]
                self._command(CMD_EXT_ERASE, "Extended Erase")
                frame = (len(chunk) - 1).to_bytes(2, "big") + b"".join(
                    p.to_bytes(2, "big") for p in chunk)
                self._write(frame + bytes([_xor(frame)]))
                self._ack(f"Extended Erase of {len(chunk)} pages", self.erase_timeout_s)
        elif CMD_ERASE in self.commands:
            if max(pages) > 0xFE:
                raise An3155Error("Erase (0x43) cannot name pages above 254")
            for i in range(0, len(pages), 255):
                chunk = pages[i:i + 255]
                self._command(CMD_ERASE, "Erase")
                frame = bytes([len(chunk) - 1, *chunk])
                self._write(frame + bytes([_xor(frame)]))
                self._ack(f"Erase of {len(chunk)} pages", self.erase_timeout_s)
        else:
            raise An3155Error("the bootloader offers neither Erase (0x43) nor Extended Erase (0x44)")

    def mass_erase(self) -> None:
        """Erase the whole flash."""
        if not self.commands or CMD_EXT_ERASE in self.commands:
            self._command(CMD_EXT_ERASE, "Extended Erase")
            self._write(bytes([0xFF, 0xFF, 0x00]))
        else:
            self._command(CMD_ERASE, "Erase")
            self._write(bytes([0xFF, 0x00]))
        self._ack("mass erase", self.erase_timeout_s)

    # ------------------------------------------------------------ bulk

    def erase_range(self, addr: int, length: int, *, page_bytes: int,
                    base: int = 0x0800_0000) -> list[int]:
        """Erase every page that [addr, addr + length) touches; the page numbers."""
        pages = page_numbers(addr, length, page_bytes, base)
        self.erase_pages(pages)
        return pages

    def write(self, addr: int, data: bytes, progress: Progress | None = None) -> None:
        """Write any length in blocks of 256 bytes (the last one padded with
        0xFF to 8 bytes); addr must be 8-byte aligned."""
        if addr % WRITE_ALIGN:
            raise ValueError(f"0x{addr:08x} is not {WRITE_ALIGN}-byte aligned")
        data = bytes(data)
        if len(data) % WRITE_ALIGN:
            data += b"\xff" * (WRITE_ALIGN - len(data) % WRITE_ALIGN)
        for off in range(0, len(data), MAX_BLOCK):
            self.write_memory(addr + off, data[off:off + MAX_BLOCK])
            if progress is not None:
                progress(min(off + MAX_BLOCK, len(data)), len(data))

    def read(self, addr: int, length: int, progress: Progress | None = None) -> bytes:
        """Read any length in blocks of 256 bytes."""
        out = bytearray()
        while len(out) < length:
            n = min(MAX_BLOCK, length - len(out))
            out += self.read_memory(addr + len(out), n)
            if progress is not None:
                progress(len(out), length)
        return bytes(out)
