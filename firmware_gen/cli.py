"""``myofoc gen`` and ``myofoc build``: board file -> firmware project -> ELF, binary, images.

Exit codes: 0 success, 1 the build failed or is over budget, 2 bad board file or bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_parser", "cmd_build", "cmd_gen"]


def _fmt_kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def cmd_gen(args: argparse.Namespace) -> int:
    """``myofoc gen BOARD -o DIR``."""
    from .errors import BoardFileError, GenError
    from .gen import generate

    try:
        r = generate(args.board, args.out, hse_hz=args.hse_hz, fw_version=args.fw_version)
    except BoardFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (GenError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(r.files)} files to {r.out_dir}/ for board {r.board.name} "
          f"(sources sha256 {r.build_hash.hex()[:16]}...); build with: make -C {r.out_dir}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """``myofoc build BOARD --out DIR [--json]``."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from .build import build
    from .errors import BoardFileError, BuildError, GenError

    console = Console(stderr=True)
    result: Any = None
    status = 0
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True, disable=args.json) as progress:
            task = progress.add_task("build", total=None)
            result = build(args.board, args.out, jobs=args.jobs, fw_version=args.fw_version,
                           security_counter=args.security_counter, hse_hz=args.hse_hz,
                           progress=lambda s: progress.update(task, description=s))
    except BoardFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (GenError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BuildError as e:
        result = getattr(e, "result", None)
        print(f"error: {e}", file=sys.stderr)
        if result is None:
            return 1
        status = 1
    if args.json:
        print(json.dumps(result.summary(), indent=2))
        return status
    table = Table(title=f"myofoc build {result.board} {result.version_text}")
    table.add_column("memory")
    table.add_column("used", justify="right")
    table.add_column("budget", justify="right")
    table.add_column("use", justify="right")
    for what, used, budget in (("flash", result.flash_bytes, result.flash_budget_bytes),
                               ("RAM", result.ram_bytes, result.ram_budget_bytes)):
        pct = 100.0 * used / budget
        style = "red" if used > budget else "green"
        table.add_row(what, _fmt_kib(used), _fmt_kib(budget), f"[{style}]{pct:.0f} %[/{style}]")
    Console().print(table)
    print(f"slot size {_fmt_kib(result.slot_bytes)}; host test: {result.host_test}")
    print(f"wrote {result.elf}, {result.bin}, "
          + ", ".join(str(p) for p in result.images.values()))
    return status


def add_parser(sub: Any) -> None:
    """Add ``gen`` and ``build`` to the myofoc subcommands."""
    g = sub.add_parser(
        "gen", help="write a standalone firmware project for a board",
        description="Write a firmware project for BOARD into DIR: config.h (the board's controller "
                    "config as C initializers, clock, PWM, ADC, encoder, CAN and flash values), the "
                    "control core, the CAN codec, the STM32G4 HAL, startup code, linker scripts and "
                    "a Makefile that needs no Python (make, make SLOT=b, make host). Atomic: DIR is "
                    "replaced only after a complete generation. Exit 0: written; 2: bad board file "
                    "or a value the MCU cannot realise.",
        epilog="examples:\n  myofoc gen boards/arm_48v.toml -o out/arm_48v\n"
               "  make -C out/arm_48v host && make -C out/arm_48v",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("board", help="board file (boards/*.toml)")
    g.add_argument("-o", "--out", required=True, help="project directory (created or replaced)")
    g.add_argument("--hse-hz", type=int, default=None, help="crystal frequency: PLL from HSE "
                   "(default: from the internal HSI16)")
    g.add_argument("--fw-version", default=None, help="firmware version MAJOR.MINOR.PATCH "
                   "(default: the board's [board] version)")
    g.set_defaults(func=cmd_gen)

    b = sub.add_parser(
        "build", help="generate, test and build a board's firmware; write ELF, .bin and .mfw images",
        description="Generate the project into DIR/project, run its host unit test, build the "
                    "Cortex-M4F application for image slots A and B with arm-none-eabi-gcc and "
                    "write DIR/BOARD.elf, BOARD.bin and the images BOARD-a.mfw, BOARD-b.mfw "
                    "(docs/spec/image_format.md). Prints flash and RAM use against the budget "
                    "(64 KiB flash, 16 KiB RAM, and the slot). Exit 0: built within budget; "
                    "1: build failed or over budget; 2: bad board file.",
        epilog="examples:\n  myofoc build boards/wrist_24v.toml --out out/wrist\n"
               "  myofoc build boards/arm_48v.toml --out out/arm --json --fw-version 1.2.0",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("board", help="board file (boards/*.toml)")
    b.add_argument("--out", required=True, help="output directory")
    b.add_argument("--json", action="store_true", help="print the result as JSON")
    b.add_argument("--jobs", "-j", type=int, default=2, help="make jobs (default: %(default)s)")
    b.add_argument("--fw-version", default=None, help="firmware version MAJOR.MINOR.PATCH "
                   "(default: the board's [board] version)")
    b.add_argument("--security-counter", type=int, default=None,
                   help="anti-rollback counter in the images (default: the packed fw version)")
    b.add_argument("--hse-hz", type=int, default=None, help="crystal frequency (default: HSI16)")
    b.set_defaults(func=cmd_build)
