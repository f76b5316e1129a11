"""Serial recovery: the AN3155 client (firmware_gen/recovery/an3155.py) and
``run_serial`` against the simulated STM32 ROM bootloader
(actuators/sim_rom_bootloader.py) on a pseudo-terminal.

The flash file is read directly (offset = address - 0x08000000) to check what
the protocol wrote; raw frames are built here from AN3155's byte layouts."""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import serial

from actuators.sim_rom_bootloader import SimRomBootloader, flash_file, product_id_for_part
from firmware_gen.board import load_board
from firmware_gen.image import build_image
from firmware_gen.recovery.an3155 import (ACK, NACK, An3155Client, An3155Error, An3155Nack,
                                          An3155Timeout, open_serial)
from firmware_gen.recovery.cli import run_serial

ROOT = Path(__file__).resolve().parents[2]
BOARD = load_board(ROOT / "boards" / "arm_48v.toml")
BASE = 0x0800_0000
SLOT_A = BASE + BOARD.mcu.layout.slot_a.offset_bytes
PAGE = BOARD.mcu.flash_page_bytes


def xor(data: bytes) -> int:
    x = 0
    for b in data:
        x ^= b
    return x


@pytest.fixture
def rom(tmp_path: Path) -> Iterator[SimRomBootloader]:
    with SimRomBootloader.for_board(BOARD, tmp_path, 1, byte_timeout_s=0.3) as r:
        r.pty = r.open_pty()  # type: ignore[attr-defined]
        yield r


@pytest.fixture
def client(rom: SimRomBootloader) -> Iterator[An3155Client]:
    with An3155Client.open(rom.pty, 115200, timeout_s=0.5) as c:  # type: ignore[attr-defined]
        c.connect()
        yield c


def flash(rom: SimRomBootloader, addr: int, n: int) -> bytes:
    with open(rom.flash_path, "rb") as f:
        f.seek(addr - BASE)
        return f.read(n)


def image_for(board_id: int = BOARD.board.id, load_addr: int = SLOT_A + 512, n: int = 9000,
              seed: int = 0) -> bytes:
    rng = random.Random(seed)
    return build_image(rng.randbytes(n), fw_version="2.0.1", security_counter=3, board_id=board_id,
                       load_addr=load_addr, build_hash=rng.randbytes(32), version_text="2.0.1")


# --------------------------------------------------------------- protocol

def test_identification(rom: SimRomBootloader, client: An3155Client) -> None:
    assert rom.flash_path == flash_file(rom.flash_path.parent, 1)
    assert rom.flash_path.stat().st_size == BOARD.mcu.flash_bytes == 512 * 1024
    assert flash(rom, BASE, 64) == b"\xff" * 64  # created erased
    assert client.version == 0x31
    assert set(client.commands) >= {0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x44}
    assert client.get_id() == 0x469  # STM32G47x/G48x (AN2606)
    assert client.get_version() == (0x31, 0, 0)
    assert product_id_for_part("STM32G431CBU6") == 0x468
    client.connect()  # a second 0x7F is answered NACK: "already synchronised", not an error


def test_write_read_back_erase(rom: SimRomBootloader, client: An3155Client) -> None:
    data = random.Random(1).randbytes(5 * PAGE + 123)  # odd length: last block padded
    pages = client.erase_range(SLOT_A, len(data), page_bytes=PAGE)
    assert pages == list(range(SLOT_A // PAGE - BASE // PAGE, (SLOT_A - BASE) // PAGE + 6))
    client.write(SLOT_A, data)
    assert flash(rom, SLOT_A, len(data)) == data  # what the file holds, independent of Read
    assert client.read(SLOT_A, len(data)) == data
    assert flash(rom, SLOT_A + len(data), 5) == b"\xff" * 5  # padding is 0xFF
    assert flash(rom, SLOT_A - 16, 16) == b"\xff" * 16  # nothing before
    with pytest.raises(An3155Nack):  # flash must be erased before it is programmed again
        client.write_memory(SLOT_A, bytes(8))
    client.erase_pages([pages[1]])
    assert flash(rom, SLOT_A + PAGE, PAGE) == b"\xff" * PAGE
    assert flash(rom, SLOT_A, PAGE) == data[:PAGE]  # neighbours untouched
    client.mass_erase()
    assert flash(rom, BASE, BOARD.mcu.flash_bytes) == b"\xff" * BOARD.mcu.flash_bytes


def test_legacy_erase_command(tmp_path: Path) -> None:
    with SimRomBootloader.for_board(BOARD, tmp_path, 2, extended_erase=False) as r:
        with An3155Client.open(r.open_pty(), 57600, timeout_s=0.5) as c:
            c.connect()
            assert 0x43 in c.commands and 0x44 not in c.commands
            c.write(BASE + 3 * PAGE, b"\x12" * 64)
            c.erase_range(BASE + 3 * PAGE, 64, page_bytes=PAGE)  # Erase (0x43)
            assert flash(r, BASE + 3 * PAGE, 64) == b"\xff" * 64


def raw_port(rom: SimRomBootloader) -> serial.Serial:
    """A synchronised port for sending hand-made frames."""
    p = open_serial(rom.pty, 115200)  # type: ignore[attr-defined]
    p.timeout = 0.5
    p.write(b"\x7f")
    assert p.read(1) == bytes([ACK])
    return p


def test_bad_checksums_are_nacked(rom: SimRomBootloader) -> None:
    with raw_port(rom) as p:
        p.write(bytes([0x31, 0x31]))  # complement wrong
        assert p.read(1) == bytes([NACK])
        p.write(bytes([0x31, 0xCE]))  # Write Memory
        assert p.read(1) == bytes([ACK])
        a = SLOT_A.to_bytes(4, "big")
        p.write(a + bytes([xor(a) ^ 1]))  # address checksum wrong
        assert p.read(1) == bytes([NACK])
        p.write(bytes([0x31, 0xCE]))
        assert p.read(1) == bytes([ACK])
        p.write(a + bytes([xor(a)]))
        assert p.read(1) == bytes([ACK])
        data = bytes(range(16))
        p.write(bytes([15]) + data + bytes([15 ^ xor(data) ^ 0x40]))  # data checksum wrong
        assert p.read(1) == bytes([NACK])
        assert flash(rom, SLOT_A, 16) == b"\xff" * 16  # nothing written
        p.write(bytes([0x44, 0xBB]))  # Extended Erase with a bad checksum
        assert p.read(1) == bytes([ACK])
        frame = bytes([0, 0, 0, 3])
        p.write(frame + bytes([xor(frame) ^ 1]))
        assert p.read(1) == bytes([NACK])
        p.write(bytes([0x11, 0xEE]))  # Read Memory: length byte without its complement
        assert p.read(1) == bytes([ACK])
        p.write(a + bytes([xor(a)]))
        assert p.read(1) == bytes([ACK])
        p.write(bytes([7, 7]))
        assert p.read(1) == bytes([NACK])
        p.write(bytes([0x63, 0x9C]))  # Write Protect: not served
        assert p.read(1) == bytes([NACK])


def test_out_of_range_refused(client: An3155Client) -> None:
    with pytest.raises(An3155Nack):
        client.read_memory(0x2000_0000, 16)  # RAM: not in this simulation
    with pytest.raises(An3155Nack):
        client.read_memory(BASE + BOARD.mcu.flash_bytes - 8, 16)  # runs past the end
    with pytest.raises(An3155Nack):
        client.write_memory(BASE + BOARD.mcu.flash_bytes, bytes(8))
    with pytest.raises(An3155Nack):
        client.erase_pages([BOARD.mcu.flash_bytes // PAGE])  # one past the last page
    client.get_id()  # the session is still alive


def test_go_leaves_the_rom(rom: SimRomBootloader, client: An3155Client) -> None:
    client.go(BASE)
    assert rom.go_address == BASE
    with pytest.raises(An3155Timeout):  # the application runs: the ROM no longer answers
        client.get_id()
    rom.reset()
    client.connect()
    assert client.get_id() == 0x469


def test_timeouts(rom: SimRomBootloader) -> None:
    rom.silent = True
    with An3155Client.open(rom.pty, 115200, timeout_s=0.2) as c:  # type: ignore[attr-defined]
        t0 = time.monotonic()
        with pytest.raises(An3155Timeout):
            c.connect(attempts=2)
        assert time.monotonic() - t0 < 1.5
    rom.silent = False
    # a command abandoned half way: the ROM gives up on it and serves the next one
    with raw_port(rom) as p:
        p.write(bytes([0x31, 0xCE]))
        assert p.read(1) == bytes([ACK])
        p.write(bytes([0x08]))  # one address byte of four, then silence
        time.sleep(0.5)
        p.write(bytes([0x02, 0xFD]))
        assert p.read(5) == bytes([ACK, 1, 0x04, 0x69, ACK])
    assert ("abandoned", None) in rom.log


# ------------------------------------------------------------- run_serial

def args_for(rom_or_port: SimRomBootloader | str, *files: str | Path, **kw: object) -> argparse.Namespace:
    port = rom_or_port if isinstance(rom_or_port, str) else rom_or_port.pty  # type: ignore[attr-defined]
    ns = argparse.Namespace(serial=port, images=[str(f) for f in files],
                            board=str(ROOT / "boards" / "arm_48v.toml"), baud=115200, address=None,
                            pub=None, go=False, timeout=0.5)
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


def test_run_serial_writes_and_verifies(rom: SimRomBootloader, tmp_path: Path) -> None:
    img = image_for()
    (tmp_path / "a.mfw").write_bytes(img)
    boot = random.Random(9).randbytes(3000)
    (tmp_path / "boot.bin").write_bytes(boot)
    assert run_serial(args_for(rom, tmp_path / "a.mfw", tmp_path / "boot.bin", address=hex(BASE),
                               go=True)) == 0
    assert flash(rom, SLOT_A, len(img)) == img  # header + payload at slot A's start
    assert flash(rom, BASE, len(boot)) == boot
    assert rom.go_address == BASE
    reads = sum(n for op, arg in rom.log if op == "read" for n in [arg[1]])
    assert reads == len(img) + len(boot)  # every byte read back


def test_run_serial_slot_b_image(rom: SimRomBootloader, tmp_path: Path) -> None:
    slot_b = BASE + BOARD.mcu.layout.slot_b.offset_bytes
    img = image_for(load_addr=slot_b + 512, n=2000)
    (tmp_path / "b.mfw").write_bytes(img)
    assert run_serial(args_for(rom, tmp_path / "b.mfw")) == 0
    assert flash(rom, slot_b, len(img)) == img


@pytest.mark.parametrize("case", ["corrupt", "truncated", "wrong_board", "wrong_slot", "raw_no_address",
                                  "unsigned_with_pub"])
def test_bad_images_refused_before_writing(rom: SimRomBootloader, tmp_path: Path, case: str) -> None:
    img = bytearray(image_for())
    kw: dict[str, object] = {}
    if case == "corrupt":
        img[2000] ^= 0x10
    elif case == "truncated":
        img = img[:-100]
    elif case == "wrong_board":
        img = bytearray(image_for(board_id=BOARD.board.id + 1))
    elif case == "wrong_slot":
        img = bytearray(image_for(load_addr=SLOT_A + 512 + PAGE))
    elif case == "raw_no_address":
        img = bytearray(b"\x00" * 1000)
    elif case == "unsigned_with_pub":
        kw["pub"] = str(ROOT / "firmware_gen" / "keys" / "dev_ed25519.pub")
    (tmp_path / "x.mfw").write_bytes(bytes(img))
    assert run_serial(args_for(rom, tmp_path / "x.mfw", **kw)) == 2
    assert rom.log == []  # not even a sync: refused before anything was sent
    assert flash(rom, BASE, BOARD.mcu.flash_bytes) == b"\xff" * BOARD.mcu.flash_bytes


def test_run_serial_read_back_mismatch(rom: SimRomBootloader, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    def flip(addr: int, data: bytearray) -> None:
        if addr <= SLOT_A + 4000 < addr + len(data):
            data[SLOT_A + 4000 - addr] ^= 0x04

    rom.read_fault = flip
    (tmp_path / "a.mfw").write_bytes(image_for())
    assert run_serial(args_for(rom, tmp_path / "a.mfw")) == 1
    assert f"mismatch at 0x{SLOT_A + 4000:08x}" in capsys.readouterr().err


def test_run_serial_device_failures(rom: SimRomBootloader, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.mfw").write_bytes(image_for())
    rom.silent = True  # no answer at all
    t0 = time.monotonic()
    assert run_serial(args_for(rom, tmp_path / "a.mfw")) == 1
    assert time.monotonic() - t0 < 5.0
    assert "no answer" in capsys.readouterr().err
    rom.silent = False
    rom.product_id = 0x468  # a G431 answering: wrong chip for this board
    assert run_serial(args_for(rom, tmp_path / "a.mfw")) == 1
    assert "product ID" in capsys.readouterr().err
    rom.product_id = 0x469
    with open(rom.flash_path, "r+b") as f:  # non-erasable bytes make the write NACK
        f.seek(SLOT_A - BASE + 600)
        f.write(b"\x00")
    real_erase = rom._erase_pages
    rom._erase_pages = lambda pages: None  # type: ignore[method-assign]
    assert run_serial(args_for(rom, tmp_path / "a.mfw")) == 1
    assert "NACK" in capsys.readouterr().err
    rom._erase_pages = real_erase  # type: ignore[method-assign]
    assert run_serial(args_for(rom, tmp_path / "a.mfw")) == 0  # a retry succeeds
    assert run_serial(args_for("/dev/nonexistent-tty", tmp_path / "a.mfw")) == 1


def test_cli_sim_rom_and_flash(tmp_path: Path) -> None:
    """``myofoc sim rom`` in a subprocess, flashed by run_serial through its pty."""
    proc = subprocess.Popen([sys.executable, "-m", "actuators.cli", "sim", "rom", "--flash-dir",
                             str(tmp_path), "--node", "4", "--duration", "30"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ready: /dev/"), line
        port = line.split()[1]
        img = image_for(n=20000)
        (tmp_path / "a.mfw").write_bytes(img)
        assert run_serial(args_for(port, tmp_path / "a.mfw")) == 0
        data = (tmp_path / "node_4.flash").read_bytes()
        assert len(data) == BOARD.mcu.flash_bytes
        assert data[SLOT_A - BASE:SLOT_A - BASE + len(img)] == img
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
