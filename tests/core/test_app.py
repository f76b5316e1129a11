"""The actuator application (mf_app) driven by CAN frames that cantools encodes.

Frames come from actuators.protocol (cantools + the MIT packing written from
the protocol definition); replies are decoded the same way. The expected
values come from those independent codecs, from the impedance law written out
here, and from zlib's CRC-32 for the flash page.
"""
from __future__ import annotations

import math
import struct
import zlib

import pytest

from actuators import core
from actuators import protocol as p
from actuators.core.config import CtrlConfig, make_ctrl_config

NODE = 7
PWM_S = 25e-6
ADC_ZERO = (32768, 32768, 32768)  # 0 A with the offset below
VBUS_RAW = 4800  # 48 V at 0.01 V per count
ENC = 1234
RANGES = p.ImpedanceRanges(p_min_rad=-4.0, p_max_rad=4.0, v_min_rad_s=-30.0, v_max_rad_s=30.0,
                           kp_max_nm_rad=200.0, kd_max_nms_rad=4.0, tau_min_nm=-15.0, tau_max_nm=15.0)
FAULT_BITS = {v: n for v, n in p.choices("Status", "fault_bits").items()}
REFUSED_BIT = 1 << 10  # StateReply fault_bits: the reply answers a refused setpoint (mf_app.h)
STATES = {v: n for v, n in p.choices("Heartbeat", "node_state").items()}
MODES = {v: n for v, n in p.choices("StateReply", "mode").items()}
STATUS = {v: n for v, n in p.choices("ParamReply", "param_status").items()}


def make_config() -> CtrlConfig:
    cfg = make_ctrl_config(r_ohm=0.12, ld_h=60e-6, lq_h=60e-6, flux_wb=0.006, pole_pairs=14,
                           gear_ratio=9.0, pwm_period_s=PWM_S,
                           current_bandwidth_rad_s=2 * math.pi * 1000.0)
    cfg.adc_i_gain_a = 0.005
    cfg.adc_i_offset = 32768.0
    cfg.adc_vbus_gain_v = 0.01
    # no plant behind the ADC here: a current reference winds the PI up and
    # the back-EMF check would call the (still) encoder stuck after 50 ms
    cfg.protect.enc_stuck_s = 5.0
    return cfg


def make_app(**kw) -> core.App:
    app = core.App(make_config(), node_id=kw.pop("node_id", NODE), ranges=RANGES, **kw)
    app.run(10, ADC_ZERO, VBUS_RAW, ENC)
    app.tick(0.001)
    app.tx_all()
    return app


def send(app: core.App, name: str, values: dict, node: int = NODE, fd: bool = False) -> int:
    frame = p.encode(name, node, values)
    return app.on_frame(frame.can_id, frame.data, fd or frame.is_fd)


def replies(app: core.App) -> list[p.Decoded]:
    return [p.decode(can_id, data) for can_id, data, _ in app.tx_all()]


def only(app: core.App, name: str) -> p.Decoded:
    got = replies(app)
    assert [d.name for d in got] == [name], got
    assert got[0].node_id == app.node_id
    return got[0]


def control(app: core.App, cmd: str, seq: int) -> dict:
    send(app, "Control", {"control_cmd": cmd, "control_seq": seq})
    return only(app, "Heartbeat").values


def run(app: core.App, n: int) -> int:
    faults, _ = app.run(n, ADC_ZERO, VBUS_RAW, ENC)
    return faults


def test_boot_announcement_then_heartbeat_every_100_ms():
    app = core.App(make_config(), node_id=NODE, ranges=RANGES)
    assert STATES[app.state] == "BOOT"
    app.run(10, ADC_ZERO, VBUS_RAW, ENC)
    app.tick(0.0)
    first = replies(app)
    assert [d.name for d in first] == ["Heartbeat", "Status"]
    hb = first[0].values
    assert STATES[hb["node_state"]] == "BOOT"
    assert hb["protocol_version"] == p.protocol_version()
    status = first[1].values
    assert status["v_bus_v"] == pytest.approx(48.0, abs=0.01)
    assert status["fault_bits"] == 0
    assert STATES[app.state] == "IDLE"
    beats = []
    for _ in range(2000):  # 2 s at 1 kHz
        app.tick(0.001)
        beats += [d for d in replies(app) if d.name == "Heartbeat"]
    assert len(beats) == 20
    assert [b.values["uptime_ms"] for b in beats] == [100 * (k + 1) for k in range(20)]
    assert all(STATES[b.values["node_state"]] == "IDLE" for b in beats)


def test_enable_impedance_obeys_the_mit_law_and_replies_once():
    app = make_app()
    hb = control(app, "ENABLE", 11)
    assert (STATES[hb["node_state"]], hb["control_seq"]) == ("ARMED", 11)
    p_out = app.signals()["p_out"]
    raw = p.pack_impedance(p_out + 0.25, 0.5, 30.0, 0.8, -1.5, RANGES)
    assert send(app, "ImpedanceCommand", raw) == core.FRAME_OK
    reply = only(app, "StateReply").values
    assert MODES[reply["mode"]] == "IMPEDANCE" and reply["fault_bits"] == 0
    assert STATES[app.state] == "RUNNING"
    # the node decoded the raw fields as the protocol's Python reference does
    want = p.unpack_impedance(raw, RANGES)
    got = app.command
    for key, ref in (("p_des", want.p_des_rad), ("v_des", want.v_des_rad_s), ("kp", want.kp_nm_rad),
                     ("kd", want.kd_nms_rad), ("tau_ff", want.tau_ff_nm)):
        assert got[key] == pytest.approx(ref, rel=1e-6, abs=1e-6), key
    run(app, 40)
    sig = app.signals()
    tau = (want.kp_nm_rad * (want.p_des_rad - sig["p_out"]) + want.kd_nms_rad * (want.v_des_rad_s - sig["v_out"])
           + want.tau_ff_nm)
    assert sig["tau_out_ref"] == pytest.approx(tau, rel=1e-5)
    assert app.pwm_enable
    # the state reply quantises the state on the node's ranges (saturating)
    send(app, "ImpedanceCommand", raw)
    reply = only(app, "StateReply").values
    sig = app.signals()
    ref = p.pack_state(sig["p_out"], sig["v_out"], sig["tau_out_est"], RANGES, saturate=True)
    for key in ref:
        assert abs(reply[key] - ref[key]) <= 1, key
    assert reply["temp_c"] == 25


def test_current_velocity_position_muscle_commands():
    app = make_app()
    control(app, "ENABLE", 1)
    assert send(app, "CurrentCommand", {"i_d_ref_a": -1.0, "i_q_ref_a": 4.5}) == core.FRAME_OK
    assert MODES[only(app, "StateReply").values["mode"]] == "CURRENT"
    run(app, 4)
    assert (app.signals()["i_d_ref"], app.signals()["i_q_ref"]) == pytest.approx((-1.0, 4.5))

    assert send(app, "VelocityCommand", {"v_out_ref_rad_s": 2.5, "tau_ff_nm": 0.75}) == core.FRAME_OK
    assert MODES[only(app, "StateReply").values["mode"]] == "VELOCITY"
    assert (app.command["v_out_ref"], app.command["tau_ff_nm"]) == pytest.approx((2.5, 0.75))

    frame = p.encode("PositionCommand", NODE, {"p_out_ref_rad": 1.25, "v_out_ff_rad_s": -3.2,
                                               "tau_ff_nm": 2.37})
    sent = p.decode(frame.can_id, frame.data).values  # what the int16 fields carry
    assert app.on_frame(frame.can_id, frame.data) == core.FRAME_OK
    assert MODES[only(app, "StateReply").values["mode"]] == "POSITION"
    cmd = app.command
    assert cmd["p_out_ref"] == pytest.approx(1.25, abs=1e-7)
    assert cmd["v_out_ref"] == pytest.approx(sent["v_out_ff_rad_s"], abs=1e-6)
    assert cmd["tau_ff_nm"] == pytest.approx(sent["tau_ff_nm"], abs=1e-6)

    frame = p.encode("MuscleCommand", NODE, {"u_flex": 1.0, "u_ext": 0.3})
    sent = p.decode(frame.can_id, frame.data).values
    assert app.on_frame(frame.can_id, frame.data) == core.FRAME_OK
    assert MODES[only(app, "StateReply").values["mode"]] == "MUSCLE"
    assert app.command["u_flex"] == 1.0  # raw 65535 is exactly full excitation
    assert app.command["u_ext"] == pytest.approx(sent["u_ext"], abs=1e-7)
    assert app.counters["rx_reject"] == 0


@pytest.mark.parametrize("target", ["VelocityCommand", "PositionCommand"])
def test_mode_switch_keeps_the_torque(target):
    def hold_then_switch(via_idle: bool) -> tuple[float, float]:
        app = make_app()
        control(app, "ENABLE", 1)
        p_out = app.signals()["p_out"]
        send(app, "ImpedanceCommand", p.pack_impedance(p_out + 0.1, 0.0, 40.0, 0.0, 0.0, RANGES))
        only(app, "StateReply")
        run(app, 40)
        before = app.signals()["tau_out_ref"]
        if via_idle:
            control(app, "DISABLE", 2)
            run(app, 4)
            control(app, "ENABLE", 3)
        values = ({"v_out_ref_rad_s": 0.0, "tau_ff_nm": 0.0} if target == "VelocityCommand" else
                  {"p_out_ref_rad": app.signals()["p_out"], "v_out_ff_rad_s": 0.0, "tau_ff_nm": 0.0})
        assert send(app, target, values) == core.FRAME_OK
        only(app, "StateReply")
        run(app, 4)  # one outer-loop period
        return before, app.signals()["tau_out_ref"]

    before, after = hold_then_switch(via_idle=False)
    assert before == pytest.approx(40.0 * 0.1, rel=2e-3)  # kp * error (raw quantisation)
    assert abs(after - before) < 1e-4 * before
    # the same switch through IDLE drops the torque: what the direct path avoids
    before, after = hold_then_switch(via_idle=True)
    assert abs(after) < 1e-3 * before


def test_setpoints_refused_outside_armed_running_and_out_of_range():
    app = make_app()
    assert send(app, "CurrentCommand", {"i_d_ref_a": 0.0, "i_q_ref_a": 1.0}) == -4
    reply = only(app, "StateReply").values
    assert MODES[reply["mode"]] == "IDLE"
    assert reply["fault_bits"] == REFUSED_BIT  # answered with the refusal flag, no fault
    assert run(app, 10) == 0 and not app.pwm_enable
    control(app, "ENABLE", 1)
    send(app, "CurrentCommand", {"i_d_ref_a": 0.0, "i_q_ref_a": 1.0})
    accepted = [d for d in replies(app) if d.name == "StateReply"][0].values
    assert accepted["fault_bits"] & REFUSED_BIT == 0
    limit = make_config().i_limit_a
    bad = [("CurrentCommand", {"i_d_ref_a": 0.0, "i_q_ref_a": limit * 1.01}, "rx_out_of_range"),
           ("CurrentCommand", {"i_d_ref_a": 0.8 * limit, "i_q_ref_a": 0.8 * limit}, "rx_out_of_range"),
           ("VelocityCommand", {"v_out_ref_rad_s": 31.0, "tau_ff_nm": 0.0}, "rx_out_of_range"),
           ("VelocityCommand", {"v_out_ref_rad_s": 1.0, "tau_ff_nm": -16.0}, "rx_out_of_range"),
           ("PositionCommand", {"p_out_ref_rad": 4.5, "v_out_ff_rad_s": 0.0, "tau_ff_nm": 0.0},
            "rx_out_of_range"),
           ("PositionCommand", {"p_out_ref_rad": 0.0, "v_out_ff_rad_s": 0.0, "tau_ff_nm": 20.0},
            "rx_out_of_range")]
    for name, values, reason in bad:
        before = app.counters
        assert send(app, name, values) == -3, (name, values)
        assert app.counters[reason] == before[reason] + 1
        reply = only(app, "StateReply").values
        assert MODES[reply["mode"]] == "CURRENT" and reply["fault_bits"] == REFUSED_BIT
        assert app.command["i_q_ref"] == 1.0
    nan = struct.pack("<ff", float("nan"), 1.0)
    assert app.on_frame(p.frame_id("CurrentCommand", NODE), nan) == -3
    assert app.counters["rx_non_finite"] == 1
    assert app.command["i_q_ref"] == 1.0
    app.tick(0.1)
    hb = [d for d in replies(app) if d.name == "Heartbeat"][0].values
    assert hb["rx_reject_count"] == app.counters["rx_reject"] == 1 + len(bad) + 1


def test_estop_fault_and_clear():
    app = make_app()
    control(app, "ENABLE", 1)
    send(app, "CurrentCommand", {"i_d_ref_a": 0.0, "i_q_ref_a": 1.0})
    run(app, 8)
    assert app.pwm_enable
    replies(app)
    assert send(app, "EmergencyStop", {"estop_source": 42}, node=0) == core.FRAME_OK
    assert STATES[app.state] == "FAULT" and app.last_estop_source == 42
    assert replies(app) == []
    _, on = app.run(100, ADC_ZERO, VBUS_RAW, ENC)
    assert on == 0
    send(app, "CurrentCommand", {"i_d_ref_a": 0.0, "i_q_ref_a": 1.0})
    reply = only(app, "StateReply").values  # refused in FAULT: the e-stop bit and the refusal flag
    assert FAULT_BITS[reply["fault_bits"] & ~REFUSED_BIT] == "ESTOP" and MODES[reply["mode"]] == "IDLE"
    assert reply["fault_bits"] & REFUSED_BIT
    hb = control(app, "ENABLE", 2)  # refused: the heartbeat keeps the last applied seq
    assert (STATES[hb["node_state"]], hb["control_seq"]) == ("FAULT", 1)
    hb = control(app, "CLEAR_FAULTS", 3)
    assert (STATES[hb["node_state"]], hb["control_seq"]) == ("IDLE", 3)
    _, on = app.run(100, ADC_ZERO, VBUS_RAW, ENC)
    assert on == 0  # clearing never restarts motion


def test_command_watchdog_trips_after_cmd_timeout():
    app = make_app()
    control(app, "ENABLE", 1)
    send(app, "CurrentCommand", {"i_d_ref_a": 0.0, "i_q_ref_a": 0.0})
    only(app, "StateReply")
    periods = 0
    while app.faults == 0 and periods < 10000:
        run(app, 1)
        periods += 1
    timeout = make_config().protect.cmd_timeout_s
    assert abs(periods * PWM_S - timeout) <= 1.5 * PWM_S, periods
    assert FAULT_BITS[app.faults] == "CMD_TIMEOUT" and STATES[app.state] == "FAULT"
    assert STATES[control(app, "CLEAR_FAULTS", 2)["node_state"]] == "IDLE"


def test_param_requests_over_can():
    app = make_app()

    def request(op: str, index: int, value: float = 0.0, seq: int = 9) -> dict:
        send(app, "ParamRequest", {"param_index": index, "param_op": op, "param_seq": seq,
                                   "param_value": value})
        reply = only(app, "ParamReply").values
        assert (reply["param_index"], reply["param_seq"]) == (index, seq)
        return reply

    table = {row["name"]: row for row in core.param_table()}
    kq = table["current.pi_q.kp"]["index"]
    reply = request("READ", kq)
    assert STATUS[reply["param_status"]] == "OK"
    assert reply["param_value"] == pytest.approx(make_config().current.pi_q.kp, rel=1e-6)
    reply = request("WRITE", kq, 0.5)
    assert (STATUS[reply["param_status"]], reply["param_value"]) == ("OK", 0.5)
    assert app.read_param(kq) == 0.5
    assert STATUS[request("WRITE", kq, -1.0)["param_status"]] == "OUT_OF_RANGE"
    assert STATUS[request("WRITE", table["i_limit_a"]["index"], 45.0)["param_status"]] == "OUT_OF_RANGE"
    assert app.read_param(table["i_limit_a"]["index"]) == 30.0  # rolled back: above i_max_a 40 A
    assert STATUS[request("WRITE", 0, 3.0)["param_status"]] == "READ_ONLY"
    reply = request("READ", 4000)
    assert STATUS[reply["param_status"]] == "UNKNOWN_INDEX" and math.isnan(reply["param_value"])
    control(app, "ENABLE", 1)
    assert STATUS[request("WRITE", table["gear_ratio"]["index"], 6.0)["param_status"]] == "WRONG_STATE"
    assert STATUS[request("SAVE", 0)["param_status"]] == "WRONG_STATE"
    control(app, "DISABLE", 2)
    assert STATUS[request("WRITE", table["gear_ratio"]["index"], 6.0)["param_status"]] == "OK"
    # SAVE is answered once the HAL has stored the page
    send(app, "ParamRequest", {"param_index": 0, "param_op": "SAVE", "param_seq": 4, "param_value": 0.0})
    assert app.save_requested and replies(app) == []
    page = app.params_save()
    app.save_done(True)
    assert STATUS[only(app, "ParamReply").values["param_status"]] == "OK"
    assert zlib.crc32(page[:-4]) == int.from_bytes(page[-4:], "little")


def test_param_table_defaults_match_the_python_config():
    table = core.param_table()
    assert [r["index"] for r in table] == sorted({r["index"] for r in table})
    cfg = CtrlConfig().as_dict()
    cfg.update({f"ranges.{k}": v for k, v in vars(p.MINI_CHEETAH_RANGES).items()})
    checked = 0
    for row in table:
        value = cfg
        for part in row["name"].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if row["name"].startswith("ranges."):
            value = cfg[row["name"]]
        if value is None:
            continue
        assert row["default"] == pytest.approx(float(value), rel=1e-6), row["name"]
        assert row["min"] <= row["default"] <= row["max"], row["name"]
        checked += 1
    assert checked >= 40


def test_params_survive_a_restart_through_the_page():
    app = make_app()
    writes = {row["index"]: row for row in core.param_table() if row["persistent"]}
    new = {32: 0.41, 35: 812.5, 48: 3.5, 64: 25.0, 80: 1.25, 81: -1.0, 83: 6.0, 108: 0.2,
           112: -3.0, 113: 3.5, 17: 4.0, 18: 2.0}
    for index, value in new.items():
        assert app.write_param(index, value) == 0, writes[index]["name"]
    page = app.params_save()
    fresh = core.App(make_config(), node_id=NODE, ranges=RANGES)
    fresh.params_load(page)
    for index in writes:
        assert fresh.read_param(index) == app.read_param(index), writes[index]["name"]
    for index, value in new.items():
        assert fresh.read_param(index) == pytest.approx(value, rel=1e-7)


def test_corrupt_pages_change_nothing():
    src = make_app()
    src.write_param(34, 0.9)
    page = src.params_save()
    app = core.App(make_config(), node_id=NODE, ranges=RANGES)
    defaults = {row["index"]: app.read_param(row["index"]) for row in core.param_table()}

    def refused(data: bytes) -> None:
        with pytest.raises(ValueError):
            app.params_load(data)
        assert {i: app.read_param(i) for i in defaults} == defaults

    for k in range(0, len(page), 5):  # one flipped byte anywhere: the CRC catches it
        refused(page[:k] + bytes([page[k] ^ 0x01]) + page[k + 1:])
    for n in (0, 7, 12, len(page) - 1):
        refused(page[:n])
    body = bytearray(page[:-4])
    body[4] = 2  # a page version this firmware does not know, with a valid CRC
    refused(bytes(body) + zlib.crc32(bytes(body)).to_bytes(4, "little"))
    body = bytearray(page[:-4])
    body[8 + 2:8 + 6] = struct.pack("<f", 500.0)  # node_id 500, with a valid CRC
    refused(bytes(body) + zlib.crc32(bytes(body)).to_bytes(4, "little"))
    app.params_load(page)
    assert app.read_param(34) == pytest.approx(0.9)


def test_group_command_reads_its_own_slot():
    app = make_app(group_id=3, slot=5)
    control(app, "ENABLE", 1)
    slots = [None] * 8
    slots[5] = p.pack_impedance(0.5, -1.0, 12.0, 0.3, 2.0, RANGES)
    slots[4] = p.pack_impedance(-3.0, 5.0, 150.0, 3.0, -9.0, RANGES)
    assert send(app, "GroupCommand", p.group_slots_to_values(slots), node=3) == core.FRAME_OK
    want = p.unpack_impedance(slots[5], RANGES)
    assert app.command["p_des"] == pytest.approx(want.p_des_rad, abs=1e-6)
    assert app.command["kp"] == pytest.approx(want.kp_nm_rad, rel=1e-6)
    [(can_id, data, fd)] = app.tx_all()
    assert fd and p.decode(can_id, data).name == "StateReply" and can_id == p.frame_id("StateReply", NODE)
    assert send(app, "GroupCommand", p.group_slots_to_values(slots), node=4) == core.FRAME_IGNORED
    assert app.tx_all() == [] and app.counters["rx_reject"] == 0
