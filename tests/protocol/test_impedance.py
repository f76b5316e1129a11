"""MIT-mode raw packing (actuators/protocol/impedance.py).

References: the mini-cheetah motor firmware's float_to_uint / uint_to_float
(written out here from the MIT protocol: truncating pack, linear unpack),
and the half-step bound of a rounding quantiser.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actuators import protocol
from actuators.protocol import ImpedanceRanges, ProtocolError

R = protocol.MINI_CHEETAH_RANGES
FIELDS = [  # (argument, low, high, bits)
    ("p_des_rad", R.p_min_rad, R.p_max_rad, 16),
    ("v_des_rad_s", R.v_min_rad_s, R.v_max_rad_s, 12),
    ("kp_nm_rad", 0.0, R.kp_max_nm_rad, 12),
    ("kd_nms_rad", 0.0, R.kd_max_nms_rad, 12),
    ("tau_ff_nm", R.tau_min_nm, R.tau_max_nm, 12),
]


def mit_float_to_uint(x: float, x_min: float, x_max: float, bits: int) -> int:
    """MIT mini-cheetah float_to_uint: (int)((x - x_min) * (2^bits - 1) / span), truncating."""
    return int((x - x_min) * float((1 << bits) - 1) / (x_max - x_min))


def mit_uint_to_float(x_int: int, x_min: float, x_max: float, bits: int) -> float:
    """MIT mini-cheetah uint_to_float: x_int * span / (2^bits - 1) + x_min."""
    return x_int * (x_max - x_min) / float((1 << bits) - 1) + x_min


def _step(lo: float, hi: float, bits: int) -> float:
    return (hi - lo) / ((1 << bits) - 1)


def test_round_trip_within_half_a_step_on_random_setpoints() -> None:
    rng = np.random.default_rng(1)
    worst = {f[0]: 0.0 for f in FIELDS}
    for _ in range(5000):
        x = [rng.uniform(lo, hi) for _, lo, hi, _ in FIELDS]
        back = protocol.unpack_impedance(protocol.pack_impedance(*x, R), R)
        got = [back.p_des_rad, back.v_des_rad_s, back.kp_nm_rad, back.kd_nms_rad, back.tau_ff_nm]
        for (name, lo, hi, bits), xi, gi in zip(FIELDS, x, got):
            err = abs(gi - xi) / _step(lo, hi, bits)
            worst[name] = max(worst[name], err)
    for name, err in worst.items():
        assert err <= 0.5 + 1e-9, f"{name}: {err} steps"
        assert err > 0.45, f"{name}: the random test never came near half a step ({err})"


@settings(max_examples=300, deadline=None)
@given(lo=st.floats(-1e3, 1e3), span=st.floats(1e-3, 1e3), frac=st.floats(0.0, 1.0),
       bits=st.sampled_from([12, 16]))
def test_quantiser_round_trip_any_range(lo: float, span: float, frac: float, bits: int) -> None:
    hi = lo + span
    x = min(lo + frac * span, hi)
    raw = protocol.quantise(x, lo, hi, bits)
    assert 0 <= raw <= (1 << bits) - 1
    err = abs(protocol.dequantise(raw, lo, hi, bits) - x)
    assert err <= 0.5 * _step(lo, hi, bits) * (1 + 1e-9) + 1e-12 * max(abs(lo), abs(hi))


def test_ends_of_the_ranges_map_to_raw_ends_and_back_exactly() -> None:
    lo_raw = protocol.pack_impedance(R.p_min_rad, R.v_min_rad_s, 0.0, 0.0, R.tau_min_nm, R)
    hi_raw = protocol.pack_impedance(R.p_max_rad, R.v_max_rad_s, R.kp_max_nm_rad, R.kd_max_nms_rad,
                                     R.tau_max_nm, R)
    assert lo_raw == {"p_des_raw": 0, "v_des_raw": 0, "kp_raw": 0, "kd_raw": 0, "tau_ff_raw": 0}
    assert hi_raw == {"p_des_raw": 65535, "v_des_raw": 4095, "kp_raw": 4095, "kd_raw": 4095,
                      "tau_ff_raw": 4095}
    hi = protocol.unpack_impedance(hi_raw, R)
    assert (hi.p_des_rad, hi.kp_nm_rad, hi.tau_ff_nm) == (R.p_max_rad, R.kp_max_nm_rad, R.tau_max_nm)


def test_against_the_mit_reference_functions() -> None:
    """Unpack equals MIT uint_to_float; rounding pack is MIT's truncation or one above it."""
    rng = np.random.default_rng(2)
    for name, lo, hi, bits in FIELDS:
        for raw in range(0, 1 << bits, 7 if bits == 16 else 1):
            assert math.isclose(protocol.dequantise(raw, lo, hi, bits), mit_uint_to_float(raw, lo, hi, bits),
                                rel_tol=1e-12, abs_tol=1e-12)
        for x in rng.uniform(lo, hi, 2000):
            ours = protocol.quantise(float(x), lo, hi, bits)
            mit = mit_float_to_uint(float(x), lo, hi, bits)
            assert ours - mit in (0, 1), name
            frac = (x - lo) / (hi - lo) * ((1 << bits) - 1) - mit
            assert (ours - mit == 1) == (frac >= 0.5), name


def test_raw_to_value_to_raw_is_identity_for_every_12_bit_code() -> None:
    for name, lo, hi, bits in FIELDS[1:]:
        for raw in range(1 << bits):
            assert protocol.quantise(protocol.dequantise(raw, lo, hi, bits), lo, hi, bits) == raw, name


@pytest.mark.parametrize("index", range(5))
def test_out_of_range_raises_naming_the_field(index: int) -> None:
    name, lo, hi, _ = FIELDS[index]
    base = [0.0, 0.0, 1.0, 0.1, 0.0]
    for bad in (hi + 1e-6 * (hi - lo), lo - 1e-6 * (hi - lo), float("nan"), float("inf")):
        args = list(base)
        args[index] = bad
        with pytest.raises(ProtocolError, match=name) as info:
            protocol.pack_impedance(*args, R)
        if math.isfinite(bad):
            assert f"[{lo}, {hi}]" in str(info.value)


def test_state_packing_raises_or_saturates_on_request() -> None:
    with pytest.raises(ProtocolError, match=r"v_out_rad_s = 70\.0 outside \[-65\.0, 65\.0\] rad/s"):
        protocol.pack_state(0.0, 70.0, 0.0, R)
    raw = protocol.pack_state(-20.0, 70.0, -1e9, R, saturate=True)
    assert raw == {"p_out_raw": 0, "v_out_raw": 4095, "tau_out_raw": 0}
    with pytest.raises(ProtocolError, match="tau_out_nm"):
        protocol.pack_state(0.0, 0.0, float("nan"), R, saturate=True)
    state = protocol.unpack_state(protocol.pack_state(1.0, -2.0, 3.0, R), R)
    assert abs(state.p_out_rad - 1.0) <= 0.5 * _step(R.p_min_rad, R.p_max_rad, 16)
    assert abs(state.v_out_rad_s + 2.0) <= 0.5 * _step(R.v_min_rad_s, R.v_max_rad_s, 12)
    assert abs(state.tau_out_nm - 3.0) <= 0.5 * _step(R.tau_min_nm, R.tau_max_nm, 12)


def test_bad_raw_values_and_ranges_raise() -> None:
    raw = protocol.pack_impedance(0.0, 0.0, 0.0, 0.0, 0.0, R)
    with pytest.raises(ProtocolError, match=r"kd_raw = 4096: must be an integer in \[0, 4095\]"):
        protocol.unpack_impedance({**raw, "kd_raw": 4096}, R)
    with pytest.raises(ProtocolError, match="lack 'tau_ff_raw'"):
        protocol.unpack_impedance({k: v for k, v in raw.items() if k != "tau_ff_raw"}, R)
    with pytest.raises(ProtocolError, match="p_min_rad = 1.0 must be below p_max_rad = 1.0"):
        ImpedanceRanges(1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0)
    with pytest.raises(ProtocolError, match="kd_max_nms_rad = 0.0"):
        ImpedanceRanges(-1.0, 1.0, -1.0, 1.0, 1.0, 0.0, -1.0, 1.0)
    with pytest.raises(ProtocolError, match="tau_max_nm = nan"):
        ImpedanceRanges(-1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, float("nan"))


def test_group_command_of_eight_setpoints_round_trips_through_the_frame() -> None:
    rng = np.random.default_rng(3)
    ranges = [ImpedanceRanges(-math.pi * (k + 1), math.pi * (k + 1), -30.0, 30.0, 200.0, 4.0, -10.0 * (k + 1),
                              10.0 * (k + 1)) for k in range(8)]
    setpoints = [[rng.uniform(r.p_min_rad, r.p_max_rad), rng.uniform(-30, 30), rng.uniform(0, 200),
                  rng.uniform(0, 4), rng.uniform(r.tau_min_nm, r.tau_max_nm)] for r in ranges]
    slots = [protocol.pack_impedance(*sp, r) for sp, r in zip(setpoints, ranges)]
    frame = protocol.encode("GroupCommand", 5, protocol.group_slots_to_values(slots))
    assert frame.can_id == 0x085 and frame.is_fd and len(frame.data) == 64
    back = protocol.group_values_to_slots(protocol.decode(frame.can_id, frame.data).values)
    for k, (sp, r) in enumerate(zip(setpoints, ranges)):
        assert back[k] == slots[k]
        assert frame.data[8 * k:8 * k + 8] == protocol.encode("ImpedanceCommand", 1, slots[k]).data
        got = protocol.unpack_impedance(back[k], r)
        assert abs(got.tau_ff_nm - sp[4]) <= 0.5 * _step(r.tau_min_nm, r.tau_max_nm, 12) + 1e-12
    # fewer slots: the rest are zero; too many is an error
    values = protocol.group_slots_to_values(slots[:3] + [None])
    assert values["slot7_kp_raw"] == 0 and values["slot3_p_des_raw"] == 0
    with pytest.raises(ProtocolError, match="at most 8"):
        protocol.group_slots_to_values(slots + slots[:1])
