"""A simulated STM32 system-memory (ROM) bootloader speaking the USART
protocol of ST application note AN3155, on a pseudo-terminal.

It serves one node's flash file ``<flash_dir>/node_<N>.flash``: exactly the
board's ``mcu.flash_bytes``, erased bytes 0xFF, file offset = address -
``mcu.flash_base_addr`` (0x08000000). Every command reads and writes the file
directly, so the CAN bootloader simulation sees the same bytes.

Protocol (AN3155): the host sends 0x7F (autobaud), the ROM answers ACK 0x79;
then each command is a byte and its complement, answered ACK or NACK 0x1F.
Served: Get 0x00, Get Version 0x01, Get ID 0x02 (product ID 0x469 for
STM32G47x/G48x, 0x468 for G431/G441), Read Memory 0x11, Go 0x21, Write
Memory 0x31, Extended Erase 0x44 (or Erase 0x43 with ``extended_erase=False``:
a device has one or the other). Addresses are 4 bytes MSB first plus their
XOR; blocks are at most 256 bytes. Refused with NACK: a bad complement or
checksum, an address outside the flash, a write that is not 4-byte aligned
or onto flash that is not erased, a page number outside the flash, and every
other command (write/readout protection).

Simulation choices (documented in docs/recovery.md): erase page numbers are
linear from the flash base (page = offset // flash_page_bytes, both banks);
a command whose following bytes do not arrive within ``byte_timeout_s`` is
abandoned (the real ROM waits forever; the host then resets the chip); after
Go the ROM stops answering (the application runs) until :meth:`reset`.
"""
from __future__ import annotations

import os
import select
import threading
import tty
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "ACK", "NACK", "SimRomBootloader", "flash_file", "product_id_for_part", "serve",
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
BOOTLOADER_VERSION = 0x31  # protocol version 3.1
BLOCK_BYTES = 256


def flash_file(flash_dir: str | os.PathLike[str], node_id: int) -> Path:
    """A node's flash image: ``<flash_dir>/node_<node_id>.flash``."""
    return Path(flash_dir) / f"node_{int(node_id)}.flash"


def product_id_for_part(part: str) -> int:
    """The AN2606 product ID of an STM32G4 part: 0x468 (G431/G441, category 2),
    0x469 (G471/G473/G474/G483/G484, category 3)."""
    line = part.upper()[7:9] if part.upper().startswith("STM32G4") else ""
    if line in ("31", "41"):
        return 0x468
    if line in ("71", "73", "74", "83", "84"):
        return 0x469
    raise ValueError(f"{part!r}: not an STM32G4 part this simulation knows")


def _xor(data: bytes | bytearray) -> int:
    x = 0
    for b in data:
        x ^= b
    return x


class _Abandon(Exception):
    """The host stopped sending in the middle of a command."""


class SimRomBootloader:
    """The simulated ROM bootloader of one node.

    ``flash_path``: the flash file (created erased if missing; its size must
    be ``flash_bytes``); ``flash_base_addr``, ``flash_bytes``,
    ``flash_page_bytes``: the memory map (board ``[mcu]``); ``product_id``:
    Get ID's answer; ``extended_erase``: serve 0x44 (True) or 0x43;
    ``dual_bank``: allow the bank-erase codes of Extended Erase;
    ``byte_timeout_s``: how long a started command waits for its next byte."""

    def __init__(self, flash_path: str | os.PathLike[str], *, flash_bytes: int,
                 flash_page_bytes: int, flash_base_addr: int = 0x0800_0000, product_id: int = 0x469,
                 extended_erase: bool = True, dual_bank: bool = False,
                 byte_timeout_s: float = 1.0) -> None:
        if flash_bytes <= 0 or flash_page_bytes <= 0 or flash_bytes % flash_page_bytes:
            raise ValueError("flash_bytes must be a positive multiple of flash_page_bytes")
        self.flash_path = Path(flash_path)
        self.flash_bytes = int(flash_bytes)
        self.page_bytes = int(flash_page_bytes)
        self.base = int(flash_base_addr)
        self.product_id = int(product_id)
        self.extended_erase = bool(extended_erase)
        self.dual_bank = bool(dual_bank)
        self.byte_timeout_s = float(byte_timeout_s)
        self.commands = [CMD_GET, CMD_GET_VERSION, CMD_GET_ID, CMD_READ, CMD_GO, CMD_WRITE,
                         CMD_EXT_ERASE if self.extended_erase else CMD_ERASE]
        # state
        self.synced = False
        self.go_address: int | None = None   # set by Go: the "application" runs
        self.silent = False                  # test hook: read and drop everything
        self.read_fault: Callable[[int, bytearray], None] | None = None  # test hook on Read Memory data
        self.log: list[tuple[str, Any]] = []  # (command, detail) of every command served
        self._buf = bytearray()
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_r = self._wake_w = -1
        self.flash_path.parent.mkdir(parents=True, exist_ok=True)
        if not self.flash_path.exists():
            self.flash_path.write_bytes(b"\xff" * self.flash_bytes)
        size = self.flash_path.stat().st_size
        if size != self.flash_bytes:
            raise ValueError(f"{self.flash_path}: {size} bytes, the board's flash is {self.flash_bytes}")

    @classmethod
    def for_board(cls, board: Any, flash_dir: str | os.PathLike[str], node_id: int,
                  **kw: Any) -> "SimRomBootloader":
        """The ROM of node ``node_id`` of a board (firmware_gen Board)."""
        m = board.mcu
        return cls(flash_file(flash_dir, node_id), flash_bytes=m.flash_bytes,
                   flash_page_bytes=m.flash_page_bytes, flash_base_addr=m.flash_base_addr,
                   product_id=product_id_for_part(m.part), dual_bank=m.dual_bank, **kw)

    # ------------------------------------------------------------ transport

    def open_pty(self) -> str:
        """Create the pseudo-terminal, start serving in a thread, return the
        path a serial client opens (e.g. ``/dev/pts/7``)."""
        if self._master is not None:
            raise RuntimeError("already open")
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF or XON/XOFF translation before the client opens it
        self._master, self._slave = master, slave
        self._wake_r, self._wake_w = os.pipe()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim-rom", daemon=True)
        self._thread.start()
        return os.ttyname(slave)

    def close(self) -> None:
        """Stop serving and close the pseudo-terminal."""
        if self._master is None:
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            os.close(fd)
        self._master = self._slave = None
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> "SimRomBootloader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def reset(self) -> None:
        """A chip reset with BOOT0 high: back in the ROM, waiting for 0x7F."""
        self.synced = False
        self.go_address = None
        self._buf.clear()

    def _fill(self, timeout: float | None) -> bool:
        """Wait for input; False on timeout or stop."""
        assert self._master is not None
        r, _, _ = select.select([self._master, self._wake_r], [], [], timeout)
        if self._stop.is_set() or not r:
            return False
        if self._master in r:
            try:
                data = os.read(self._master, 4096)
            except OSError:  # EIO: no client has the slave open (we hold it, so rare)
                return False
            if not self.silent and self.go_address is None:
                self._buf += data
        return True

    def _read(self, n: int) -> bytes:
        """n bytes of a command in progress, or _Abandon after byte_timeout_s of silence."""
        while len(self._buf) < n:
            if not self._fill(self.byte_timeout_s):
                raise _Abandon()
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _send(self, data: bytes | bytearray | int) -> None:
        assert self._master is not None
        payload = bytes([data]) if isinstance(data, int) else bytes(data)
        os.write(self._master, payload)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._buf and not self._fill(0.5):
                continue
            if not self._buf:
                continue
            try:
                self._step()
            except _Abandon:
                self.log.append(("abandoned", None))
                self._buf.clear()

    # ------------------------------------------------------------ protocol

    def _step(self) -> None:
        b = self._read(1)[0]
        if not self.synced:
            if b == SYNC:
                self.synced = True
                self.log.append(("sync", None))
                self._send(ACK)
            return  # anything before 0x7F is line noise to the autobaud
        if b == SYNC:  # already synchronised: AN3155 hosts take this NACK as "in the ROM"
            self._send(NACK)
            return
        comp = self._read(1)[0]
        if comp != b ^ 0xFF or b not in self.commands:
            self.log.append(("nack", b))
            self._send(NACK)
            return
        self._send(ACK)
        {CMD_GET: self._cmd_get, CMD_GET_VERSION: self._cmd_get_version, CMD_GET_ID: self._cmd_get_id,
         CMD_READ: self._cmd_read, CMD_GO: self._cmd_go, CMD_WRITE: self._cmd_write,
         CMD_EXT_ERASE: self._cmd_ext_erase, CMD_ERASE: self._cmd_erase}[b]()

    def _cmd_get(self) -> None:
        self.log.append(("get", None))
        self._send(bytes([len(self.commands), BOOTLOADER_VERSION, *self.commands, ACK]))

    def _cmd_get_version(self) -> None:
        self.log.append(("get_version", None))
        self._send(bytes([BOOTLOADER_VERSION, 0x00, 0x00, ACK]))

    def _cmd_get_id(self) -> None:
        self.log.append(("get_id", None))
        self._send(bytes([1, self.product_id >> 8, self.product_id & 0xFF, ACK]))

    def _address(self) -> int | None:
        """Receive address + XOR; None (after a NACK) when bad."""
        a = self._read(5)
        if _xor(a[:4]) != a[4]:
            self._send(NACK)
            return None
        return int.from_bytes(a[:4], "big")

    def _in_flash(self, addr: int, n: int) -> bool:
        return self.base <= addr and addr + n <= self.base + self.flash_bytes

    def _cmd_read(self) -> None:
        addr = self._address()
        if addr is None:
            return
        if not self._in_flash(addr, 1):
            self.log.append(("read_refused", addr))
            self._send(NACK)
            return
        self._send(ACK)
        nb = self._read(2)
        n = nb[0] + 1
        if nb[1] != nb[0] ^ 0xFF or not self._in_flash(addr, n):
            self._send(NACK)
            return
        self._send(ACK)
        with open(self.flash_path, "rb") as f:
            f.seek(addr - self.base)
            data = bytearray(f.read(n))
        if self.read_fault is not None:
            self.read_fault(addr, data)
        self.log.append(("read", (addr, n)))
        self._send(data)

    def _cmd_go(self) -> None:
        addr = self._address()
        if addr is None:
            return
        if not self._in_flash(addr, 4):
            self._send(NACK)
            return
        self._send(ACK)
        self.log.append(("go", addr))
        self.go_address = addr
        self._buf.clear()

    def _cmd_write(self) -> None:
        addr = self._address()
        if addr is None:
            return
        if not self._in_flash(addr, 1) or addr % 4:
            self.log.append(("write_refused", addr))
            self._send(NACK)
            return
        self._send(ACK)
        nb = self._read(1)
        n = nb[0] + 1
        data = self._read(n)
        csum = self._read(1)[0]
        if csum != nb[0] ^ _xor(data) or n % 4 or not self._in_flash(addr, n):
            self.log.append(("write_refused", addr))
            self._send(NACK)
            return
        with open(self.flash_path, "r+b") as f:
            f.seek(addr - self.base)
            old = f.read(n)
            # flash programs only erased bytes (writing the value already there is harmless)
            if any(o != 0xFF and o != d for o, d in zip(old, data)):
                self.log.append(("write_refused", addr))
                self._send(NACK)
                return
            f.seek(addr - self.base)
            f.write(data)
        self.log.append(("write", (addr, n)))
        self._send(ACK)

    def _erase_pages(self, pages: list[int]) -> None:
        with open(self.flash_path, "r+b") as f:
            for p in pages:
                f.seek(p * self.page_bytes)
                f.write(b"\xff" * self.page_bytes)
        self.log.append(("erase", pages))

    def _cmd_ext_erase(self) -> None:
        head = self._read(2)
        code = int.from_bytes(head, "big")
        n_pages = self.flash_bytes // self.page_bytes
        if code >= 0xFFF0:
            csum = self._read(1)[0]
            banks = {0xFFFF: range(n_pages), 0xFFFE: range(n_pages // 2),
                     0xFFFD: range(n_pages // 2, n_pages)}
            if csum != _xor(head) or code not in banks or (code != 0xFFFF and not self.dual_bank):
                self._send(NACK)
                return
            self._erase_pages(list(banks[code]))
            self._send(ACK)
            return
        body = self._read(2 * (code + 1) + 1)
        pages = [int.from_bytes(body[2 * i:2 * i + 2], "big") for i in range(code + 1)]
        if body[-1] != _xor(head + body[:-1]) or any(p >= n_pages for p in pages):
            self.log.append(("erase_refused", pages))
            self._send(NACK)
            return
        self._erase_pages(pages)
        self._send(ACK)

    def _cmd_erase(self) -> None:
        nb = self._read(1)
        n_pages = self.flash_bytes // self.page_bytes
        if nb[0] == 0xFF:  # global erase: 0xFF 0x00
            if self._read(1)[0] != 0x00:
                self._send(NACK)
                return
            self._erase_pages(list(range(n_pages)))
            self._send(ACK)
            return
        body = self._read(nb[0] + 2)
        pages = list(body[:-1])
        if body[-1] != _xor(nb + body[:-1]) or any(p >= n_pages for p in pages):
            self._send(NACK)
            return
        self._erase_pages(pages)
        self._send(ACK)


def serve(board_path: str, flash_dir: str, node_id: int, *, duration_s: float | None = None,
          extended_erase: bool = True, ready: Callable[[str], None] | None = None) -> int:
    """Run one node's simulated ROM bootloader on a new pseudo-terminal until
    SIGINT/SIGTERM or ``duration_s``; print ``ready: <pty path> ...``. Exit code."""
    import signal
    import sys
    import time

    from firmware_gen.board import load_board
    from firmware_gen.errors import BoardFileError

    try:
        board = load_board(board_path)
        rom = SimRomBootloader.for_board(board, flash_dir, node_id, extended_erase=extended_erase)
    except (BoardFileError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    old = signal.signal(signal.SIGTERM, _on_signal)
    with rom:
        path = rom.open_pty()
        msg = (f"ready: {path} (simulated STM32 ROM bootloader, AN3155, product ID "
               f"0x{rom.product_id:03x}, node {node_id}, flash {rom.flash_path})")
        print(msg, flush=True)
        if ready is not None:
            ready(path)
        t_end = None if duration_s is None else time.monotonic() + duration_s
        try:
            while not stop.is_set():
                if t_end is not None and time.monotonic() >= t_end:
                    break
                stop.wait(0.1)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, old)
    return 0
