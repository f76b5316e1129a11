"""Bad input at the actuator's CAN dispatch (mf_app_on_frame).

hypothesis throws random IDs, lengths, bytes and FD flags, non-finite and
out-of-range floats, frames for other nodes and floods at a node. The node
never crashes, never moves on a malformed frame, counts every rejection by
reason and reports the total in its Heartbeat. The acceptance rule a
setpoint is checked against is the one documented in mf_app.h, written out
here in double precision. A libFuzzer harness (tests/core/c/fuzz_app.c, ASan
+ UBSan) runs the same dispatch natively when clang is installed.
"""
from __future__ import annotations

import math
import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from actuators import core
from actuators import protocol as p

from .test_app import ADC_ZERO, ENC, NODE, RANGES, VBUS_RAW, make_app, make_config, replies

ROOT = Path(__file__).resolve().parents[2]
REASONS = ("rx_unknown_id", "rx_bad_length", "rx_out_of_range", "rx_non_finite", "rx_wrong_state")
DBC_LENGTH = {m.frame_id >> 7: m.length for m in p.database().messages}
RECEIVED = {3, 4, 5, 6, 7, 8, 10}  # functions a node acts on (besides e-stop and group frames)
SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

frames = st.tuples(
    st.one_of(st.integers(0, 0x7FF), st.integers(0x800, 0xFFFFFFFF)),
    st.binary(min_size=0, max_size=64),
    st.booleans(),
)
floats32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


def armed_running_app() -> core.App:
    """A node RUNNING a 1 A current command (so a change of command shows)."""
    app = make_app()
    assert app.on_frame(p.frame_id("Control", NODE), bytes([1, 1])) == 0
    assert app.on_frame(p.frame_id("CurrentCommand", NODE), struct.pack("<ff", 0.0, 1.0)) == 0
    app.tx_all()
    return app


def accounted(app: core.App, n_frames: int) -> None:
    c = app.counters
    assert c["rx_ok"] + c["rx_ignored"] + c["rx_reject"] == n_frames
    assert sum(c[r] for r in REASONS) == c["rx_reject"]


@SETTINGS
@given(st.lists(frames, min_size=1, max_size=60), st.integers(0, 2))
def test_random_frames_are_each_accounted_once(batch, start):
    app = make_app()
    n = 0
    if start >= 1:
        app.on_frame(p.frame_id("Control", NODE), bytes([1, 1]))
        n += 1
    if start >= 2:
        app.on_frame(p.frame_id("CurrentCommand", NODE), struct.pack("<ff", 0.0, 0.5))
        n += 1
    for can_id, data, fd in batch:
        rc = app.on_frame(can_id, data, fd)
        n += 1
        assert rc in (0, 1, -1, -3, -4)
        if rc == 1:  # ignored: not for this node
            fn, node = (can_id >> 7) & 0xF, can_id & 0x7F
            assert can_id <= 0x7FF and (node not in (0, NODE) or fn in (1, 2, 14, 15))
        app.run(3, ADC_ZERO, VBUS_RAW, ENC)
        assert app.state in core.NODE_STATES
        accounted(app, n)
    app.tick(0.2)
    beats = [d.values for d in replies(app) if d.name == "Heartbeat"]
    assert beats and beats[-1]["rx_reject_count"] == app.counters["rx_reject"] & 0xFFFF


def malformed() -> st.SearchStrategy:
    """(can_id, data, fd, counter it must land in) of frames that must not act."""
    wrong_len = st.builds(
        lambda fn, node, data, fd: ((fn << 7) | node, data, fd, "rx_bad_length"),
        st.sampled_from(sorted(RECEIVED)), st.sampled_from([0, NODE]),
        st.binary(max_size=64), st.booleans(),
    ).filter(lambda t: len(t[1]) != DBC_LENGTH[t[0] >> 7])
    other_node = st.builds(
        lambda fn, node, data, fd: ((fn << 7) | node, data, fd, "rx_ignored"),
        st.integers(0, 15), st.integers(1, 127).filter(lambda n: n != NODE),
        st.binary(max_size=64), st.booleans(),
    )
    other_group = st.builds(lambda g, data: ((1 << 7) | g, data, True, "rx_ignored"),
                            st.integers(0, 127), st.binary(min_size=64, max_size=64))
    unknown = st.one_of(
        st.builds(lambda i, data: (i, data, False, "rx_unknown_id"), st.integers(0x800, 0xFFFFFFFF),
                  st.binary(max_size=8)),
        st.builds(lambda fn, data: ((fn << 7) | NODE, data, False, "rx_unknown_id"),
                  st.sampled_from([9, 11, 12, 13]), st.binary(max_size=8)),
    )
    non_finite = st.builds(
        lambda fn, a, b, which: ((fn << 7) | NODE,
                                 struct.pack("<ff", *((math.nan, b) if which else (a, math.inf))),
                                 False, "rx_non_finite"),
        st.sampled_from([5, 6]), st.floats(-1, 1), st.floats(-1, 1), st.booleans(),
    )
    too_big = st.builds(
        lambda v: ((6 << 7) | NODE, struct.pack("<ff", v, 0.0), False, "rx_out_of_range"),
        st.floats(31.0, 2.0**100, width=32),
    )
    return st.one_of(wrong_len, other_node, other_group, unknown, non_finite, too_big)


@SETTINGS
@given(st.lists(malformed(), min_size=1, max_size=40))
def test_malformed_frames_never_move_the_motor(batch):
    app = armed_running_app()
    command, state = app.command, app.state
    n = 2
    for can_id, data, fd, counter in batch:
        before = app.counters[counter]
        rc = app.on_frame(can_id, data, fd)
        n += 1
        assert rc != 0
        assert app.counters[counter] == before + 1, (hex(can_id), data, counter)
        assert app.command == command and app.state == state
        app.run(2, ADC_ZERO, VBUS_RAW, ENC)
        accounted(app, n)
    # a node that was never enabled does not move whatever it is sent
    idle = make_app()
    for can_id, data, fd, _ in batch:
        idle.on_frame(can_id, data, fd)
        _, on = idle.run(2, ADC_ZERO, VBUS_RAW, ENC)
        assert on == 0


def in_range(x: float, lo: float, hi: float) -> bool:
    return lo <= x <= hi


@SETTINGS
@given(st.sampled_from(["CurrentCommand", "VelocityCommand", "PositionCommand"]), floats32, floats32,
       st.integers(-32768, 32767))
def test_setpoint_floats_follow_the_documented_rule(name, a, b, tau_raw):
    """Non-finite -> rx_non_finite; outside the node's ranges -> rx_out_of_range
    (|(i_d, i_q)| <= i_limit_a for currents); else accepted. Refused: no change."""
    r = RANGES
    limit = make_config().i_limit_a
    if name == "CurrentCommand":
        data = struct.pack("<ff", a, b)
        finite = math.isfinite(a) and math.isfinite(b)
        if finite:
            assume(abs(math.hypot(a, b) - limit) > 1e-5 * limit)  # float32 vs double at the edge
        ok = finite and math.hypot(a, b) <= limit
    elif name == "VelocityCommand":
        data = struct.pack("<ff", a, b)
        finite = math.isfinite(a) and math.isfinite(b)
        ok = finite and in_range(a, r.v_min_rad_s, r.v_max_rad_s) and in_range(b, r.tau_min_nm, r.tau_max_nm)
    else:
        v_raw = int(b) if math.isfinite(b) and -32768 <= b <= 32767 else 0
        data = struct.pack("<fhh", a, v_raw, tau_raw)
        finite = math.isfinite(a)
        v, tau = v_raw * 0.002, tau_raw * 0.01
        assume(min(abs(v - r.v_max_rad_s), abs(v - r.v_min_rad_s), abs(tau - r.tau_max_nm),
                   abs(tau - r.tau_min_nm)) > 1e-6)
        ok = finite and in_range(a, r.p_min_rad, r.p_max_rad) and in_range(v, r.v_min_rad_s, r.v_max_rad_s) \
            and in_range(tau, r.tau_min_nm, r.tau_max_nm)
    app = armed_running_app()
    command = app.command
    rc = app.on_frame(p.frame_id(name, NODE), data)
    reply = [d for d in replies(app) if d.name == "StateReply"]
    assert len(reply) == 1  # one command in, one reply out, accepted or not
    c = app.counters
    if ok:
        assert rc == 0 and c["rx_reject"] == 0
    else:
        assert rc == -3 and app.command == command
        assert c["rx_non_finite" if not finite else "rx_out_of_range"] == 1 == c["rx_reject"]


@SETTINGS
@given(st.sampled_from([row["index"] for row in core.param_table()] + [2, 500, 65535]), floats32)
def test_param_writes_are_range_checked_and_rolled_back(index, value):
    app = make_app()
    rows = {row["index"]: row for row in core.param_table()}
    before = {i: app.read_param(i) for i in rows}
    frame = p.encode("ParamRequest", NODE, {"param_index": index, "param_op": "WRITE", "param_seq": 3,
                                            "param_value": 0.0})
    data = frame.data[:4] + struct.pack("<f", value)  # NaN/Inf straight onto the wire
    rc = app.on_frame(frame.can_id, data)
    [reply] = [d.values for d in replies(app) if d.name == "ParamReply"]
    status = core.PARAM_STATUS[reply["param_status"]]
    row = rows.get(index)
    if row is None:
        assert status == "UNKNOWN_INDEX" and math.isnan(reply["param_value"])
    elif row["read_only"]:
        assert status == "READ_ONLY"
    elif not (math.isfinite(value) and row["min"] <= value <= row["max"]):
        assert status == "OUT_OF_RANGE"
    if status != "OK":
        assert rc < 0 and {i: app.read_param(i) for i in rows} == before
        key = "rx_non_finite" if row and not row["read_only"] and not math.isfinite(value) else None
        if key:
            assert app.counters[key] == 1
    else:
        assert rc == 0 and app.read_param(index) == pytest.approx(value, rel=1e-7, abs=0)
        # an idle-only write re-initialises the controller as at boot, so the
        # live signals (estimator, filtered v_bus) may change; no parameter may
        changed = {i for i in rows if not rows[i]["live"] and app.read_param(i) != before[i]}
        assert changed <= {index}


def test_flood_of_bad_frames_wraps_the_reject_count_and_the_node_still_answers():
    app = armed_running_app()
    rng = random.Random(1)
    n_bad = 70_000  # beyond the 16-bit Heartbeat counter
    cid = p.frame_id("VelocityCommand", NODE)
    for _ in range(n_bad):
        app.on_frame(cid, bytes(rng.randrange(256) for _ in range(rng.choice((0, 3, 7, 9, 12)))))
    c = app.counters
    assert c["rx_bad_length"] == n_bad and c["rx_reject"] == n_bad
    # replies that nobody drains are dropped and counted, never blocking
    for _ in range(1000):
        app.on_frame(p.frame_id("CurrentCommand", NODE), struct.pack("<ff", 0.0, 0.0))
    assert app.tx_pending <= 16 and app.counters["tx_overflow"] >= 1000 - 16
    app.tx_all()
    hb_frame = p.encode("Control", NODE, {"control_cmd": "DISABLE", "control_seq": 200})
    assert app.on_frame(hb_frame.can_id, hb_frame.data) == 0
    [hb] = [d.values for d in replies(app) if d.name == "Heartbeat"]
    assert hb["control_seq"] == 200 and core.NODE_STATES[hb["node_state"]] == "IDLE"
    assert hb["rx_reject_count"] == n_bad % 65536


def _build_fuzzer(out: Path) -> Path | None:
    clang = shutil.which("clang")
    if clang is None:
        return None
    core_dir, proto = ROOT / "actuators" / "core", ROOT / "actuators" / "protocol"
    flags = ["-std=c99", "-g", "-O1", "-fsanitize=fuzzer-no-link,address,undefined",
             "-fno-sanitize-recover=all", f"-I{core_dir}", f"-I{proto}"]
    strict = ["-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wdouble-promotion", "-Werror"]
    objs = []
    # the core and the harness with the strict flags; the generated codec
    # without -Wdouble-promotion (clang flags its unused _encode() helpers)
    for src, extra in ([(s, strict) for s in sorted(core_dir.glob("mf_*.c"))]
                       + [(proto / "myofoc_can.c", []), (ROOT / "tests" / "core" / "c" / "fuzz_app.c", strict)]):
        obj = out / (src.stem + ".o")
        r = subprocess.run([clang, *flags, *extra, "-c", str(src), "-o", str(obj)], capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        objs.append(str(obj))
    exe = out / "fuzz_app"
    r = subprocess.run([clang, "-fsanitize=fuzzer,address,undefined", *objs, "-o", str(exe)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0 and "libclang_rt.fuzzer" in r.stderr:
        return None  # clang without libFuzzer
    assert r.returncode == 0, r.stderr
    return exe


@pytest.mark.slow
def test_libfuzzer_harness_finds_nothing(tmp_path):
    exe = _build_fuzzer(tmp_path)
    if exe is None:
        pytest.skip("clang with libFuzzer is not installed (apt-get install clang)")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seconds = 5 if os.environ.get("MYOFOC_LIGHT") == "1" else 20  # light mode for CI
    r = subprocess.run([str(exe), f"-max_total_time={seconds}", "-seed=1", "-timeout=5", str(corpus)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-4000:]
    done = [line for line in r.stderr.splitlines() if line.startswith("Done ")]
    assert done, r.stderr[-2000:]
    runs = int(done[-1].split()[1])
    assert runs > 2_000 * seconds, done[-1]
