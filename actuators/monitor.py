"""``myofoc monitor``: a live view of a CAN bus of actuators.

``BusMonitor`` is fed every received frame (it is a python-can
``Listener``) and keeps one row per node seen (from StateReply, Heartbeat
and Status: mode, position, velocity, torque, temperature, faults, node
state, frame rate) and the bus load: the time each frame occupies the wire
(bit-exact stuffing for classic frames; the FD data phase at the data bit
rate) over a sliding window. ``frame_time_s`` and ``frame_bits`` are the
wire model. ``run`` reads a bus the caller opened and shows a rich Live
table; ``snapshot`` is the same data as JSON-ready dicts.
"""
from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import can

from actuators import commands as cmd
from actuators import protocol as p
from actuators.protocol import ImpedanceRanges, ProtocolError

__all__ = ["BusMonitor", "NodeRow", "RangesFor", "board_ranges", "crc15", "frame_bits",
           "frame_time_s", "render", "run", "stuff_bits"]

RangesFor = Callable[[int], "tuple[str | None, ImpedanceRanges | None]"]

# ---------------------------------------------------------------------------
# The wire: bits of a frame (ISO 11898-1)
# ---------------------------------------------------------------------------

FD_LENGTHS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64)
CLASSIC_TAIL_BITS = 13   # CRC delimiter, ACK slot, ACK delimiter, EOF 7, IFS 3
FD_TAIL_BITS = 12        # ACK slot, ACK delimiter, EOF 7, IFS 3 (nominal rate)
CRC15_POLY = 0x4599


def _bits(value: int, n: int) -> list[int]:
    return [(value >> (n - 1 - k)) & 1 for k in range(n)]


def crc15(bits: Iterable[int]) -> int:
    """CAN CRC-15 (polynomial 0x4599, initial 0) of a bit sequence, MSB first."""
    crc = 0
    for b in bits:
        nxt = b ^ ((crc >> 14) & 1)
        crc = (crc << 1) & 0x7FFF
        if nxt:
            crc ^= CRC15_POLY
    return crc


def stuff_bits(bits: Sequence[int]) -> list[int]:
    """Positions (indexes into ``bits``) after which a stuff bit goes: after
    five equal bits the transmitter inserts their complement, which starts
    the next run."""
    out: list[int] = []
    last, run = -1, 0
    for k, b in enumerate(bits):
        if b == last:
            run += 1
        else:
            last, run = b, 1
        if run == 5:
            out.append(k)
            last, run = 1 - b, 1
    return out


def _fd_dlc(n: int) -> tuple[int, int]:
    """(DLC code, padded length) of n data bytes in a CAN FD frame."""
    for code, length in enumerate(FD_LENGTHS):
        if n <= length:
            return code, length
    raise ProtocolError(f"CAN FD frame of {n} bytes: at most 64")


def frame_bits(can_id: int, data: bytes, *, fd: bool = False, brs: bool = False,
               extended: bool = False) -> tuple[int, int]:
    """(bits at the nominal rate, bits at the data rate) of one frame on the
    wire, stuff bits and the 3-bit interframe space included.

    Classic frames: exact (the CRC-15 is computed, stuffing counted over SOF
    to CRC). CAN FD: dynamic stuffing counted over SOF to the data, the fixed
    stuff bits and stuff count of the CRC field, CRC-17 up to 16 bytes else
    CRC-21; with ``brs`` the bits from ESI to the CRC delimiter go at the
    data rate (else all at the nominal rate). Extended IDs: 29-bit arbitration.
    """
    n = len(data)
    if extended:
        head = [0] + _bits(can_id >> 18, 11) + [1, 1] + _bits(can_id & 0x3FFFF, 18)
    else:
        head = [0] + _bits(can_id, 11)
    payload = [b for byte in bytes(data) for b in _bits(byte, 8)]
    if not fd:
        if n > 8:
            raise ProtocolError(f"classic CAN frame 0x{can_id:X} of {n} bytes: at most 8")
        body = head + [0, 0, 0] + _bits(n, 4) + payload             # RTR, IDE/r1, r0, DLC
        body += _bits(crc15(body), 15)
        return len(body) + len(stuff_bits(body)) + CLASSIC_TAIL_BITS, 0
    code, length = _fd_dlc(n)
    payload += [0] * (8 * (length - n))
    brs_bit = 1 if brs else 0
    # RRS, IDE (extended: after the 18-bit ID; SRR and IDE are in head), FDF, res, BRS
    arb = head + ([0, 1, 0, brs_bit] if extended else [0, 0, 1, 0, brs_bit])
    data_part = [0] + _bits(code, 4) + payload                       # ESI, DLC, data
    stuffed = stuff_bits(arb + data_part)
    stuff_arb = sum(1 for k in stuffed if k < len(arb))
    stuff_data = len(stuffed) - stuff_arb
    crc_len = 17 if length <= 16 else 21
    fixed = 1 + (4 + crc_len - 1) // 4                               # fixed stuff bits
    tail_fast = 4 + crc_len + fixed + 1                              # stuff count, CRC, FSB, delimiter
    nominal = len(arb) + stuff_arb + FD_TAIL_BITS
    fast = len(data_part) + stuff_data + tail_fast
    if brs:
        return nominal, fast
    return nominal + fast, 0


def frame_time_s(msg: can.Message, bitrate_bps: float, data_bitrate_bps: float | None = None) -> float:
    """Seconds ``msg`` occupies the bus (see ``frame_bits``); error frames
    count as 20 bits (flag, delimiter, interframe space)."""
    if msg.is_error_frame:
        return 20.0 / bitrate_bps
    nominal, fast = frame_bits(msg.arbitration_id, bytes(msg.data), fd=bool(msg.is_fd),
                               brs=bool(msg.is_fd and msg.bitrate_switch), extended=bool(msg.is_extended_id))
    return nominal / bitrate_bps + (fast / (data_bitrate_bps or bitrate_bps) if fast else 0.0)


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------

@dataclass
class NodeRow:
    """What the bus tells about one node (SI; None until a frame said it)."""

    node_id: int
    board: str | None = None
    node_state: str | None = None
    mode: str | None = None
    p_out_rad: float | None = None
    v_out_rad_s: float | None = None
    tau_out_nm: float | None = None
    temp_c: float | None = None
    faults: int | None = None
    fault_names: list[str] = field(default_factory=list)
    v_bus_v: float | None = None
    temp_motor_c: float | None = None
    temp_fet_c: float | None = None
    rx_reject_count: int | None = None
    uptime_ms: int | None = None
    frames: int = 0                  # every frame with this node id, both directions
    frames_per_s: float = 0.0
    last_seen_s: float = 0.0         # seconds since the last frame from or to the node


def board_ranges(boards: Sequence[Any]) -> RangesFor:
    """Ranges of a node from board objects (firmware_gen Board): with one
    board, that board for every node; with several, the board whose
    [can] node_id_min..node_id_max holds the node (None if none)."""
    def pick(node_id: int) -> tuple[str | None, ImpedanceRanges | None]:
        if len(boards) == 1:
            return boards[0].name, boards[0].impedance_ranges()
        for b in boards:
            if b.can.node_id_min <= node_id <= b.can.node_id_max:
                return b.name, b.impedance_ranges()
        return None, None
    return pick


class BusMonitor(can.Listener):
    """Frame accounting for a bus. Feed it with ``on_message_received`` (or
    hand it to a ``can.Notifier``); read it with ``snapshot``.

    ``bitrate_bps`` (nominal) and ``data_bitrate_bps`` (CAN FD data phase)
    give the load; ``ranges_for(node_id) -> (board name, ImpedanceRanges)``
    decodes StateReply positions (None: left None); ``window_s`` is the
    window of rates and load; ``clock`` returns seconds (monotonic).
    """

    def __init__(self, *, bitrate_bps: float = 1_000_000.0, data_bitrate_bps: float | None = None,
                 ranges_for: RangesFor | None = None, window_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not bitrate_bps > 0 or (data_bitrate_bps is not None and not data_bitrate_bps > 0):
            raise ValueError("BusMonitor: bit rates must be > 0")
        self.bitrate_bps = float(bitrate_bps)
        self.data_bitrate_bps = float(data_bitrate_bps) if data_bitrate_bps else None
        self.ranges_for = ranges_for or (lambda node: (None, None))
        self.window_s = float(window_s)
        self.clock = clock
        self.start = clock()
        self.rows: dict[int, NodeRow] = {}
        self.frames = 0
        self.error_frames = 0
        self.other_frames = 0          # not protocol frames: extended IDs, unknown lengths
        self.group_frames = 0
        self.busy_s = 0.0              # bus time of every frame since start
        self._recent: deque[tuple[float, int, float]] = deque()   # (t, node or -1, bus time)
        self._ranges: dict[int, tuple[str | None, ImpedanceRanges | None]] = {}

    # ---- feeding ----------------------------------------------------------
    def on_message_received(self, msg: can.Message) -> None:
        self.feed(msg)

    def _row(self, node: int) -> NodeRow:
        row = self.rows.get(node)
        if row is None:
            if node not in self._ranges:
                self._ranges[node] = self.ranges_for(node)
            row = self.rows[node] = NodeRow(node_id=node, board=self._ranges[node][0])
        return row

    def feed(self, msg: can.Message, t: float | None = None) -> None:
        """Account for one received frame (``t``: its time, default now)."""
        now = self.clock() if t is None else t
        self.frames += 1
        try:
            busy = frame_time_s(msg, self.bitrate_bps, self.data_bitrate_bps)
        except ProtocolError:
            busy = 0.0
        self.busy_s += busy
        node = -1
        if msg.is_error_frame:
            self.error_frames += 1
        elif msg.is_extended_id or msg.is_remote_frame or msg.arbitration_id > 0x7FF:
            self.other_frames += 1
        else:
            node = self._account(msg, now)
        self._recent.append((now, node, busy))
        self._prune(now)

    def _account(self, msg: can.Message, now: float) -> int:
        function, node = msg.arbitration_id >> 7, msg.arbitration_id & 0x7F
        if function in (p.function_code("GroupCommand"), p.function_code("GroupState")):
            self.group_frames += 1
            return -1
        if node == p.BROADCAST_NODE_ID:
            return -1
        row = self._row(node)
        row.frames += 1
        row.last_seen_s = now
        if function not in cmd.REPLY_FUNCTIONS or function == p.function_code("GroupState"):
            return node
        try:
            reply = cmd.parse_reply(msg, self._ranges[node][1] or p.MINI_CHEETAH_RANGES)
        except ProtocolError:
            self.other_frames += 1
            return node
        if isinstance(reply, cmd.State):
            known = self._ranges[node][1] is not None
            row.mode, row.temp_c, row.faults = reply.mode, reply.temp_c, reply.faults
            row.fault_names = list(reply.fault_names)
            row.p_out_rad = reply.p_out_rad if known else None
            row.v_out_rad_s = reply.v_out_rad_s if known else None
            row.tau_out_nm = reply.tau_out_nm if known else None
        elif isinstance(reply, cmd.Heartbeat):
            row.node_state, row.rx_reject_count, row.uptime_ms = (reply.node_state, reply.rx_reject_count,
                                                                  reply.uptime_ms)
        elif isinstance(reply, cmd.Status):
            row.faults, row.fault_names = reply.faults, list(reply.fault_names)
            row.v_bus_v, row.temp_motor_c, row.temp_fet_c = reply.v_bus_v, reply.temp_motor_c, reply.temp_fet_c
        return node

    def _prune(self, now: float) -> None:
        old = now - self.window_s
        recent = self._recent
        while recent and recent[0][0] < old:
            recent.popleft()

    # ---- reading ----------------------------------------------------------
    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """The bus now: totals, rates and load over the window, a row per node."""
        now = self.clock() if now is None else now
        self._prune(now)
        span = max(min(self.window_s, now - self.start), 1e-9)
        per_node: dict[int, int] = {}
        busy = 0.0
        for _, node, b in self._recent:
            per_node[node] = per_node.get(node, 0) + 1
            busy += b
        rows = []
        for node in sorted(self.rows):
            row = self.rows[node]
            d = asdict(row)
            d["frames_per_s"] = per_node.get(node, 0) / span
            d["last_seen_s"] = now - row.last_seen_s
            rows.append(d)
        return {
            "elapsed_s": now - self.start,
            "window_s": span,
            "frames": self.frames,
            "frames_per_s": len(self._recent) / span,
            "bus_load": busy / span,
            "bus_load_mean": self.busy_s / max(now - self.start, 1e-9),
            "bitrate_bps": self.bitrate_bps,
            "data_bitrate_bps": self.data_bitrate_bps,
            "error_frames": self.error_frames,
            "group_frames": self.group_frames,
            "other_frames": self.other_frames,
            "nodes": rows,
        }


# ---------------------------------------------------------------------------
# Showing it
# ---------------------------------------------------------------------------

def _f(value: Optional[float], fmt: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def render(snap: dict[str, Any], title: str = "myofoc monitor") -> Any:
    """A rich Table of a snapshot."""
    from rich.table import Table

    load = snap["bus_load"]
    rate = f"{snap['bitrate_bps'] / 1e6:g} Mbit/s"
    if snap["data_bitrate_bps"]:
        rate += f" / {snap['data_bitrate_bps'] / 1e6:g} Mbit/s data"
    caption = (f"bus load {load * 100:.1f} % at {rate} · {snap['frames_per_s']:.0f} frames/s · "
               f"{snap['frames']} frames · error {snap['error_frames']} · group {snap['group_frames']} · "
               f"other {snap['other_frames']}")
    if snap.get("bus_state"):
        caption += f" · state {snap['bus_state']}"
    if snap.get("log"):
        caption += f" · logging to {snap['log']}"
    table = Table(title=title, caption=caption)
    for name, justify in (("node", "right"), ("board", "left"), ("state", "left"), ("mode", "left"),
                          ("p rad", "right"), ("v rad/s", "right"), ("tau N m", "right"),
                          ("temp °C", "right"), ("v_bus V", "right"), ("faults", "left"),
                          ("rejects", "right"), ("frames/s", "right"), ("seen", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in snap["nodes"]:
        faults = "-" if r["faults"] is None else (",".join(r["fault_names"]) or "none")
        style = "red" if r["faults"] else None
        table.add_row(str(r["node_id"]), r["board"] or "-", r["node_state"] or "-", r["mode"] or "-",
                      _f(r["p_out_rad"], ".4f"), _f(r["v_out_rad_s"], ".3f"), _f(r["tau_out_nm"], ".3f"),
                      _f(r["temp_c"], ".0f"), _f(r["v_bus_v"], ".2f"), faults,
                      _f(r["rx_reject_count"], "d"), f"{r['frames_per_s']:.0f}",
                      f"{r['last_seen_s']:.1f} s", style=style)
    return table


def _bus_state(bus: can.BusABC) -> str | None:
    try:
        return str(bus.state.name)
    except (NotImplementedError, AttributeError, can.CanError):
        return None


def _loggable(msg: can.Message) -> can.Message:
    """``msg``, or a copy without a channel when its channel name would not
    fit the log's channel number (python-can takes the digits at the end of
    the name: ``can0`` is 1, a virtual channel ``bus-59912`` would overflow
    the 16-bit field of a .blf file)."""
    from can.util import channel2int

    number = channel2int(msg.channel) if msg.channel is not None else None
    if number is None or 0 <= number < 0xFFFF:
        return msg
    return can.Message(timestamp=msg.timestamp, arbitration_id=msg.arbitration_id,
                       is_extended_id=msg.is_extended_id, is_remote_frame=msg.is_remote_frame,
                       is_error_frame=msg.is_error_frame, channel=None, dlc=msg.dlc, data=msg.data,
                       is_fd=msg.is_fd, is_rx=msg.is_rx, bitrate_switch=msg.bitrate_switch,
                       error_state_indicator=msg.error_state_indicator)


def run(bus: can.BusABC, monitor: BusMonitor, *, duration_s: float | None = None,
        log: str | Path | None = None, live: bool = True, refresh_hz: float = 4.0,
        console: Any = None) -> dict[str, Any]:
    """Read ``bus`` (opened by the caller) into ``monitor`` for ``duration_s``
    (None: until Ctrl-C), recording every frame to ``log`` with python-can's
    ``can.Logger`` (.blf, .asc, .log, ... by suffix) and showing a rich Live
    table when ``live``. Returns the final snapshot."""
    logger = can.Logger(str(log)) if log is not None else None
    end = None if duration_s is None else time.monotonic() + duration_s
    period = 1.0 / refresh_hz

    def snap() -> dict[str, Any]:
        s = monitor.snapshot()
        s["bus_state"] = _bus_state(bus)
        s["log"] = str(log) if log is not None else None
        return s

    live_view = None
    if live:
        from rich.live import Live

        live_view = Live(render(snap()), console=console, auto_refresh=False, transient=False)
        live_view.start()
    try:
        next_draw = time.monotonic() + period
        while True:
            now = time.monotonic()
            if end is not None and now >= end:
                break
            wait = min(next_draw, end if end is not None else next_draw) - now
            msg = bus.recv(max(wait, 0.0))
            if msg is not None:
                monitor.feed(msg)
                if logger is not None:
                    logger.on_message_received(_loggable(msg))
            if live_view is not None and time.monotonic() >= next_draw:
                live_view.update(render(snap()), refresh=True)
                next_draw = time.monotonic() + period
    except KeyboardInterrupt:
        pass
    finally:
        if logger is not None:
            logger.stop()
        final = snap()
        if live_view is not None:
            live_view.update(render(final), refresh=True)
            live_view.stop()
    return final


# ---------------------------------------------------------------------------
# The command line (myofoc monitor)
# ---------------------------------------------------------------------------

def command(args: Any) -> int:
    """``myofoc monitor``: open the bus named on the command line and watch it.

    Exit codes: 0 done, 2 bad input (a board file, a bus that cannot open)."""
    import json
    import sys

    from rich.console import Console

    from firmware_gen.board import load_board, load_boards
    from firmware_gen.errors import BoardFileError

    try:
        if args.board:
            boards = [load_board(b) for b in args.board]
        else:
            boards = list(load_boards(Path(__file__).resolve().parent.parent / "boards").values())
    except BoardFileError as exc:
        print(f"error {exc}", file=sys.stderr)
        return 2
    one = boards[0] if len(boards) == 1 else None
    bitrate = args.bitrate or (one.can.bitrate_bps if one else 1_000_000)
    data_bitrate = (args.data_bitrate or (one.can.data_bitrate_bps if one and one.can.fd else None)
                    or 5_000_000)
    kwargs: dict[str, Any] = {"interface": args.interface, "channel": args.channel}
    if args.fd:
        kwargs["fd"] = True
    if args.bitrate:
        kwargs["bitrate"] = args.bitrate
    if args.data_bitrate:
        kwargs["data_bitrate"] = args.data_bitrate
    duration = args.duration if args.duration is not None else (1.0 if args.once else None)
    window = duration + 1.0 if args.once and duration else 1.0   # --once: rates over the whole run
    monitor = BusMonitor(bitrate_bps=bitrate, data_bitrate_bps=data_bitrate,
                         ranges_for=board_ranges(boards), window_s=window)
    try:
        bus = can.Bus(**kwargs)
    except (can.CanError, ValueError, OSError, ImportError) as exc:
        print(f"error: cannot open the bus {args.interface}:{args.channel}: {exc}", file=sys.stderr)
        return 2
    try:
        with bus:
            snap = run(bus, monitor, duration_s=duration, log=args.log,
                       live=not (args.once or args.json), console=Console(stderr=True))
    except ValueError as exc:  # can.Logger: unknown suffix
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (can.CanError, OSError) as exc:  # the adapter or the other end went away
        print(f"error: the bus {args.interface}:{args.channel} failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(snap, indent=2))
    elif args.once:
        Console().print(render(snap))
    return 0
