"""actuators.commands: every frame checked by decoding it with cantools straight
from the DBC, and by the MIT mapping written here from its definition
(x = raw / (2^bits - 1) * (max - min) + min)."""
from __future__ import annotations

import math
import struct

import can
import cantools
import pytest

from actuators import commands as c
from actuators import core
from actuators import protocol as p
from actuators.protocol import ImpedanceRanges, ImpedanceSetpoint, ProtocolError

DB = cantools.database.load_file(str(p.DBC_PATH))
R = ImpedanceRanges(p_min_rad=-12.5, p_max_rad=12.5, v_min_rad_s=-20.0, v_max_rad_s=20.0,
                    kp_max_nm_rad=500.0, kd_max_nms_rad=10.0, tau_min_nm=-50.0, tau_max_nm=50.0)
R2 = ImpedanceRanges(p_min_rad=-4.0, p_max_rad=4.0, v_min_rad_s=-30.0, v_max_rad_s=30.0,
                     kp_max_nm_rad=200.0, kd_max_nms_rad=4.0, tau_min_nm=-15.0, tau_max_nm=15.0)


def mit(raw: int, lo: float, hi: float, bits: int) -> float:
    return raw / (2 ** bits - 1) * (hi - lo) + lo


def step(lo: float, hi: float, bits: int) -> float:
    return (hi - lo) / (2 ** bits - 1)


def dbc_decode(msg: can.Message) -> tuple[str, dict]:
    """Message name and physical values, by cantools from the DBC (template node 1)."""
    template = msg.arbitration_id & 0x780 | (1 if msg.arbitration_id & 0x780 else 0)
    m = DB.get_message_by_frame_id(template)
    assert len(msg.data) == m.length
    return m.name, m.decode(bytes(msg.data), decode_choices=True)


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def check_impedance(values: dict, prefix: str, sp: ImpedanceSetpoint, r: ImpedanceRanges) -> None:
    got = (mit(values[prefix + "p_des_raw"], r.p_min_rad, r.p_max_rad, 16),
           mit(values[prefix + "v_des_raw"], r.v_min_rad_s, r.v_max_rad_s, 12),
           mit(values[prefix + "kp_raw"], 0.0, r.kp_max_nm_rad, 12),
           mit(values[prefix + "kd_raw"], 0.0, r.kd_max_nms_rad, 12),
           mit(values[prefix + "tau_ff_raw"], r.tau_min_nm, r.tau_max_nm, 12))
    half = (step(r.p_min_rad, r.p_max_rad, 16) / 2, step(r.v_min_rad_s, r.v_max_rad_s, 12) / 2,
            step(0.0, r.kp_max_nm_rad, 12) / 2, step(0.0, r.kd_max_nms_rad, 12) / 2,
            step(r.tau_min_nm, r.tau_max_nm, 12) / 2)
    want = (sp.p_des_rad, sp.v_des_rad_s, sp.kp_nm_rad, sp.kd_nms_rad, sp.tau_ff_nm)
    for g, w, h in zip(got, want, half):
        assert abs(g - w) <= h * (1 + 1e-9), (g, w, h)


@pytest.mark.parametrize("sp", [ImpedanceSetpoint(0.5, -1.25, 40.0, 1.0, 0.2),
                                ImpedanceSetpoint(-12.5, 20.0, 0.0, 10.0, -50.0),
                                ImpedanceSetpoint(12.5, -20.0, 500.0, 0.0, 50.0),
                                ImpedanceSetpoint(3.14159, 7.7, 123.4, 5.55, -17.3)])
def test_impedance_frame_is_the_mit_layout(sp):
    msg = c.make_impedance(37, R, sp.p_des_rad, sp.v_des_rad_s, sp.kp_nm_rad, sp.kd_nms_rad, sp.tau_ff_nm)
    assert (msg.arbitration_id, msg.dlc, msg.is_fd, msg.is_extended_id) == (0x200 | 37, 8, False, False)
    name, values = dbc_decode(msg)
    assert name == "ImpedanceCommand"
    check_impedance(values, "", sp, R)
    # the bytes are the mini-cheetah command: p 16 bit, then v, kp, kd, tau 12 bit, big-endian
    word = int.from_bytes(msg.data, "big")
    assert word >> 48 == values["p_des_raw"]
    assert (word >> 36 & 0xFFF, word >> 24 & 0xFFF, word >> 12 & 0xFFF, word & 0xFFF) == (
        values["v_des_raw"], values["kp_raw"], values["kd_raw"], values["tau_ff_raw"])
    fd = c.make_impedance(37, R, sp.p_des_rad, sp.v_des_rad_s, sp.kp_nm_rad, sp.kd_nms_rad,
                          sp.tau_ff_nm, fd=True)
    assert fd.is_fd and fd.bitrate_switch and bytes(fd.data) == bytes(msg.data)


def test_float_and_scaled_command_frames():
    cases = [
        (c.make_current(5, 7.25, -1.5), "CurrentCommand", {"i_q_ref_a": 7.25, "i_d_ref_a": -1.5}, 0.0),
        (c.make_current(5, 0.1), "CurrentCommand", {"i_q_ref_a": f32(0.1), "i_d_ref_a": 0.0}, 0.0),
        (c.make_velocity(6, -3.3, 0.75), "VelocityCommand", {"v_out_ref_rad_s": f32(-3.3), "tau_ff_nm": 0.75},
         0.0),
        (c.make_position(7, 1.2345678, -3.21, 12.345), "PositionCommand",
         {"p_out_ref_rad": f32(1.2345678), "v_out_ff_rad_s": -3.21, "tau_ff_nm": 12.345}, None),
        (c.make_muscle(8, 0.25, 1.0), "MuscleCommand", {"u_flex": 0.25, "u_ext": 1.0}, 0.5 / 65535),
    ]
    for msg, name, want, tol in cases:
        got_name, values = dbc_decode(msg)
        node = {"CurrentCommand": 5, "VelocityCommand": 6, "PositionCommand": 7, "MuscleCommand": 8}[name]
        assert got_name == name and msg.arbitration_id == p.frame_id(name, node) and not msg.is_fd
        for key, w in want.items():
            if name == "PositionCommand" and key != "p_out_ref_rad":
                lsb = 0.002 if key == "v_out_ff_rad_s" else 0.01
                assert abs(values[key] - w) <= lsb / 2 + 1e-12, key
            else:
                assert abs(values[key] - w) <= (tol or 0.0), (name, key, values[key], w)
    assert c.make_position(7, 0.0).arbitration_id == 0x380 | 7
    assert c.make_velocity(6, 1.0, fd=True).is_fd


def test_control_param_and_estop_frames():
    for maker, cmd in ((c.make_enable, "ENABLE"), (c.make_disable, "DISABLE"),
                       (c.make_clear_faults, "CLEAR_FAULTS")):
        msg = maker(42, 200)
        assert msg.arbitration_id == 0x180 | 42
        assert dbc_decode(msg) == ("Control", {"control_cmd": cmd, "control_seq": 200})
    name, v = dbc_decode(c.make_param_write(9, 64, 12.5, 77))
    assert (name, v["param_index"], v["param_op"], v["param_seq"], v["param_value"]) == (
        "ParamRequest", 64, "WRITE", 77, 12.5)
    _, v = dbc_decode(c.make_param_read(9, 300, 3))
    assert (v["param_index"], v["param_op"], v["param_seq"]) == (300, "READ", 3)
    _, v = dbc_decode(c.make_param_save(9, 4))
    assert (v["param_op"], v["param_seq"]) == ("SAVE", 4)
    estop = c.make_estop()
    assert estop.arbitration_id == 0 and bytes(estop.data) == b"\x00"


def test_group_frame_slots():
    sps = {1: ImpedanceSetpoint(0.5, -1.0, 12.0, 0.3, 2.0),
           4: ImpedanceSetpoint(-3.0, 5.0, 150.0, 3.0, -9.0),
           7: (1.0, 0.0, 20.0, 0.5, 0.0)}
    ranges = [R] * 8
    ranges[4] = R2
    slots = [sps.get(k) for k in range(8)]
    msg = c.make_group_impedance(3, slots, ranges)
    assert (msg.arbitration_id, msg.dlc, msg.is_fd, msg.bitrate_switch) == (0x083, 64, True, True)
    name, values = dbc_decode(msg)
    assert name == "GroupCommand"
    for k in range(8):
        chunk = bytes(msg.data[8 * k:8 * k + 8])
        if k not in sps:
            assert chunk == bytes(8)  # no actuator: zeros
            continue
        sp = sps[k] if isinstance(sps[k], ImpedanceSetpoint) else ImpedanceSetpoint(*sps[k])
        check_impedance(values, f"slot{k}_", sp, ranges[k])
        # each slot is exactly that node's single ImpedanceCommand
        single = c.make_impedance(10, ranges[k], sp.p_des_rad, sp.v_des_rad_s, sp.kp_nm_rad,
                                  sp.kd_nms_rad, sp.tau_ff_nm)
        assert chunk == bytes(single.data)
    with pytest.raises(ProtocolError, match="9 slots"):
        c.make_group_impedance(3, [None] * 9, R)
    with pytest.raises(ProtocolError, match=r"slot 2: kp_nm_rad = 600.0 outside \[0.0, 500.0\]"):
        c.make_group_impedance(3, [None, None, (0.0, 0.0, 600.0, 0.0, 0.0)], R)
    with pytest.raises(ProtocolError, match="group_id"):
        c.make_group_impedance(0, [None, (0.0, 0.0, 1.0, 0.0, 0.0)], R)


@pytest.mark.parametrize("make, field", [
    (lambda: c.make_impedance(5, R, 13.0, 0.0, 0.0, 0.0, 0.0), r"p_des_rad = 13.0 outside \[-12.5, 12.5\] rad"),
    (lambda: c.make_impedance(5, R, 0.0, 0.0, 0.0, 10.5, 0.0), r"kd_nms_rad = 10.5 outside \[0.0, 10.0\]"),
    (lambda: c.make_impedance(5, R, 0.0, 0.0, 0.0, 0.0, math.nan), r"tau_ff_nm = nan: must be a finite"),
    (lambda: c.make_impedance(128, R, 0.0, 0.0, 0.0, 0.0, 0.0), r"node_id = 128"),
    (lambda: c.make_current(5, math.inf), r"CurrentCommand.i_q_ref_a = inf: must be finite"),
    (lambda: c.make_position(5, 0.0, 0.0, 400.0), r"PositionCommand.tau_ff_nm = 400.0 outside"),
    (lambda: c.make_position(5, 0.0, 70.0), r"PositionCommand.v_out_ff_rad_s = 70.0 outside"),
    (lambda: c.make_muscle(5, 1.5, 0.0), r"MuscleCommand.u_flex = 1.5 outside \[0, 1\]"),
    (lambda: c.make_enable(5, 256), r"control_seq = 256"),
    (lambda: c.make_param_write(5, 70000, 1.0, 1), r"param_index = 70000 outside"),
])
def test_out_of_range_raises_protocol_error_naming_the_field(make, field):
    with pytest.raises(ProtocolError, match=field):
        make()


def encode_dbc(name: str, node: int, values: dict, fd: bool = False) -> can.Message:
    m = DB.get_message_by_name(name)
    data = m.encode(values)
    return can.Message(arbitration_id=(m.frame_id & 0x780) | node, data=data, is_extended_id=False, is_fd=fd)


def test_parse_replies():
    raw = {"p_out_raw": 40000, "v_out_raw": 100, "tau_out_raw": 4000, "temp_c": 61, "mode": 5,
           "fault_bits": 0x41}
    st = c.parse_reply(encode_dbc("StateReply", 12, raw), R)
    assert st == c.State(node_id=12, p_out_rad=mit(40000, -12.5, 12.5, 16), v_out_rad_s=mit(100, -20, 20, 12),
                         tau_out_nm=mit(4000, -50, 50, 12), temp_c=61.0, mode="IMPEDANCE", faults=0x41)
    assert st.fault_names == ("overcurrent", "cmd_timeout") == tuple(core.fault_names(0x41))
    assert c.parse_state(encode_dbc("StateReply", 12, raw, fd=True), R).fd
    hb = c.parse_reply(encode_dbc("Heartbeat", 3, {"node_state": 4, "protocol_version": 1, "control_seq": 9,
                                                   "rx_reject_count": 65535, "uptime_ms": 4294967295}))
    assert hb == c.Heartbeat(3, "FAULT", 1, 9, 65535, 4294967295)
    pr = c.parse_reply(encode_dbc("ParamReply", 3, {"param_index": 64, "param_status": 3, "param_seq": 8,
                                                    "param_value": 30.0}))
    assert pr == c.ParamReply(3, 64, "OUT_OF_RANGE", 8, 30.0)
    s = c.parse_reply(encode_dbc("Status", 3, {"fault_bits": (1 << 31) | 512, "v_bus_v": 47.99,
                                               "temp_motor_c": 80, "temp_fet_c": -40}))
    assert (s.faults, s.temp_motor_c, s.temp_fet_c) == ((1 << 31) | 512, 80.0, -40.0)
    assert s.v_bus_v == pytest.approx(47.99, abs=0.005)
    assert s.fault_names == ("estop", "bit31") == tuple(core.fault_names(s.faults))
    slots = {f"slot{k}_{n}": 0 for k in range(8) for n in raw}
    slots.update({f"slot2_{n}": v for n, v in raw.items()})
    gs = c.parse_reply(encode_dbc("GroupState", 5, slots, fd=True), [None, None, R2])
    assert gs.group_id == 5 and len(gs.states) == 8
    assert gs.states[2].p_out_rad == pytest.approx(mit(40000, -4, 4, 16))
    assert math.isnan(gs.states[0].p_out_rad) and gs.states[0].temp_c == 0.0
    with pytest.raises(ProtocolError, match="not a frame an actuator sends"):
        c.parse_reply(c.make_current(5, 1.0))
    with pytest.raises(ProtocolError, match="1 data bytes, expected 8"):
        c.parse_reply(can.Message(arbitration_id=0x485, data=b"\x00", is_extended_id=False), R)
    with pytest.raises(ProtocolError, match="needs the node's ImpedanceRanges"):
        c.parse_reply(encode_dbc("StateReply", 12, raw))
