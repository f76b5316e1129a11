"""``myofoc sim serve``: simulated actuators on a bus, in their own process.

Opens the bus (a python-can interface, or with ``slcan=True`` a
pseudo-terminal that behaves as a Lawicel slcan USB-CAN adapter), puts
``SimNodes`` on it, prints one ready line on stdout::

    ready: nodes 1-6 on slcan /dev/pts/5

and serves, paced to the wall clock, until interrupted (Ctrl-C, SIGTERM) or
``duration_s`` has passed. A tool in another process then talks to the nodes
as to real actuators.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

import can

from actuators.sim import SimError
from actuators.sim_node import SimNodes

__all__ = ["format_nodes", "open_bus", "parse_nodes", "serve"]

log = logging.getLogger(__name__)


def parse_nodes(spec: str) -> list[int]:
    """Node ids of a list like ``1-6`` or ``1,3,10-12``; ValueError if malformed."""
    ids: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise ValueError(f"--nodes {spec!r}: {part!r} is not a node id or a range a-b") from None
        if b < a:
            raise ValueError(f"--nodes {spec!r}: empty range {part!r}")
        ids.extend(range(a, b + 1))
    if len(set(ids)) != len(ids):
        raise ValueError(f"--nodes {spec!r}: a node id appears twice")
    return ids


def format_nodes(ids: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``1-3,7``."""
    out: list[str] = []
    run: list[int] = []
    for n in sorted(ids) + [None]:  # type: ignore[list-item]
        if run and (n is None or n != run[-1] + 1):
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
            run = []
        if n is not None:
            run.append(n)
    return ",".join(out)


def open_bus(interface: str, channel: str | None, fd: bool) -> can.BusABC:
    """A python-can bus (the simulator's side); FD when the board speaks FD."""
    kwargs: dict[str, Any] = {"interface": interface}
    if channel is not None:
        kwargs["channel"] = channel
    if fd:
        kwargs["fd"] = True
    return can.Bus(**kwargs)


def serve(board_path: str | Path, node_spec: str, *, interface: str | None = None,
          channel: str | None = None, fd: bool | None = None, flash_dir: str | Path | None = None,
          slcan: bool = False, seed: int = 0, duration_s: float | None = None,
          out: TextIO = sys.stdout, boot: bool = True, pubkey: str | Path | bytes | None = None,
          auto_confirm: bool = True) -> int:
    """Run ``myofoc sim serve``; returns the exit code (0 ok, 2 bad input).

    ``boot``: each node has its simulated flash (``flash_dir/node_<id>.flash``
    or memory: slots, boot record, parameter page) and bootloader (UDS on
    0x700 | node, for ``myofoc flash``), trusting ``pubkey`` (a file of 32
    raw bytes, or the bytes; None: firmware_gen/keys/dev_ed25519.pub);
    ``auto_confirm``: a new image confirms itself once booted. Without
    ``boot`` the parameter pages are ``flash_dir/node_<id>.bin``."""
    from firmware_gen.board import load_board
    from firmware_gen.errors import BoardFileError

    try:
        board = load_board(board_path)
    except (BoardFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        node_ids = parse_nodes(node_spec)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lo, hi = board.can.node_id_min, board.can.node_id_max
    bad = [n for n in node_ids if not lo <= n <= hi]
    if bad:
        print(f"error: node id(s) {format_nodes(bad)} outside the node range {lo}-{hi} of board "
              f"{board.name} ({board.path}: [can] node_id_min, node_id_max)", file=sys.stderr)
        return 2
    use_fd = bool(board.can.fd) if fd is None else fd
    if slcan == (interface is not None):
        print("error: give either --slcan or --interface", file=sys.stderr)
        return 2
    try:
        if slcan:
            from actuators.slcan_bridge import SlcanPtyBus
            bus: can.BusABC = SlcanPtyBus(fd=use_fd)
            where = f"slcan {bus.tty_path}"  # type: ignore[attr-defined]
        else:
            assert interface is not None
            bus = open_bus(interface, channel, use_fd)
            where = f"{interface} {bus.channel_info if channel is None else channel}"
    except (can.CanError, OSError, ValueError, ImportError) as exc:
        print(f"error: cannot open the bus: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            nodes = SimNodes(bus, board, node_ids, seed=seed, flash_dir=flash_dir, fd=use_fd, boot=boot,
                             pubkey=pubkey, auto_confirm=auto_confirm)
        except SimError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if boot:
            for n in node_ids:
                bl = nodes.bootloader(n)
                log.info("node %d: %s, flash %s", n, bl.version_text or "no image (bootloader only)",
                         bl.flash.path or "in memory")
        print(f"ready: nodes {format_nodes(node_ids)} on {where}", file=out, flush=True)
        nodes.serve_forever(paced=True, stop=stop, duration_s=duration_s)
        print(f"stopped: {nodes.frames_in} frames in, {nodes.frames_out} out, "
              f"{nodes.t_s:.3f} s simulated, {nodes.overruns} overruns", file=sys.stderr)
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        bus.shutdown()
