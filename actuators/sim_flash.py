"""A simulated node's flash and bootloader.

``SimFlash`` is the whole flash of one node, kept in a file
``<flash_dir>/node_<N>.flash`` of exactly the board's ``mcu.flash_bytes``
(erased = 0xFF; byte offset = address - 0x08000000, the STM32G4 flash base)
and laid out per the board's ``[mcu.layout]``: bootloader, slot A, slot B,
params. The boot record's two copies sit in the last two pages of the
bootloader region; the parameter page at the start of the params region.
Without a path the flash lives in memory.

The file is mapped into memory (``mmap``, shared) and written only through
the C flash driver ``mf_ramflash`` (byte by byte, NOR semantics: erase to
0xFF, programming only clears bits), so a process killed at any byte leaves
the file as a power loss leaves a real flash: that page partly erased, that
double word partly programmed, everything else as it was.

``SimBootloader`` is one node's bootloader: the C UDS server (``mf_uds``,
ISO-TP on request ID 0x700 | node and response ID 0x780 | node) on that
flash, the slot choice at each reset (``mf_boot_select``) and the
simulated application's self-confirmation (``auto_confirm``: a trial image
that has run ``confirm_after_s`` of simulated time confirms itself, as a
healthy application would; off, it never does and the next reset rolls it
back).
"""
from __future__ import annotations

import logging
import mmap
import os
import random
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from actuators import _boot
from actuators.sim import SimError

__all__ = ["FLASH_BASE", "FlashLayout", "SimBootloader", "SimFlash", "default_pubkey", "flash_file",
           "security_secret", "UDS_REQUEST_FUNCTION", "UDS_RESPONSE_FUNCTION"]

log = logging.getLogger(__name__)

FLASH_BASE = 0x08000000          # STM32G4 flash base address
UDS_REQUEST_FUNCTION = 14        # DBC: UDS request 0x700 | node_id
UDS_RESPONSE_FUNCTION = 15       # DBC: UDS response 0x780 | node_id
SECRET_BASE = 0x6D796F66         # "myof": security_secret = SECRET_BASE ^ board id
PROG_BYTES = 8                   # STM32G4 programs 64-bit double words
_PARAMS_HEADER = struct.Struct("<I")   # params region: u32 page length, then the page
DEV_PUBKEY = Path(__file__).resolve().parent.parent / "firmware_gen" / "keys" / "dev_ed25519.pub"


def flash_file(flash_dir: Union[str, os.PathLike[str]], node_id: int) -> Path:
    """The flash file of a node: ``flash_dir/node_<id>.flash``."""
    return Path(flash_dir) / f"node_{node_id}.flash"


def security_secret(board_id: int) -> int:
    """The per-board SecurityAccess secret (not the security boundary: the signature is)."""
    return (SECRET_BASE ^ int(board_id)) & 0xFFFFFFFF


def default_pubkey() -> bytes:
    """The development public key (firmware_gen/keys/dev_ed25519.pub, 32 raw bytes)."""
    try:
        data = DEV_PUBKEY.read_bytes()
    except OSError as exc:
        raise SimError(f"{DEV_PUBKEY}: cannot read the development public key ({exc}); "
                       "give a pubkey") from None
    if len(data) != 32:
        raise SimError(f"{DEV_PUBKEY}: {len(data)} bytes, a raw Ed25519 public key is 32")
    return data


def load_pubkey(key: Union[bytes, str, os.PathLike[str], None]) -> bytes:
    """32 raw bytes from bytes, a file of 32 raw bytes, or None (the dev key)."""
    if key is None:
        return default_pubkey()
    if isinstance(key, (bytes, bytearray, memoryview)):
        data = bytes(key)
        where = "pubkey"
    else:
        where = str(key)
        try:
            data = Path(key).read_bytes()
        except OSError as exc:
            raise SimError(f"{where}: cannot read the public key ({exc})") from None
    if len(data) != 32:
        raise SimError(f"{where}: {len(data)} bytes, a raw Ed25519 public key is 32")
    return data


@dataclass(frozen=True)
class FlashLayout:
    """Absolute addresses (bytes) of one board's flash regions."""

    base: int
    size: int
    page_bytes: int
    bootloader: tuple[int, int]   # (start, size)
    slot_a: tuple[int, int]
    slot_b: tuple[int, int]
    params: tuple[int, int]

    @property
    def record_addr(self) -> tuple[int, int]:
        """The boot record's two pages: the last two of the bootloader region."""
        end = self.bootloader[0] + self.bootloader[1]
        return end - 2 * self.page_bytes, end - self.page_bytes

    @property
    def slot_bytes(self) -> int:
        return self.slot_a[1]

    def slot_addr(self, slot: int) -> int:
        return (self.slot_a, self.slot_b)[slot][0]

    @classmethod
    def from_board(cls, board: Any) -> "FlashLayout":
        m = board.mcu
        lay = m.layout

        def region(r: Any) -> tuple[int, int]:
            return FLASH_BASE + int(r.offset_bytes), int(r.size_bytes)

        out = cls(base=FLASH_BASE, size=int(m.flash_bytes), page_bytes=int(m.flash_page_bytes),
                  bootloader=region(lay.bootloader), slot_a=region(lay.slot_a), slot_b=region(lay.slot_b),
                  params=region(lay.params))
        if out.bootloader[1] < 3 * out.page_bytes:
            raise SimError(f"board {board.name}: [mcu.layout.bootloader] size_bytes {out.bootloader[1]} "
                           f"leaves no room for the boot record's two pages (>= 3 pages needed)")
        return out


class SimFlash:
    """The flash of one node (see the module doc). ``path`` None: in memory."""

    def __init__(self, layout: FlashLayout, path: Union[str, os.PathLike[str], None] = None) -> None:
        self.layout = layout
        self.path = None if path is None else Path(path)
        self._file = None
        self._map: Optional[mmap.mmap] = None
        if self.path is None:
            self._buf: Any = bytearray(b"\xff" * layout.size)
        else:
            self._buf = self._open_file(self.path, layout.size)
        self.ram = _boot.RamFlash(self._buf, layout.base, layout.page_bytes, PROG_BYTES)

    def _open_file(self, path: Path, size: int) -> mmap.mmap:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_name(path.name + ".new")
            with open(tmp, "wb") as f:
                f.write(b"\xff" * size)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        have = path.stat().st_size
        if have != size:
            raise SimError(f"{path}: {have} bytes, the board's flash is {size} (mcu.flash_bytes): "
                           "a flash file of another board?")
        self._file = open(path, "r+b")
        self._map = mmap.mmap(self._file.fileno(), size, access=mmap.ACCESS_WRITE)
        return self._map

    def read(self, addr: int, n: int) -> bytes:
        return self.ram.read(addr, n)

    def erase_page(self, addr: int) -> None:
        if self.ram.erase_page(addr) != 0:
            raise SimError(f"flash erase at 0x{addr:08x} failed")

    def program(self, addr: int, data: bytes) -> None:
        data = bytes(data)
        if len(data) % PROG_BYTES:
            data += b"\xff" * (PROG_BYTES - len(data) % PROG_BYTES)
        if self.ram.program(addr, data) != 0:
            raise SimError(f"flash program at 0x{addr:08x} (+{len(data)}) failed")

    # ---- the parameter page, at the start of the params region ----------------
    def read_params(self) -> Optional[bytes]:
        """The stored parameter page, or None when the region is erased or damaged."""
        start, size = self.layout.params
        (n,) = _PARAMS_HEADER.unpack(self.read(start, _PARAMS_HEADER.size))
        if n == 0xFFFFFFFF:
            return None
        if n == 0 or n > size - _PARAMS_HEADER.size:
            return b""   # damaged length: an empty page (refused by the loader)
        return self.read(start + _PARAMS_HEADER.size, n)

    def write_params(self, page: bytes) -> None:
        """Erase the pages the parameter page needs and program it (length word first)."""
        start, size = self.layout.params
        data = _PARAMS_HEADER.pack(len(page)) + bytes(page)
        if len(data) > size:
            raise SimError(f"parameter page of {len(page)} bytes does not fit the params region ({size})")
        pg = self.layout.page_bytes
        for addr in range(start, start + len(data), pg):
            self.erase_page(addr)
        self.program(start, data)

    def flush(self) -> None:
        """Write the mapped pages to the disk (a kill needs no flush; a host crash does)."""
        if self._map is not None:
            self._map.flush()

    def close(self) -> None:
        if self._map is not None:
            self.ram = None  # type: ignore[assignment]  # drop the export of the map first
            self._buf = None
            try:
                self._map.close()
            except BufferError:
                pass
            self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None


class SimBootloader:
    """One simulated node's bootloader (see the module doc).

    ``board``: a ``firmware_gen.board.Board``; ``node_id``; ``flash_dir``
    (None: flash in memory); ``pubkey``: the Ed25519 key images must be
    signed with (32 bytes or a file; None: the dev key); ``fd``: ISO-TP in
    64-byte CAN FD frames; ``auto_confirm``/``confirm_after_s``: the
    simulated application confirms a trial image after this much simulated
    time (s)."""

    def __init__(self, board: Any, node_id: int, *, flash_dir: Union[str, os.PathLike[str], None] = None,
                 pubkey: Union[bytes, str, os.PathLike[str], None] = None, fd: bool = False,
                 auto_confirm: bool = True, confirm_after_s: float = 0.2) -> None:
        self.board = board
        self.node_id = int(node_id)
        self.layout = FlashLayout.from_board(board)
        self.flash = SimFlash(self.layout, None if flash_dir is None else flash_file(flash_dir, node_id))
        self.pubkey = load_pubkey(pubkey)
        self.auto_confirm = bool(auto_confirm)
        self.confirm_after_s = float(confirm_after_s)
        self.request_id = (UDS_REQUEST_FUNCTION << 7) | self.node_id
        self.response_id = (UDS_RESPONSE_FUNCTION << 7) | self.node_id
        self.fd = bool(fd)
        self.server = _boot.UdsServer(
            self.flash.ram, slot_addr=(self.layout.slot_addr(0), self.layout.slot_addr(1)),
            slot_bytes=self.layout.slot_bytes, record_addr=self.layout.record_addr,
            board_id=int(board.board.id), pubkey=self.pubkey, require_signature=True,
            security_secret=security_secret(board.board.id), tx_dl=64 if self.fd else 8)
        self._rng = random.Random(os.urandom(16))
        self.resets = 0
        self.uptime_s = 0.0
        self.slot = self.reset()

    def reset(self) -> int:
        """A node reset: the bootloader picks the slot (0 A, 1 B, -4 none)."""
        self.server.add_entropy(self._rng.getrandbits(32))
        rc = self.server.boot()
        self.resets += 1
        self.uptime_s = 0.0
        self.slot = rc
        run = self.server.running
        log.info("node %d: boot %s%s", self.node_id,
                 f"slot {'AB'[rc]} {run['version_text']}" if rc in (0, 1) else "no image (bootloader only)",
                 " (trial)" if self.server.trial_boot else "")
        return rc

    @property
    def version_text(self) -> str:
        """Version text of the image running ("" when none)."""
        return str(self.server.running["version_text"])

    def on_frame(self, data: bytes) -> None:
        """A frame of this node's UDS request ID."""
        self.server.add_entropy(self._rng.getrandbits(32))
        self.server.on_frame(data)

    def poll(self, dt_s: float) -> bool:
        """Run dt_s (s): timers, pending work, self-confirmation. True when
        the node was reset (ECUReset answered)."""
        self.server.poll(dt_s)
        self.uptime_s += dt_s
        if (self.auto_confirm and self.server.trial_boot and self.uptime_s >= self.confirm_after_s):
            rc = self.server.confirm()
            log.info("node %d: the application confirmed its image (%d)", self.node_id, rc)
        if self.server.reset_pending():
            self.reset()
            return True
        return False

    def pop_frames(self) -> list[bytes]:
        """Frames to send on the response ID, oldest first."""
        out = []
        while True:
            f = self.server.tx_pop()
            if f is None:
                return out
            out.append(f)

    def close(self) -> None:
        self.server = None  # type: ignore[assignment]
        self.flash.close()
