"""firmware_gen.gen and firmware_gen.stm32g4: the generated config.h carries the
simulator's config bit for bit, the host build of every board accepts it, the
hardware numbers meet RM0440's formulas, and generation is atomic."""
from __future__ import annotations

import math
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from firmware_gen import gen as gen_mod
from firmware_gen import stm32g4
from firmware_gen.board import load_board
from firmware_gen.errors import BoardFileError, GenError
from firmware_gen.gen import MARKER, generate, source_hash

BOARDS = sorted((Path(__file__).resolve().parents[2] / "boards").glob("*.toml"))
IDS = [b.stem for b in BOARDS]


def _f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", np.float32(x)))[0]


# --- a small parser of C99 designated initializers (independent of gen.py) ---

_TOKEN = re.compile(r"\s*(\.[A-Za-z_]\w*\s*=|\{|\}|,|[^,{}\s]+)")


def _macro_body(text: str, name: str) -> str:
    m = re.search(rf"#define {name} (\{{.*?\n\}})", text, re.S)
    assert m, name
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    return body.replace("\\\n", "\n")


def _parse_init(body: str) -> dict[str, Any]:
    toks = [t.strip() for t in _TOKEN.findall(body) if t.strip()]
    pos = 0

    def value() -> Any:
        nonlocal pos
        t = toks[pos]
        pos += 1
        if t == "{" and not toks[pos].startswith("."):   # an array
            items: list[Any] = []
            while toks[pos] != "}":
                if toks[pos] == ",":
                    pos += 1
                    continue
                items.append(value())
            pos += 1
            return items
        if t == "{":
            d: dict[str, Any] = {}
            while toks[pos] != "}":
                if toks[pos] == ",":
                    pos += 1
                    continue
                key = toks[pos].lstrip(".").rstrip("=").strip()
                pos += 1
                d[key] = value()
            pos += 1
            return d
        if t in ("true", "false"):
            return t == "true"
        if t.lower().startswith(("0x", "-0x")) and "p" in t.lower():
            return float.fromhex(t.rstrip("fF"))
        return int(t)

    return value()


def _compare(got: Any, want: Any, path: str) -> None:
    if isinstance(want, (list, tuple)):
        assert isinstance(got, list) and len(got) == len(want), path
        for k, (g, w) in enumerate(zip(got, want)):
            _compare(g, w, f"{path}[{k}]")
    elif isinstance(want, dict):
        assert set(got) == set(want), path
        for k in want:
            _compare(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, bool):
        assert got is want, path
    elif isinstance(want, int):
        assert got == want and not isinstance(got, float), path
    else:  # float: the C float must be the float32 the simulator casts to
        assert isinstance(got, float), path
        assert _f32_bits(got) == _f32_bits(want), f"{path}: {got!r} vs {want!r}"
        assert got == float(np.float32(got)), f"{path}: not a float32 value"


@pytest.mark.parametrize("path", BOARDS, ids=IDS)
def test_config_h_initializers_equal_the_simulator_config(path: Path, tmp_path: Path) -> None:
    board = load_board(path)
    r = generate(path, tmp_path / "p")
    text = (r.out_dir / "config.h").read_text()
    ctrl = _parse_init(_macro_body(text, "MF_BOARD_CTRL_CONFIG_INIT"))
    _compare(ctrl, board.ctrl_config().as_dict(), "ctrl")
    app = _parse_init(_macro_body(text, "MF_BOARD_APP_PARAMS_INIT"))
    r_ = board.impedance_ranges()
    assert app["node_id"] == board.can.node_id_min and app["group_id"] == 0
    for name in ("p_min_rad", "p_max_rad", "v_min_rad_s", "v_max_rad_s", "kp_max_nm_rad",
                 "kd_max_nms_rad", "tau_min_nm", "tau_max_nm"):
        assert _f32_bits(app["ranges"][name]) == _f32_bits(getattr(r_, name)), name
    # hardware macros against the board
    macros = dict(re.findall(r"#define (MF_\w+) (\S+)", text))
    assert int(macros["MF_PWM_PERIOD_TICKS"].rstrip("u")) * 2 * board.pwm.pwm_hz == board.mcu.clock_hz
    assert int(macros["MF_BOARD_ID"].rstrip("u")) == board.board.id
    lay, base = board.mcu.layout, board.mcu.flash_base_addr
    assert int(macros["MF_APP_A_ADDR"].rstrip("u"), 16) == base + lay.slot_a.offset_bytes + 512
    assert int(macros["MF_APP_B_ADDR"].rstrip("u"), 16) == base + lay.slot_b.offset_bytes + 512
    assert int(macros["MF_PARAMS_ADDR"].rstrip("u"), 16) == base + lay.params.offset_bytes
    assert macros["MF_CAN_FD"] == ("1" if board.can.fd else "0")
    assert macros["MF_ENC_SPI"] == ("1" if board.encoder.interface == "spi" else "0")


@pytest.fixture(scope="module")
def host_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("make or cc missing")
    out: dict[str, Path] = {}
    for path in BOARDS:
        proj = tmp_path_factory.mktemp("host") / path.stem
        generate(path, proj)
        subprocess.run(["make", "--no-print-directory", "-s", "-C", str(proj), "-j2", "host"],
                       check=True, capture_output=True, text=True)
        out[path.stem] = proj
    return out


def _leaves(d: Any, prefix: str) -> list[str]:
    """C member designators of every scalar in a nested dict/list."""
    if isinstance(d, dict):
        return [p for k, v in d.items() for p in _leaves(v, f"{prefix}.{k}" if prefix else k)]
    if isinstance(d, list):
        return [p for k, v in enumerate(d) for p in _leaves(v, f"{prefix}[{k}]")]
    return [prefix]


@pytest.mark.parametrize("path", BOARDS, ids=IDS)
def test_host_build_accepts_config_and_matches_simulator_bytes(path: Path, host_builds: dict[str, Path],
                                                               tmp_path: Path) -> None:
    """The C struct the firmware initialises from config.h holds, field by
    field, the bytes of the one actuators.core.App (the simulator's node)
    builds from the board (padding bytes excluded)."""
    core = pytest.importorskip("actuators.core")
    proj = host_builds[path.stem]
    proc = subprocess.run([str(proj / "build" / "host" / "test_config"), "--dump"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
    assert "passed" in proc.stdout
    dumped = bytes.fromhex(next(ln for ln in proc.stdout.split() if re.fullmatch(r"[0-9a-f]{64,}", ln)))
    board = load_board(path)
    app = core.App(board.ctrl_config(), node_id=board.can.node_id_min,
                   ranges=board.impedance_ranges(), heartbeat_period_s=gen_mod.HEARTBEAT_PERIOD_S)
    sim = app.config_bytes()
    assert len(dumped) == len(sim)
    # every leaf field's offset and size, from the host compiler
    text = (proj / "config.h").read_text()
    tree = {"ctrl": _parse_init(_macro_body(text, "MF_BOARD_CTRL_CONFIG_INIT")),
            "app": _parse_init(_macro_body(text, "MF_BOARD_APP_PARAMS_INIT"))}
    leaves = _leaves(tree, "")
    src = tmp_path / "offsets.c"
    src.write_text('#include <stdio.h>\n#include <stddef.h>\n#include "mf_app.h"\nint main(void) {\n'
                   + "".join(f'    printf("%zu %zu\\n", offsetof(mf_app_config_t, {p}), '
                             f"sizeof(((mf_app_config_t *)0)->{p}));\n" for p in leaves)
                   + "    return 0;\n}\n")
    exe = tmp_path / "offsets"
    subprocess.run(["cc", "-std=c99", f"-I{proj}/core", f"-I{proj}/protocol", str(src), "-o", str(exe)],
                   check=True)
    spans = [tuple(map(int, ln.split())) for ln in subprocess.run(
        [str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()]
    covered = 0
    for name, (off, size) in zip(leaves, spans):
        assert dumped[off:off + size] == sim[off:off + size], name
        covered += size
    assert covered > 0.8 * len(sim)  # the leaves are the struct (the rest is padding)


def test_reproducible_and_hash(tmp_path: Path) -> None:
    a = generate(BOARDS[0], tmp_path / "a")
    b = generate(BOARDS[0], tmp_path / "b")
    assert a.build_hash == b.build_hash == source_hash(a.out_dir) == source_hash(b.out_dir)
    (b.out_dir / "config.h").write_text((b.out_dir / "config.h").read_text() + "\n")
    assert source_hash(b.out_dir) != a.build_hash
    # make's outputs do not change the source hash
    (a.out_dir / "build").mkdir()
    (a.out_dir / "build" / "x.o").write_bytes(b"x")
    (a.out_dir / "app.elf").write_bytes(b"elf")
    assert source_hash(a.out_dir) == a.build_hash
    c = generate(BOARDS[0], tmp_path / "c", fw_version="2.0.1")
    assert c.build_hash != a.build_hash
    assert '#define MF_FW_VERSION "2.0.1"' in (c.out_dir / "config.h").read_text()


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fail_after", [0, 5, 30])
def test_generation_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_after: int) -> None:
    out = tmp_path / "proj"
    generate(BOARDS[0], out)
    (out / "user_note.txt").write_text("kept")          # a change that must survive a failure
    before = _snapshot(out)
    real = gen_mod._write_file
    count = {"n": 0}

    def flaky(root: Path, rel: str, data: bytes) -> None:
        if count["n"] >= fail_after:
            raise OSError("disk full (simulated)")
        count["n"] += 1
        real(root, rel, data)

    monkeypatch.setattr(gen_mod, "_write_file", flaky)
    with pytest.raises(OSError, match="simulated"):
        generate(BOARDS[1], out)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]   # no temp dirs left
    fresh = tmp_path / "fresh"
    with pytest.raises(OSError):
        generate(BOARDS[1], fresh)
    assert not fresh.exists()
    monkeypatch.setattr(gen_mod, "_write_file", real)
    generate(BOARDS[1], out)                              # a full run replaces it
    assert not (out / "user_note.txt").exists() and (out / MARKER).exists()


def test_refuses_to_replace_a_foreign_directory(tmp_path: Path) -> None:
    d = tmp_path / "mine"
    d.mkdir()
    (d / "thesis.tex").write_text("precious")
    with pytest.raises(GenError, match="refusing"):
        generate(BOARDS[0], d)
    assert (d / "thesis.tex").read_text() == "precious"
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(GenError, match="not a directory"):
        generate(BOARDS[0], f)


def test_bad_board_refused_before_writing(tmp_path: Path) -> None:
    text = BOARDS[0].read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(re.sub(r"(?m)^ld_h = .*$", "ld_h = 0.12", text, count=1))
    out = tmp_path / "out"
    with pytest.raises(BoardFileError) as ei:
        generate(bad, out)
    msg = str(ei.value)
    assert str(bad) in msg and "[motor] ld_h" in msg and "allowed" in msg
    assert not out.exists()


# --------------------------- STM32G4 numbers (RM0440) ---------------------------

@pytest.mark.parametrize("src", [16_000_000, 8_000_000, 12_000_000, 24_000_000, 25_000_000])
@pytest.mark.parametrize("sysclk", [170_000_000, 160_000_000, 150_000_000, 80_000_000])
def test_pll_reaches_the_clock_within_vco_limits(src: int, sysclk: int) -> None:
    p = stm32g4.pll_config(src, sysclk)
    assert src * p.n == sysclk * p.m * p.r                    # exact
    assert 2.66e6 <= src / p.m <= 16e6 and 96e6 <= src / p.m * p.n <= 344e6
    assert 1 <= p.m <= 16 and 8 <= p.n <= 127 and p.r in (2, 4, 6, 8)


def test_pll_impossible() -> None:
    with pytest.raises(ValueError, match="clock_hz"):
        stm32g4.pll_config(16_000_000, 169_999_999)


def test_flash_latency_table() -> None:
    # RM0440 table 29 (range 1 boost: 34 MHz per wait state; normal: 30 MHz)
    assert stm32g4.flash_latency(170_000_000) == (4, True)
    assert stm32g4.flash_latency(150_000_000) == (4, False)
    assert stm32g4.flash_latency(16_000_000) == (0, False)
    assert stm32g4.flash_latency(60_000_000) == (1, False)


def _dtg_decode(dtg: int, clock_hz: int) -> float:
    """BDTR.DTG -> dead time, written from RM0440's DTG description."""
    t = 1.0 / clock_hz
    if dtg >> 7 == 0:
        return dtg * t
    if dtg >> 6 == 0b10:
        return (64 + (dtg & 0x3F)) * 2 * t
    if dtg >> 5 == 0b110:
        return (32 + (dtg & 0x1F)) * 8 * t
    return (32 + (dtg & 0x1F)) * 16 * t


@pytest.mark.parametrize("dt_s", [0.0, 50e-9, 150e-9, 250e-9, 300e-9, 746e-9, 1e-6, 2.2e-6, 5e-6])
def test_dead_time_at_least_requested_and_tight(dt_s: float) -> None:
    clk = 170_000_000
    dtg, real = stm32g4.dead_time_dtg(clk, dt_s)
    assert 0 <= dtg <= 255
    assert math.isclose(_dtg_decode(dtg, clk), real)
    assert real >= dt_s - 1e-15
    # no smaller DTG value also meets the request
    assert all(_dtg_decode(d, clk) < dt_s - 1e-15 or _dtg_decode(d, clk) >= real for d in range(256))


@pytest.mark.parametrize("clock", [170_000_000, 160_000_000, 80_000_000, 40_000_000])
@pytest.mark.parametrize("bitrate, data", [(125_000, False), (250_000, False), (500_000, False),
                                           (1_000_000, False), (1_000_000, True), (2_000_000, True),
                                           (4_000_000, True), (5_000_000, True), (8_000_000, True)])
def test_fdcan_bit_timing(clock: int, bitrate: int, data: bool) -> None:
    try:
        t = stm32g4.fdcan_bit_timing(clock, bitrate, data=data)
    except ValueError as e:
        # only when no prescaler gives a whole number of 8.. time quanta
        max_p, max_tq = (32, 49) if data else (512, 385)
        assert not any(clock % (p * bitrate) == 0 and 8 <= clock // (p * bitrate) <= max_tq
                       for p in range(1, max_p + 1)), e
        return
    assert t.prescaler * t.n_tq * bitrate == clock             # exact bit rate
    if data:
        assert 1 <= t.prescaler <= 32 and 1 <= t.tseg1 <= 32 and 1 <= t.tseg2 <= 16
        assert 1 <= t.sjw <= min(16, t.tseg2)
        if t.tdc:
            assert 0 < t.tdco <= 127 and t.tdco == t.prescaler * (1 + t.tseg1)
        else:  # the 7-bit offset cannot hold the sample point: only at <= 1 Mbit/s
            assert t.prescaler * (1 + t.tseg1) > 127 and bitrate <= 1_000_000 and t.tdco == 0
        target = 0.75
    else:
        assert 1 <= t.prescaler <= 512 and 2 <= t.tseg1 <= 256 and 1 <= t.tseg2 <= 128
        assert 1 <= t.sjw <= t.tseg2
        target = 0.8
    assert t.n_tq >= 8
    assert abs(t.sample_point - target) <= max(0.5 / t.n_tq + 1e-9, 0.05)


def test_fdcan_board_rates() -> None:
    for path in BOARDS:
        b = load_board(path)
        t = stm32g4.fdcan_bit_timing(b.mcu.clock_hz, b.can.bitrate_bps)
        assert math.isclose(t.bitrate_bps(b.mcu.clock_hz), b.can.bitrate_bps)
        if b.can.fd:
            d = stm32g4.fdcan_bit_timing(b.mcu.clock_hz, b.can.data_bitrate_bps, data=True)
            assert math.isclose(d.bitrate_bps(b.mcu.clock_hz), b.can.data_bitrate_bps)


def test_c_float_is_exact_float32() -> None:
    for x in (0.0, 1.0, -1.0, 0.1, 1e-7, 3.4e38, 2.0 ** -140, 123456.789):
        lit = gen_mod.c_float(x)
        assert lit.endswith("f")
        assert _f32_bits(float.fromhex(lit[:-1])) == _f32_bits(x)
    with pytest.raises(GenError):
        gen_mod.c_float(1e39)
