"""The client driving a simulated actuator with its plant (actuators.sim_node:
the firmware's C core + the motor, gearbox and load model), served paced to
the wall clock by a thread on a python-can virtual bus.

The joint is pulled to a new position by an impedance command at 1 kHz; the
expected end point comes from the spring law: at rest the spring torque
kp (p_des - p) balances at most the output-side Coulomb friction."""
from __future__ import annotations

import threading
import time
import uuid

import can
import pytest

from actuators.client import Actuator, ActuatorGroup
from firmware_gen.board import load_board

from .fake_node import BOARD_PATH

sim_node = pytest.importorskip("actuators.sim_node")


@pytest.fixture
def served():
    channel = f"client-sim-{uuid.uuid4().hex}"
    host = can.Bus(interface="virtual", channel=channel)
    node_bus = can.Bus(interface="virtual", channel=channel)
    nodes = sim_node.SimNodes(node_bus, BOARD_PATH, [25, 26])
    nodes.p_out_start = nodes.plant_state(25)["p_out"]  # before the serving thread owns it
    stop = threading.Event()
    thread = threading.Thread(target=nodes.serve_forever, kwargs={"paced": True, "stop": stop}, daemon=True)
    thread.start()
    yield host, nodes, stop, thread
    stop.set()
    thread.join(5.0)
    host.shutdown()
    node_bus.shutdown()


def test_impedance_loop_pulls_the_joint_to_the_spring_rest_point(served):
    host, nodes, stop, thread = served
    board = load_board(BOARD_PATH)
    a, b = Actuator(host, 25, board=board), Actuator(host, 26, board=board)
    # status() waits for the next periodic Status frame; at the default 100 ms
    # period that wait could outlast the 100 ms command watchdog once the
    # command stream stops, so the node reports every 20 ms here
    a.write_param("heartbeat_period_s", 0.02)
    assert a.enable().node_state == "ARMED" and b.enable().node_state == "ARMED"
    p0 = a.set_impedance(0.0, 0.0, 0.0, 0.0, 0.0).p_out_rad   # zero torque: where it is
    target, kp, kd = p0 + 0.2, 50.0, 2.0
    group = ActuatorGroup(host, [a, b])
    states = []
    t_next = time.perf_counter()
    for _ in range(700):  # 0.7 s at 1 kHz
        states.append(group.set_impedance({25: (target, 0.0, kp, kd, 0.0), 26: (p0, 0.0, 0.0, 0.5, 0.0)},
                                          timeout_s=0.05))
        t_next += 0.001
        time.sleep(max(0.0, t_next - time.perf_counter()))
    assert all(s[25].mode == "IMPEDANCE" and s[25].faults == 0 for s in states)
    p = [s[25].p_out_rad for s in states]
    assert max(p) > p0 + 0.1                      # it moved towards the target
    step = (board.can.impedance_ranges.p_max_rad - board.can.impedance_ranges.p_min_rad) / 65535
    friction_out = board.motor.tau_coulomb_nm * board.gearbox.ratio / board.gearbox.efficiency
    assert abs(p[-1] - target) <= friction_out / kp + step
    assert abs(states[-1][26].p_out_rad - p0) < 0.01   # the other joint, damped only, stayed
    status = a.status()
    assert status.v_bus_v == pytest.approx(board.inverter.v_bus_v, rel=0.02)
    assert status.heartbeat is not None and status.heartbeat.node_state == "RUNNING"
    assert a.disable().node_state == "IDLE"
    stop.set()
    thread.join(5.0)
    # the node's position (encoder, absolute) moved as much as the plant's output did
    moved = nodes.plant_state(25)["p_out"] - nodes.p_out_start
    assert moved == pytest.approx(p[-1] - p0, abs=0.005)
