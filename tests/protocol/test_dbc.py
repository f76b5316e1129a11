"""The DBC (actuators/protocol/myofoc.dbc) against the protocol spec and the C core.

The spec side is written out here (function table, frame sizes, FD flags,
unit suffixes); the enumerations are parsed from the core's headers.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from actuators import protocol
from actuators.protocol import ProtocolError

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "actuators" / "core"

# The function-code table of docs/protocol.md: name -> (function, DLC, CAN FD).
SPEC = {
    "EmergencyStop": (0, 1, False),
    "GroupCommand": (1, 64, True),
    "GroupState": (2, 64, True),
    "Control": (3, 2, False),
    "ImpedanceCommand": (4, 8, False),
    "CurrentCommand": (5, 8, False),
    "VelocityCommand": (6, 8, False),
    "PositionCommand": (7, 8, False),
    "MuscleCommand": (8, 4, False),
    "StateReply": (9, 8, False),
    "ParamRequest": (10, 8, False),
    "ParamReply": (11, 8, False),
    "Status": (12, 8, False),
    "Heartbeat": (13, 8, False),
}
UDS_REQUEST_FUNCTION = 14
UDS_RESPONSE_FUNCTION = 15

# name suffix -> DBC unit of physical signals
UNIT_SUFFIXES = [("_rad_s", "rad/s"), ("_rad", "rad"), ("_nm", "N m"), ("_a", "A"), ("_v", "V"),
                 ("_c", "degC"), ("_ms", "ms")]


def _messages():
    return protocol.database().messages


def _occupied_bits(start: int, length: int, big_endian: bool) -> list[int]:
    """Bit positions (byte * 8 + bit, bit 0 = LSB) a DBC signal covers."""
    bits = []
    b = start
    for _ in range(length):
        bits.append(b)
        if big_endian:
            b = b + 15 if b % 8 == 0 else b - 1  # Motorola: MSB first, on to the next byte's bit 7
        else:
            b += 1
    return bits


def test_every_message_of_the_spec_and_no_other() -> None:
    assert {m.name for m in _messages()} == set(SPEC)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_ids_sizes_and_frame_format(name: str) -> None:
    function, dlc, fd = SPEC[name]
    msg = protocol.message(name)
    node = 0 if name == "EmergencyStop" else 1  # the template node (broadcast for the e-stop)
    assert msg.frame_id == function << 7 | node
    assert not msg.is_extended_frame
    assert msg.length == dlc
    assert msg.is_fd == fd
    if fd:
        assert msg.dbc.attributes["CANFD_BRS"].value == 1
    else:
        assert msg.length <= 8
    assert protocol.function_code(name) == function
    assert protocol.message(function) is msg


def test_priorities_follow_the_design() -> None:
    """Lower ID wins arbitration: e-stop, group frames, control, commands, replies, params, status."""
    order = ["EmergencyStop", "GroupCommand", "GroupState", "Control", "ImpedanceCommand",
             "CurrentCommand", "VelocityCommand", "PositionCommand", "MuscleCommand", "StateReply",
             "ParamRequest", "ParamReply", "Status", "Heartbeat"]
    ids = [protocol.frame_id(n, 127) for n in order]
    assert ids == sorted(ids)
    assert protocol.frame_id("EmergencyStop", 0) == 0x000
    # any node's e-stop... still beats every other node's group command
    assert protocol.frame_id("EmergencyStop", 127) < protocol.frame_id("GroupCommand", 1)


def test_uds_functions_are_reserved_and_documented() -> None:
    used = {protocol.function_code(n) for n in SPEC}
    assert UDS_REQUEST_FUNCTION not in used and UDS_RESPONSE_FUNCTION not in used
    assert protocol.uds_ids(1) == (0x701, 0x781)
    assert protocol.uds_ids(127) == (0x77F, 0x7FF)
    comment = protocol.database().dbc.attributes  # network attributes
    assert comment["UdsRequestFunction"].value == UDS_REQUEST_FUNCTION
    assert comment["UdsResponseFunction"].value == UDS_RESPONSE_FUNCTION
    text = (ROOT / "actuators" / "protocol" / "myofoc.dbc").read_text()
    assert "0x700 | node_id" in text and "0x780 | node_id" in text
    with pytest.raises(ProtocolError, match="UDS"):
        protocol.message(UDS_REQUEST_FUNCTION)
    with pytest.raises(ProtocolError, match="node_id"):
        protocol.uds_ids(0)


def test_frame_id_and_split_id_cover_the_11_bit_space() -> None:
    seen = set()
    for function in range(16):
        for node in range(128):
            can_id = protocol.frame_id(function, node)
            assert 0 <= can_id <= 0x7FF
            assert protocol.split_id(can_id) == (function, node)
            seen.add(can_id)
    assert len(seen) == 2048
    assert protocol.frame_id("StateReply", 42) == 9 * 128 + 42
    for bad in (-1, 128, 1.0, True):
        with pytest.raises(ProtocolError, match="node_id"):
            protocol.frame_id("StateReply", bad)  # type: ignore[arg-type]
    for bad_f in (-1, 16):
        with pytest.raises(ProtocolError, match="function"):
            protocol.frame_id(bad_f, 1)
    for bad_id in (-1, 0x800, 0x1FFFFFFF):
        with pytest.raises(ProtocolError, match="11-bit"):
            protocol.split_id(bad_id)
    with pytest.raises(ProtocolError, match="unknown message 'Nope'"):
        protocol.frame_id("Nope", 1)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_signals_fit_and_do_not_overlap(name: str) -> None:
    msg = protocol.message(name)
    owner: dict[int, str] = {}
    for sig in msg.signals:
        bits = _occupied_bits(sig.start, sig.length, sig.byte_order == "big_endian")
        for b in bits:
            assert 0 <= b < 8 * msg.length, f"{name}.{sig.name} leaves the frame at bit {b}"
            assert b not in owner, f"{name}.{sig.name} overlaps {owner[b]} at bit {b}"
            owner[b] = sig.name


@pytest.mark.parametrize("name", sorted(SPEC))
def test_names_units_and_comments(name: str) -> None:
    msg = protocol.message(name)
    assert msg.comment
    for sig in msg.signals:
        assert sig.comment, f"{name}.{sig.name} has no comment"
        assert re.fullmatch(r"[a-z][a-z0-9_]*", sig.name), sig.name
        expected = next((unit for suffix, unit in UNIT_SUFFIXES if sig.name.endswith(suffix)), None)
        if expected is not None:
            assert sig.unit == expected, f"{name}.{sig.name}: unit {sig.unit!r}, name says {expected!r}"
        else:
            assert not sig.unit, f"{name}.{sig.name} has unit {sig.unit!r} but no unit suffix"
        if sig.is_float:
            assert sig.length == 32 and sig.scale == 1 and sig.offset == 0


def test_mit_raw_fields_are_unscaled_with_mit_widths() -> None:
    widths = {"p_des_raw": 16, "v_des_raw": 12, "kp_raw": 12, "kd_raw": 12, "tau_ff_raw": 12,
              "p_out_raw": 16, "v_out_raw": 12, "tau_out_raw": 12}
    for name in ("ImpedanceCommand", "StateReply", "GroupCommand", "GroupState"):
        msg = protocol.message(name)
        for sig in msg.signals:
            base = re.sub(r"^slot\d_", "", sig.name)
            if base in widths:
                assert sig.length == widths[base]
                assert (sig.scale, sig.offset, sig.is_signed) == (1, 0, False)
                assert sig.byte_order == "big_endian"
                assert "2^" in sig.comment


def _parse_modes() -> dict[str, int]:
    text = (CORE / "mf_ctrl.h").read_text()
    modes = {m.group(1): int(m.group(2)) for m in re.finditer(r"\bMF_MODE_(\w+)\s*=\s*(\d+)", text)}
    count = int(re.search(r"#define\s+MF_MODE_COUNT\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    assert len(modes) == count
    return modes


def _parse_faults() -> dict[str, int]:
    text = (CORE / "mf_protect.h").read_text()
    return {m.group(1): 1 << int(m.group(2))
            for m in re.finditer(r"#define\s+MF_FAULT_(\w+)\s+\(1u\s*<<\s*(\d+)\)", text)}


def test_mode_enum_matches_the_core() -> None:
    modes = _parse_modes()
    assert len(modes) >= 7
    table = protocol.choices("StateReply", "mode")
    assert {name: value for value, name in table.items()} == modes
    width = protocol.message("StateReply").get_signal_by_name("mode").length
    assert max(modes.values()) < 1 << width


def test_fault_bits_match_the_core() -> None:
    faults = _parse_faults()
    assert len(faults) >= 10
    for name, signal in (("StateReply", "fault_bits"), ("Status", "fault_bits")):
        table = protocol.choices(name, signal)
        assert {n: v for v, n in table.items()} == faults
        width = protocol.message(name).get_signal_by_name(signal).length
        assert max(faults.values()) < 1 << width, f"{name}.{signal} too narrow for the core's faults"
        comment = protocol.message(name).get_signal_by_name(signal).comment
        for fault_name, bit in faults.items():
            assert f"bit {bit.bit_length() - 1} {fault_name.lower()}" in comment


def test_enumerations_and_protocol_version() -> None:
    assert protocol.choices("Control", "control_cmd") == {0: "DISABLE", 1: "ENABLE", 2: "CLEAR_FAULTS", 3: "INJECT"}
    assert protocol.choices("ParamRequest", "param_op") == {0: "READ", 1: "WRITE", 2: "SAVE"}
    assert protocol.choices("Heartbeat", "node_state") == {0: "BOOT", 1: "IDLE", 2: "ARMED", 3: "RUNNING",
                                                           4: "FAULT"}
    assert protocol.choices("ParamReply", "param_status")[0] == "OK"
    version_bits = protocol.message("Heartbeat").get_signal_by_name("protocol_version").length
    assert 1 <= protocol.protocol_version() < 1 << version_bits
    assert protocol.message("Status").cycle_time == 100
    assert protocol.message("Heartbeat").cycle_time == 100


def test_decode_rejects_malformed_frames_naming_them() -> None:
    with pytest.raises(ProtocolError, match=r"frame 0x205 \(ImpedanceCommand, node 5\): 7 data bytes, expected 8"):
        protocol.decode(0x205, bytes(7))
    with pytest.raises(ProtocolError, match=r"frame 0x103 \(GroupState, group 3\): 8 data bytes, expected 64"):
        protocol.decode(0x103, bytes(8))
    with pytest.raises(ProtocolError, match=r"frame 0x781: function 15 \(UDS response"):
        protocol.decode(0x781, bytes(8))
    with pytest.raises(ProtocolError, match="11-bit"):
        protocol.decode(0x800, bytes(8))
    assert protocol.decode(0x000, b"").values == {"estop_source": 0}
    assert protocol.decode(0x000, b"\x07").values == {"estop_source": 7}
    with pytest.raises(ProtocolError, match="EmergencyStop"):
        protocol.decode(0x000, b"\x07\x00")


def test_encode_rejects_bad_values_naming_message_and_signal() -> None:
    good = {"fault_bits": 0, "v_bus_v": 48.0, "temp_motor_c": 30.0, "temp_fet_c": 35.0}
    frame = protocol.encode("Status", 9, good)
    assert frame.can_id == 0x609 and len(frame.data) == 8 and not frame.is_fd
    cases = [
        ({**good, "v_bus_v": 655.4}, r"Status\.v_bus_v = 655\.4 outside \[0, 655\.35\] V"),
        ({**good, "temp_fet_c": -41}, r"Status\.temp_fet_c = -41 outside \[-40, 215\] degC"),
        ({**good, "v_bus_v": float("nan")}, r"Status\.v_bus_v = nan: must be finite"),
        ({**good, "v_bus_v": "48"}, r"Status\.v_bus_v = '48': not one of"),
        ({k: v for k, v in good.items() if k != "temp_fet_c"}, r"Status: signals missing \['temp_fet_c'\]"),
        ({**good, "extra": 1}, r"Status: signals unknown \['extra'\]"),
    ]
    for values, pattern in cases:
        with pytest.raises(ProtocolError, match=pattern):
            protocol.encode("Status", 9, values)
    with pytest.raises(ProtocolError, match=r"CurrentCommand\.i_q_ref_a = inf"):
        protocol.encode("CurrentCommand", 1, {"i_d_ref_a": 0.0, "i_q_ref_a": float("inf")})
    with pytest.raises(ProtocolError, match=r"CurrentCommand\.i_q_ref_a = 1e\+39: beyond the float32"):
        protocol.encode("CurrentCommand", 1, {"i_d_ref_a": 0.0, "i_q_ref_a": 1e39})
    with pytest.raises(ProtocolError, match=r"ImpedanceCommand\.v_des_raw = 4096 outside \[0, 4095\]"):
        protocol.encode("ImpedanceCommand", 1, {"p_des_raw": 0, "v_des_raw": 4096, "kp_raw": 0, "kd_raw": 0,
                                                "tau_ff_raw": 0})
    with pytest.raises(ProtocolError, match=r"Control\.control_cmd = 'ARM': not one of"):
        protocol.encode("Control", 1, {"control_cmd": "ARM", "control_seq": 0})


def test_encode_decode_round_trip_with_choice_names() -> None:
    frame = protocol.encode("Control", 0, {"control_cmd": "CLEAR_FAULTS", "control_seq": 200})
    assert frame.can_id == 0x180 and frame.data == bytes([2, 200])
    back = protocol.decode(frame.can_id, frame.data)
    assert (back.name, back.function, back.node_id) == ("Control", 3, 0)
    assert back.values == {"control_cmd": 2, "control_seq": 200}
    frame = protocol.encode("MuscleCommand", 3, {"u_flex": 1.0, "u_ext": 0.0})
    assert frame.data == bytes([0xFF, 0xFF, 0, 0])
    assert protocol.decode(frame.can_id, frame.data).values["u_flex"] == 1.0


def test_frames_cross_a_python_can_bus() -> None:
    can = pytest.importorskip("can")
    values = protocol.group_slots_to_values([{"p_des_raw": 1, "v_des_raw": 2, "kp_raw": 3, "kd_raw": 4,
                                              "tau_ff_raw": 5}])
    frame = protocol.encode("GroupCommand", 4, values)
    with can.Bus(interface="virtual", channel="h5-protocol", fd=True) as tx, \
            can.Bus(interface="virtual", channel="h5-protocol", fd=True) as rx:
        tx.send(frame.to_can())
        got = rx.recv(timeout=1.0)
    assert got is not None and got.is_fd and got.bitrate_switch and not got.is_extended_id
    back = protocol.decode_can(got)
    assert (back.name, back.node_id, back.values) == ("GroupCommand", 4, values)
    with pytest.raises(ProtocolError, match="extended frames"):
        protocol.decode_can(can.Message(arbitration_id=0x201, is_extended_id=True, data=bytes(8)))
