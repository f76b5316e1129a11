"""Speed of flashing (issue 9, "Speed"): the project's flasher (udsoncan +
can-isotp, firmware_gen/flasher.py) against simulated nodes (the C
bootloader, actuators/sim_flash.py) over python-can's ``virtual`` bus.

    python bench/flash_bench.py [--light] [--runs N] [--image-bytes B] [--json FILE]

(a) Wall clock, one node, classic CAN and CAN FD: image bytes per second of
    a whole update (identifiers, session, security, erase, download, check,
    reset, wait for the new image, confirm) and of its download phase alone
    (TransferData blocks 2..n), best of N updates. Two references measured
    in the same run, printed beside: (r1) raw python-can moving the very
    frames of that update, one send + one recv each, in one thread (what the
    bus alone costs); (r2) can-isotp alone moving the same TransferData
    requests (SID, counter, 4088 image bytes) to a second can-isotp stack
    that answers each with 2 bytes (what the transport costs without
    udsoncan, the C server and the simulator).
(b) Protocol efficiency, from the frames actually on the bus: a third bus on
    the channel sees every frame of both directions; every frame on the UDS
    IDs (0x700 | node, 0x780 | node) counts (flow control, padding, UDS
    requests and answers, session, security, erase, check, reset, the reads
    before and after, confirm); the nodes' application frames (heartbeat,
    status) are counted apart. Image bytes per frame against the ISO-TP
    limit (what a consecutive frame carries: 7 of a classic frame's 8
    bytes, 63 of a 64-byte FD frame's: one PCI byte each), the frames per
    service, and the time those very frames occupy a real bus (the
    bit-level model of actuators/monitor.py: stuffing, CRC, interframe
    space) at 1 Mbit/s classic and 1 / 5 Mbit/s FD with bit-rate switch.
    That is bus occupancy: the nodes' flash erase and programming time and
    any gap between frames come on top.
(c) 60 nodes over 6 buses (10 per bus, the buses in parallel as
    flasher.flash_buses does: a thread per bus, the nodes of a bus in turn):
    total wall time of flashing blank nodes and of updating them (best of
    the rounds), against the same update one bus after the other (light:
    bus0 alone, x 6) and the bus time the same frames would take on 6 real
    buses.

Light (--light, make bench-light): one timed update per mode, 60 nodes on
classic CAN only with 8 KiB images. Full (default, make bench): 5 timed
updates per mode, 60 nodes on classic CAN and CAN FD with 64 KiB images,
2 rounds of the parallel update.

Figures and ratios, never pass/fail on time. MYOFOC_LIGHT=1 is --light.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a source tree without an install
    sys.path.insert(0, str(ROOT))

import can  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from actuators.monitor import frame_time_s  # noqa: E402
from actuators.sim_flash import FlashLayout, UDS_REQUEST_FUNCTION, UDS_RESPONSE_FUNCTION  # noqa: E402
from actuators.sim_node import SimNodes  # noqa: E402
from firmware_gen.board import Board, load_board  # noqa: E402
from firmware_gen.flasher import FlashOptions, flash_buses, flash_node  # noqa: E402
from firmware_gen.image import HEADER_BYTES, build_image  # noqa: E402
from firmware_gen.signing import public_key_bytes, sign_image  # noqa: E402
from machine import machine_line  # noqa: E402

BOARDS = ROOT / "boards"
NODE = 3
LIMIT = {False: 7, True: 63}            # ISO-TP bytes per consecutive frame: 8 - 1 PCI byte; 64 - 1 (FD)
BITRATE_BPS, DATA_BITRATE_BPS = 1_000_000, 5_000_000
KIB64 = 65536
# (c): bus -> (board, node ids); bus 2 carries two board types, as a limb's bus may
PLAN_60 = (
    (("hip_knee_48v", range(1, 11)),),
    (("hip_knee_48v", range(11, 21)),),
    (("hip_knee_48v", range(21, 25)), ("arm_48v", range(25, 31))),
    (("arm_48v", range(31, 41)),),
    (("arm_48v", range(41, 51)),),
    (("arm_48v", range(51, 61)),),
)
SERVICES = {0x10: "session", 0x11: "reset", 0x22: "read identifiers", 0x27: "security", 0x34: "request download",
            0x36: "transfer data", 0x37: "transfer exit", 0x3E: "tester present"}
ROUTINES = {0xFF00: "erase (routine)", 0xFF01: "check (routine)", 0xFF02: "confirm (routine)"}
_channels = iter(range(1 << 30))


# ---------------------------------------------------------------------------
# images and simulated buses
# ---------------------------------------------------------------------------

class Images:
    """Signed image pairs (slot A, slot B) of a given total size, per board and version."""

    def __init__(self, image_bytes: int, seed: int = 9) -> None:
        rnd = random.Random(seed)
        self.key = Ed25519PrivateKey.from_private_bytes(rnd.randbytes(32))
        self.pub = public_key_bytes(self.key)
        self.image_bytes = image_bytes
        self._boards: dict[str, Board] = {}

    def board(self, name: str) -> Board:
        if name not in self._boards:
            self._boards[name] = load_board(BOARDS / f"{name}.toml")
        return self._boards[name]

    def pair(self, board_name: str, minor: int) -> list[tuple[str, bytes]]:
        """Version 1.<minor>.0, security counter minor + 1, both slots."""
        board = self.board(board_name)
        lay = FlashLayout.from_board(board)
        payload = random.Random(f"{board_name}-{minor}").randbytes(self.image_bytes - HEADER_BYTES)
        out = []
        for slot in (0, 1):
            raw = build_image(payload, fw_version=f"1.{minor}.0", security_counter=minor + 1,
                              board_id=board.board.id, load_addr=lay.slot_addr(slot) + HEADER_BYTES,
                              build_hash=bytes(32), version_text=f"1.{minor}.0")
            out.append((f"{board_name}-1.{minor}.0-{'ab'[slot]}", sign_image(raw, self.key)))
        return out


class SimBus:
    """One virtual channel: the host's bus, simulated nodes (one SimNodes per
    board group, each on its own bus object, served paced in a thread), and
    optionally a sniffer bus that receives every frame of both directions."""

    def __init__(self, images: Images, groups: Any, fd: bool, sniff: bool = False) -> None:
        self.channel = f"flash-bench-{os.getpid()}-{next(_channels)}"
        self.fd = fd
        self.host = can.Bus(interface="virtual", channel=self.channel, fd=fd)
        self.sniffer = can.Bus(interface="virtual", channel=self.channel, fd=fd) if sniff else None
        self._buses: list[can.BusABC] = []
        self.nodes: list[SimNodes] = []
        for board_name, ids in groups:
            bus = can.Bus(interface="virtual", channel=self.channel, fd=fd)
            self._buses.append(bus)
            self.nodes.append(SimNodes(bus, images.board(board_name), list(ids), boot=True, pubkey=images.pub,
                                       fd=fd))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=n.serve_forever,
                                          kwargs={"paced": True, "period_s": 0.001, "stop": self._stop},
                                          daemon=True) for n in self.nodes]
        for t in self._threads:
            t.start()

    def sniffed(self) -> list[can.Message]:
        out = []
        while self.sniffer is not None:
            msg = self.sniffer.recv(0.0)
            if msg is None:
                break
            out.append(msg)
        return out

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5.0)
        for sn in self.nodes:
            for n in sn.node_ids:
                sn.bootloader(n).close()
        for b in [self.host, *self._buses] + ([self.sniffer] if self.sniffer is not None else []):
            b.shutdown()


# ---------------------------------------------------------------------------
# (a) wall clock
# ---------------------------------------------------------------------------

@dataclass
class Timing:
    """One update: total seconds and the download phase (blocks 2..n)."""

    total_s: float
    download_s: float
    download_bytes: int
    blocks: int
    stages: dict[str, float] = field(default_factory=dict)


def timed_update(sb: SimBus, images: list[tuple[str, bytes]]) -> Timing:
    marks: list[tuple[float, str, int]] = []

    def progress(node: int, stage: str, done: int, total: int) -> None:
        marks.append((time.perf_counter(), stage, done))

    t0 = time.perf_counter()
    res = flash_node(sb.host, NODE, images, FlashOptions(fd=sb.fd, progress=progress))
    t1 = time.perf_counter()
    if not res.ok:
        raise RuntimeError(f"flash failed: {res.error}")
    dl = [m for m in marks if m[1] == "download"]
    first = {s: t for t, s, _ in reversed(marks)}
    stages = {"connect+session+security": first["erase"] - t0,
              "erase+download+exit": first["check"] - first["erase"],
              "check+reset+wait+confirm": t1 - first["check"]}
    return Timing(total_s=t1 - t0, download_s=dl[-1][0] - dl[0][0], download_bytes=dl[-1][2] - dl[0][2],
                  blocks=len(dl), stages=stages)


def replay_raw(frames: list[tuple[bool, can.Message]], fd: bool) -> float:
    """(r1) Seconds to move these frames through python-can: each one sent on
    the bus of the side that sent it and received on the other side."""
    ch = f"flash-bench-raw-{os.getpid()}-{next(_channels)}"
    a = can.Bus(interface="virtual", channel=ch, fd=fd)
    b = can.Bus(interface="virtual", channel=ch, fd=fd)
    msgs = [(host, can.Message(arbitration_id=m.arbitration_id, data=bytes(m.data), is_extended_id=False,
                               is_fd=m.is_fd, bitrate_switch=m.bitrate_switch)) for host, m in frames]
    try:
        t0 = time.perf_counter()
        for from_host, msg in msgs:
            tx, rx = (a, b) if from_host else (b, a)
            tx.send(msg)
            if rx.recv(1.0) is None:
                raise RuntimeError("raw replay: a frame was lost on the virtual bus")
        return time.perf_counter() - t0
    finally:
        a.shutdown()
        b.shutdown()


def isotp_only(image_bytes: int, block: int, fd: bool) -> float:
    """(r2) Seconds for can-isotp alone to move the TransferData requests of an
    image (SID 0x36, counter, ``block`` - 2 image bytes each) to a second
    can-isotp stack that answers each with 2 bytes (0x76, counter)."""
    import isotp

    ch = f"flash-bench-isotp-{os.getpid()}-{next(_channels)}"
    hb = can.Bus(interface="virtual", channel=ch, fd=fd)
    sb = can.Bus(interface="virtual", channel=ch, fd=fd)
    common = {"stmin": 0, "blocksize": 0, "tx_padding": 0xCC, "tx_data_length": 64 if fd else 8, "can_fd": fd,
              "bitrate_switch": fd, "max_frame_size": 4095, "blocking_send": False}
    mode = isotp.AddressingMode.Normal_11bits
    host = isotp.CanStack(hb, address=isotp.Address(mode, txid=(UDS_REQUEST_FUNCTION << 7) | NODE,
                                                    rxid=(UDS_RESPONSE_FUNCTION << 7) | NODE), params=common)
    server = isotp.CanStack(sb, address=isotp.Address(mode, txid=(UDS_RESPONSE_FUNCTION << 7) | NODE,
                                                      rxid=(UDS_REQUEST_FUNCTION << 7) | NODE), params=common)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            req = server.recv(block=True, timeout=0.1)
            if req is not None:
                server.send(bytes([0x76, req[1]]))

    th = threading.Thread(target=serve, daemon=True)
    host.start()
    server.start()
    th.start()
    data = random.Random(1).randbytes(image_bytes)
    chunk = block - 2
    try:
        t0 = time.perf_counter()
        for k, pos in enumerate(range(0, image_bytes, chunk)):
            host.send(bytes([0x36, (k + 1) & 0xFF]) + data[pos:pos + chunk])
            ans = host.recv(block=True, timeout=2.0)
            if ans is None or ans[0] != 0x76:
                raise RuntimeError("can-isotp reference: no answer")
        return time.perf_counter() - t0
    finally:
        stop.set()
        th.join(2.0)
        host.stop()
        server.stop()
        hb.shutdown()
        sb.shutdown()


# ---------------------------------------------------------------------------
# (b) frames on the bus
# ---------------------------------------------------------------------------

def _payload(data: bytes) -> tuple[int, bytes]:
    """(PCI type, the first bytes of the ISO-TP message) of a SF or FF."""
    kind = data[0] >> 4
    if kind == 0:
        return 0, data[2:] if (data[0] & 0x0F) == 0 else data[1:]
    if kind == 1:
        return 1, data[6:] if (data[0] & 0x0F) == 0 and data[1] == 0 else data[2:]
    return kind, b""


def analyse(frames: list[can.Message], node: int, image_bytes: int, fd: bool) -> dict[str, Any]:
    """Frame counts of one update by service (every frame of both directions
    on the node's UDS IDs is given to the request the host sent last), image
    bytes per frame, and the time those frames occupy a real bus."""
    req_id = (UDS_REQUEST_FUNCTION << 7) | node
    rsp_id = (UDS_RESPONSE_FUNCTION << 7) | node
    per: collections.Counter[str] = collections.Counter()
    bus_s: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    service = "(before the first request)"
    uds: list[tuple[bool, can.Message]] = []
    other = 0
    for m in frames:
        if m.arbitration_id not in (req_id, rsp_id):
            other += 1
            continue
        data = bytes(m.data)
        from_host = m.arbitration_id == req_id
        uds.append((from_host, m))
        kind, head = _payload(data)
        if from_host and kind in (0, 1) and head:
            sid = head[0]
            if sid == 0x31 and len(head) >= 4:
                service = ROUTINES.get((head[2] << 8) | head[3], "routine")
            else:
                service = SERVICES.get(sid, f"service 0x{sid:02X}")
        per[service] += 1
        t = frame_time_s(m, BITRATE_BPS, DATA_BITRATE_BPS)
        bus_s[service] += t
        kinds[("host " if from_host else "node ") + ("SF", "FF", "CF", "FC")[kind] if kind < 4 else "?"] += 1
    total = sum(per.values())
    out = {"frames": total, "other_frames": other, "per_service": dict(per), "kinds": dict(kinds),
           "bus_s": sum(bus_s.values()), "bus_s_per_service": dict(bus_s), "image_bytes": image_bytes,
           "bytes_per_frame": image_bytes / total, "limit": LIMIT[fd],
           "efficiency": image_bytes / total / LIMIT[fd], "uds": uds,
           "bytes_per_wire_bit": image_bytes * 8 / (sum(bus_s.values()) * BITRATE_BPS)}
    tr = per["transfer data"]
    out["transfer_efficiency"] = image_bytes / tr / LIMIT[fd] if tr else 0.0
    return out


# ---------------------------------------------------------------------------
# (c) 60 nodes over 6 buses
# ---------------------------------------------------------------------------

def _flash_60(plan: list[tuple[str, can.BusABC, list[int]]], pairs: list[tuple[str, bytes]], fd: bool,
              parallel: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    if parallel:
        results = flash_buses(plan, pairs, FlashOptions(fd=fd))
    else:   # the same buses one after the other (the reference)
        results = [r for p in plan for r in flash_buses([p], pairs, FlashOptions(fd=fd))]
    wall = time.perf_counter() - t0
    per_bus: collections.defaultdict[str, float] = collections.defaultdict(float)
    for r in results:
        per_bus[r.bus] += r.seconds
    return {"nodes": len(results), "failed": [f"node {r.node} ({r.bus}): {r.error}" for r in results if not r.ok],
            "wall_s": wall, "node_s_mean": sum(r.seconds for r in results) / len(results),
            "slowest_bus_s": max(per_bus.values())}


def sixty_nodes(images: Images, fd: bool, light: bool, rounds: int) -> dict[str, Any]:
    """Blank nodes flashed (all buses in parallel), then ``rounds`` updates
    of all buses in parallel (best kept), then one update one bus after the
    other (the reference; light: bus0 alone, its time x 6)."""
    buses = [SimBus(images, groups, fd) for groups in PLAN_60]
    boards = sorted({name for groups in PLAN_60 for name, _ in groups})
    out: dict[str, Any] = {"image_bytes": images.image_bytes}
    try:
        plan = [(f"bus{k}", sb.host, [n for _, ids in groups for n in ids])
                for k, (sb, groups) in enumerate(zip(buses, PLAN_60))]
        passes = [("blank", plan, True)] + [("parallel", plan, True)] * rounds
        passes.append(("serial", plan[:1] if light else plan, False))
        for minor, (key, pl, parallel) in enumerate(passes):
            pairs = [img for b in boards for img in images.pair(b, minor)]
            r = _flash_60(pl, pairs, fd, parallel)
            if key not in out or r["wall_s"] < out[key]["wall_s"]:
                out[key] = r
    finally:
        for sb in buses:
            sb.close()
    out["serial_wall_s"] = out["serial"]["wall_s"] * (len(PLAN_60) if light else 1)
    out["ratio"] = out["serial_wall_s"] / out["parallel"]["wall_s"]
    return out


# ---------------------------------------------------------------------------

def machine() -> str:
    import isotp  # noqa: F401
    import udsoncan
    from importlib.metadata import version
    return "machine: " + machine_line(f"python-can {can.__version__}", f"can-isotp {version('can-isotp')}",
                                      f"udsoncan {udsoncan.__version__}")


def one_mode(images: Images, fd: bool, runs: int) -> dict[str, Any]:
    name = "CAN FD" if fd else "classic CAN"
    # frames of one update, seen by a sniffer (a run of its own: the third bus copies every frame)
    sb = SimBus(images, [("hip_knee_48v", [NODE])], fd, sniff=True)
    try:
        flash_node(sb.host, NODE, images.pair("hip_knee_48v", 0), FlashOptions(fd=fd))   # blank node -> A
        sb.sniffed()
        timed_update(sb, images.pair("hip_knee_48v", 1))                                 # A -> B
        time.sleep(0.05)
        frames = sb.sniffed()
    finally:
        sb.close()
    a = analyse(frames, NODE, images.image_bytes, fd)
    # wall clock, no sniffer: updates A -> B -> A ..., best of runs, the references interleaved
    sb = SimBus(images, [("hip_knee_48v", [NODE])], fd)
    timings: list[Timing] = []
    raw_s: list[float] = []
    iso_s: list[float] = []
    try:
        flash_node(sb.host, NODE, images.pair("hip_knee_48v", 0), FlashOptions(fd=fd))
        for k in range(runs):
            timings.append(timed_update(sb, images.pair("hip_knee_48v", k + 1)))
            raw_s.append(replay_raw(a["uds"], fd))
            iso_s.append(isotp_only(images.image_bytes, 4090, fd))
    finally:
        sb.close()
    best = min(timings, key=lambda t: t.total_s)
    best_dl = min(timings, key=lambda t: t.download_s / max(t.download_bytes, 1))
    return {"name": name, "fd": fd, "frames": a, "best": best, "best_download": best_dl,
            "raw_s": min(raw_s), "isotp_s": min(iso_s), "runs": runs}


def report(m: dict[str, Any], image_bytes: int) -> None:
    a, best, dl = m["frames"], m["best"], m["best_download"]
    fd = m["fd"]
    print(f"\n== {m['name']}: one node, {image_bytes} B image (header + payload), best of {m['runs']} ==")
    tput = image_bytes / best.total_s
    print(f"(a) whole update {best.total_s * 1e3:8.1f} ms  {tput / 1e3:8.1f} kB/s   "
          + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in best.stages.items()))
    dl_tput = dl.download_bytes / dl.download_s
    print(f"    download phase {dl.download_bytes} B in {dl.download_s * 1e3:.1f} ms: {dl_tput / 1e3:8.1f} kB/s "
          f"({dl.blocks} TransferData blocks)")
    print(f"    (r1) raw python-can, the same {a['frames']} frames, send + recv each: {m['raw_s'] * 1e3:.1f} ms "
          f"-> the update takes {best.total_s / m['raw_s']:.2f}x that")
    iso_tput = image_bytes / m["isotp_s"]
    print(f"    (r2) can-isotp alone, the same TransferData bytes: {m['isotp_s'] * 1e3:.1f} ms, {iso_tput / 1e3:.1f} "
          f"kB/s -> the download phase runs at {dl_tput / iso_tput:.2f}x its throughput")
    print(f"(b) frames on the UDS IDs, both directions: {a['frames']} ({a['other_frames']} application frames "
          f"beside, not counted)")
    print(f"    {a['bytes_per_frame']:.3f} image bytes per frame = {100 * a['efficiency']:.1f} % of the ISO-TP "
          f"limit of {LIMIT[fd]} B/frame (goal >= 80 %); TransferData alone {100 * a['transfer_efficiency']:.1f} %")
    width = max(len(s) for s in a["per_service"])
    for s, n in sorted(a["per_service"].items(), key=lambda kv: -kv[1]):
        print(f"      {s:<{width}} {n:6d} frames  {a['bus_s_per_service'][s] * 1e3:8.2f} ms on the bus")
    print("    frame kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(a["kinds"].items())))
    rate = f"{BITRATE_BPS / 1e6:g} Mbit/s" + (f" / {DATA_BITRATE_BPS / 1e6:g} Mbit/s data (BRS)" if fd else "")
    scale = KIB64 / image_bytes
    print(f"    real bus at {rate}: these frames occupy {a['bus_s'] * 1e3:.1f} ms"
          + (f"; scaled to 64 KiB: {a['bus_s'] * scale * 1e3:.0f} ms" if image_bytes != KIB64 else "")
          + (" (goal < 2 s for 64 KiB on classic CAN)" if not fd else "")
          + f"; {image_bytes / a['bus_s'] / 1e3:.1f} kB/s of image on the wire")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--light", action="store_true", help="short run (CI): one update per mode, 60 nodes on "
                                                          "classic CAN with 8 KiB images")
    ap.add_argument("--runs", type=int, default=None, help="timed updates per mode (default 5, light 1)")
    ap.add_argument("--image-bytes", type=int, default=KIB64, help="image size of (a) and (b), bytes "
                                                                   "(default: %(default)s)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()
    light = args.light or os.environ.get("MYOFOC_LIGHT") == "1"
    runs = args.runs if args.runs is not None else (1 if light else 5)
    print(machine())
    t_start = time.perf_counter()
    images = Images(args.image_bytes)
    modes = [one_mode(images, fd, runs) for fd in (False, True)]
    for m in modes:
        report(m, args.image_bytes)

    small = Images(8192 if light else KIB64)
    print(f"\n== (c) 60 nodes over 6 buses, 10 per bus, buses in parallel, {small.image_bytes} B images ==")
    sixty = {}
    rounds = 1 if light else 2   # parallel updates; the one-bus-after-the-other reference runs once
    for fd in ((False,) if light else (False, True)):
        s = sixty_nodes(small, fd, light, rounds)
        sixty["fd" if fd else "classic"] = s
        a = next(m for m in modes if m["fd"] == fd)["frames"]
        real_s = 10 * a["bus_s"] * (small.image_bytes / images.image_bytes)
        print(f"{'CAN FD' if fd else 'classic CAN'}" + ("" if light else f" (parallel update: best of {rounds} rounds)") + ":")
        labels = (("blank", "blank nodes, buses in parallel"), ("parallel", "update, buses in parallel"),
                  ("serial", "update, bus0 alone (reference)" if light else "update, one bus after the other (ref.)"))
        for key, label in labels:
            if key not in s:
                continue
            r = s[key]
            print(f"    {label:<40} {r['wall_s']:6.1f} s wall, {small.image_bytes * r['nodes'] / r['wall_s'] / 1e3:6.1f} "
                  f"kB/s in all, {r['node_s_mean']:.2f} s per node, slowest bus {r['slowest_bus_s']:.1f} s, "
                  f"{r['nodes']} nodes, {len(r['failed'])} failed")
            for f in r["failed"][:5]:
                print(f"      FAILED {f}")
        vs = "update, vs 6 x bus0 alone" if light else "update"
        print(f"    buses in parallel vs one after the other ({vs}): {s['ratio']:.2f}x faster; every simulated "
              f"node, bus and flasher thread shares {os.cpu_count()} CPUs and one GIL here")
        print(f"    on 6 real buses the frames alone would take ~{real_s:.1f} s (10 nodes x the bus time of (b), "
              f"scaled to {small.image_bytes} B)")
    print("\n== summary ==")
    scale = KIB64 / images.image_bytes
    for m in modes:
        a = m["frames"]
        print(f"{m['name']:<12} update {images.image_bytes / m['best'].total_s / 1e3:6.1f} kB/s "
              f"({m['best'].total_s / m['raw_s']:.2f}x raw python-can's time for its frames), download phase "
              f"{m['best_download'].download_bytes / m['best_download'].download_s / 1e3:6.1f} kB/s "
              f"({m['best_download'].download_bytes / m['best_download'].download_s / (images.image_bytes / m['isotp_s']):.2f}x "
              f"can-isotp alone); efficiency {100 * a['efficiency']:.1f} % of {LIMIT[m['fd']]} B/frame; "
              f"64 KiB occupies a real bus {a['bus_s'] * scale:.2f} s")
    for key, s in sixty.items():
        print(f"60 nodes / 6 buses, {key}, {s['image_bytes']} B: blank {s['blank']['wall_s']:.1f} s, update "
              f"{s['parallel']['wall_s']:.1f} s wall ({s['ratio']:.2f}x faster than one bus after the other)")
    print(f"\n(bench ran {time.perf_counter() - t_start:.1f} s)")
    if args.json:
        def plain(m: dict[str, Any]) -> dict[str, Any]:
            fr = {k: v for k, v in m["frames"].items() if k != "uds"}
            return {**{k: v for k, v in m.items() if k not in ("frames", "best", "best_download")},
                    "frames": fr, "best": m["best"].__dict__, "best_download": m["best_download"].__dict__}
        with open(args.json, "w") as f:
            json.dump({"light": light, "image_bytes": args.image_bytes, "modes": [plain(m) for m in modes],
                       "sixty": sixty}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
