"""The HIL bench on the ``sim`` target: campaign, judging, refusal, clamping, report."""
from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from actuators.cli import main
from firmware_gen.board import load_board
from hil import ScenarioError
from hil.runner import run_campaign
from hil.scenario import load_campaign, parse_campaign
from hil.targets import make_target

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = ROOT / "hil" / "scenarios" / "acceptance_arm_48v.toml"
BOARD = ROOT / "boards" / "arm_48v.toml"


class _Report(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_summary = False
        self.rows = 0
        self.imgs: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        if tag == "table" and a.get("id") == "summary":
            self.in_summary = True
        elif tag == "tr" and self.in_summary and a.get("class") in ("pass", "fail"):
            self.rows += 1
        elif tag == "img":
            self.imgs.append(a.get("src", ""))

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "table":
            self.in_summary = False


@pytest.fixture(scope="module")
def acceptance(tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("hil")
    rc = main(["hil", "run", str(CAMPAIGN), "--target", "sim", "--out", str(out)])
    return rc, out


def test_acceptance_campaign_passes_on_sim(acceptance) -> None:  # type: ignore[no-untyped-def]
    rc, out = acceptance
    assert rc == 0
    for name in ("report.html", "junit.xml", "frames.asc", "signals.npz", "meta.json"):
        assert (out / name).is_file(), name
    # every frame both ways: commands (function 0x..) and the nodes' replies
    log = (out / "frames.asc").read_text().splitlines()
    assert sum(" Rx " in ln for ln in log) > 1000 and sum(" Tx " in ln for ln in log) > 1000
    sig = np.load(out / "signals.npz")
    csvs = sorted((out / "signals").glob("*.csv"))
    assert len(csvs) == len(load_campaign(CAMPAIGN).scenarios)
    chirps = [s.index for s in load_campaign(CAMPAIGN).scenarios if s.kind == "chirp"]
    assert "0/tau_out_nm" in sig and chirps and all(f"{k}/bode_mag_db" in sig for k in chirps)


def test_report_and_junit_parse(acceptance) -> None:  # type: ignore[no-untyped-def]
    _, out = acceptance
    n = len(load_campaign(CAMPAIGN).scenarios)
    rep = _Report()
    rep.feed((out / "report.html").read_text())
    assert rep.rows == n
    n_chirps = sum(s.kind == "chirp" for s in load_campaign(CAMPAIGN).scenarios)
    assert n_chirps == 2
    assert len(rep.imgs) == n + n_chirps   # one time response each, plus a Bode plot per chirp
    assert all(src.startswith("data:image/png;base64,") for src in rep.imgs)
    assert "http" not in (out / "report.html").read_text()   # self-contained
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    n_checks = sum(len(s.limits) for s in load_campaign(CAMPAIGN).scenarios)
    assert int(suite.get("tests")) == n_checks == len(suite.findall("testcase"))
    assert int(suite.get("failures")) == 0


_MISTUNED = """
[campaign]
name = "mistuned"
board = "arm_48v"
seed = 3
"""


def test_mistuned_velocity_gain_fails_the_right_checks(tmp_path: Path) -> None:
    text = CAMPAIGN.read_text()
    board = load_board(BOARD)
    slow = dataclasses.replace(board, control=dataclasses.replace(
        board.control, vel_kp_nms_per_rad=board.control.vel_kp_nms_per_rad / 5))
    camp = parse_campaign(text, str(CAMPAIGN), board=slow)
    camp.scenarios = [s for s in camp.scenarios if s.name in ("current step", "velocity step", "velocity chirp")]
    target = make_target("sim", slow)
    target.open(1)
    try:
        res = {r.scenario.name: r for r in run_campaign(camp, target)}
    finally:
        target.close()
    assert res["current step"].passed                 # the current loop is untouched
    v = {c.name: c for c in res["velocity step"].checks}
    # kp/5 with ki kept: zeta = kp / (2 sqrt(ki J)) falls from 1.1 to 0.22, a
    # second-order overshoot of exp(-pi zeta / sqrt(1 - zeta^2)) = 49 %
    assert not v["overshoot_max"].passed
    assert 0.35 < v["overshoot_max"].value < 0.65
    assert not v["settling_s_max"].passed
    bw = {c.name: c for c in res["velocity chirp"].checks}["bandwidth_hz_min"]
    assert not bw.passed and bw.value < 0.7 * 7.6    # designed 7.6 Hz
    # and junit counts them
    from hil.report import write_junit
    write_junit(tmp_path / "j.xml", camp, list(res.values()))
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert int(suite.get("failures")) == sum(not c.passed for r in res.values() for c in r.checks) >= 2


def test_bad_scenario_is_refused_before_any_motion(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.toml"
    bad.write_text(_MISTUNED + """
[[scenario]]
name = "ok"
kind = "velocity_step"
v_out_rad_s = 1.0
duration_s = 0.1
[scenario.limits]
rise_s_max = 0.1

[[scenario]]
name = "broken step"
kind = "position_step"
step_rad = "far"
duration_s = 0.1
[scenario.limits]
rise_s_max = 0.1
""")
    import hil.targets

    def no_motion(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("a target was opened for a bad campaign")

    monkeypatch.setattr(hil.targets, "make_target", no_motion)
    rc = main(["hil", "run", str(bad), "--target", "sim", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(bad) in err and "scenario 1 ('broken step')" in err and "'step_rad'" in err
    with pytest.raises(ScenarioError, match=r"scenario 0 \('ok'\): field 'limits.rise_time'"):
        parse_campaign(_MISTUNED + '[[scenario]]\nname="ok"\nkind="velocity_step"\nv_out_rad_s=1.0\n'
                       'duration_s=0.1\n[scenario.limits]\nrise_time=0.1\n', "x.toml")
    with pytest.raises(ScenarioError, match=r"scenario 0 \('ok'\): field 'kind'"):
        parse_campaign(_MISTUNED + '[[scenario]]\nname="ok"\nkind="warp"\nduration_s=0.1\n', "x.toml")


def test_commands_beyond_the_board_limits_are_clamped(tmp_path: Path) -> None:
    board = load_board(BOARD)
    camp = parse_campaign(_MISTUNED + """
[[scenario]]
name = "too fast"
kind = "velocity_step"
v_out_rad_s = 30.0
duration_s = 0.4
[scenario.limits]
overshoot_max = 0.2

[[scenario]]
name = "too far"
kind = "position_step"
step_rad = 10.0
duration_s = 0.8
[scenario.limits]
steady_state_error_max = 0.05
""", "clamp.toml")
    fast, far = camp.scenarios
    assert fast.params["v_out_rad_s"] == board.limits.v_out_max_rad_s
    assert any("clamped to 7" in n for n in fast.notes)
    target = make_target("sim", board)
    target.open(2)
    try:
        r_fast, r_far = run_campaign(camp, target)
        # a command sent straight to the target is clamped too
        target.reset(5)
        target.enable(board.can.node_id_min)
        target.command(board.can.node_id_min, "current", i_q_ref_a=1e3)
        assert any("i_q_ref_a = 1000 clamped to 15" in n for n in target.take_notes())
    finally:
        target.close()
    v = r_fast.signals["v_out_rad_s"]
    assert np.nanmax(v) <= board.limits.v_out_max_rad_s * 1.2
    assert abs(np.nanmean(v[-50:]) - board.limits.v_out_max_rad_s) < 0.1
    p = r_far.signals["p_out_rad"]
    assert any("p_out_ref_rad" in n and "clamped to 2.8" in n for n in r_far.notes)
    assert np.nanmax(p) <= board.limits.p_out_max_rad + 0.05
    assert abs(p[-1] - board.limits.p_out_max_rad) < 0.05


def test_the_full_campaign_replays_to_the_same_figures(acceptance, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    _, out = acceptance
    assert main(["hil", "replay", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["same"] and len(rep["scenarios"]) == len(load_campaign(CAMPAIGN).scenarios)


def test_blf_and_asc_logs_hold_the_same_frames(tmp_path: Path) -> None:
    """The same seeded run logged both ways reads back frame for frame alike
    (id, data, direction, FD flag, time to the microsecond)."""
    import can

    camp = tmp_path / "c.toml"
    camp.write_text(_MISTUNED + '[[scenario]]\nname = "v"\nkind = "velocity_step"\nv_out_rad_s = 1.0\n'
                    'duration_s = 0.1\n[scenario.limits]\nrise_s_max = 1.0\n'
                    '[[scenario]]\nname = "t"\nkind = "fault_timeout"\nv_out_rad_s = 0.5\nduration_s = 0.13\n'
                    '[scenario.limits]\nreaction_s_max = 0.02\n')
    logs = {}
    for ext in ("asc", "blf"):
        out = tmp_path / ext
        assert main(["hil", "run", str(camp), "--target", "sim", "--out", str(out), "--frame-log",
                     f"frames.{ext}"]) == 0
        logs[ext] = list(can.LogReader(str(out / f"frames.{ext}")))
    a, b = logs["asc"], logs["blf"]
    assert len(a) == len(b) > 200
    assert [(m.arbitration_id, bytes(m.data), m.is_rx, m.is_fd) for m in a] == \
           [(m.arbitration_id, bytes(m.data), m.is_rx, m.is_fd) for m in b]
    ta = np.array([m.timestamp for m in a]) - a[0].timestamp
    tb = np.array([m.timestamp for m in b]) - b[0].timestamp
    assert np.max(np.abs(ta - tb)) < 2e-6
    assert np.all(np.diff(ta) >= 0) and ta[-1] > 0.3          # one bench clock across the scenarios
