"""actuators.client against the real firmware application (core.App, the C
mf_app) served on a python-can virtual bus by a thread (tests/client/fake_node.py).

What the node did is read back from the App itself (its command and
parameters), and the replies are checked against the MIT mapping of the
board's ranges and the encoder position the node was given.
"""
from __future__ import annotations

import time
import uuid

import can
import pytest

from actuators import core
from actuators import protocol as p
from actuators.client import (Actuator, ActuatorGroup, ActuatorTimeout, BusDispatcher, ControlRefused,
                              ParamError, State)

from .fake_node import FakeNodes, board

PARAMS = {row["name"]: row for row in core.param_table()}


@pytest.fixture
def channel() -> str:
    return f"client-{uuid.uuid4().hex}"


@pytest.fixture
def host(channel):
    bus = can.Bus(interface="virtual", channel=channel)
    yield bus
    bus.shutdown()


def p_step(r: p.ImpedanceRanges) -> float:
    return (r.p_max_rad - r.p_min_rad) / 65535


def test_enable_disable_clear_faults(channel, host):
    with FakeNodes(channel, {30: None}) as nodes:
        app = nodes.apps[30]
        a = Actuator(host, 30, board=nodes.board)
        hb = a.enable()
        assert (hb.node_id, hb.node_state) == (30, "ARMED")
        assert hb.control_seq == app.control_seq  # the node applied our seq
        assert a.disable().node_state == "IDLE"
        assert a.enable().node_state == "ARMED"
        a.estop()
        time.sleep(0.02)
        with nodes.lock:
            assert app.state_name == "FAULT"
        with pytest.raises(ControlRefused, match=r"node 30: Control ENABLE refused in state FAULT") as exc:
            a.enable()
        assert exc.value.heartbeat.node_state == "FAULT"
        hb = a.clear_faults()
        assert hb.node_state == "IDLE" and hb.control_seq == app.control_seq
        assert a.enable().node_state == "ARMED"


def test_setpoints_return_the_state_with_the_mode(channel, host):
    with FakeNodes(channel, {31: None}) as nodes:
        app = nodes.apps[31]
        b = nodes.board
        r = b.impedance_ranges()
        a = Actuator(host, 31, board=str(b.path))  # a board file path works too
        assert a.ranges == r
        a.enable()
        st = a.set_impedance(0.25, 0.5, 30.0, 0.8, -1.5)
        assert isinstance(st, State) and (st.node_id, st.mode, st.faults) == (31, "IMPEDANCE", 0)
        with nodes.lock:
            p_out, cmd = app.signals()["p_out"], app.command
        # the node's output position, through the 16-bit MIT mapping of the board's ranges
        assert abs(st.p_out_rad - p_out) <= p_step(r) / 2 * 1.001
        assert st.temp_c == 25.0 and st.fd is False
        # the node obeyed the values we sent (within half a raw step)
        assert cmd["p_des"] == pytest.approx(0.25, abs=p_step(r) / 2)
        assert cmd["kp"] == pytest.approx(30.0, abs=r.kp_max_nm_rad / 4095 / 2)
        assert cmd["tau_ff"] == pytest.approx(-1.5, abs=(r.tau_max_nm - r.tau_min_nm) / 4095 / 2)
        assert a.set_current(1.5, -0.5).mode == "CURRENT"
        with nodes.lock:
            assert (app.command["i_q_ref"], app.command["i_d_ref"]) == (1.5, -0.5)
        assert a.set_velocity(0.5, 0.25).mode == "VELOCITY"
        assert a.set_position(0.1, 0.2, 0.3).mode == "POSITION"
        with nodes.lock:
            assert app.command["p_out_ref"] == pytest.approx(0.1, abs=1e-7)
        assert a.set_muscle(0.2, 0.1).mode == "MUSCLE"
        # a refused setpoint is still answered: unchanged mode, and the node counts it
        rejects = app.counters["rx_reject"]
        a.disable()
        st = a.set_current(1.0)
        assert st.mode == "IDLE" and st.refused and st.faults == 0
        assert not a.enable().node_state == "FAULT"
        assert not a.set_current(0.5).refused
        a.disable()
        with nodes.lock:
            assert app.counters["rx_reject"] == rejects + 1
        status = a.status()
        assert status.v_bus_v == pytest.approx(48.0, abs=0.02) and status.faults == 0
        assert status.heartbeat is not None and status.heartbeat.rx_reject_count == rejects + 1
        assert status.heartbeat.node_state == "IDLE"


def test_fd_single_frames_get_fd_replies(channel, host):
    with FakeNodes(channel, {32: None}) as nodes:
        a = Actuator(host, 32, board=nodes.board, fd=True)
        a.enable()
        st = a.set_impedance(0.0, 0.0, 10.0, 0.1, 0.0)
        assert st.mode == "IMPEDANCE" and st.fd


def test_params_round_trip_and_refusals(channel, host):
    with FakeNodes(channel, {33: None}) as nodes:
        app = nodes.apps[33]
        a = Actuator(host, 33, board=nodes.board)
        kq = PARAMS["current.pi_q.kp"]["index"]
        assert a.write_param(kq, 0.625) == 0.625
        assert a.read_param("current.pi_q.kp") == 0.625
        with nodes.lock:
            assert app.read_param(kq) == 0.625
        # float32 on the wire: 0.1 comes back as the float32 nearest to it
        assert a.write_param(kq, 0.1) == pytest.approx(0.1, rel=6e-8) and a.read_param(kq) != 0.1
        with pytest.raises(ParamError, match=r"node 33: WRITE of param 0 \(protocol_version\) = 3 "
                                             r"refused: READ_ONLY") as exc:
            a.write_param(0, 3.0)
        assert (exc.value.node_id, exc.value.index, exc.value.status) == (33, 0, "READ_ONLY")
        limit = PARAMS["i_limit_a"]["index"]
        before = a.read_param(limit)
        with pytest.raises(ParamError, match=r"i_limit_a\) = 1000 refused: OUT_OF_RANGE"):
            a.write_param("i_limit_a", 1000.0)  # above protect.i_max_a: rolled back
        assert a.read_param(limit) == before
        with pytest.raises(ParamError, match="UNKNOWN_INDEX"):
            a.read_param(4000)
        a.enable()
        with pytest.raises(ParamError, match="WRONG_STATE"):
            a.write_param("gear_ratio", 6.0)
        # ranges read from the node itself
        a.ranges = None
        with pytest.raises(Exception, match="no MIT ranges"):
            a.set_impedance(0.0)
        got = vars(a.load_ranges())
        assert got == pytest.approx(vars(nodes.board.impedance_ranges()), rel=1e-6)  # float32 on the wire
        assert vars(a.ranges) == got


def test_timeout_names_node_and_message(host):
    a = Actuator(host, 9, board=board())  # nobody answers
    t0 = time.perf_counter()
    with pytest.raises(ActuatorTimeout, match=r"^node 9: no StateReply to ImpedanceCommand within 10 ms$") as exc:
        a.set_impedance(0.0, 0.0, 1.0, 0.0, 0.0)
    elapsed = time.perf_counter() - t0
    assert 0.010 <= elapsed < 0.090, elapsed  # below the 0.1 s of a parameter or control wait
    assert exc.value.nodes == (9,)
    with pytest.raises(ActuatorTimeout, match=r"node 9: no ParamReply to ParamRequest READ of param 64 "
                                              r"\(i_limit_a\) within 20 ms"):
        a.read_param(64, timeout_s=0.02)
    with pytest.raises(ActuatorTimeout, match=r"node 9: no Heartbeat to Control ENABLE within 20 ms"):
        a.enable(timeout_s=0.02)


def test_replies_for_other_nodes_are_kept(channel, host):
    with FakeNodes(channel, {34: None, 35: None}) as nodes:
        a, b = Actuator(host, 34, board=nodes.board), Actuator(host, 35, board=nodes.board)
        assert a.dispatcher is b.dispatcher is BusDispatcher.of(host)
        a.enable()
        b.enable()
        a.dispatcher.send(b.make_current(0.5))   # b's StateReply arrives while a waits
        time.sleep(0.01)
        assert a.set_current(0.25).mode == "CURRENT"
        kept = a.dispatcher.kept(p.frame_id("StateReply", 35))
        assert len(kept) == 1 and b.parse_state(kept[0]).mode == "CURRENT"


def test_group_cycle_classic_and_missing_node(channel, host):
    with FakeNodes(channel, {40: None, 41: None, 42: None}) as nodes:
        acts = [Actuator(host, n, board=nodes.board) for n in (40, 41, 42)]
        group = ActuatorGroup(host, acts)
        assert not group.group_frames
        assert set(group.enable()) == {40, 41, 42}
        sps = {40: (0.1, 0.0, 20.0, 0.5, 0.0), 41: (-0.2, 0.0, 30.0, 0.5, 1.0), 42: (0.3, 1.0, 0.0, 0.0, -2.0)}
        states = group.set_impedance(sps)
        assert sorted(states) == [40, 41, 42]
        assert all(s.mode == "IMPEDANCE" and s.node_id == n for n, s in states.items())
        with nodes.lock:
            for n, sp in sps.items():
                assert nodes.apps[n].command["p_des"] == pytest.approx(sp[0], abs=p_step(acts[0].ranges))
        # any setpoint frames in one cycle
        states = group.cycle([acts[0].make_current(1.0), acts[1].make_velocity(0.5), acts[2].make_muscle(0, 0)])
        assert [states[n].mode for n in (40, 41, 42)] == ["CURRENT", "VELOCITY", "MUSCLE"]
        ghost = Actuator(host, 43, board=nodes.board)
        with pytest.raises(ActuatorTimeout, match=r"^node 43: no StateReply to ImpedanceCommand within "
                                                  r"10 ms \(3 of 4 answered\)$") as exc:
            ActuatorGroup(host, acts + [ghost]).set_impedance({**sps, 43: (0.0, 0.0, 0.0, 0.0, 0.0)})
        assert exc.value.nodes == (43,) and sorted(exc.value.states) == [40, 41, 42]


def test_group_cycle_with_fd_group_frames(channel, host):
    slots = {50: (3, 0), 51: (3, 5), 52: (4, 1)}
    with FakeNodes(channel, slots) as nodes:
        acts = [Actuator(host, n, board=nodes.board, group=g) for n, g in slots.items()]
        group = ActuatorGroup(host, acts)
        assert group.group_frames
        group.enable()
        sps = {50: (0.1, 0.0, 20.0, 0.5, 0.0), 51: (-0.2, 0.0, 30.0, 0.5, 1.0), 52: (0.3, 1.0, 0.0, 0.0, -2.0)}
        frames = group.make_impedance(sps)
        assert [(f.arbitration_id, f.is_fd, f.dlc) for f in frames] == [(0x083, True, 64), (0x084, True, 64)]
        states = group.cycle(frames)
        assert sorted(states) == [50, 51, 52]
        assert all(s.mode == "IMPEDANCE" and s.fd for s in states.values())
        with nodes.lock:
            for n, sp in sps.items():  # each node read its own slot
                assert nodes.apps[n].command["p_des"] == pytest.approx(sp[0], abs=p_step(acts[0].ranges))
                assert nodes.apps[n].command["tau_ff"] == pytest.approx(sp[4], abs=100 / 4095 / 2 * 1.001)
        with pytest.raises(ValueError, match="node 51 share"):
            group.make_impedance({50: sps[50]})  # 51 would read a zero slot
