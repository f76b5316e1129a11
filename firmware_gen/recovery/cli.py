"""``myofoc flash --serial PORT IMAGE...`` (run_serial: recovery through the
STM32 ROM bootloader, AN3155) and ``myofoc sim rom`` (a simulated ROM
bootloader on a pseudo-terminal, for trying it without hardware).

Exit codes: 0 written and verified; 1 the device refused or failed (NACK,
timeout, wrong product ID, read-back mismatch); 2 bad input, refused before
anything is sent (unreadable or corrupt image, wrong board, bad address).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from firmware_gen.image import HEADER_BYTES, MAGIC, ImageError, read_image
from firmware_gen.recovery.an3155 import An3155Client, An3155Error, page_numbers

__all__ = ["Blob", "RecoveryError", "add_parser", "plan_blobs", "resolve_board", "run_serial",
           "write_blobs"]

BOARDS_DIR = Path(__file__).resolve().parent.parent.parent / "boards"
DEFAULT_BOARD = BOARDS_DIR / "arm_48v.toml"


class RecoveryError(Exception):
    """Bad input for a serial recovery (exit 2): nothing has been sent."""


@dataclass(frozen=True)
class Blob:
    """Bytes to write at an absolute flash address, and where they came from."""

    path: str
    addr: int
    data: bytes
    what: str


def resolve_board(spec: str | None) -> Any:
    """A Board from a file path or a name in boards/ (None: the default board)."""
    from firmware_gen.board import load_board

    if spec is None:
        return load_board(DEFAULT_BOARD)
    p = Path(spec)
    if not p.exists() and (BOARDS_DIR / f"{spec}.toml").exists():
        p = BOARDS_DIR / f"{spec}.toml"
    return load_board(p)


def plan_blobs(board: Any, files: Sequence[str], address: int | None = None,
               pub: str | None = None) -> list[Blob]:
    """Check every file before touching the device. An image (``.mfw``, magic
    MFW1) is checked by read_image (and its signature with ``pub``) and goes
    to the slot it is linked for (load_addr - 512: slot A or B of this board,
    whose board id it must carry). One raw binary (e.g. a bootloader) may be
    given with ``address``. RecoveryError on anything wrong."""
    m = board.mcu
    base, end = m.flash_base_addr, m.flash_base_addr + m.flash_bytes
    slots = {base + m.layout.slot_a.offset_bytes: "slot A", base + m.layout.slot_b.offset_bytes: "slot B"}
    blobs: list[Blob] = []
    raw_seen = False
    for f in files:
        try:
            data = Path(f).read_bytes()
        except OSError as e:
            raise RecoveryError(f"{f}: {e.strerror or e}") from None
        if data[:4] == MAGIC.to_bytes(4, "little"):
            try:
                image = read_image(data)
                if pub is not None:
                    from firmware_gen.signing import verify_image
                    verify_image(data, pub)
            except (ImageError, ValueError) as e:
                raise RecoveryError(f"{f}: image refused: {e}") from None
            h = image.header
            start = h.load_addr - HEADER_BYTES
            if h.board_id != board.board.id:
                raise RecoveryError(f"{f}: image refused: board_id {h.board_id} is not {board.name}'s "
                                    f"{board.board.id}")
            if start not in slots:
                raise RecoveryError(f"{f}: image refused: load_addr 0x{h.load_addr:08x} is not slot A "
                                    f"or slot B of {board.name} + 512")
            blobs.append(Blob(str(f), start, data, f"{slots[start]} image {h.version_text or h.fw_version_text}"))
        else:
            if address is None:
                raise RecoveryError(f"{f}: not a myofoc image (no MFW1 magic); a raw binary needs --address")
            if raw_seen:
                raise RecoveryError(f"{f}: only one raw binary can be written with --address")
            raw_seen = True
            if not data:
                raise RecoveryError(f"{f}: empty file")
            blobs.append(Blob(str(f), address, data, "raw binary"))
    if not blobs:
        raise RecoveryError("nothing to write")
    for b in blobs:
        if b.addr < base or b.addr + len(b.data) > end:
            raise RecoveryError(f"{b.path}: [0x{b.addr:08x}, 0x{b.addr + len(b.data):08x}) is outside the "
                                f"flash [0x{base:08x}, 0x{end:08x})")
        if (b.addr - base) % m.flash_page_bytes:
            raise RecoveryError(f"{b.path}: 0x{b.addr:08x} is not on a flash page boundary "
                                f"({m.flash_page_bytes} bytes)")
    pages = [set(page_numbers(b.addr, len(b.data), m.flash_page_bytes, base)) for b in blobs]
    for i in range(len(blobs)):
        for j in range(i):
            if pages[i] & pages[j]:
                raise RecoveryError(f"{blobs[i].path} and {blobs[j].path} share flash pages")
    return blobs


def write_blobs(client: An3155Client, board: Any, blobs: Sequence[Blob],
                progress: Any = None) -> None:
    """Erase the pages of each blob, write it, read it back; An3155Error on a
    NACK, a timeout or a read-back mismatch. ``progress(label, done, total)``."""
    m = board.mcu
    for b in blobs:
        n = len(b.data)

        def tick(done: int, total: int, label: str = "") -> None:
            if progress is not None:
                progress(label, done, total)

        tick(0, 3 * n, f"erase {b.what}")
        client.erase_range(b.addr, n, page_bytes=m.flash_page_bytes, base=m.flash_base_addr)
        client.write(b.addr, b.data, progress=lambda d, t: tick(n + min(d, n), 3 * n, f"write {b.what}"))
        back = client.read(b.addr, n, progress=lambda d, t: tick(2 * n + d, 3 * n, f"verify {b.what}"))
        if back != b.data:
            first = next(i for i in range(n) if back[i] != b.data[i])
            raise An3155Error(f"{b.path}: read-back mismatch at 0x{b.addr + first:08x} "
                              f"(wrote 0x{b.data[first]:02x}, read 0x{back[first]:02x})")


def _arg(args: argparse.Namespace, *names: str, default: Any = None) -> Any:
    for n in names:
        v = getattr(args, n, None)
        if v is not None:
            return v
    return default


def run_serial(args: argparse.Namespace) -> int:
    """``myofoc flash --serial PORT IMAGE... [--board B] [--baud N] [--address A]
    [--pub P] [--go]``. Reads from args: ``serial`` (port path or pyserial URL),
    ``images``/``image`` (file paths), ``board``, ``baud`` (default 115200),
    ``address`` (int or "0x..." for one raw binary), ``pub`` (check image
    signatures first), ``go`` (start the flash at its base afterwards),
    ``timeout`` (s, per answer). Exit code 0, 1 or 2 (module docstring)."""
    from firmware_gen.errors import BoardFileError

    files = _arg(args, "images", "image", "files", default=[])
    files = [files] if isinstance(files, (str, Path)) else list(files)
    address = _arg(args, "address")
    try:
        if isinstance(address, str):
            address = int(address, 0)
        board = resolve_board(_arg(args, "board"))
        blobs = plan_blobs(board, [str(f) for f in files], address, _arg(args, "pub"))
    except (RecoveryError, BoardFileError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from actuators.sim_rom_bootloader import product_id_for_part

    port = str(_arg(args, "serial"))
    baud = int(_arg(args, "baud", default=115200))
    want_pid = product_id_for_part(board.mcu.part)
    t0 = time.monotonic()
    try:
        client = An3155Client.open(port, baud, timeout_s=float(_arg(args, "timeout", default=1.0)))
    except Exception as e:  # serial.SerialException and OS errors
        print(f"error: cannot open {port}: {e}", file=sys.stderr)
        return 1
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    console = Console(stderr=True)
    try:
        with client, Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                              TransferSpeedColumn(), console=console, transient=True) as bar:
            client.connect()
            pid = client.get_id()
            if pid != want_pid:
                raise An3155Error(f"product ID 0x{pid:03x}, {board.mcu.part} is 0x{want_pid:03x}: "
                                  "wrong chip or wrong --board")
            console.print(f"{port}: ROM bootloader v{client.version >> 4}.{client.version & 15}, "
                          f"product ID 0x{pid:03x}")
            task = bar.add_task("", total=1)

            def progress(label: str, done: int, total: int) -> None:
                bar.update(task, description=label, completed=done, total=total)

            for b in blobs:
                write_blobs(client, board, [b], progress=progress)
                console.print(f"ok  {b.path}: {b.what}, {len(b.data)} bytes at 0x{b.addr:08x}, "
                              "written and read back")
            if _arg(args, "go", default=False):
                client.go(board.mcu.flash_base_addr)
                console.print(f"go 0x{board.mcu.flash_base_addr:08x}")
    except An3155Error as e:
        print(f"error: {port}: {e}", file=sys.stderr)
        return 1
    total = sum(len(b.data) for b in blobs)
    print(f"flashed {len(blobs)} file(s), {total} bytes over {port} in {time.monotonic() - t0:.2f} s")
    return 0


def _cmd_sim_rom(args: argparse.Namespace) -> int:
    from actuators.sim_rom_bootloader import serve

    board = args.board or str(DEFAULT_BOARD)
    if not Path(board).exists() and (BOARDS_DIR / f"{board}.toml").exists():
        board = str(BOARDS_DIR / f"{board}.toml")
    return serve(board, args.flash_dir, args.node, duration_s=args.duration,
                 extended_erase=not args.legacy_erase)


def add_parser(sub: Any) -> None:
    """Add ``sim rom`` under the existing ``sim`` command (or a top-level
    ``sim-rom`` when there is no ``sim`` command)."""
    parent = getattr(sub, "choices", {}).get("sim")
    target = sub
    name = "sim-rom"
    if parent is not None:
        for action in parent._actions:  # argparse keeps subparsers among the actions
            if isinstance(action, argparse._SubParsersAction):
                target, name = action, "rom"
                break
    r = target.add_parser(
        name, help="a simulated STM32 ROM bootloader (AN3155) on a pseudo-terminal",
        description="Serve the STM32 system-memory bootloader's UART protocol (AN3155: Get, Get "
                    "Version, Get ID, Read/Write Memory, Extended Erase, Go) on a new "
                    "pseudo-terminal, over one node's flash file DIR/node_<N>.flash (the board's "
                    "flash size, erased 0xFF, created if missing). Prints 'ready: <pty> ...', then "
                    "serves until Ctrl-C, SIGTERM or --duration. Exit 2: bad board or flash file.",
        epilog="example:\n  myofoc sim rom --flash-dir out/flash --node 1\n"
               "  (then: myofoc flash --serial /dev/pts/N build/arm_48v-a.mfw)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--flash-dir", required=True, help="directory of the node flash files")
    r.add_argument("--node", type=int, required=True, help="node id (file node_<N>.flash)")
    r.add_argument("--board", default=None, help=f"board file or name (default: {DEFAULT_BOARD.name})")
    r.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    r.add_argument("--legacy-erase", action="store_true",
                   help="offer Erase (0x43) instead of Extended Erase (0x44)")
    r.set_defaults(func=_cmd_sim_rom)
