"""The HIL bench, session 2: bulk codec, chunked sim target, replay, frame
loss, Bode vs python-control, JSON, the sim-remote target and a target that
stops answering, the pytest plugin."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import can
import numpy as np
import pytest

from actuators import commands as C
from actuators import protocol as p
from actuators.cli import main
from firmware_gen.board import load_board
from hil.frames import decode_states, encode_commands
from hil.lossy import LossPolicy, LossyBus
from hil.runner import run_campaign, run_scenario
from hil.scenario import load_campaign, parse_campaign
from hil.targets import make_target

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = ROOT / "hil" / "scenarios" / "acceptance_arm_48v.toml"
BOARD = ROOT / "boards" / "arm_48v.toml"
LIGHT = os.environ.get("MYOFOC_LIGHT") == "1"

HEAD = '[campaign]\nname = "t"\nboard = "arm_48v"\nseed = 4\n'
VEL_STEP = ('[[scenario]]\nname = "velocity step"\nkind = "velocity_step"\nv_out_rad_s = 3.5\nduration_s = 0.3\n'
            '[scenario.limits]\nrise_s_max = 0.046\novershoot_max = 0.15\n')
TIMEOUT = ('[[scenario]]\nname = "command timeout"\nkind = "fault_timeout"\nv_out_rad_s = 1.0\nduration_s = 0.2\n'
           '[scenario.limits]\nreaction_s_max = 0.02\n')


def test_bulk_codec_gives_the_scalar_codecs_bytes_and_values() -> None:
    board = load_board(BOARD)
    r = board.impedance_ranges()
    rng = np.random.default_rng(7)
    n = 200
    cases = {
        "current": ({"i_q_ref_a": rng.uniform(-15, 15, n), "i_d_ref_a": rng.uniform(-2, 2, n)},
                    lambda f, k: C.make_current(9, f["i_q_ref_a"][k], f["i_d_ref_a"][k])),
        "velocity": ({"v_out_ref_rad_s": rng.uniform(-7, 7, n), "tau_ff_nm": rng.uniform(-5, 5, n)},
                     lambda f, k: C.make_velocity(9, f["v_out_ref_rad_s"][k], f["tau_ff_nm"][k])),
        "position": ({"p_out_ref_rad": rng.uniform(-2, 2, n), "v_out_ff_rad_s": rng.uniform(-7, 7, n),
                      "tau_ff_nm": rng.uniform(-40, 40, n)},
                     lambda f, k: C.make_position(9, f["p_out_ref_rad"][k], f["v_out_ff_rad_s"][k],
                                                  f["tau_ff_nm"][k])),
        "muscle": ({"u_flex": rng.uniform(0, 1, n), "u_ext": rng.uniform(0, 1, n)},
                   lambda f, k: C.make_muscle(9, f["u_flex"][k], f["u_ext"][k])),
        "impedance": ({"p_des_rad": rng.uniform(r.p_min_rad, r.p_max_rad, n),
                       "v_des_rad_s": rng.uniform(r.v_min_rad_s, r.v_max_rad_s, n),
                       "kp_nm_rad": rng.uniform(0, r.kp_max_nm_rad, n),
                       "kd_nms_rad": rng.uniform(0, r.kd_max_nms_rad, n),
                       "tau_ff_nm": rng.uniform(r.tau_min_nm, r.tau_max_nm, n)},
                      lambda f, k: C.make_impedance(9, r, f["p_des_rad"][k], f["v_des_rad_s"][k],
                                                    f["kp_nm_rad"][k], f["kd_nms_rad"][k], f["tau_ff_nm"][k])),
    }
    for kind, (fields, scalar) in cases.items():
        can_id, data = encode_commands(kind, 9, fields, n, r)
        for k in range(n):
            m = scalar(fields, k)
            assert (m.arbitration_id, bytes(m.data)) == (can_id, data[k].tobytes()), (kind, k)
    raw = np.zeros((n, 8), np.uint8)
    msgs = []
    for k in range(n):
        d = p.message("StateReply").encode({
            "p_out_raw": int(rng.integers(0, 65536)), "v_out_raw": int(rng.integers(0, 4096)),
            "tau_out_raw": int(rng.integers(0, 4096)), "temp_c": int(rng.integers(-40, 215)),
            "mode": int(rng.integers(0, 7)), "fault_bits": int(rng.integers(0, 4096))})
        raw[k] = np.frombuffer(d, np.uint8)
        msgs.append(can.Message(arbitration_id=p.frame_id("StateReply", 9), data=d, is_extended_id=False))
    st = decode_states(raw, r)
    for k, m in enumerate(msgs):
        s = C.parse_state(m, r)
        assert (s.p_out_rad, s.v_out_rad_s, s.tau_out_nm, s.temp_c, s.faults, s.refused) == \
               (st["p_out_rad"][k], st["v_out_rad_s"][k], st["tau_out_nm"][k], st["temp_c"][k],
                st["faults"][k], st["refused"][k])
        assert C.mode_name(int(st["mode"][k])) == s.mode


def test_recorded_run_replays_to_the_same_figures(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    camp = tmp_path / "c.toml"
    chirp = ('[[scenario]]\nname = "velocity chirp"\nkind = "chirp"\nmode = "velocity"\namplitude = 1.0\n'
             'f0_hz = 1.0\nf1_hz = 60.0\nduration_s = 0.5\n[scenario.limits]\nbandwidth_hz_min = 6.1\n')
    camp.write_text(HEAD + VEL_STEP + chirp + TIMEOUT)
    out = tmp_path / "run"
    assert main(["hil", "run", str(camp), "--target", "sim", "--out", str(out), "--json",
                 "--frame-log", "frames.blf"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["passed"] and [s["status"] for s in summary["scenarios"]] == ["PASS"] * 3
    meta = json.loads((out / "meta.json").read_text())
    # the binary log holds every frame both ways, readable by python-can
    frames = list(can.BLFReader(str(out / "frames.blf")))
    assert len(frames) == meta["frames"] > 1000
    assert {m.is_rx for m in frames} == {True, False}
    assert main(["hil", "replay", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["same"] and len(rep["scenarios"]) == 3
    # a changed recording no longer replays to the same figures
    sig = dict(np.load(out / "signals.npz"))
    sig["0/y"] = sig["0/y"] * 1.1
    np.savez_compressed(out / "signals.npz", **sig)
    assert main(["hil", "replay", str(out)]) == 1


def test_chirp_bode_matches_python_controls_model_of_the_velocity_loop() -> None:
    control = pytest.importorskip("control")
    camp = load_campaign(CAMPAIGN)
    sc = next(s for s in camp.scenarios if s.name == "velocity chirp")
    b = camp.board
    target = make_target("sim", b)
    target.open(1)
    try:
        r = run_scenario(target, sc, 1)
    finally:
        target.close()
    # PI on the output speed, plant J s + B on the output side (load + motor through the gearbox)
    j = b.load.j_kgm2 + b.motor.j_kgm2 * b.gearbox.ratio ** 2
    bb = b.load.b_nms_per_rad + b.motor.b_nms_per_rad * b.gearbox.ratio ** 2
    s = control.tf("s")
    loop = control.feedback((b.control.vel_kp_nms_per_rad + b.control.vel_ki_nm_per_rad / s) / (j * s + bb), 1)
    bw_model = control.bandwidth(loop) / (2 * np.pi)
    assert abs(r.figures["bandwidth_hz"] / bw_model - 1) < 0.15        # 8.5 vs 9.0 Hz measured
    f = r.bode["f_hz"]
    sel = (r.bode["coherence"] > 0.95) & (f <= 3 * bw_model)
    assert sel.sum() >= 5
    model_db = 20 * np.log10(control.frequency_response(loop, 2 * np.pi * f[sel]).magnitude)
    assert np.max(np.abs(r.bode["mag_db"][sel] - model_db)) < 2.5          # dB


def test_frame_loss_ends_in_a_command_timeout_within_its_limit() -> None:
    camp = parse_campaign(HEAD + '[[scenario]]\nname = "lossy"\nkind = "fault"\nfault = "frame_loss"\n'
                          'loss = 1.0\nduration_s = 0.2\n[scenario.limits]\nreaction_s_max = 0.02\n', "x.toml")
    target = make_target("sim", camp.board)
    target.open(1)
    try:
        (r,) = run_campaign(camp, target)
    finally:
        target.close()
    assert r.passed, r.figures
    assert int(r.figures["faults_seen"]) & (1 << 6)             # CMD_TIMEOUT
    assert 0.0 <= r.figures["reaction_s"] <= 0.02
    # the node stopped within cmd_timeout_s + one report of the 0.01 s heartbeat of losing every command
    assert r.figures["report_after_inject_s"] <= camp.board.protect.cmd_timeout_s + 0.02


def test_lossy_bus_drops_the_asked_fraction() -> None:
    a = can.Bus(interface="virtual", channel="h5-lossy", receive_own_messages=False)
    b = can.Bus(interface="virtual", channel="h5-lossy", receive_own_messages=False)
    pol = LossPolicy(3)
    lossy = LossyBus(a, pol)
    try:
        pol.set(to_node=0.3)
        for k in range(2000):
            lossy.send(can.Message(arbitration_id=0x300, data=k.to_bytes(2, "little"), is_extended_id=False))
        got = 0
        while b.recv(0.0) is not None:
            got += 1
        assert got + pol.dropped_to_node == 2000
        assert abs(pol.dropped_to_node / 2000 - 0.3) < 0.04       # 4.5 sigma of a binomial
        with pytest.raises(ValueError, match="to_node"):
            pol.set(to_node=1.5)
    finally:
        lossy.shutdown()
        a.shutdown()
        b.shutdown()


def _has_serial() -> bool:
    try:
        import serial  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _has_serial(), reason="python-can's slcan interface needs pyserial")
def test_acceptance_campaign_passes_on_sim_remote(tmp_path: Path) -> None:
    """sim-remote starts `myofoc sim serve --slcan` and runs in real time;
    scenarios that need the PWM-rate record or plant injections are skipped."""
    camp = load_campaign(CAMPAIGN)
    if LIGHT:
        camp.scenarios = [s for s in camp.scenarios if s.name in ("velocity step", "command timeout",
                                                                  "current step")]
    target = make_target("sim-remote", camp.board, frame_log=tmp_path / "frames.asc")
    target.open(camp.seed)
    try:
        res = run_campaign(camp, target)
    finally:
        target.close()
    for r in res:
        assert r.passed, (r.scenario.name, r.error, [(c.name, c.value) for c in r.checks])
    skipped = {r.scenario.name for r in res if r.skipped}
    assert "current step" in skipped                    # 40 us samples: not over a 1 kHz bus
    ran = [r for r in res if not r.skipped]
    assert ran and all(r.checks for r in ran)
    assert (tmp_path / "frames.asc").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.skipif(not _has_serial(), reason="python-can's slcan interface needs pyserial")
def test_a_target_that_stops_answering_ends_the_run_safely() -> None:
    camp = parse_campaign(HEAD + VEL_STEP + VEL_STEP.replace('"velocity step"', '"second"') +
                          TIMEOUT, "x.toml")
    target = make_target("sim-remote", camp.board, reply_timeout_s=0.03)
    target.open(1)
    disabled: list[bool] = []
    orig = target.disable_all

    def kill(sc):  # type: ignore[no-untyped-def]
        if sc.index == 1:
            target._proc.kill()          # the bench loses power mid-run
            target._proc.wait()

    def spy() -> None:
        disabled.append(True)
        orig()

    target.disable_all = spy  # type: ignore[method-assign]
    try:
        res = run_campaign(camp, target, progress=kill)
    finally:
        target.close()
    assert res[0].passed
    assert res[1].error and "stopped answering in scenario 1 ('second')" in res[1].error
    assert "t = " in res[1].error
    assert res[2].error and res[2].error.startswith("not run: target sim-remote stopped answering")
    assert disabled                                      # every node told to stop


def test_pytest_plugin_runs_the_example_on_sim() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "hil.pytest_plugin", "--hil-target", "sim",
                          "--hil-board", "arm_48v", "-p", "no:cacheprovider",
                          str(ROOT / "examples" / "test_my_actuator.py")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
