"""``myofoc build``: generate a board's project, build and test it, write the images.

    result = build("boards/arm_48v.toml", "out/arm_48v")

generates the project into ``out_dir/project`` (firmware_gen.gen), runs its
host unit test (``make host``), builds the Cortex-M4F application for slot A
and slot B (``make``, ``make SLOT=b``) and leaves in ``out_dir``:
``<board>.elf`` and ``<board>.bin`` (slot A) and the flashable images
``<board>-a.mfw`` / ``<board>-b.mfw`` (firmware_gen.image; build hash =
``gen.source_hash`` of the project). Flash use (.isr_vector + .text +
.rodata + .ARM.exidx + .data) and RAM use (.data + .bss + .stack), read with
``arm-none-eabi-size -A``, are checked against the application budget (64 KiB
flash, 16 KiB RAM, and the slot size): over it raises BuildError (with the
result attached as ``.result``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

from .board import Board, load_board
from .errors import BuildError
from .gen import generate, source_hash
from .image import HEADER_BYTES, build_image, pack_version

__all__ = ["FLASH_BUDGET_BYTES", "RAM_BUDGET_BYTES", "BuildResult", "build", "section_sizes"]

PathLike = Union[str, "os.PathLike[str]"]

FLASH_BUDGET_BYTES = 64 * 1024   # issue 6: the application's flash budget
RAM_BUDGET_BYTES = 16 * 1024     # issue 6: the application's RAM budget
FLASH_SECTIONS = (".isr_vector", ".text", ".rodata", ".ARM.exidx", ".data")
RAM_SECTIONS = (".data", ".bss", ".stack")


@dataclass(frozen=True)
class BuildResult:
    """What ``build`` made. Sizes in bytes; times in s."""

    board: str
    out_dir: Path
    project: Path
    elf: Path
    bin: Path
    images: dict[str, Path]                 # slot -> .mfw
    load_addr: dict[str, int]               # slot -> payload address
    flash_bytes: int
    ram_bytes: int
    flash_budget_bytes: int                 # min(64 KiB, slot size - 512)
    ram_budget_bytes: int
    slot_bytes: int
    sections: dict[str, int]
    build_hash: bytes
    fw_version: str
    security_counter: int
    version_text: str
    host_test: str                          # the host test's output
    times_s: dict[str, float] = field(default_factory=dict)

    @property
    def over_budget(self) -> list[str]:
        """Which budgets are exceeded ("flash", "ram"), empty when none."""
        out = []
        if self.flash_bytes > self.flash_budget_bytes:
            out.append("flash")
        if self.ram_bytes > self.ram_budget_bytes:
            out.append("ram")
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings, hash in hex)."""
        d = asdict(self)
        for k in ("out_dir", "project", "elf", "bin"):
            d[k] = str(d[k])
        d["images"] = {k: str(v) for k, v in self.images.items()}
        d["build_hash"] = self.build_hash.hex()
        d["over_budget"] = self.over_budget
        return d


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BuildError(f"{name} not found on PATH (Debian: apt-get install gcc-arm-none-eabi "
                         "libnewlib-arm-none-eabi)")
    return path


def _make(project: Path, args: list[str], jobs: int) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    cmd = ["make", "--no-print-directory", "-C", str(project), f"-j{max(1, int(jobs))}", *args]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise BuildError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def section_sizes(elf: PathLike) -> dict[str, int]:
    """Section name -> size in bytes from ``arm-none-eabi-size -A``."""
    proc = subprocess.run([_tool("arm-none-eabi-size"), "-A", str(elf)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise BuildError(f"arm-none-eabi-size -A {elf}: {proc.stderr.strip()}")
    out: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def build(board_path: PathLike | Board, out_dir: PathLike, *, jobs: int = 2,
          fw_version: Optional[str] = None, security_counter: Optional[int] = None,
          hse_hz: Optional[int] = None,
          progress: Optional[Callable[[str], None]] = None) -> BuildResult:
    """Generate, test and build a board; write ELF, binary and both images.

    ``fw_version`` (MAJOR.MINOR.PATCH) defaults to the board's [board]
    version, ``security_counter`` to the packed fw_version (monotonic with
    the version). ``progress(step)`` is called before each step. Raises
    BoardFileError (bad board, before anything is written), GenError,
    BuildError (tool missing, compile/link/host-test failure, over budget)."""
    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    board = board_path if isinstance(board_path, Board) else load_board(board_path)
    fw = fw_version or board.board.version
    counter = pack_version(fw) if security_counter is None else int(security_counter)
    _tool("arm-none-eabi-gcc")
    out = Path(out_dir)
    project = out / "project"
    times: dict[str, float] = {}

    t0 = time.perf_counter()
    step("generate")
    generate(board, project, hse_hz=hse_hz, fw_version=fw)
    times["generate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    step("host test")
    host_out = _make(project, ["host"], jobs)
    times["host"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    step("slot A (Cortex-M4F)")
    _make(project, ["SLOT=a"], jobs)
    times["slot_a"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    step("slot B (Cortex-M4F)")
    _make(project, ["SLOT=b"], jobs)
    times["slot_b"] = time.perf_counter() - t0

    step("images")
    name = board.name
    sections = section_sizes(project / "app.elf")
    flash = sum(sections.get(s, 0) for s in FLASH_SECTIONS)
    ram = sum(sections.get(s, 0) for s in RAM_SECTIONS)
    lay = board.mcu.layout
    slot_bytes = lay.slot_a.size_bytes
    build_hash = source_hash(project)
    version_text = f"{fw}+{build_hash[:4].hex()}"
    out.mkdir(parents=True, exist_ok=True)
    elf = out / f"{name}.elf"
    binary = out / f"{name}.bin"
    shutil.copyfile(project / "app.elf", elf)
    shutil.copyfile(project / "app.bin", binary)
    images: dict[str, Path] = {}
    load_addr: dict[str, int] = {}
    for slot, region, src in (("a", lay.slot_a, "app.bin"), ("b", lay.slot_b, "app-b.bin")):
        payload = (project / src).read_bytes()
        addr = board.mcu.flash_base_addr + region.offset_bytes + HEADER_BYTES
        if len(payload) > region.size_bytes - HEADER_BYTES:
            raise BuildError(f"{src}: {len(payload)} bytes do not fit slot {slot.upper()} "
                             f"({region.size_bytes - HEADER_BYTES} bytes after the header)")
        data = build_image(payload, fw_version=fw, security_counter=counter,
                           board_id=board.board.id, load_addr=addr, build_hash=build_hash,
                           version_text=version_text)
        path = out / f"{name}-{slot}.mfw"
        path.write_bytes(data)
        images[slot] = path
        load_addr[slot] = addr
    result = BuildResult(
        board=name, out_dir=out, project=project, elf=elf, bin=binary, images=images,
        load_addr=load_addr, flash_bytes=flash, ram_bytes=ram,
        flash_budget_bytes=min(FLASH_BUDGET_BYTES, slot_bytes - HEADER_BYTES),
        ram_budget_bytes=min(RAM_BUDGET_BYTES, board.mcu.ram_bytes), slot_bytes=slot_bytes,
        sections=sections, build_hash=build_hash, fw_version=fw, security_counter=counter,
        version_text=version_text, host_test=next((ln for ln in host_out.splitlines() if ln.startswith("config ")), ""),
        times_s=times)
    over = result.over_budget
    if over:
        err = BuildError(f"{name}: over budget ({', '.join(over)}): flash {flash} of "
                         f"{result.flash_budget_bytes} bytes, RAM {ram} of "
                         f"{result.ram_budget_bytes} bytes")
        err.result = result  # type: ignore[attr-defined]
        raise err
    return result
