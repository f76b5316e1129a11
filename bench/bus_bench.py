"""Speed of the host side of the CAN bus: the Python client against raw
python-can, and a simulated node in another process at 1 kHz.

    python bench/bus_bench.py [--light] [--seconds S] [--transport udp_multicast|slcan|none]

(a) Client overhead, one process: ``Actuator.set_impedance`` (build the
    frame, send, wait for the StateReply, decode it) against raw
    ``bus.send`` + ``bus.recv`` of the same prebuilt frames, answered by an
    echo responder: (a1) a thread on a python-can ``virtual`` bus, (a2) a
    bus whose ``send`` queues the reply itself (no thread: the pure Python
    cost). ns per cycle and the ratio client / raw.
(b) Across processes (when ``myofoc sim serve`` is there): the round trip
    host -> simulated node -> host at 1 kHz for S seconds (p50, p99, max,
    lost = no StateReply within the timeout), then the command+reply pairs
    per second one serve process sustains for 25 nodes (a bounded flood:
    25 commands, then their 25 replies, back to back) through the client's
    ActuatorGroup and through raw python-can.

Prints figures and ratios; never pass/fail. udp_multicast: a sender also
receives its own datagrams (dropped by the client). udp_multicast runs in a
private network namespace (``unshare -n``, multicast on lo only) unless
--no-isolate is given; without root or unshare the slcan pty is used.
"""
from __future__ import annotations

import argparse
import os
import queue
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a source tree without an install
    sys.path.insert(0, str(ROOT))

import can  # noqa: E402

from actuators import commands as c  # noqa: E402
from actuators import protocol as p  # noqa: E402
from actuators.client import Actuator, ActuatorError, ActuatorGroup, ActuatorTimeout  # noqa: E402
from firmware_gen.board import load_board  # noqa: E402
from machine import machine_line  # noqa: E402

BOARD = ROOT / "boards" / "arm_48v.toml"
NODE = 25
GROUP_ADDR = "239.74.163.2"


# ---------------------------------------------------------------------------
# (a) overhead in one process
# ---------------------------------------------------------------------------

def state_reply(node: int) -> can.Message:
    m = p.message("StateReply")
    data = m.encode({"p_out_raw": 33000, "v_out_raw": 2048, "tau_out_raw": 2050, "temp_c": 31, "mode": 5,
                     "fault_bits": 0})
    return can.Message(arbitration_id=p.frame_id("StateReply", node), data=data, is_extended_id=False)


class EchoThread:
    """Answers every ImpedanceCommand on a virtual channel with a prebuilt StateReply."""

    def __init__(self, channel: str) -> None:
        self.bus = can.Bus(interface="virtual", channel=channel)
        self.replies = {p.frame_id("ImpedanceCommand", n): state_reply(n) for n in range(1, 128)}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            msg = self.bus.recv(0.05)
            if msg is not None:
                reply = self.replies.get(msg.arbitration_id)
                if reply is not None:
                    self.bus.send(reply)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.bus.shutdown()


class EchoBus(can.BusABC):
    """A bus whose ``send`` of an ImpedanceCommand queues the node's StateReply (no thread)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(channel="echo", **kwargs)
        self.q: deque[can.Message] = deque()
        self.replies = {p.frame_id("ImpedanceCommand", n): state_reply(n) for n in range(1, 128)}

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        reply = self.replies.get(msg.arbitration_id)
        if reply is not None:
            self.q.append(reply)

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        return (self.q.popleft() if self.q else None), False


def time_raw(bus: can.BusABC, n: int) -> list[float]:
    """Seconds per cycle of raw bus.send + bus.recv (until the StateReply) of a prebuilt frame."""
    ranges = load_board(BOARD).impedance_ranges()
    cmd = c.make_impedance(NODE, ranges, 0.1, 0.0, 20.0, 0.5, 0.0)
    want = p.frame_id("StateReply", NODE)
    out = []
    clock = time.perf_counter
    for _ in range(n):
        t0 = clock()
        bus.send(cmd)
        while True:
            msg = bus.recv(0.1)
            if msg is None:
                raise RuntimeError("raw: no reply")
            if msg.arbitration_id == want:
                break
        out.append(clock() - t0)
    return out


def time_client(bus: can.BusABC, n: int) -> list[float]:
    """Seconds per Actuator.set_impedance (build, send, wait, decode)."""
    a = Actuator(bus, NODE, board=BOARD, timeout_s=0.1)
    out = []
    clock = time.perf_counter
    for _ in range(n):
        t0 = clock()
        a.set_impedance(0.1, 0.0, 20.0, 0.5, 0.0)
        out.append(clock() - t0)
    return out


def compare(bus: can.BusABC, n: int, rounds: int = 5) -> tuple[float, float]:
    """(raw, client) median seconds per cycle, rounds interleaved so that
    both see the same machine load; the best round's median of each."""
    raw, cli = [], []
    for _ in range(rounds):
        raw.append(statistics.median(time_raw(bus, n)))
        cli.append(statistics.median(time_client(bus, n)))
    return min(raw), min(cli)


def bench_overhead(n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    channel = f"bus-bench-{os.getpid()}"
    echo = EchoThread(channel)
    host = can.Bus(interface="virtual", channel=channel)
    try:
        time_client(host, 200)  # warm up (DBC load, caches)
        out["thread_raw_s"], out["thread_client_s"] = compare(host, n)
    finally:
        host.shutdown()
        echo.close()
    bus = EchoBus()
    try:
        out["inline_raw_s"], out["inline_client_s"] = compare(bus, n)
    finally:
        bus.shutdown()
    # where the client's time goes (no bus at all)
    ranges = load_board(BOARD).impedance_ranges()
    reply = state_reply(NODE)
    m = n * 4
    t0 = time.perf_counter()
    for _ in range(m):
        c.make_impedance(NODE, ranges, 0.1, 0.0, 20.0, 0.5, 0.0)
    out["make_s"] = (time.perf_counter() - t0) / m
    t0 = time.perf_counter()
    for _ in range(m):
        c.parse_state(reply, ranges)
    out["parse_s"] = (time.perf_counter() - t0) / m
    return out


# ---------------------------------------------------------------------------
# (b) across processes
# ---------------------------------------------------------------------------

def sim_serve_available() -> bool:
    try:
        import actuators.sim_serve  # noqa: F401
    except ImportError:
        return False
    return True


class Server:
    """``myofoc sim serve`` in a child process (stopped with SIGTERM)."""

    def __init__(self, nodes: str, transport: str, fd: bool) -> None:
        argv = [sys.executable, "-m", "actuators.cli", "sim", "serve", "--board", str(BOARD), "--nodes", nodes,
                "--fd" if fd else "--no-fd"]
        argv += ["--slcan"] if transport == "slcan" else ["--interface", "udp_multicast", "--channel", GROUP_ADDR]
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(ln) for ln in self.proc.stdout], daemon=True).start()  # type: ignore[union-attr]
        try:
            line = lines.get(timeout=30)
        except queue.Empty:
            self.close()
            raise RuntimeError("sim serve did not print its ready line within 30 s") from None
        if not line.startswith("ready:"):
            self.close()
            raise RuntimeError(f"sim serve: {line.strip()}")
        self.where = line.split(" on ", 1)[1].strip()   # "udp_multicast 239..." or "slcan /dev/pts/N"
        self.stderr = ""

    def open_bus(self) -> can.BusABC:
        interface, channel = self.where.split(" ", 1)
        if interface == "slcan":
            bus = can.Bus(interface="slcan", channel=channel, sleep_after_open=0)
        else:
            bus = can.Bus(interface=interface, channel=channel)
        time.sleep(0.1)  # let the server's loop start
        return bus

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                _, self.stderr = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                _, self.stderr = self.proc.communicate()


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def enable(a: Actuator, tries: int = 3) -> None:
    """Control ENABLE, sent again if it was lost (udp_multicast may drop a datagram)."""
    for k in range(tries):
        try:
            a.enable()
            return
        except ActuatorTimeout:
            if k == tries - 1:
                raise


def _stats(lat: list[float], lost: int, period: float) -> dict[str, Any]:
    return {"cycles": len(lat) + lost, "p50_s": pct(lat, 0.50) if lat else 0.0,
            "p99_s": pct(lat, 0.99) if lat else 0.0, "max_s": max(lat) if lat else 0.0,
            "mean_s": statistics.fmean(lat) if lat else 0.0, "lost": lost,
            "late": sum(1 for x in lat if x > period)}


def bench_round_trip(bus: can.BusABC, seconds: float, timeout_s: float, alternate: bool = False) \
        -> dict[str, dict[str, Any]]:
    """Command -> StateReply at 1 kHz for ``seconds``: every cycle through
    ``Actuator.set_impedance``, or (``alternate``) every other cycle through
    raw python-can (send the prebuilt frame, recv until its StateReply), so
    that both see the same machine and the same phase of the server's loop."""
    a = Actuator(bus, NODE, board=BOARD, timeout_s=timeout_s)
    enable(a)
    hold = a.set_impedance(0.0, 0.0, 0.0, 0.0, 0.0).p_out_rad   # torque 0: read where it is
    frame = a.make_impedance(hold, 0.0, 5.0, 0.2, 0.0)
    want = p.frame_id("StateReply", NODE)
    lat: dict[str, list[float]] = {"client": [], "raw": []}
    lost = {"client": 0, "raw": 0}
    period = 0.001
    clock = time.perf_counter
    t_next = clock()
    for k in range(int(seconds / period)):
        t_next += period
        if alternate and k % 2:
            t0 = clock()
            bus.send(frame)
            while True:
                left = t0 + timeout_s - clock()
                msg = bus.recv(left) if left > 0 else None
                if msg is None:
                    lost["raw"] += 1
                    break
                if msg.arbitration_id == want:
                    lat["raw"].append(clock() - t0)
                    break
        else:
            t0 = clock()
            try:
                a.set_impedance(hold, 0.0, 5.0, 0.2, 0.0)
                lat["client"].append(clock() - t0)
            except ActuatorTimeout:
                lost["client"] += 1
        wait = t_next - clock()
        if wait > 0:
            time.sleep(wait)
        elif wait < -0.05:
            t_next = clock()  # fell far behind: restart the schedule
    try:
        a.disable()
    except ActuatorError:
        pass
    return {key: _stats(lat[key], lost[key], period) for key in (("client", "raw") if alternate else ("client",))}


def bench_flood(bus: can.BusABC, nodes: list[int], seconds: float, raw: bool) -> dict[str, float]:
    acts = [Actuator(bus, n, board=BOARD, timeout_s=0.05) for n in nodes]
    group = ActuatorGroup(bus, acts)
    for a in acts:
        enable(a)
    sps = {n: (0.0, 0.0, 0.0, 0.1, 0.0) for n in nodes}
    frames = group.make_impedance(sps)
    want = {p.frame_id("StateReply", n) for n in nodes}
    cycles = pairs = lost = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        if raw:
            for f in frames:
                bus.send(f)
            got: set[int] = set()
            deadline = time.perf_counter() + 0.05
            while len(got) < len(want):
                left = deadline - time.perf_counter()
                msg = bus.recv(left) if left > 0 else None
                if msg is None:
                    break
                if msg.arbitration_id in want:
                    got.add(msg.arbitration_id)
            pairs += len(got)
            lost += len(want) - len(got)
        else:
            try:
                pairs += len(group.cycle(frames))
            except ActuatorTimeout as exc:
                pairs += len(exc.states)
                lost += len(exc.nodes)
        cycles += 1
    wall = time.perf_counter() - t0
    faults = sorted(n for n in nodes if _faulted(acts[nodes.index(n)]))
    for a in acts:
        try:
            a.disable()
        except ActuatorError:
            pass
    return {"pairs_per_s": pairs / wall, "frames_per_s": 2 * pairs / wall, "lost": lost, "cycles": cycles,
            "faulted": faults}


def _faulted(a: Actuator) -> bool:
    try:
        return a.set_impedance(0.0, 0.0, 0.0, 0.1, 0.0).faults != 0
    except ActuatorError:
        return True


def bench_processes(seconds: float, flood_s: float, transport: str) -> dict[str, Any] | None:
    if not sim_serve_available():
        print("(b) skipped: actuators.sim_serve (myofoc sim serve) is not there")
        return None
    out: dict[str, Any] = {"transport": transport}
    server = Server(f"{NODE}", transport, fd=False)
    try:
        bus = server.open_bus()
        try:
            out["rt"] = bench_round_trip(bus, seconds, timeout_s=0.01)["client"]
            alt = bench_round_trip(bus, seconds, timeout_s=0.01, alternate=True)
            out["alt_client"], out["alt_raw"] = alt["client"], alt["raw"]
        finally:
            bus.shutdown()
    finally:
        server.close()
    out["rt_server"] = server.stderr.strip().splitlines()[-1:] if server.stderr else []
    nodes = list(range(NODE, NODE + 25))
    server = Server(f"{nodes[0]}-{nodes[-1]}", transport, fd=False)
    try:
        bus = server.open_bus()
        try:
            out["flood_client"] = bench_flood(bus, nodes, flood_s, raw=False)
            out["flood_raw"] = bench_flood(bus, nodes, flood_s, raw=True)
        finally:
            bus.shutdown()
    finally:
        server.close()
    out["flood_server"] = server.stderr.strip().splitlines()[-1:] if server.stderr else []
    return out


# ---------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--light", action="store_true", help="short run (CI): 3 s round trip, fewer cycles")
    ap.add_argument("--seconds", type=float, default=None, help="round-trip duration, s (default 60, light 3)")
    ap.add_argument("--transport", default="udp_multicast", choices=["udp_multicast", "slcan", "none"],
                    help="between processes (none: skip part b)")
    ap.add_argument("--no-isolate", dest="isolate", action="store_false",
                    help="send udp_multicast on this host's network instead of a private namespace "
                         "(by default the benchmark re-runs itself under unshare -n, multicast on lo only)")
    args = ap.parse_args()
    if args.transport == "udp_multicast" and args.isolate and os.environ.get("BUS_BENCH_ISOLATED") != "1":
        if shutil.which("unshare") is None or os.geteuid() != 0:
            # never multicast on a real network unasked: fall back to the local pty transport
            print("no private network namespace here (needs root and unshare): using the slcan pty "
                  "transport instead of udp_multicast", file=sys.stderr)
            args.transport = "slcan"
    if args.transport == "udp_multicast" and args.isolate and os.environ.get("BUS_BENCH_ISOLATED") != "1":
        argv = " ".join([sys.executable] + sys.argv)
        script = ("ip link set lo up multicast on && ip route add 239.0.0.0/8 dev lo && "
                  f"BUS_BENCH_ISOLATED=1 exec {argv}")
        return subprocess.call(["unshare", "-n", "sh", "-c", script])
    seconds = args.seconds if args.seconds is not None else (3.0 if args.light else 60.0)
    n = 1000 if args.light else 5000
    print("machine: " + machine_line(f"python-can {can.__version__}"))

    o = bench_overhead(n)
    print(f"\n(a) client overhead, one process: median of {n} cycles, best of 5 interleaved rounds")
    print(f"{'echo responder':<28}{'raw send+recv (us)':>20}{'Actuator (us)':>16}{'overhead (us)':>16}{'ratio':>8}")
    for key, label in (("thread", "virtual bus + thread"), ("inline", "inline (no thread)")):
        raw, cli = o[f"{key}_raw_s"], o[f"{key}_client_s"]
        print(f"{label:<28}{raw * 1e6:>20.2f}{cli * 1e6:>16.2f}{(cli - raw) * 1e6:>16.2f}{cli / raw:>7.2f}x")
    print(f"of which make_impedance {o['make_s'] * 1e6:.2f} us, parse_state {o['parse_s'] * 1e6:.2f} us")

    if args.transport == "none":
        return 0
    flood_s = 2.0 if args.light else 10.0
    try:
        b = bench_processes(seconds, flood_s, args.transport)
    except (RuntimeError, OSError, can.CanError) as exc:
        print(f"(b) skipped: {exc}")
        return 0
    if b is None:
        return 0
    print(f"\n(b) across processes over {b['transport']}: host -> myofoc sim serve (node {NODE}, "
          f"{BOARD.name}) -> host, round trip at 1 kHz for {seconds:g} s each")
    for key, label in (("rt", "Actuator.set_impedance"), ("alt_client", "alternating: Actuator"),
                       ("alt_raw", "alternating: raw")):
        rt = b[key]
        print(f"{label:<24} {rt['cycles']:>6} cycles: p50 {rt['p50_s'] * 1e6:.0f} us, p99 {rt['p99_s'] * 1e6:.0f} us, "
              f"max {rt['max_s'] * 1e6:.0f} us, mean {rt['mean_s'] * 1e6:.0f} us, lost {rt['lost']} "
              f"(no reply in 10 ms), over 1 ms {rt['late']}")
    print(f"client / raw (alternating cycles): p50 {b['alt_client']['p50_s'] / b['alt_raw']['p50_s']:.2f}x, "
          f"mean {b['alt_client']['mean_s'] / b['alt_raw']['mean_s']:.2f}x")
    if b["rt_server"]:
        print(f"  server: {b['rt_server'][0]}")
    for key, label in (("flood_client", "ActuatorGroup.cycle"), ("flood_raw", "raw python-can")):
        f = b[key]
        print(f"flood, 25 nodes, {flood_s:g} s, {label}: {f['pairs_per_s']:.0f} command+reply pairs/s "
              f"({f['frames_per_s']:.0f} frames/s), {f['cycles']} cycles, lost {f['lost']}"
              + (f", faulted nodes {f['faulted']}" if f["faulted"] else ""))
    if b["flood_server"]:
        print(f"  server: {b['flood_server'][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
