"""``myofoc gen``: a board file -> a standalone firmware project (no Python needed to build).

    result = generate("boards/arm_48v.toml", "out/arm_48v")

writes ``config.h`` (every controller and application config field as a C
initializer, with the values the simulator uses: ``Board.ctrl_config()``,
``Board.impedance_ranges()``, as float32 hex literals, plus the hardware
numbers: clock tree, PWM period, dead time, ADC, encoder, FDCAN timings,
flash layout), a copy of the control core and the generated CAN codec, the
HAL (``hal/mf_hal.h``, ``hal/stm32g4/``), ``main.c``, one linker script per
image slot and a ``Makefile`` (``make``, ``make SLOT=b``, ``make host``).

Generation is atomic: everything is written into a temporary directory beside
``out_dir`` and renamed over it at the end; on any error ``out_dir`` is left as
it was. An existing ``out_dir`` is only replaced when it is empty or was
written by ``generate`` (it holds the ``.myofoc-project`` marker).
"""
from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Union

import numpy as np

from . import stm32g4
from .board import Board, load_board
from .errors import GenError
from .image import HEADER_BYTES, pack_version

__all__ = ["GenResult", "HEARTBEAT_PERIOD_S", "MARKER", "STACK_BYTES", "app_config_fields",
           "c_float", "generate", "render_config_h", "source_hash"]

PathLike = Union[str, "os.PathLike[str]"]

ROOT = Path(__file__).resolve().parent.parent
CORE_DIR = ROOT / "actuators" / "core"
PROTOCOL_DIR = ROOT / "actuators" / "protocol"
TEMPLATES = Path(__file__).resolve().parent / "templates"
MARKER = ".myofoc-project"
HEARTBEAT_PERIOD_S = 0.1     # as actuators.core.App and the simulated nodes
STACK_BYTES = 4096
BUILD_DIR = "build"          # make's outputs inside the project (not hashed)


@dataclass(frozen=True)
class GenResult:
    """What ``generate`` wrote: the project directory, the board, the files
    (relative paths, sorted) and the SHA-256 of the sources (``source_hash``)."""

    out_dir: Path
    board: Board
    files: tuple[str, ...]
    build_hash: bytes


# ---------------------------------------------------------------------------
# C literals
# ---------------------------------------------------------------------------

def c_float(x: float) -> str:
    """The float32 nearest ``x`` (as the simulator's double -> float cast) as an
    exact C99 hex-float literal, e.g. ``0x1.99999ap-4f``."""
    with np.errstate(over="ignore"):
        f = float(np.float32(x))
    if not math.isfinite(f):
        raise GenError(f"value {x!r} is not finite as float32")
    text = f.hex()                      # '0x1.99999a0000000p-4'
    mant, _, exp = text.partition("p")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    return f"{mant}p{exp}f"


def _c_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return c_float(v)
    raise GenError(f"no C literal for {v!r}")


def _initializer(d: Mapping[str, Any], indent: int) -> list[str]:
    """Designated initializer lines of a nested dict (C field names)."""
    pad = " " * indent
    lines: list[str] = []
    items = list(d.items())
    for k, (name, v) in enumerate(items):
        comma = "," if k < len(items) - 1 else ""
        if isinstance(v, Mapping):
            lines.append(f"{pad}.{name} = {{")
            lines += _initializer(v, indent + 4)
            lines.append(f"{pad}}}{comma}")
        elif isinstance(v, (list, tuple)):
            lines.append(f"{pad}.{name} = {{ {', '.join(_c_value(x) for x in v)} }}{comma}")
        else:
            note = f"  /* {float(np.float32(v)):.9g} */" if isinstance(v, float) else ""
            lines.append(f"{pad}.{name} = {_c_value(v)}{comma}{note}")
    return lines


def app_config_fields(board: Board) -> dict[str, Any]:
    """The mf_app_config_t of a board as a nested dict of C field names:
    ``ctrl`` = Board.ctrl_config(), ``app`` = node id ``[can] node_id_min``, no
    group, heartbeat every HEARTBEAT_PERIOD_S, MIT ranges from the board."""
    ranges = board.impedance_ranges()
    return {
        "ctrl": board.ctrl_config().as_dict(),
        "app": {
            "node_id": board.can.node_id_min,
            "group_id": 0,
            "group_slot": 0,
            "heartbeat_period_s": HEARTBEAT_PERIOD_S,
            "ranges": {name: float(getattr(ranges, name)) for name in (
                "p_min_rad", "p_max_rad", "v_min_rad_s", "v_max_rad_s", "kp_max_nm_rad",
                "kd_max_nms_rad", "tau_min_nm", "tau_max_nm")},
        },
    }


def _macro(name: str, lines: list[str]) -> list[str]:
    body = [f"#define {name} {{ \\"] + [f"{ln} \\" for ln in lines] + ["}"]
    return body


def _hex(n: int) -> str:
    return f"0x{n:08X}u"


# ---------------------------------------------------------------------------
# config.h
# ---------------------------------------------------------------------------

def render_config_h(board: Board, *, hse_hz: int | None = None,
                    fw_version: str | None = None) -> str:
    """The text of ``config.h`` for ``board``. ``hse_hz``: crystal frequency
    (None: the PLL runs from HSI16); ``fw_version``: firmware version text
    (default the board's [board] version)."""
    mcu, pwm, can, lay = board.mcu, board.pwm, board.can, board.mcu.layout
    fw = fw_version or board.board.version
    try:
        pack_version(fw)
        pll = stm32g4.pll_config(hse_hz or stm32g4.HSI16_HZ, mcu.clock_hz)
        ws, boost = stm32g4.flash_latency(mcu.clock_hz)
        period = stm32g4.pwm_period_ticks(mcu.clock_hz, pwm.pwm_hz)
        dtg, dt_real = stm32g4.dead_time_dtg(mcu.clock_hz, pwm.dead_time_s)
        nom = stm32g4.fdcan_bit_timing(mcu.clock_hz, can.bitrate_bps)
        dat = (stm32g4.fdcan_bit_timing(mcu.clock_hz, int(can.data_bitrate_bps), data=True)
               if can.fd and can.data_bitrate_bps else None)
    except ValueError as e:
        raise GenError(f"{board.path}: {e}") from None
    base = mcu.flash_base_addr
    cpr = board.encoder.counts_per_rev
    enc_bits = (cpr - 1).bit_length()
    spi = board.encoder.interface == "spi"
    lines = [
        f"/* config.h - generated by `myofoc gen` from {Path(board.path).name} "
        f"(board {board.name}). Do not edit: regenerate. */",
        "#ifndef MF_BOARD_CONFIG_H",
        "#define MF_BOARD_CONFIG_H",
        "",
        "#include <stdbool.h>",
        "#include <stdint.h>",
        "",
        '#include "mf_app.h"',
        "",
        "/* ---- identity ---- */",
        f'#define MF_BOARD_NAME "{board.name}"',
        f"#define MF_BOARD_ID {board.board.id}u",
        f'#define MF_BOARD_VERSION "{board.board.version}"   /* hardware revision */',
        f'#define MF_FW_VERSION "{fw}"',
        f"#define MF_FW_VERSION_PACKED {_hex(pack_version(fw))}",
        "",
        "/* ---- clock tree (RM0440 7): SYSCLK = src / M * N / R = HCLK = PCLK1 = PCLK2 ---- */",
        f"#define MF_SYSCLK_HZ {mcu.clock_hz}u",
        f"#define MF_PLL_SRC_HSE {1 if hse_hz else 0}",
        f"#define MF_HSE_HZ {hse_hz or 0}u",
        f"#define MF_PLL_M {pll.m}u",
        f"#define MF_PLL_N {pll.n}u",
        f"#define MF_PLL_R {pll.r}u   /* VCO {pll.vco_hz} Hz */",
        f"#define MF_FLASH_LATENCY {ws}u",
        f"#define MF_CLOCK_BOOST {1 if boost else 0}",
        "",
        "/* ---- PWM (TIM1 centre-aligned) and loops ---- */",
        f"#define MF_PWM_HZ {c_float(pwm.pwm_hz)}",
        f"#define MF_PWM_PERIOD_TICKS {period}u   /* ARR = clock / (2 pwm_hz) */",
        f"#define MF_PWM_DTG 0x{dtg:02X}u   /* BDTR.DTG: {dt_real * 1e9:.1f} ns >= "
        f"{pwm.dead_time_s * 1e9:.1f} ns */",
        f"#define MF_OUTER_DIV {pwm.outer_div}u",
        "",
        "/* ---- ADC ---- */",
        f"#define MF_ADC_BITS {board.adc.bits}u",
        f"#define MF_ADC_THREE_SHUNT {1 if board.adc.three_shunt else 0}",
        f"#define MF_ADC_I_A_PER_COUNT {c_float(board.adc.i_a_per_count)}",
        f"#define MF_ADC_I_OFFSET_COUNTS {c_float(board.adc.i_offset_counts)}",
        f"#define MF_ADC_VBUS_V_PER_COUNT {c_float(board.adc.vbus_v_per_count)}",
        "",
        "/* ---- encoder ---- */",
        f"#define MF_ENC_SPI {1 if spi else 0}   /* 1: SPI absolute, 0: TIM2 quadrature (abz) */",
        f"#define MF_ENC_COUNTS_PER_REV {cpr}u",
        f"#define MF_ENC_BITS {enc_bits}u",
        f"#define MF_ENC_SPI_FRAMES {1 if enc_bits <= 16 else 2}u   /* 16-bit SPI frames per read */",
        "#define MF_ENC_SPI_SHIFT 0u   /* angle = (word >> shift) mod counts: set for the encoder's frame */",
        "",
        "/* ---- temperatures: no sensor channel in the board file yet ---- */",
        f"#define MF_TEMP_DEFAULT_C {c_float(board.thermal.temp_ambient_c)}",
        "",
        "/* ---- CAN (FDCAN1, kernel clock PCLK1 = SYSCLK) ---- */",
        f"#define MF_CAN_FD {1 if dat else 0}",
        f"#define MF_CAN_BITRATE_BPS {can.bitrate_bps}u",
        f"#define MF_CAN_NBRP {nom.prescaler}u",
        f"#define MF_CAN_NTSEG1 {nom.tseg1}u",
        f"#define MF_CAN_NTSEG2 {nom.tseg2}u   /* sample point {nom.sample_point * 100:.1f} % */",
        f"#define MF_CAN_NSJW {nom.sjw}u",
    ]
    if dat:
        lines += [
            f"#define MF_CAN_DATA_BITRATE_BPS {can.data_bitrate_bps}u",
            f"#define MF_CAN_DBRP {dat.prescaler}u",
            f"#define MF_CAN_DTSEG1 {dat.tseg1}u",
            f"#define MF_CAN_DTSEG2 {dat.tseg2}u   /* sample point {dat.sample_point * 100:.1f} % */",
            f"#define MF_CAN_DSJW {dat.sjw}u",
            f"#define MF_CAN_TDC {1 if dat.tdc else 0}   /* transmitter delay compensation */",
            f"#define MF_CAN_TDCO {dat.tdco}u   /* its offset, kernel clocks */",
        ]
    lines += [
        f"#define MF_BOARD_NODE_ID_MIN {can.node_id_min}u",
        f"#define MF_BOARD_NODE_ID_MAX {can.node_id_max}u",
        "",
        "/* ---- flash and RAM (absolute addresses) ---- */",
        f"#define MF_FLASH_BASE {_hex(base)}",
        f"#define MF_FLASH_BYTES {mcu.flash_bytes}u",
        f"#define MF_FLASH_PAGE_BYTES {mcu.flash_page_bytes}u",
        f"#define MF_FLASH_DUAL_BANK {1 if mcu.dual_bank else 0}",
        f"#define MF_FLASH_BANK_BYTES {mcu.flash_bytes // 2 if mcu.dual_bank else mcu.flash_bytes}u",
        f"#define MF_BOOT_ADDR {_hex(base + lay.bootloader.offset_bytes)}",
        f"#define MF_BOOT_BYTES {lay.bootloader.size_bytes}u",
        f"#define MF_SLOT_A_ADDR {_hex(base + lay.slot_a.offset_bytes)}",
        f"#define MF_SLOT_A_BYTES {lay.slot_a.size_bytes}u",
        f"#define MF_SLOT_B_ADDR {_hex(base + lay.slot_b.offset_bytes)}",
        f"#define MF_SLOT_B_BYTES {lay.slot_b.size_bytes}u",
        f"#define MF_IMAGE_HEADER_BYTES {HEADER_BYTES}u   /* docs/spec/image_format.md */",
        f"#define MF_APP_A_ADDR {_hex(base + lay.slot_a.offset_bytes + HEADER_BYTES)}",
        f"#define MF_APP_B_ADDR {_hex(base + lay.slot_b.offset_bytes + HEADER_BYTES)}",
        f"#define MF_PARAMS_ADDR {_hex(base + lay.params.offset_bytes)}",
        f"#define MF_PARAMS_BYTES {lay.params.size_bytes}u",
        f"#define MF_RAM_BASE {_hex(mcu.ram_base_addr)}",
        f"#define MF_RAM_BYTES {mcu.ram_bytes}u",
        f"#define MF_STACK_BYTES {STACK_BYTES}u",
        "",
        "/* ---- the controller and application config: the values the simulator",
        " * uses (Board.ctrl_config(), Board.impedance_ranges()), float32 exact ---- */",
    ]
    cfg = app_config_fields(board)
    lines += _macro("MF_BOARD_CTRL_CONFIG_INIT", _initializer(cfg["ctrl"], 4))
    lines.append("")
    lines += _macro("MF_BOARD_APP_PARAMS_INIT", _initializer(cfg["app"], 4))
    lines += [
        "",
        "#define MF_BOARD_APP_CONFIG_INIT { \\",
        "    .ctrl = MF_BOARD_CTRL_CONFIG_INIT, \\",
        "    .app = MF_BOARD_APP_PARAMS_INIT \\",
        "}",
        "",
        "#endif /* MF_BOARD_CONFIG_H */",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# linker scripts, Makefile, startup
# ---------------------------------------------------------------------------

def render_linker_script(board: Board, slot: str) -> str:
    """GNU ld script linking the application at slot ``slot`` start + 512."""
    region = getattr(board.mcu.layout, f"slot_{slot}")
    origin = board.mcu.flash_base_addr + region.offset_bytes + HEADER_BYTES
    length = region.size_bytes - HEADER_BYTES
    return f"""/* app_{slot}.ld - generated by `myofoc gen` for board {board.name}: the application
 * for image slot {slot.upper()} (slot at 0x{origin - HEADER_BYTES:08X}, {region.size_bytes} bytes; the
 * 512-byte image header comes first, the vector table follows at the load address). */
ENTRY(Reset_Handler)

MEMORY
{{
    FLASH (rx)  : ORIGIN = 0x{origin:08X}, LENGTH = {length}
    RAM   (rwx) : ORIGIN = 0x{board.mcu.ram_base_addr:08X}, LENGTH = {board.mcu.ram_bytes}
}}

INCLUDE sections.ld
"""


SECTIONS_LD = f"""/* sections.ld - generated by `myofoc gen`: output sections of the application.
 * RAM from its base: .data, .bss, then the stack (MF_STACK_BYTES, grows down
 * from _estack), so data + bss + stack is the application's RAM use. */
SECTIONS
{{
    .isr_vector :
    {{
        . = ALIGN(512);
        KEEP(*(.isr_vector))
    }} > FLASH

    .text :
    {{
        *(.text .text.*)
        *(.glue_7) *(.glue_7t) *(.vfp11_veneer) *(.v4_bx)
        . = ALIGN(4);
    }} > FLASH

    .rodata :
    {{
        *(.rodata .rodata.*)
        . = ALIGN(4);
    }} > FLASH

    .ARM.exidx :
    {{
        *(.ARM.exidx* .gnu.linkonce.armexidx.*)
    }} > FLASH

    .data :
    {{
        . = ALIGN(4);
        _sdata = .;
        *(.data .data.*)
        . = ALIGN(4);
        _edata = .;
    }} > RAM AT > FLASH
    _sidata = LOADADDR(.data);

    .bss (NOLOAD) :
    {{
        . = ALIGN(4);
        _sbss = .;
        *(.bss .bss.*)
        *(COMMON)
        . = ALIGN(4);
        _ebss = .;
    }} > RAM

    .stack (NOLOAD) :
    {{
        . = ALIGN(8);
        . = . + {STACK_BYTES};
        . = ALIGN(8);
        _estack = .;
    }} > RAM
}}
"""


MAKEFILE = """# Makefile - generated by `myofoc gen` for board @@BOARD@@. Needs make and gcc only.
#   make            Cortex-M4F application for image slot A: app.elf, app.bin
#   make SLOT=b     the same linked for slot B: app-b.elf, app-b.bin
#   make host       the core and tests/test_config.c with the host gcc, then run the test
#   make clean
SLOT    ?= a
ARM_CC  ?= arm-none-eabi-gcc
OBJCOPY ?= arm-none-eabi-objcopy
SIZE    ?= arm-none-eabi-size
HOST_CC ?= cc
BUILD   ?= build

STRICT  := -std=c99 -O2 -ffp-contract=off -fno-math-errno -fno-tree-slp-vectorize \\
           -Wall -Wextra -Wpedantic -Wconversion -Wdouble-promotion -Werror
ARCH    := -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
INC     := -I. -Icore -Iprotocol -Ihal -Ihal/@@FAMILY@@
ARM_CFLAGS := $(STRICT) $(ARCH) -ffunction-sections -fdata-sections $(INC)
LDFLAGS := $(ARCH) -nostartfiles --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections \\
           -Wl,--no-warn-rwx-segments -Wl,--nmagic

CORE_SRCS := $(sort $(wildcard core/*.c)) protocol/myofoc_can.c
FW_SRCS   := $(CORE_SRCS) $(sort $(wildcard hal/@@FAMILY@@/*.c)) main.c
FW_OBJS   := $(FW_SRCS:%.c=$(BUILD)/arm/%.o)
HOST_OBJS := $(CORE_SRCS:%.c=$(BUILD)/host/%.o)
HDRS      := config.h $(wildcard core/*.h protocol/*.h hal/*.h hal/@@FAMILY@@/*.h)

ifeq ($(SLOT),a)
OUT := app
else ifeq ($(SLOT),b)
OUT := app-b
else
$(error SLOT must be a or b)
endif

.PHONY: all host clean
all: $(OUT).elf $(OUT).bin

$(BUILD)/arm/%.o: %.c $(HDRS)
\t@mkdir -p $(dir $@)
\t$(ARM_CC) $(ARM_CFLAGS) -c $< -o $@

$(OUT).elf: $(FW_OBJS) app_$(SLOT).ld sections.ld
\t$(ARM_CC) $(FW_OBJS) $(LDFLAGS) -T app_$(SLOT).ld -Wl,-Map=$(BUILD)/$(OUT).map -lm -o $@
\t$(SIZE) -A $@

$(OUT).bin: $(OUT).elf
\t$(OBJCOPY) -O binary $< $@

$(BUILD)/host/%.o: %.c $(HDRS)
\t@mkdir -p $(dir $@)
\t$(HOST_CC) $(STRICT) $(INC) -c $< -o $@

$(BUILD)/host/test_config: tests/test_config.c $(HOST_OBJS) $(HDRS)
\t$(HOST_CC) $(STRICT) $(INC) tests/test_config.c $(HOST_OBJS) -lm -o $@

host: $(BUILD)/host/test_config
\t./$(BUILD)/host/test_config

clean:
\trm -rf $(BUILD) app.elf app.bin app-b.elf app-b.bin
"""


def render_startup(irq_count: int = 102) -> str:
    """startup_stm32g4.c with every IRQ vector written out: the current-loop
    interrupt (ADC1_2, IRQ 18) to its handler, every other to Default_Handler."""
    text = (TEMPLATES / "hal" / "stm32g4" / "startup_stm32g4.c").read_text()
    vecs = ["ADC1_2_IRQHandler" if irq == 18 else "D" for irq in range(irq_count)]
    rows = []
    for start in range(0, irq_count, 6):
        chunk = vecs[start:start + 6]
        rows.append("        " + ", ".join(chunk) + f",   /* IRQ {start}..{start + len(chunk) - 1} */")
    return text.replace("@@IRQ_VECTORS@@", "\n".join(rows))


# ---------------------------------------------------------------------------
# the project
# ---------------------------------------------------------------------------

def _project_files(board: Board, *, hse_hz: int | None,
                   fw_version: str | None) -> dict[str, bytes]:
    """Every file of the project, relative path -> bytes (nothing written yet)."""
    files: dict[str, bytes] = {}
    for src in sorted(CORE_DIR.glob("*.[ch]")):
        files[f"core/{src.name}"] = src.read_bytes()
    for name in ("myofoc_can.c", "myofoc_can.h"):
        files[f"protocol/{name}"] = (PROTOCOL_DIR / name).read_bytes()
    files["config.h"] = render_config_h(board, hse_hz=hse_hz, fw_version=fw_version).encode()
    files["hal/mf_hal.h"] = (TEMPLATES / "hal" / "mf_hal.h").read_bytes()
    for name in ("hal_stm32g4.c", "stm32g4_regs.h"):
        files[f"hal/stm32g4/{name}"] = (TEMPLATES / "hal" / "stm32g4" / name).read_bytes()
    files["hal/stm32g4/startup_stm32g4.c"] = render_startup().encode()
    files["main.c"] = (TEMPLATES / "main.c").read_bytes()
    files["tests/test_config.c"] = (TEMPLATES / "test" / "test_config.c").read_bytes()
    files["app_a.ld"] = render_linker_script(board, "a").encode()
    files["app_b.ld"] = render_linker_script(board, "b").encode()
    files["sections.ld"] = SECTIONS_LD.encode()
    files["Makefile"] = (MAKEFILE.replace("@@BOARD@@", board.name)
                         .replace("@@FAMILY@@", board.mcu.family)).encode()
    files[MARKER] = (f"generated by myofoc gen from {Path(board.path).name}; "
                     "this directory is replaced by the next `myofoc gen`\n").encode()
    return files


def _hash_files(files: Mapping[str, bytes]) -> bytes:
    h = hashlib.sha256()
    for rel in sorted(files):
        data = files[rel]
        h.update(rel.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    return h.digest()


def source_hash(project_dir: PathLike) -> bytes:
    """SHA-256 over the project's sources in sorted path order (path, length,
    bytes of each file; make's ``build/`` and the outputs ``app*.elf/bin``
    excluded): equal projects give equal hashes (reproducible builds)."""
    root = Path(project_dir)
    files: dict[str, bytes] = {}
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_dir() or rel.split("/")[0] == BUILD_DIR or (
                "/" not in rel and rel.startswith("app") and rel.endswith((".elf", ".bin"))):
            continue
        files[rel] = p.read_bytes()
    return _hash_files(files)


def _write_file(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def generate(board_path: PathLike | Board, out_dir: PathLike, *, hse_hz: int | None = None,
             fw_version: str | None = None) -> GenResult:
    """Write the firmware project of a board into ``out_dir`` (atomically).

    ``board_path``: a board file (validated first: BoardFileError before
    anything is written) or a loaded Board; ``hse_hz``: crystal frequency when
    the PLL should run from HSE; ``fw_version``: MAJOR.MINOR.PATCH (default
    the board's version). Raises GenError when the board cannot be mapped
    to the MCU or ``out_dir`` is a directory this function did not write."""
    board = board_path if isinstance(board_path, Board) else load_board(board_path)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise GenError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise GenError(f"{out}: not empty and not a generated project (no {MARKER}); "
                       "refusing to replace it")
    files = _project_files(board, hse_hz=hse_hz, fw_version=fw_version)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.gen-", dir=out.parent))
    old: Path | None = None
    try:
        for rel in sorted(files):
            _write_file(tmp, rel, files[rel])
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            old.rmdir()
            out.rename(old)
        try:
            tmp.rename(out)
        except OSError:
            if old is not None:          # put the previous project back
                old.rename(out)
                old = None
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return GenResult(out_dir=out, board=board, files=tuple(sorted(files)),
                     build_hash=_hash_files(files))
