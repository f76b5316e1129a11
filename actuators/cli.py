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


def _cmd_monitor(args: argparse.Namespace) -> int:
    from actuators.monitor import command

    return command(args)


def _cmd_sim_serve(args: argparse.Namespace) -> int:
    from actuators.sim_serve import serve

    return serve(args.board, args.nodes, interface=args.interface, channel=args.channel,
                 fd=args.fd, flash_dir=args.flash_dir, slcan=args.slcan, seed=args.seed,
                 duration_s=args.duration, boot=args.boot, pubkey=args.pubkey,
                 auto_confirm=args.auto_confirm)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="myofoc",
        description="Firmware toolkit for humanoid joint actuators: one C99 control core on the "
                    "MCU and in the simulator.",
        epilog="examples:\n  myofoc demo --out out/demo\n  myofoc board check boards/*.toml\n"
               "  myofoc sim serve --board boards/hip_knee_48v.toml --nodes 1-6 --slcan",
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

    s = sub.add_parser("sim", help="simulated actuators")
    ssub = s.add_subparsers(dest="sim_command", required=True, metavar="ACTION")
    ss = ssub.add_parser(
        "serve", help="simulated actuators as nodes on a CAN bus, in this process",
        description="Run simulated actuators (the firmware's C core + the plant, paced to the wall "
                    "clock) as nodes on a python-can bus, or behind a pseudo-terminal that speaks "
                    "the Lawicel slcan protocol of a USB-CAN adapter (--slcan). Prints 'ready: "
                    "nodes ... on <interface> <channel>' on stdout, then serves until Ctrl-C, "
                    "SIGTERM or --duration. Exit 2: bad board, node ids outside the board's "
                    "node range, or a bus that cannot be opened.",
        epilog="examples:\n"
               "  myofoc sim serve --board boards/hip_knee_48v.toml --nodes 1-6 --slcan\n"
               "      (then, in another process: can.Bus(interface='slcan', channel='/dev/pts/N',\n"
               "      sleep_after_open=0))\n"
               "  myofoc sim serve --board boards/hip_knee_48v.toml --nodes 1-6 \\\n"
               "      --interface udp_multicast --channel 239.0.0.1 --flash-dir out/flash",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ss.add_argument("--board", default=str(DEFAULT_BOARD), help="board file (default: %(default)s)")
    ss.add_argument("--nodes", required=True,
                    help="node ids, e.g. 1-6 or 1,2,10-12 (inside the board's [can] node range)")
    ss.add_argument("--interface", help="python-can interface: virtual, udp_multicast, socketcan, "
                                        "slcan (a real adapter), pcan, ...")
    ss.add_argument("--channel", help="python-can channel (udp_multicast: an IPv4 or IPv6 group)")
    ss.add_argument("--slcan", action="store_true",
                    help="be a USB-CAN adapter: open a pseudo-terminal speaking Lawicel slcan")
    ss.add_argument("--fd", action=argparse.BooleanOptionalAction, default=None,
                    help="CAN FD nodes (default: the board's can.fd)")
    ss.add_argument("--flash-dir", help="directory of the nodes' flash files node_<id>.flash (slots, boot "
                                        "record, params; with --no-boot the parameter pages node_<id>.bin) "
                                        "(default: in memory, lost at exit)")
    ss.add_argument("--boot", action=argparse.BooleanOptionalAction, default=True,
                    help="simulate each node's flash and bootloader (UDS on 0x700|node, myofoc flash) "
                         "(default: on)")
    ss.add_argument("--pubkey", default=None, help="Ed25519 public key (32 raw bytes) the simulated bootloaders "
                                                   "trust (default: firmware_gen/keys/dev_ed25519.pub)")
    ss.add_argument("--auto-confirm", action=argparse.BooleanOptionalAction, default=True,
                    help="a new image confirms itself after booting (off: the next reset rolls it back "
                         "unless the flasher confirms) (default: on)")
    ss.add_argument("--seed", type=int, default=0, help="plant noise seed (default: 0)")
    ss.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    ss.set_defaults(func=_cmd_sim_serve)

    m = sub.add_parser("monitor", help="live view of a CAN bus: a row per node, bus load, --log",
                       description="Watch a bus of actuators: a row per node seen (state, mode, "
                                   "position, velocity, torque, temperature, faults, frame rate) and "
                                   "the bus load (frame bits with stuffing over the bit rate). "
                                   "--log records every frame with python-can (.blf, .asc, .log, ...).",
                       epilog="examples:\n  myofoc monitor --interface socketcan --channel can0\n"
                              "  myofoc monitor --interface udp_multicast --channel 239.74.163.2 --fd "
                              "--log run.blf\n"
                              "  myofoc monitor --interface virtual --channel test --once --json "
                              "--duration 2",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("--interface", required=True, help="python-can interface (socketcan, pcan, slcan, "
                                                      "udp_multicast, virtual, ...)")
    m.add_argument("--channel", required=True, help="interface channel (can0, COM3, a group address)")
    m.add_argument("--bitrate", type=int, default=None,
                   help="nominal bit rate, bit/s (default: the board's, else 1000000)")
    m.add_argument("--fd", action="store_true", help="open the bus in CAN FD mode")
    m.add_argument("--data-bitrate", type=int, default=None,
                   help="CAN FD data bit rate, bit/s (default: the board's, else 5000000)")
    m.add_argument("--board", action="append", default=None,
                   help="board file for the MIT ranges (repeatable: a node uses the board whose node-id "
                        "range holds it; default: every file in boards/)")
    m.add_argument("--log", default=None, help="record every frame to this file (.blf, .asc, .log, ...)")
    m.add_argument("--duration", type=float, default=None,
                   help="seconds to watch (default: until Ctrl-C; 1 s with --once)")
    m.add_argument("--once", action="store_true", help="no live view: print one snapshot at the end")
    m.add_argument("--json", action="store_true", help="print the final snapshot as JSON")
    m.set_defaults(func=_cmd_monitor)

    from hil.run import add_parser as _add_hil
    _add_hil(sub)
    from actuators.tune.cli import add_parser as _add_tune
    _add_tune(sub)
    from firmware_gen.flash_cli import add_parser as _add_flash
    _add_flash(sub)
    from firmware_gen.keys_cli import add_parser as _add_keys
    _add_keys(sub)
    from firmware_gen.cli import add_parser as _add_fw
    _add_fw(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
