"""`myofoc sim serve` in its own process, driven from another over a real transport.

Over the slcan pseudo-terminal (the server behaves as a Lawicel USB-CAN
adapter; the client is python-can's own slcan interface, unchanged) and, when
this machine allows a private network namespace (`unshare -n`), over
udp_multicast with server and client both inside it. The client side is plain
python-can plus actuators.protocol.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import can
import pytest

from actuators import protocol as p
from actuators.sim_spawn import spawn_serve

ROOT = Path(__file__).resolve().parents[2]
BOARD = ROOT / "boards" / "hip_knee_48v.toml"  # nodes 1-24, CAN FD
STATE_ARMED, STATE_IDLE, STATE_FAULT = 2, 1, 4
MODE_IDLE, MODE_IMPEDANCE = 0, 5
FAULT_CMD_TIMEOUT = 1 << 6
IDX_VEL_KP = 48


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _serve_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "actuators.cli", "sim", "serve", "--board", str(BOARD), *args]


def _start(*args: str, timeout_s: float = 8.0) -> tuple[subprocess.Popen, str]:
    """Start the server; return it and its ready line."""
    return spawn_serve(["--board", str(BOARD), *args], timeout_s=timeout_s)


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
    _, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert "stopped:" in err
    return err


class Host:
    """The host side: python-can + the DBC."""

    def __init__(self, bus: can.BusABC, node: int) -> None:
        from firmware_gen.board import load_board

        self.bus = bus
        self.node = node
        self.ranges = load_board(BOARD).impedance_ranges()

    def send(self, name: str, values: dict) -> None:
        self.bus.send(p.encode(name, self.node, values).to_can())

    def wait(self, name: str, timeout_s: float = 1.0, **match: int) -> p.Decoded:
        """The next frame `name` from this node whose values match."""
        end = time.monotonic() + timeout_s
        while (left := end - time.monotonic()) > 0:
            msg = self.bus.recv(left)
            if msg is None:
                break
            d = p.decode_can(msg)
            if d.name == name and d.node_id == self.node and all(d.values[k] == v for k, v in match.items()):
                return d
        raise AssertionError(f"no {name} {match} from node {self.node} within {timeout_s} s")

    def control(self, cmd: str, seq: int) -> p.Decoded:
        self.send("Control", {"control_cmd": cmd, "control_seq": seq})
        return self.wait("Heartbeat", control_seq=seq)


def exercise(bus: can.BusABC, node: int) -> dict:
    """Enable, command, reply, disable, watchdog: the protocol across processes.
    Returns the command -> reply round-trip times (s)."""
    h = Host(bus, node)
    assert h.control("ENABLE", 11).values["node_state"] == STATE_ARMED
    cmd = p.pack_impedance(0.2, 0.0, 200.0, 15.0, 0.0, h.ranges)
    rtt, t_end = [], time.monotonic() + 0.4  # 0.4 s of commands, about 1 kHz
    while time.monotonic() < t_end:
        t0 = time.perf_counter()
        h.send("ImpedanceCommand", cmd)
        reply = h.wait("StateReply")
        rtt.append(time.perf_counter() - t0)
        assert reply.values["mode"] == MODE_IMPEDANCE and reply.values["fault_bits"] == 0
        time.sleep(max(0.0, 0.001 - (time.perf_counter() - t0)))
    # the joint followed the 0.2 rad step (critically damped, omega_n ~ 26 rad/s)
    p_out = p.unpack_state(reply.values, h.ranges).p_out_rad
    assert 0.15 < p_out < 0.22, p_out
    hb = h.control("DISABLE", 12)
    assert hb.values["node_state"] == STATE_IDLE
    h.send("ImpedanceCommand", cmd)  # refused while disabled, answered with the unchanged state
    assert h.wait("StateReply").values["mode"] == MODE_IDLE
    # the watchdog: armed, one setpoint, then silence
    h.control("ENABLE", 13)
    h.send("ImpedanceCommand", cmd)
    h.wait("StateReply")
    t0 = time.monotonic()
    h.wait("Heartbeat", timeout_s=1.0, node_state=STATE_FAULT)
    t_fault = time.monotonic() - t0
    status = h.wait("Status", timeout_s=0.5)
    assert status.values["fault_bits"] & FAULT_CMD_TIMEOUT
    assert h.control("CLEAR_FAULTS", 14).values["node_state"] == STATE_IDLE
    return {"rtt_s": rtt, "t_fault_s": t_fault}


def _summary(rtt: list[float]) -> str:
    q = statistics.quantiles(rtt, n=100)
    return f"{len(rtt)} round trips: median {statistics.median(rtt) * 1e6:.0f} us, " \
           f"p99 {q[98] * 1e6:.0f} us, max {max(rtt) * 1e6:.0f} us"


def test_node_ids_outside_the_board_range_exit_2():
    run = subprocess.run(_serve_cmd("--nodes", "20-30", "--slcan"), cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=20)
    assert run.returncode == 2
    assert "25-30 outside the node range 1-24" in run.stderr


def test_slcan_pty_speaks_to_python_can_slcan(capsys):
    pytest.importorskip("serial", reason="python-can's slcan interface needs pyserial")
    proc, ready = _start("--nodes", "1-6", "--slcan")
    try:
        assert ready.startswith("ready: nodes 1-6 on slcan /dev/")
        tty_path = ready.split()[-1]
        bus = can.Bus(interface="slcan", channel=tty_path, sleep_after_open=0, bitrate=1_000_000)
        try:
            out = exercise(bus, 4)
            # the watchdog: the Heartbeat (10 Hz) shows FAULT cmd_timeout_s + at most a period later
            assert 0.09 < out["t_fault_s"] < 0.1 + 0.1 + 0.05
            assert bus.get_version(1.0) == (10, 13)  # the adapter's own commands
        finally:
            bus.shutdown()
    finally:
        _stop(proc)
    with capsys.disabled():
        print(f"\n  slcan pty: {_summary(out['rtt_s'])}")


@pytest.mark.parametrize("boot, file", [("--boot", "node_2.flash"), ("--no-boot", "node_2.bin")])
def test_parameters_persist_across_a_restart_of_the_process(tmp_path, boot, file):
    """With the bootloader simulated the parameter page lives in the node's
    whole flash image (slots, boot record, params); without it in a page file."""
    pytest.importorskip("serial", reason="python-can's slcan interface needs pyserial")
    flash = tmp_path / "flash"

    def session(fn):
        proc, ready = _start("--nodes", "2", "--slcan", "--flash-dir", str(flash), boot)
        bus = can.Bus(interface="slcan", channel=ready.split()[-1], sleep_after_open=0)
        try:
            return fn(Host(bus, 2))
        finally:
            bus.shutdown()
            _stop(proc)

    def param(h: Host, op: str, seq: int, value: float = 0.0) -> dict:
        h.send("ParamRequest", {"param_index": IDX_VEL_KP, "param_op": op, "param_seq": seq,
                                "param_value": value})
        return h.wait("ParamReply", param_seq=seq).values

    def write_and_save(h: Host) -> None:
        assert param(h, "WRITE", 1, 3.25)["param_status"] == 0
        assert param(h, "SAVE", 2)["param_status"] == 0

    session(write_and_save)
    assert sorted(x.name for x in flash.iterdir()) == [file]
    assert session(lambda h: param(h, "READ", 3))["param_value"] == 3.25


def _netns_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    try:
        run = subprocess.run(["unshare", "-n", "sh", "-c",
                              "ip link set lo up multicast on && ip route add 239.0.0.0/8 dev lo"],
                             capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return run.returncode == 0


CLIENT = """
import json, sys, can
from tests.sim.test_sim_serve import exercise
bus = can.Bus(interface="udp_multicast", channel=sys.argv[1], fd=True)
try:
    print(json.dumps(exercise(bus, 3)))
finally:
    bus.shutdown()
"""


def test_udp_multicast_in_a_private_network_namespace(tmp_path, capsys):
    pytest.importorskip("msgpack", reason="python-can's udp_multicast needs msgpack")
    if not _netns_works():
        pytest.skip("no private network namespace here (unshare -n with ip route needs root)")
    group = "239.0.0.7"
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    ready = tmp_path / "ready.txt"
    serve = " ".join(_serve_cmd("--nodes", "1-6", "--interface", "udp_multicast", "--channel", group))
    script = f"""
ip link set lo up multicast on && ip route add 239.0.0.0/8 dev lo || exit 90
{serve} > {ready} 2> {tmp_path}/server.err &
server=$!
for i in $(seq 100); do grep -q '^ready:' {ready} && break; sleep 0.05; done
{sys.executable} {client} {group}
rc=$?
kill -INT $server
wait $server || rc=91
exit $rc
"""
    run = subprocess.run(["unshare", "-n", "bash", "-c", script], cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, (run.stdout, run.stderr, (tmp_path / "server.err").read_text())
    assert ready.read_text().startswith(f"ready: nodes 1-6 on udp_multicast {group}")
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert 0.09 < out["t_fault_s"] < 0.1 + 0.1 + 0.05
    with capsys.disabled():
        print(f"\n  udp_multicast: {_summary(out['rtt_s'])}")
