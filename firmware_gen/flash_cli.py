"""``myofoc flash``: signed firmware updates of actuators over CAN (UDS over
ISO-TP, firmware_gen/flasher.py), or over a UART through the STM32 ROM
bootloader (``--serial``, firmware_gen/recovery/cli.py).

Exit codes: 0 every node updated (or, with --dry-run, would be); 1 a node
refused or failed (the others are still done; the summary says which and
why); 2 bad usage or bad input (unreadable or corrupt image, bad node list,
a bus that cannot be opened).
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import asdict
from typing import Any

__all__ = ["add_parser", "command"]


def _buses(args: argparse.Namespace) -> list[tuple[str, str | None, list[int]]]:
    """(interface, channel, node ids) per bus from --bus or --interface/--channel/--node(s)."""
    from firmware_gen.flasher import parse_node_list

    out: list[tuple[str, str | None, list[int]]] = []
    for spec in args.bus or []:
        parts = spec.split(":")
        if len(parts) < 3:
            raise ValueError(f"--bus {spec!r}: INTERFACE:CHANNEL:NODES, e.g. socketcan:can0:1-10")
        iface, nodes = parts[0], parts[-1]
        channel = ":".join(parts[1:-1]) or None
        out.append((iface, channel, parse_node_list(nodes)))
    ifaces = args.interface or []
    chans = args.channel or []
    node_specs = [str(n) for n in (args.node or [])] + list(args.nodes or [])
    if ifaces:
        if chans and len(chans) != len(ifaces):
            raise ValueError(f"{len(ifaces)} --interface but {len(chans)} --channel: give one channel per "
                             "interface (or none)")
        if not node_specs:
            raise ValueError("--node N or --nodes LIST is required with --interface")
        if len(node_specs) not in (1, len(ifaces)):
            raise ValueError(f"{len(ifaces)} buses but {len(node_specs)} node lists: give one list, or one "
                             "per bus in the order of --interface")
        for k, iface in enumerate(ifaces):
            spec = node_specs[k] if len(node_specs) > 1 else node_specs[0]
            out.append((iface, chans[k] if chans else None, parse_node_list(spec)))
    elif node_specs:
        raise ValueError("--node/--nodes need a bus: --interface (and --channel), or --bus")
    if not out:
        raise ValueError("no bus: give --interface/--channel with --node or --nodes, or --bus, or --serial")
    return out


def _open(iface: str, channel: str | None, fd: bool, bitrate: int | None,
          data_bitrate: int | None) -> Any:
    import can

    kw: dict[str, Any] = {"interface": iface}
    if channel is not None:
        kw["channel"] = channel
    if fd:
        kw["fd"] = True
        if data_bitrate:
            kw["data_bitrate"] = data_bitrate
    if bitrate:
        kw["bitrate"] = bitrate
    return can.Bus(**kw)


def command(args: argparse.Namespace) -> int:
    if args.serial:
        from firmware_gen.recovery.cli import run_serial

        return run_serial(args)
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from firmware_gen.errors import BoardFileError, FlashError
    from firmware_gen.flasher import FlashOptions, flash_buses, load_images

    err = Console(stderr=True)
    import logging
    logging.getLogger("UdsClient").setLevel(logging.CRITICAL)   # timeouts are retried; the summary says why
    try:
        plan = _buses(args)
        if args.stmin_us is not None and not 0.0 <= args.stmin_us <= 127000.0:
            raise ValueError(f"--stmin-us {args.stmin_us:g}: 0 to 127000 us (ISO 15765-2 STmin)")
        images = load_images(args.images)
    except (ValueError, FlashError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    board_id = None
    if args.board:
        from firmware_gen.board import load_board
        try:
            board_id = load_board(args.board).board.id
        except (BoardFileError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        wrong = [n for n, _, im in images if im.header.board_id != board_id]
        if wrong:
            print(f"error: {', '.join(wrong)}: not for board 0x{board_id:04x} ({args.board})", file=sys.stderr)
            return 2
    pubkey = None
    if args.pubkey:
        from firmware_gen.signing import load_public_key
        try:
            pubkey = load_public_key(args.pubkey)
        except (OSError, ValueError) as exc:
            print(f"error: {args.pubkey}: {exc}", file=sys.stderr)
            return 2
    buses = []
    try:
        for iface, channel, nodes in plan:
            bus = _open(iface, channel, args.fd, args.bitrate, args.data_bitrate)
            buses.append((f"{iface}:{channel}" if channel else iface, bus, nodes))
    except Exception as exc:  # noqa: BLE001 - python-can raises many kinds
        print(f"error: cannot open the bus: {exc}", file=sys.stderr)
        for _, b, _ in buses:
            b.shutdown()
        return 2
    abort = threading.Event()
    tasks: dict[int, Any] = {}
    lock = threading.Lock()
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                      TimeRemainingColumn(), console=err, transient=True,
                      disable=args.json or not err.is_terminal) as progress:

            def tick(node: int, stage: str, done: int, total: int) -> None:
                with lock:
                    if node not in tasks:
                        tasks[node] = progress.add_task(f"node {node}", total=total)
                progress.update(tasks[node], completed=done, description=f"node {node} {stage}")

            opt = FlashOptions(p2_timeout_s=args.timeout, confirm=not args.no_confirm,
                               allow_downgrade=args.allow_downgrade, dry_run=args.dry_run, pubkey=pubkey,
                               fd=args.fd, stmin_s=None if args.stmin_us is None else args.stmin_us * 1e-6,
                               progress=tick, abort=abort)
            try:
                results = flash_buses(buses, [(n, d) for n, d, _ in images], opt)
            except KeyboardInterrupt:
                abort.set()
                print("interrupted: the nodes keep their running image; flash again to finish",
                      file=sys.stderr)
                return 1
    finally:
        for _, b, _ in buses:
            b.shutdown()
    if board_id is not None:
        for r in results:
            r.extra["board_file"] = args.board
    ok = all(r.ok for r in results)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return 0 if ok else 1
    # plain aligned columns, never folded (a pipe or a narrow terminal keeps every
    # value whole); the bus only when there are several; the reasons of
    # refusals in full below
    several = len({r.bus for r in results}) > 1
    head = (["bus"] if several else []) + ["node", "result", "slot", "from", "to", "bytes", "s", "retries"]
    rows = [([r.bus] if several else []) +
            [str(r.node), ("would flash" if r.dry_run else "updated") if r.ok else "REFUSED", r.slot or "-",
             r.old_version or "-", r.new_version or "-", str(r.image_bytes), f"{r.seconds:.2f}", str(r.retries)]
            for r in results]
    width = [max(len(row[k]) for row in [head] + rows) for k in range(len(head))]
    print("myofoc flash" + (" (dry run: nothing changed)" if args.dry_run else ""))
    for row in [head] + rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, width)).rstrip())
    for r in results:
        if not r.ok:
            print(f"REFUSED {r.error}" + (f" [{r.bus}]" if several else ""))
    return 0 if ok else 1


def add_parser(sub: Any) -> None:
    """Add ``flash`` to the myofoc subcommands."""
    f = sub.add_parser(
        "flash", help="update actuator firmware over CAN (UDS, A/B slots) or a UART (--serial)",
        description="Flash signed images (.mfw) into actuators over CAN: for each node, read its board and "
                    "slots (UDS ReadDataByIdentifier), pick the image linked for its inactive slot, check "
                    "it (signed, board, size, security counter, not older), then programming session, "
                    "security access, erase, download with progress, check on the node (length, CRC, "
                    "board, counter, Ed25519 signature), reset, wait for the new version, confirm. A node "
                    "that refuses keeps running its image. Several buses are flashed in parallel (one "
                    "thread per bus). --serial writes through the STM32 ROM bootloader instead (AN3155, "
                    "recovery of a node without a working bootloader). Exit 0: all updated; 1: a node "
                    "refused or failed; 2: bad input.",
        epilog="examples:\n"
               "  myofoc flash build/arm_48v-a.mfw build/arm_48v-b.mfw --node 30 \\\n"
               "      --interface socketcan --channel can0\n"
               "  myofoc flash out/*.mfw --nodes 25-40 --interface udp_multicast --channel 239.0.0.1 --fd\n"
               "  myofoc flash out/*.mfw --bus pcan:PCAN_USBBUS1:1-10 --bus pcan:PCAN_USBBUS2:11-20\n"
               "  myofoc flash out/*.mfw --nodes 1-6 --interface virtual --channel sim --dry-run --json\n"
               "  myofoc flash --serial /dev/ttyUSB0 build/arm_48v-a.mfw --board boards/arm_48v.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("images", nargs="+", help="image files (.mfw): one per slot (the node's inactive slot "
                                              "picks its image by load address)")
    f.add_argument("--node", type=int, action="append", help="node id (repeatable)")
    f.add_argument("--nodes", action="append", help="node ids, e.g. 1-60 or 1,3,10-12 (one list per "
                                                     "--interface, or one for all)")
    f.add_argument("--interface", action="append", help="python-can interface (repeatable: one bus each): "
                                                         "socketcan, pcan, kvaser, slcan, udp_multicast, ...")
    f.add_argument("--channel", action="append", help="python-can channel, one per --interface")
    f.add_argument("--bus", action="append", metavar="INTERFACE:CHANNEL:NODES",
                   help="a bus and its nodes in one (repeatable), e.g. socketcan:can1:11-20")
    f.add_argument("--fd", action="store_true", help="CAN FD: ISO-TP in 64-byte frames")
    f.add_argument("--bitrate", type=int, default=None, help="nominal bit rate, bit/s (if the interface needs it)")
    f.add_argument("--data-bitrate", type=int, default=None, help="CAN FD data bit rate, bit/s")
    f.add_argument("--board", default=None, help="board file: refuse images for another board before sending")
    f.add_argument("--pubkey", default=None, help="public key (.pub raw or PEM): check signatures on the host too")
    f.add_argument("--dry-run", action="store_true", help="read the nodes and pick the images; change nothing")
    f.add_argument("--no-confirm", action="store_true",
                   help="do not confirm the new image: the application must (else the next reset rolls back)")
    f.add_argument("--allow-downgrade", action="store_true",
                   help="accept an older version (an image with a lower security counter is always refused)")
    f.add_argument("--stmin-us", type=float, default=None, metavar="US",
                   help="at least this gap between the consecutive frames we send, us (default: the node's "
                        "flow control, 0): for a transport that drops bursts, e.g. 100 on udp_multicast")
    f.add_argument("--timeout", type=float, default=1.0, help="answer timeout per request, s (default: %(default)s)")
    f.add_argument("--json", action="store_true", help="print the per-node results as JSON")
    f.add_argument("--serial", default=None, metavar="PORT",
                   help="recovery over a UART through the STM32 ROM bootloader (AN3155) instead of CAN")
    f.add_argument("--baud", type=int, default=115200, help="--serial baud rate (default: %(default)s)")
    f.set_defaults(func=command)
