"""``myofoc``: the command-line program (one subcommand per job).

Exit codes: 0 success, 1 a check failed, 2 bad usage or bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

BOARDS_DIR = Path(__file__).resolve().parent.parent / "boards"
DEFAULT_BOARD = BOARDS_DIR / "arm_48v.toml"


def _cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from actuators.demo import SCENARIOS, run_demo

    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("demo", total=len(SCENARIOS))

        def tick(name: str) -> None:
            progress.update(task, advance=1, description=name)

        summary = run_demo(args.board, args.out, progress=tick)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    table = Table(title=f"myofoc demo: {summary['board']} (simulated, {summary['wall_s']:.2f} s wall)")
    table.add_column("scenario")
    table.add_column("figures")
    table.add_column("plot")
    for s in summary["scenarios"]:
        figs = ", ".join(f"{k} {v:.4g}" for k, v in s["figures"].items())
        table.add_row(s["name"], figs, s["plot"])
    Console().print(table)
    print(f"results in {args.out}/ (summary.json and one PNG per scenario)")
    return 0


def _cmd_board_check(args: argparse.Namespace) -> int:
    from firmware_gen.board import load_board
    from firmware_gen.errors import BoardFileError

    status = 0
    for path in args.files:
        try:
            b = load_board(path)
            print(f"ok    {path}: {b.name}")
        except BoardFileError as e:
            print(f"error {e}", file=sys.stderr)
            status = 2
    return status


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="myofoc",
        description="Firmware toolkit for humanoid joint actuators: one C99 control core on the "
                    "MCU and in the simulator.",
        epilog="examples:\n  myofoc demo --out out/demo\n  myofoc board check boards/*.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="closed-loop demo of a simulated actuator (every control mode)",
                       description="Run the firmware's control core against the simulated plant of a "
                                   "board through current, velocity, position, impedance and muscle "
                                   "scenarios; write one PNG per scenario and summary.json.",
                       epilog="example:\n  myofoc demo --board boards/wrist_24v.toml --out out/demo",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--board", default=str(DEFAULT_BOARD), help="board file (default: %(default)s)")
    d.add_argument("--out", default="out/demo", help="output directory (default: %(default)s)")
    d.add_argument("--json", action="store_true", help="print the summary as JSON")
    d.set_defaults(func=_cmd_demo)

    b = sub.add_parser("board", help="board files")
    bsub = b.add_subparsers(dest="board_command", required=True, metavar="ACTION")
    bc = bsub.add_parser("check", help="validate board files (exit 2 on the first kind of error)",
                         epilog="example:\n  myofoc board check boards/*.toml",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    bc.add_argument("files", nargs="+", help="board TOML files")
    bc.set_defaults(func=_cmd_board_check)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
