"""Simulated actuators on a python-can bus (lock-step, one process, `virtual` bus).

The host side is plain python-can plus actuators.protocol (cantools): every
frame the test sends is encoded from the DBC and every reply decoded with it,
so what is checked is the protocol on the wire, answered by the firmware's
own dispatch (mf_app) in the simulated actuator.
"""
from __future__ import annotations

import itertools
import logging
import math
import zlib
from pathlib import Path

import can
import pytest

from actuators import protocol as p
from actuators.sim import SimError
from actuators.sim_node import SimNodes, flash_path

BOARD = Path(__file__).resolve().parents[2] / "boards" / "hip_knee_48v.toml"  # nodes 1-24, CAN FD
STATE = {"BOOT": 0, "IDLE": 1, "ARMED": 2, "RUNNING": 3, "FAULT": 4}
MODE = {"IDLE": 0, "CURRENT": 2, "VELOCITY": 3, "POSITION": 4, "IMPEDANCE": 5, "MUSCLE": 6}
FAULT_OVERVOLTAGE = 1 << 2
FAULT_CMD_TIMEOUT = 1 << 6
FAULT_ESTOP = 1 << 9
IDX_VEL_KP = 48          # motion.vel_pi.kp, N m s/rad
IDX_HEARTBEAT = 19       # heartbeat_period_s, s
IDX_GROUP, IDX_SLOT = 17, 18

_channels = itertools.count()


class Rig:
    """A host bus and SimNodes on a private virtual channel."""

    def __init__(self, node_ids: list[int], receive_own: bool = False, **kw) -> None:
        channel = f"test_sim_node_{next(_channels)}"
        self.host = can.Bus(interface="virtual", channel=channel)
        self.node_bus = can.Bus(interface="virtual", channel=channel, receive_own_messages=receive_own)
        self.nodes = SimNodes(self.node_bus, BOARD, node_ids, **kw)
        self.ranges = self.nodes.board.impedance_ranges()

    def close(self) -> None:
        self.host.shutdown()
        self.node_bus.shutdown()

    def send(self, name: str, node: int, values: dict) -> None:
        self.host.send(p.encode(name, node, values).to_can())

    def rx(self) -> list[p.Decoded]:
        out = []
        while (msg := self.host.recv(0.0)) is not None:
            out.append(p.decode_can(msg))
        return out

    def cycle(self, name: str | None = None, node: int = 0, values: dict | None = None,
              dt: float = 0.001) -> list[p.Decoded]:
        """Send one frame (if any), step the nodes dt, return what came back."""
        if name is not None:
            self.send(name, node, values or {})
        self.nodes.step(dt)
        return self.rx()

    def control(self, node: int, cmd: str, seq: int) -> list[p.Decoded]:
        return self.cycle("Control", node, {"control_cmd": cmd, "control_seq": seq})

    def impedance(self, p_des: float, kp: float, kd: float, v_des: float = 0.0, tau_ff: float = 0.0) -> dict:
        return p.pack_impedance(p_des, v_des, kp, kd, tau_ff, self.ranges)


@pytest.fixture
def rig():
    made: list[Rig] = []

    def make(node_ids=(1, 2), **kw) -> Rig:
        r = Rig(list(node_ids), **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def _only(frames: list[p.Decoded], name: str, node: int | None = None) -> p.Decoded:
    hits = [f for f in frames if f.name == name and (node is None or f.node_id == node)]
    assert len(hits) == 1, frames
    return hits[0]


def _state(rig: Rig, values: dict) -> p.JointState:
    return p.unpack_state(values, rig.ranges)


def test_boot_enable_impedance_and_state_reply(rig):
    r = rig()
    boot = r.rx()
    for node in (1, 2):  # the boot announcement: Heartbeat BOOT, then Status with sensed values
        hb = _only(boot, "Heartbeat", node)
        assert hb.values["node_state"] == STATE["BOOT"]
        assert hb.values["protocol_version"] == p.protocol_version()
        st = _only(boot, "Status", node)
        assert abs(st.values["v_bus_v"] - r.nodes.board.inverter.v_bus_v) < 0.5
        assert st.values["fault_bits"] == 0

    out = r.control(1, "ENABLE", 7)
    hb = _only(out, "Heartbeat", 1)
    assert (hb.values["node_state"], hb.values["control_seq"]) == (STATE["ARMED"], 7)
    assert not [f for f in out if f.node_id == 2]

    out = r.cycle("ImpedanceCommand", 1, r.impedance(0.0, 200.0, 15.0))
    reply = _only(out, "StateReply", 1)
    assert reply.values["mode"] == MODE["IMPEDANCE"] and reply.values["fault_bits"] == 0
    # the encoder's mounting offset: the core's zero vs the plant's, both at rest
    offset = _state(r, reply.values).p_out_rad - r.nodes.plant_state(1)["p_out"]

    # 0.3 rad step at 1 kHz, kp 200 N m/rad, kd 15 N m s/rad: about critically damped
    # on the 0.3 kg m2 shank (omega_n ~ 26 rad/s), settled well within 0.8 s
    cmd = r.impedance(0.3, 200.0, 15.0)
    replies = []
    for _ in range(800):
        replies.append(_only(r.cycle("ImpedanceCommand", 1, cmd), "StateReply", 1))
    last = _state(r, replies[-1].values)
    p_quantum = (r.ranges.p_max_rad - r.ranges.p_min_rad) / 65535
    v_quantum = (r.ranges.v_max_rad_s - r.ranges.v_min_rad_s) / 4095
    # at rest inside the Coulomb band: |p - p_des| <= tau_c N / (eta kp) (motor friction at the output)
    m, g = r.nodes.board.motor, r.nodes.board.gearbox
    band = m.tau_coulomb_nm * g.ratio / g.efficiency / 200.0
    assert abs(last.p_out_rad - 0.3) <= band + p_quantum, (last, band)
    assert abs(last.v_out_rad_s) < 2 * v_quantum
    # the reply is the core's view of the plant's truth (same encoder offset as at rest, at boot)
    truth = r.nodes.plant_state(1)
    assert abs(last.p_out_rad - truth["p_out"] - offset) < 1e-3 + p_quantum
    # zeta = (kd + b_load) / (2 sqrt(kp J)) ~ 0.9 on J = 0.36 kg m2 (load + N^2 rotor): < 1 % overshoot
    peak = max(_state(r, f.values).p_out_rad for f in replies)
    assert peak < 0.3 * 1.01 + band, peak
    assert all(f.values["mode"] == MODE["IMPEDANCE"] and f.values["fault_bits"] == 0 for f in replies)
    assert r.nodes.state(1) == "RUNNING" and r.nodes.state(2) == "IDLE"
    c = r.nodes.counters(2)
    assert c["rx_ok"] == 0 and c["rx_reject"] == 0 and c["rx_ignored"] >= 801


@pytest.mark.parametrize("mode", ["CURRENT", "VELOCITY", "POSITION", "MUSCLE"])
def test_each_setpoint_selects_its_mode(rig, mode):
    r = rig([3])
    b = r.nodes.board
    r.rx()
    r.control(3, "ENABLE", 1)
    if mode == "CURRENT":
        i_q = 2.0
        name, values, t = "CurrentCommand", {"i_d_ref_a": 0.0, "i_q_ref_a": i_q}, 0.05
    elif mode == "VELOCITY":
        name, values, t = "VelocityCommand", {"v_out_ref_rad_s": 1.5, "tau_ff_nm": 0.0}, 0.8
    elif mode == "POSITION":
        name, values, t = "PositionCommand", {"p_out_ref_rad": -0.2, "v_out_ff_rad_s": 0.0,
                                              "tau_ff_nm": 0.0}, 1.0
    else:  # the first 50 ms of a flexor contraction (later the stretched extensor pulls back)
        name, values, t = "MuscleCommand", {"u_flex": 0.5, "u_ext": 0.0}, 0.05
    states = []
    for _ in range(int(round(t / 0.001))):
        reply = _only(r.cycle(name, 3, values), "StateReply", 3)
        assert reply.values["mode"] == MODE[mode] and reply.values["fault_bits"] == 0
        states.append(_state(r, reply.values))
    st = states[-1]
    truth = r.nodes.plant_state(3)
    if mode == "CURRENT":
        # tau_out = 1.5 p lambda i_q N (board file) from the measured i_q: each reply
        # carries one sample (PWM ripple, ADC noise), their mean the regulated current
        kt = 1.5 * b.motor.pole_pairs * b.motor.flux_wb
        tau_mean = sum(s.tau_out_nm for s in states[-30:]) / 30
        assert abs(tau_mean / (kt * i_q * b.gearbox.ratio) - 1.0) < 0.02, tau_mean
    elif mode == "VELOCITY":
        assert abs(st.v_out_rad_s - 1.5) < 0.05 and abs(truth["v_out"] - 1.5) < 0.05
    elif mode == "POSITION":
        assert abs(st.p_out_rad + 0.2) < 3e-3 and abs(truth["v_out"]) < 0.02
    else:  # the flexor pulls: positive torque, the joint moves positive
        assert st.tau_out_nm > 0.0 and truth["v_out"] > 0.0


def test_estop_latches_a_fault_until_cleared(rig):
    r = rig()
    r.rx()
    r.control(0, "ENABLE", 1)  # broadcast: both nodes arm
    out = r.cycle("CurrentCommand", 1, {"i_d_ref_a": 0.0, "i_q_ref_a": 3.0})
    assert _only(out, "StateReply", 1).values["mode"] == MODE["CURRENT"]
    for _ in range(5):
        r.cycle("CurrentCommand", 1, {"i_d_ref_a": 0.0, "i_q_ref_a": 3.0})
    assert abs(r.nodes.plant_state(1)["i_q"] - 3.0) < 0.2
    r.host.send(can.Message(arbitration_id=0x000, data=b"", is_extended_id=False))  # DLC 0: the host
    assert r.cycle(dt=0.002) == []  # no reply to an e-stop
    # this board's safe state is "brake" (windings shorted): the current is no
    # longer driven to 3 A but induced by the rotor's motion, and opposes it
    assert r.nodes.board.protect.safe_state == "brake"
    power = []
    for _ in range(20):
        assert r.cycle() == []
        truth = r.nodes.plant_state(1)
        assert abs(truth["i_q"]) < 1.5
        power.append(truth["i_q"] * truth["omega_m"])  # ~ electromagnetic power, W / (1.5 p lambda)
    assert sum(power) < 0.0  # net braking: energy flows from the rotor into the windings
    assert r.nodes.state(1) == "FAULT" and r.nodes.state(2) == "FAULT"
    reply = _only(r.cycle("CurrentCommand", 1, {"i_d_ref_a": 0.0, "i_q_ref_a": 3.0}), "StateReply", 1)
    assert reply.values["fault_bits"] & FAULT_ESTOP and reply.values["mode"] == MODE["IDLE"]
    hb = _only(r.control(1, "ENABLE", 2), "Heartbeat", 1)  # refused in FAULT
    assert (hb.values["node_state"], hb.values["control_seq"]) == (STATE["FAULT"], 1)
    assert hb.values["rx_reject_count"] == 2  # the setpoint and the ENABLE
    hb = _only(r.control(1, "CLEAR_FAULTS", 3), "Heartbeat", 1)
    assert (hb.values["node_state"], hb.values["control_seq"]) == (STATE["IDLE"], 3)
    assert r.nodes.state(2) == "FAULT"  # cleared node 1 only
    hb = _only(r.control(1, "ENABLE", 4), "Heartbeat", 1)
    assert hb.values["node_state"] == STATE["ARMED"]


def test_overvoltage_clears_only_once_the_cause_is_gone(rig):
    r = rig([5])
    r.rx()
    v_max = r.nodes.board.protect.v_bus_max_v
    r.nodes.set_inputs(5, v_bus_v=v_max + 4.0)
    frames = []
    for _ in range(20):
        frames += r.cycle(dt=0.005)
    status = [f for f in frames if f.name == "Status"]
    assert status and status[-1].values["fault_bits"] & FAULT_OVERVOLTAGE
    assert abs(status[-1].values["v_bus_v"] - (v_max + 4.0)) < 0.5
    assert r.nodes.state(5) == "FAULT"
    hb = _only(r.control(5, "CLEAR_FAULTS", 1), "Heartbeat", 5)
    assert hb.values["node_state"] == STATE["FAULT"]  # still over the limit
    r.nodes.set_inputs(5, v_bus_v=r.nodes.board.inverter.v_bus_v)
    r.cycle(dt=0.005)
    hb = _only(r.control(5, "CLEAR_FAULTS", 2), "Heartbeat", 5)
    assert hb.values["node_state"] == STATE["IDLE"]


def test_watchdog_stops_the_motor_when_commands_stop(rig):
    r = rig([1, 2])
    timeout_s = r.nodes.board.protect.cmd_timeout_s
    r.rx()
    r.control(0, "ENABLE", 1)  # node 2 stays ARMED without a setpoint: the ARMED watchdog
    t_enable = r.nodes.t_s
    trip = {}
    for _ in range(300):
        r.cycle("VelocityCommand", 1, {"v_out_ref_rad_s": 2.0, "tau_ff_nm": 0.0})
        if 2 not in trip and r.nodes.state(2) == "FAULT":
            trip[2] = r.nodes.t_s - t_enable
    assert abs(r.nodes.plant_state(1)["v_out"] - 2.0) < 0.1
    t_last = r.nodes.t_s
    frames = []
    for _ in range(int(round((timeout_s + 0.25) / 0.001))):
        frames += r.cycle()
        if 1 not in trip and r.nodes.state(1) == "FAULT":
            trip[1] = r.nodes.t_s - t_last
            v_at_trip = r.nodes.plant_state(1)["v_out"]
    # both trip after cmd_timeout_s (to the 1 ms lock-step), node 1 on mf_ctrl's
    # command watchdog, node 2 on the application's ARMED watchdog
    assert abs(trip[1] - timeout_s) <= 0.0015, trip
    assert abs(trip[2] - timeout_s) <= 0.0015, trip
    for node in (1, 2):
        hb = [f for f in frames if f.name == "Heartbeat" and f.node_id == node][-1]
        assert hb.values["node_state"] == STATE["FAULT"]
        status = [f for f in frames if f.name == "Status" and f.node_id == node][-1]
        assert status.values["fault_bits"] & FAULT_CMD_TIMEOUT
    # the motor is off: no current, the 0.3 kg m2 shank coasts down on its damping
    truth = r.nodes.plant_state(1)
    assert abs(truth["i_q"]) < 0.05
    assert abs(truth["v_out"]) < 0.5 * abs(v_at_trip)


def _param(r: Rig, node: int, op: str, index: int, value: float = 0.0, seq: int = 0,
           dt: float = 0.001) -> dict:
    out = r.cycle("ParamRequest", node, {"param_index": index, "param_op": op, "param_seq": seq,
                                        "param_value": value}, dt=dt)
    reply = _only(out, "ParamReply", node)
    assert reply.values["param_seq"] == seq and reply.values["param_index"] == index
    return reply.values


def _page_ok(page: bytes) -> bool:
    """The page layout of mf_params.h checked independently: magic, count, zlib CRC-32."""
    n = int.from_bytes(page[6:8], "little")
    body = 8 + 6 * n
    return (page[:4] == b"MFPT" and len(page) == body + 4
            and zlib.crc32(page[:body]) == int.from_bytes(page[body:body + 4], "little"))


def test_parameters_persist_across_a_restart(rig, tmp_path):
    flash = tmp_path / "flash"
    r = rig([1, 2], flash_dir=flash)
    default_kp = r.nodes.read_param(1, IDX_VEL_KP)
    assert math.isclose(default_kp, r.nodes.board.control.vel_kp_nms_per_rad, rel_tol=1e-6)
    assert _param(r, 1, "WRITE", IDX_VEL_KP, 3.25, seq=1) == {
        "param_index": IDX_VEL_KP, "param_status": 0, "param_seq": 1, "param_value": 3.25}
    assert _param(r, 1, "WRITE", IDX_HEARTBEAT, 0.05, seq=2)["param_status"] == 0
    assert not flash_path(flash, 1).exists()  # nothing stored before a SAVE
    saved = _param(r, 1, "SAVE", 0, seq=3)
    assert saved["param_status"] == 0
    page = flash_path(flash, 1).read_bytes()
    assert _page_ok(page)
    assert sorted(x.name for x in flash.iterdir()) == ["node_1.bin"]  # atomic: no temporary left
    # SAVE is refused while driving the motor
    r.control(1, "ENABLE", 1)
    assert _param(r, 1, "SAVE", 0, seq=4)["param_status"] == 4  # WRONG_STATE
    r.close()

    r2 = rig([1, 2], flash_dir=flash)  # a restart: new process state, same flash
    boot = r2.rx()
    assert _only(boot, "Heartbeat", 1).values["node_state"] == STATE["BOOT"]
    assert _param(r2, 1, "READ", IDX_VEL_KP, seq=5)["param_value"] == 3.25
    assert _param(r2, 2, "READ", IDX_VEL_KP, seq=6)["param_value"] == pytest.approx(default_kp, rel=1e-6)
    frames = []
    for _ in range(50):
        frames += r2.cycle(dt=0.01)
    beats = {n: sum(1 for f in frames if f.name == "Heartbeat" and f.node_id == n) for n in (1, 2)}
    assert beats == {1: 10, 2: 5}  # 0.5 s at the saved 50 ms period and at the default 100 ms


def test_corrupt_page_gives_the_board_values_and_a_warning(rig, tmp_path, caplog):
    flash = tmp_path / "flash"
    r = rig([1], flash_dir=flash)
    _param(r, 1, "WRITE", IDX_VEL_KP, 3.25, seq=1)
    _param(r, 1, "SAVE", 0, seq=2)
    page = bytearray(flash_path(flash, 1).read_bytes())
    page[12] ^= 0x40  # one flipped bit in a value: the CRC no longer matches
    flash_path(flash, 1).write_bytes(bytes(page))
    r.close()
    with caplog.at_level(logging.WARNING, logger="actuators.sim_node"):
        r2 = rig([1], flash_dir=flash)
    assert any(str(flash_path(flash, 1)) in rec.getMessage() for rec in caplog.records)
    kp = _param(r2, 1, "READ", IDX_VEL_KP, seq=3)["param_value"]
    assert kp == pytest.approx(r2.nodes.board.control.vel_kp_nms_per_rad, rel=1e-6)
    r2.cycle(dt=0.05)
    assert flash_path(flash, 1).read_bytes() == bytes(page)  # kept until the next SAVE
    assert _param(r2, 1, "SAVE", 0, seq=4)["param_status"] == 0
    assert _page_ok(flash_path(flash, 1).read_bytes())


def test_group_frame_reaches_the_configured_slot(rig):
    r = rig([1, 2])
    r.rx()
    assert _param(r, 2, "WRITE", IDX_GROUP, 3, seq=1)["param_status"] == 0
    assert _param(r, 2, "WRITE", IDX_SLOT, 5, seq=2)["param_status"] == 0
    r.control(0, "ENABLE", 1)
    slots = [None] * 8
    slots[5] = r.impedance(0.1, 100.0, 5.0)
    out = r.cycle("GroupCommand", 3, p.group_slots_to_values(slots))
    assert len(out) == 1 and out[0].name == "StateReply" and out[0].node_id == 2
    assert out[0].values["mode"] == MODE["IMPEDANCE"]
    assert r.nodes.state(1) == "ARMED"  # not in the group


def test_lock_step_is_reproducible(rig):
    def run() -> list[bytes]:
        r = rig([1], seed=4)
        raw = []
        r.control(1, "ENABLE", 1)
        for k in range(200):
            r.send("CurrentCommand", 1, {"i_d_ref_a": 0.0, "i_q_ref_a": 1.0 + 0.01 * k})
            r.nodes.step(0.001)
            while (m := r.host.recv(0.0)) is not None:
                raw.append(bytes(m.data))
        return raw

    a, b = run(), run()
    assert len(a) > 200 and a == b  # 200 StateReply + periodic Heartbeat/Status, bit for bit


def test_node_ids_outside_the_board_range_are_refused():
    bus = can.Bus(interface="virtual", channel="test_sim_node_range")
    try:
        with pytest.raises(SimError, match=r"\[30\] outside the node range 1-24"):
            SimNodes(bus, BOARD, [1, 30])
        with pytest.raises(SimError, match="given twice"):
            SimNodes(bus, BOARD, [2, 2])
    finally:
        bus.shutdown()


@pytest.mark.parametrize("echo_filter", [True, False])
def test_own_frames_handed_back_by_the_bus_are_filtered(rig, echo_filter):
    """udp_multicast hands a sender its own frames; the firmware would take a
    StateReply with its own id for a duplicate node (rx_unknown_id)."""
    r = rig([1], receive_own=True, echo_filter=echo_filter)
    r.control(1, "ENABLE", 1)
    for _ in range(20):
        _only(r.cycle("ImpedanceCommand", 1, r.impedance(0.0, 10.0, 1.0)), "StateReply", 1)
    c = r.nodes.counters(1)
    assert c["rx_ok"] == 21
    r.nodes.drain()  # the echoes of the last replies
    if echo_filter:
        assert c["rx_reject"] == 0 and r.nodes.dropped_in == r.nodes.frames_out
    else:
        assert c["rx_unknown_id"] >= 20
