"""firmware_gen.build: every board builds for the host and the Cortex-M4F; the ELF's
vector table, entry point and load address are right, the .bin is the ELF's load
image, sizes are within budget, the images read back; the CLI's exit codes."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from firmware_gen import build as build_mod
from firmware_gen.board import load_board
from firmware_gen.build import BuildResult, build
from firmware_gen.errors import BoardFileError, BuildError
from firmware_gen.gen import source_hash
from firmware_gen.image import read_image, unpack_version

BOARDS = sorted((Path(__file__).resolve().parents[2] / "boards").glob("*.toml"))
IDS = [b.stem for b in BOARDS]
HAVE_ARM = shutil.which("arm-none-eabi-gcc") is not None
needs_arm = pytest.mark.skipif(not HAVE_ARM, reason="arm-none-eabi-gcc not installed")

pytestmark = [pytest.mark.arm, needs_arm]


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuildResult]:
    """One build per board for the whole session (~6 s each)."""
    out: dict[str, BuildResult] = {}
    root = tmp_path_factory.mktemp("fw")
    for path in BOARDS:
        out[path.stem] = build(path, root / path.stem, jobs=2)
    return out


def _load_segments(elf: bytes) -> list[tuple[int, bytes]]:
    """(physical address, file bytes) of every PT_LOAD segment with file data
    (ELF32 little-endian, parsed here from the ELF specification)."""
    assert elf[:4] == b"\x7fELF" and elf[4] == 1 and elf[5] == 1
    e_phoff, = struct.unpack_from("<I", elf, 28)
    e_phentsize, e_phnum = struct.unpack_from("<HH", elf, 42)
    segs = []
    for k in range(e_phnum):
        p_type, p_offset, _vaddr, p_paddr, p_filesz, _memsz, _flags, _align = struct.unpack_from(
            "<8I", elf, e_phoff + k * e_phentsize)
        if p_type == 1 and p_filesz > 0:
            segs.append((p_paddr, elf[p_offset:p_offset + p_filesz]))
    return sorted(segs)


def _symbols(elf: Path) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], check=True, capture_output=True,
                         text=True).stdout
    return {parts[2]: int(parts[0], 16) for parts in (ln.split() for ln in out.splitlines())
            if len(parts) == 3}


@pytest.mark.parametrize("name", IDS)
def test_vector_table_entry_and_load_address(name: str, builds: dict[str, BuildResult]) -> None:
    r = builds[name]
    board = load_board(next(p for p in BOARDS if p.stem == name))
    lay, base = board.mcu.layout, board.mcu.flash_base_addr
    for slot, region, elf in (("a", lay.slot_a, r.project / "app.elf"),
                              ("b", lay.slot_b, r.project / "app-b.elf")):
        load = base + region.offset_bytes + 512
        assert r.load_addr[slot] == load
        hdr = subprocess.run(["arm-none-eabi-readelf", "-hSW", str(elf)], check=True,
                             capture_output=True, text=True).stdout
        assert "Machine:                           ARM" in hdr
        entry = int(next(ln for ln in hdr.splitlines() if "Entry point" in ln).split()[-1], 16)
        isr = next(ln for ln in hdr.splitlines() if " .isr_vector " in ln).split()
        assert int(isr[isr.index(".isr_vector") + 2], 16) == load     # table at the load address
        sym = _symbols(elf)
        assert entry == sym["Reset_Handler"] | 1                       # Thumb entry
        data = elf.read_bytes()
        segs = _load_segments(data)
        assert segs[0][0] == load                                      # nothing below the table
        table = segs[0][1]
        sp, reset = struct.unpack_from("<II", table, 0)
        assert reset == entry
        assert sp == sym["_estack"] and sp % 8 == 0
        assert board.mcu.ram_base_addr < sp <= board.mcu.ram_base_addr + board.mcu.ram_bytes
        adc_vec, = struct.unpack_from("<I", table, 4 * (16 + 18))      # ADC1_2 = IRQ 18
        assert adc_vec == sym["ADC1_2_IRQHandler"] | 1
        systick, = struct.unpack_from("<I", table, 4 * 15)
        assert systick == sym["SysTick_Handler"] | 1
        every = struct.unpack_from(f"<{16 + 102}I", table, 0)
        lo, hi = load, base + region.offset_bytes + region.size_bytes
        for k, v in enumerate(every[1:], start=1):
            assert v == 0 or (v & 1 and lo <= v - 1 < hi), f"vector {k}"


@pytest.mark.parametrize("name", IDS)
def test_bin_is_the_elf_load_image(name: str, builds: dict[str, BuildResult]) -> None:
    r = builds[name]
    for elf, binary in ((r.elf, r.bin), (r.project / "app-b.elf", r.project / "app-b.bin")):
        segs = _load_segments(elf.read_bytes())
        start = segs[0][0]
        end = max(a + len(d) for a, d in segs)
        img = bytearray(end - start)
        for a, d in segs:
            img[a - start:a - start + len(d)] = d
        assert binary.read_bytes() == bytes(img)


@pytest.mark.parametrize("name", IDS)
def test_sizes_within_budget(name: str, builds: dict[str, BuildResult]) -> None:
    r = builds[name]
    s = r.sections
    assert r.flash_bytes == sum(s.get(k, 0) for k in (".isr_vector", ".text", ".rodata", ".ARM.exidx", ".data"))
    assert r.ram_bytes == s.get(".data", 0) + s.get(".bss", 0) + s[".stack"]
    assert s[".stack"] >= 4096 and s[".isr_vector"] == 4 * (16 + 102)
    assert r.flash_bytes <= 64 * 1024 and r.flash_bytes <= r.slot_bytes - 512
    assert r.ram_bytes <= 16 * 1024
    assert r.over_budget == []
    assert r.bin.stat().st_size <= r.flash_bytes      # .bin holds flash contents only
    assert "all checks passed" in r.host_test


@pytest.mark.parametrize("name", IDS)
def test_images_read_back(name: str, builds: dict[str, BuildResult]) -> None:
    r = builds[name]
    board = load_board(next(p for p in BOARDS if p.stem == name))
    for slot, payload in (("a", r.bin.read_bytes()), ("b", (r.project / "app-b.bin").read_bytes())):
        img = read_image(r.images[slot].read_bytes())
        h = img.header
        assert img.payload == payload
        assert h.board_id == board.board.id and h.load_addr == r.load_addr[slot]
        assert h.build_hash == source_hash(r.project) == r.build_hash
        assert unpack_version(h.fw_version) == board.board.version and not h.signed
        assert h.version_text == r.version_text and h.security_counter == r.security_counter
    # the two slots differ only by their link address
    assert r.images["a"].read_bytes() != r.images["b"].read_bytes()


def test_over_budget_raises_with_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.environ.get("MYOFOC_LIGHT") == "1":
        pytest.skip("light mode: one more full build")
    monkeypatch.setattr(build_mod, "RAM_BUDGET_BYTES", 1024)
    with pytest.raises(BuildError, match="over budget") as ei:
        build(BOARDS[-1], tmp_path / "o")
    assert ei.value.result.over_budget == ["ram"]  # type: ignore[attr-defined]


def test_bad_board_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BOARDS[0].read_text().replace("pwm_hz = ", "pwm_hz_typo = ", 1))
    out = tmp_path / "out"
    with pytest.raises(BoardFileError) as ei:
        build(bad, out)
    assert str(bad) in str(ei.value) and "[pwm]" in str(ei.value)
    assert not out.exists()


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from actuators.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text(BOARDS[0].read_text().replace("outer_div = ", "outer_div = 1000 #", 1))
    assert main(["build", str(bad), "--out", str(tmp_path / "b")]) == 2
    assert "outer_div" in capsys.readouterr().err
    assert main(["gen", str(bad), "-o", str(tmp_path / "g")]) == 2
    assert main(["gen", str(BOARDS[0]), "-o", str(tmp_path / "g")]) == 0
    assert (tmp_path / "g" / "Makefile").exists()
