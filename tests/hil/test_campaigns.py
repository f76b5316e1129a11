"""The standard acceptance campaigns (hil/scenarios/acceptance_<board>.toml)
on the ``sim`` target, against the board's physics.

- every board passes its campaign, and the campaign covers every kind the
  issue asks for;
- its limits are the loop models' figures (``hil.design``, python-control
  on the board's plant, independent of the C core) with the margins the
  file states, and its fault reaction limits follow from the board's rates;
- a mistuned actuator (current-loop or velocity-loop gains 5x too low)
  fails the checks the models say it must fail and passes the others;
- every fault ends in its fault bit, and only that bit, within its limit.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

from hil import design
from hil.runner import ScenarioResult, run_campaign
from hil.scenario import FAULTS, Campaign, Scenario, load_campaign, parse_campaign
from hil.targets import make_target

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ("arm_48v", "hip_knee_48v", "wrist_24v")
LOOP_SCENARIOS = ("current step", "velocity step", "position step", "current chirp", "velocity chirp")
# the margins every campaign file states: times and bandwidths +-30 % of the
# model, overshoot + 0.05
TIME_MARGIN, OVERSHOOT_MARGIN = 0.30, 0.05


def _campaign_path(board: str) -> Path:
    return ROOT / "hil" / "scenarios" / f"acceptance_{board}.toml"


def _run(camp: Campaign) -> dict[str, ScenarioResult]:
    target = make_target("sim", camp.board)
    target.open(camp.seed)
    try:
        return {r.scenario.name: r for r in run_campaign(camp, target)}
    finally:
        target.close()


@pytest.fixture(scope="module", params=BOARDS)
def campaign_run(request: Any) -> tuple[Campaign, dict[str, ScenarioResult]]:
    camp = load_campaign(_campaign_path(request.param))
    return camp, _run(camp)


def _model(board: Any, sc: Scenario) -> dict[str, float]:
    """The loop model's figures for a scenario (step figures in the units the
    scenario judges: steady-state error scaled by the step size)."""
    pr = sc.params
    if sc.kind == "chirp":
        sys = design.current_loop(board) if pr["mode"] == "current" else design.velocity_loop(board)
        return {"bandwidth_hz": design.bandwidth_hz(sys)}
    if sc.kind in ("current_step", "velocity_step", "position_step"):
        loop, field = {"current_step": (design.current_loop, "i_q_a"),
                       "velocity_step": (design.velocity_loop, "v_out_rad_s"),
                       "position_step": (design.position_loop, "step_rad")}[sc.kind]
        sys, size = loop, pr[field]
        fig = design.step_figures(sys(board), pr["duration_s"])
        fig["steady_state_error"] *= abs(size)
        return fig
    if sc.kind in ("impedance_step", "stiffness_sweep"):
        kps = [pr["kp_nm_rad"]] if sc.kind == "impedance_step" else pr["kp_values"]
        return {"settling_s": max(design.step_figures(design.impedance_loop(board, kp, pr["kd_nms_rad"]),
                                                      pr["duration_s"])["settling_s"] for kp in kps)}
    return {}


def _reaction_limit_s(board: Any, sc: Scenario) -> float:
    """When a fault must be reported by, after it is due (s): the check's own
    period, then the report the bench reads (the next StateReply 1 ms later;
    a watchdog trip: the next 10 ms Heartbeat/Status, queued at a 1 ms
    main-loop tick, read at the next 1 ms sample)."""
    pwm_s = 1.0 / board.pwm.pwm_hz
    fault = "timeout" if sc.kind == "fault_timeout" else sc.params["fault"]
    if fault in ("timeout", "frame_loss"):
        return 0.010 + 0.001 + 0.001
    if fault == "overcurrent":
        return pwm_s + 0.001                          # checked every PWM period
    # the slow checks run every outer_div periods; overtemp: + the plant's thermal Euler steps (0.1 ms)
    return board.pwm.outer_div * pwm_s + 0.001 + 0.0001


def test_every_board_passes_its_acceptance_campaign_on_sim(campaign_run) -> None:  # type: ignore[no-untyped-def]
    camp, res = campaign_run
    for name, r in res.items():
        assert r.skipped is None and r.error is None, (name, r.skipped, r.error)
        assert r.passed, (name, [(c.name, c.value, c.limit) for c in r.checks if not c.passed])
    kinds = {s.kind for s in camp.scenarios}
    assert kinds >= {"current_step", "velocity_step", "position_step", "impedance_step", "chirp",
                     "stiffness_sweep", "damping_sweep", "muscle_trajectory", "fault_timeout", "fault"}
    assert {s.params["mode"] for s in camp.scenarios if s.kind == "chirp"} == {"current", "velocity"}
    assert {s.params["fault"] for s in camp.scenarios if s.kind == "fault"} == \
        {"frame_loss", "overcurrent", "overtemp", "encoder"}


@pytest.mark.parametrize("board", BOARDS)
def test_limits_are_the_loop_models_figures_with_the_stated_margins(board: str) -> None:
    camp = load_campaign(_campaign_path(board))
    checked = 0
    for sc in camp.scenarios:
        model = _model(camp.board, sc)
        for key, limit in sc.limits.items():
            metric, bound = key[:-4], key[-3:]
            if metric not in model or metric == "steady_state_error":
                continue
            m = model[metric]
            if metric == "overshoot":
                want = m + OVERSHOOT_MARGIN
            else:
                want = m * (1 + TIME_MARGIN if bound == "max" else 1 - TIME_MARGIN)
            # the files round to 3 significant figures
            assert limit == pytest.approx(want, rel=0.01, abs=1e-3 if metric == "overshoot" else 0), \
                (board, sc.name, key, limit, want)
            checked += 1
        if sc.kind in ("fault", "fault_timeout"):
            assert sc.limits["reaction_s_max"] == pytest.approx(_reaction_limit_s(camp.board, sc), rel=0.01), \
                (board, sc.name)
            checked += 1
    assert checked == 23           # 4 + 4 + 4 step limits, 2 settling, 2 + 2 bandwidth, 5 faults


def _mistuned(board: Any, loop: str, factor: float) -> Any:
    c = board.control
    if loop == "current":
        c = dataclasses.replace(c, current_bandwidth_hz=c.current_bandwidth_hz * factor)
    else:
        c = dataclasses.replace(c, vel_kp_nms_per_rad=c.vel_kp_nms_per_rad * factor,
                                vel_ki_nm_per_rad=c.vel_ki_nm_per_rad * factor)
    return dataclasses.replace(board, control=c)


def _verdict(value: float, bound: str, limit: float, margin: float = 1.15) -> str | None:
    """'fail' / 'pass' when the model's value is clearly past / inside the
    limit (by the factor margin), None when too close to say."""
    if not math.isfinite(value):
        return "fail" if bound == "max" else None
    if bound == "max":
        return "fail" if value > limit * margin else ("pass" if value * margin < limit else None)
    return "fail" if value * margin < limit else ("pass" if value > limit * margin else None)


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("loop", ["current", "velocity"])
def test_a_mistuned_actuator_fails_the_checks_its_model_fails(board: str, loop: str) -> None:
    """Gains 5x too low on one loop, the board's limits unchanged: every check
    the mistuned loop model clearly fails fails on the simulated actuator,
    every one it clearly passes passes (the untouched loop among them)."""
    path = _campaign_path(board)
    good = load_campaign(path).board
    bad = _mistuned(good, loop, 0.2)
    camp = parse_campaign(path.read_text(), str(path), board=bad)
    camp.scenarios = [s for s in camp.scenarios if s.name in LOOP_SCENARIOS]
    res = _run(camp)
    must_fail, must_pass = [], []
    for sc in camp.scenarios:
        model = _model(bad, sc)
        for c in res[sc.name].checks:
            if c.metric not in model:
                continue
            v = _verdict(model[c.metric], c.bound, c.limit)
            if v == "fail":
                must_fail.append(c.name)
                assert not c.passed, (sc.name, c.name, c.value, "model", model[c.metric], c.limit)
            elif v == "pass":
                must_pass.append(c.name)
                assert c.passed, (sc.name, c.name, c.value, "model", model[c.metric], c.limit)
    # the mistuned loop's own checks are among the failures; the other loop's pass
    if loop == "current":
        assert {"bandwidth_hz_min", "rise_s_max", "settling_s_max"} <= set(must_fail)
        assert res["velocity chirp"].passed
    else:
        assert {"bandwidth_hz_min", "rise_s_max"} <= set(must_fail)
        assert res["current step"].passed and res["current chirp"].passed
    assert len(must_pass) >= 5


def test_every_fault_ends_in_its_bit_within_its_reaction_limit(campaign_run) -> None:  # type: ignore[no-untyped-def]
    camp, res = campaign_run
    b = camp.board
    faults = [s for s in camp.scenarios if s.kind in ("fault", "fault_timeout")]
    assert len(faults) == 5
    for sc in faults:
        r = res[sc.name]
        fault = "timeout" if sc.kind == "fault_timeout" else sc.params["fault"]
        bit = FAULTS[fault]
        f = r.figures
        # the first report carries exactly the expected bit, and the node ends in FAULT
        assert int(f["faults_first_report"]) == bit, (sc.name, f)
        assert int(r.signals["node_state"][-1]) == 4, sc.name
        # reported no earlier than due (overtemp: due by the analytic trip time) and within the limit
        limit = sc.limits["reaction_s_max"]
        assert 0.0 <= f["reaction_s"] <= limit, (sc.name, f["reaction_s"], limit)
        assert f["report_after_inject_s"] >= f["t_expected_s"] - (1e-3 if fault == "overtemp" else 0.0)
        # when it is due follows from the board alone
        due = {"timeout": b.protect.cmd_timeout_s, "frame_loss": b.protect.cmd_timeout_s, "overcurrent": 0.0,
               "encoder": b.protect.enc_stuck_s}.get(fault)
        if due is not None:
            assert f["t_expected_s"] == pytest.approx(due, abs=1e-9), sc.name
        else:
            th = b.thermal
            rise = b.protect.temp_max_c - sc.params["temp_start_c"]
            adiabatic = rise * th.c_winding_j_per_k / sc.params["heat_w"]
            # the network leaks a little heat to the housing: a bit longer than adiabatic
            assert adiabatic < f["t_expected_s"] < adiabatic * 1.05, (sc.name, f["t_expected_s"], adiabatic)
