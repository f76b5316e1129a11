"""actuators.monitor: the wire model against ISO 11898 facts and the bounds of
docs/protocol.md, and ``myofoc monitor --once --json`` over a virtual bus
with frames injected, its --log file read back by python-can's reader."""
from __future__ import annotations

import json
import random
import threading
import time
import uuid

import can
import cantools
import pytest
from can.interfaces import virtual

from actuators import commands as c
from actuators import protocol as p
from actuators.cli import main
from actuators.monitor import BusMonitor, crc15, frame_bits, frame_time_s, stuff_bits
from firmware_gen.board import load_board

from .fake_node import BOARD_PATH

DB = cantools.database.load_file(str(p.DBC_PATH))
WRIST = BOARD_PATH.with_name("wrist_24v.toml")


def test_crc15_check_value():
    # CRC-15/CAN catalogue check value: CRC of the ASCII bytes "123456789"
    bits = [int(b) for ch in b"123456789" for b in format(ch, "08b")]
    assert crc15(bits) == 0x059E


def test_stuffing_rule():
    assert stuff_bits([0] * 4) == []
    assert stuff_bits([0] * 5) == [4]
    # the stuff bit (a 1) starts the next run: four more ones make five
    assert stuff_bits([0] * 5 + [1] * 4) == [4, 8]
    assert stuff_bits([0] * 10) == [4, 9]
    assert stuff_bits([1, 0] * 20) == []


def test_frame_times_within_the_protocol_bounds():
    rng = random.Random(7)
    # docs/protocol.md section 6: classic 44 + 8 n + 3 bits, stuffing over the
    # first 34 + 8 n bits (at most floor((34 + 8 n - 1) / 4) stuff bits)
    for n in (0, 1, 2, 4, 8):
        for _ in range(300):
            can_id, data = rng.getrandbits(11), bytes(rng.getrandbits(8) for _ in range(n))
            nominal, fast = frame_bits(can_id, data)
            assert fast == 0
            assert 47 + 8 * n <= nominal <= 47 + 8 * n + (34 + 8 * n - 1) // 4
    msg = c.make_impedance(25, p.MINI_CHEETAH_RANGES, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert 111e-6 <= frame_time_s(msg, 1e6) <= 135e-6
    # FD with bit-rate switch: 29 nominal bits plus the data phase, per the table
    for n, rate, lo, hi in ((8, 5e6, 48e-6, 56e-6), (64, 5e6, 139e-6, 169e-6), (64, 8e6, 98e-6, 118e-6)):
        for _ in range(200):
            m = can.Message(arbitration_id=rng.getrandbits(11), is_extended_id=False, is_fd=True,
                            bitrate_switch=True, data=bytes(rng.getrandbits(8) for _ in range(n)))
            nominal, fast = frame_bits(m.arbitration_id, bytes(m.data), fd=True, brs=True)
            assert 29 <= nominal <= 29 + 3  # up to 3 stuff bits in SOF..BRS
            assert lo - 1e-9 <= frame_time_s(m, 1e6, rate) <= hi + 1e-9
    # without BRS an FD frame is all at the nominal rate
    m = c.make_group_impedance(1, [(0.0, 0.0, 1.0, 0.0, 0.0)], p.MINI_CHEETAH_RANGES)
    slow = can.Message(arbitration_id=m.arbitration_id, data=m.data, is_fd=True, bitrate_switch=False,
                       is_extended_id=False)
    assert frame_time_s(slow, 1e6, 5e6) == pytest.approx(sum(frame_bits(m.arbitration_id, bytes(m.data),
                                                                         fd=True)) / 1e6)


def test_load_and_rates_on_a_synthetic_clock():
    now = [0.0]
    mon = BusMonitor(bitrate_bps=1e6, clock=lambda: now[0], window_s=1.0,
                     ranges_for=lambda n: ("arm", p.MINI_CHEETAH_RANGES))
    cmd = c.make_current(7, 1.0)
    reply = DB.get_message_by_name("StateReply")
    rep = can.Message(arbitration_id=p.frame_id("StateReply", 7), is_extended_id=False,
                      data=reply.encode({"p_out_raw": 32768, "v_out_raw": 2048, "tau_out_raw": 2048,
                                         "temp_c": 33, "mode": 2, "fault_bits": 64}))
    busy = frame_time_s(cmd, 1e6) + frame_time_s(rep, 1e6)
    for k in range(1000):  # 1 kHz command + reply for one second
        now[0] = k / 1000
        mon.feed(cmd)
        mon.feed(rep)
    now[0] = 1.0
    snap = mon.snapshot()
    assert snap["frames"] == 2000
    assert snap["bus_load"] == pytest.approx(1000 * busy, rel=1e-9)  # frames in [now - 1 s, now]
    [row] = snap["nodes"]
    assert (row["node_id"], row["mode"], row["temp_c"], row["fault_names"]) == (7, "CURRENT", 33.0,
                                                                                 ["cmd_timeout"])
    assert row["frames_per_s"] == pytest.approx(2000)
    now[0] = 1.5  # half the frames left the window
    assert mon.snapshot()["bus_load"] == pytest.approx(500 * busy, rel=1e-9)
    assert row["p_out_rad"] == pytest.approx(32768 / 65535 * 25.0 - 12.5)


def frames_to_inject() -> list[can.Message]:
    arm = load_board(BOARD_PATH).impedance_ranges()
    out = []
    reply = DB.get_message_by_name("StateReply")
    for node, mode in ((25, 5), (70, 2)):
        for k in range(10):
            out.append(c.make_current(node, 0.1 * k))
            out.append(can.Message(arbitration_id=p.frame_id("StateReply", node), is_extended_id=False,
                                   data=reply.encode({"p_out_raw": 40000, "v_out_raw": 2048,
                                                      "tau_out_raw": 1000 + k, "temp_c": 41, "mode": mode,
                                                      "fault_bits": 0})))
        out.append(can.Message(arbitration_id=p.frame_id("Heartbeat", node), is_extended_id=False,
                               data=DB.get_message_by_name("Heartbeat").encode(
                                   {"node_state": 3, "protocol_version": 1, "control_seq": 4,
                                    "rx_reject_count": 2, "uptime_ms": 1500})))
        out.append(can.Message(arbitration_id=p.frame_id("Status", node), is_extended_id=False,
                               data=DB.get_message_by_name("Status").encode(
                                   {"fault_bits": 0, "v_bus_v": 47.5, "temp_motor_c": 45, "temp_fet_c": 38})))
    out.append(c.make_group_impedance(2, [(0.0, 0.0, 5.0, 0.1, 0.0)], arm))
    out.append(can.Message(arbitration_id=0x1ABCDEF, is_extended_id=True, data=b"\x01\x02"))
    return out


@pytest.mark.parametrize("suffix", [".asc", ".log", ".blf"])
def test_monitor_once_json_and_log(tmp_path, capsys, suffix):
    channel = f"monitor-{uuid.uuid4().int}"  # digits at the end: too big for a .blf channel number
    frames = frames_to_inject()
    log = tmp_path / f"bus{suffix}"
    injector = can.Bus(interface="virtual", channel=channel)

    def inject() -> None:
        deadline = time.monotonic() + 5.0
        while len(virtual.channels.get(channel, [])) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)  # wait for the monitor's bus to join the channel
        for msg in frames:
            injector.send(msg)

    thread = threading.Thread(target=inject)
    thread.start()
    try:
        code = main(["monitor", "--interface", "virtual", "--channel", channel, "--once", "--json",
                     "--duration", "0.6", "--log", str(log)])
    finally:
        thread.join()
        injector.shutdown()
    assert code == 0
    snap = json.loads(capsys.readouterr().out)
    assert snap["frames"] == len(frames)
    assert (snap["group_frames"], snap["other_frames"], snap["error_frames"]) == (1, 1, 0)
    rows = {r["node_id"]: r for r in snap["nodes"]}
    assert sorted(rows) == [25, 70]
    arm, wrist = load_board(BOARD_PATH), load_board(WRIST)
    for node, b, mode in ((25, arm, "IMPEDANCE"), (70, wrist, "CURRENT")):
        r, rng = rows[node], b.impedance_ranges()
        assert (r["board"], r["mode"], r["node_state"], r["rx_reject_count"]) == (b.name, mode, "RUNNING", 2)
        assert r["p_out_rad"] == pytest.approx(40000 / 65535 * (rng.p_max_rad - rng.p_min_rad) + rng.p_min_rad)
        assert r["tau_out_nm"] == pytest.approx(1009 / 4095 * (rng.tau_max_nm - rng.tau_min_nm) + rng.tau_min_nm)
        assert (r["temp_c"], r["v_bus_v"], r["temp_motor_c"], r["faults"]) == (41.0, 47.5, 45.0, 0)
        assert r["frames"] == 22
    busy = sum(frame_time_s(m, 1e6, 5e6) for m in frames)
    assert snap["bus_load"] == pytest.approx(busy / snap["window_s"], rel=1e-6)
    # the log holds every frame, readable by python-can
    read = list(can.LogReader(str(log)))
    assert len(read) == len(frames)
    assert [m.arbitration_id for m in read] == [m.arbitration_id for m in frames]
    assert [bytes(m.data) for m in read] == [bytes(m.data) for m in frames]


def test_monitor_bad_bus_exit_code(capsys):
    assert main(["monitor", "--interface", "no-such-interface", "--channel", "x", "--once"]) == 2
    assert "cannot open the bus" in capsys.readouterr().err
