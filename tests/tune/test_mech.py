"""Mechanical identification over CAN on simulated actuators (noise, ADC
quantisation, dead time and encoder quantisation on, as the board files set
them), against the plant's true parameters, on plants that differ from every
board file: J, b (motor-side totals) within 10 %, Coulomb within 15 %, the
first three cogging harmonics within 15 %; the written cogging table cuts
the torque ripple at slow speed; the velocity step agrees with the design;
the motion stays inside the board's limits; a poor fit and Ctrl-C restore."""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np
import pytest

from actuators.tune import identify as idf
from actuators.tune.cli import resolve_board
from actuators.tune.link import TuneAborted
from actuators.tune.runner import run_tune
from actuators.tune.simlink import SimTune, parse_plant_scale, scaled_plant

LIGHT = os.environ.get("MYOFOC_LIGHT") == "1"
MECH = {"pp", "offset", "R", "L", "flux", "J", "friction", "cogging"}

# plants that differ from their board files (and from every other board file),
# with three cogging harmonics (the boards have one or two)
ARM = ("arm_48v", "r=1.3,flux=1.1,offset=0.7,j=1.4,b=0.6,tc=0.8", (0.004, 0.002, 0.0012), (0.3, 1.2, -2.0))
WRIST = ("wrist_24v", "r=0.8,ld=1.15,lq=1.05,flux=0.9,offset=2.0,dir=-1,j=0.8,b=1.5,tc=1.3",
         (0.002, 0.0008, 0.0005), (0.0, 1.0, -1.5))


def plant_of(case: tuple[str, str, tuple[float, ...], tuple[float, ...]]) -> tuple[Any, Any]:
    name, scale, amps, phases = case
    board = resolve_board(name)
    pp = scaled_plant(board, parse_plant_scale(scale))
    return board, dataclasses.replace(pp, motor=dataclasses.replace(pp.motor, cog_amp_nm=amps, cog_phase_rad=phases))


def truth(pp: Any) -> dict[str, float]:
    """Motor-side totals of the plant (mf_plant.h): a rigid load's inertia
    reflected losslessly, its damper through the gearbox efficiency while the
    motor drives it."""
    m, n, eta = pp.motor, pp.gearbox.ratio, pp.gearbox.efficiency
    return {"j": m.j_kgm2 + pp.load.j_kgm2 / n ** 2, "b": m.b_nms_per_rad + pp.load.b_nms_per_rad / (n ** 2 * eta),
            "tc": m.tau_coulomb_nm, "j_rotor": m.j_kgm2}


def encoder_shift(st: SimTune) -> float:
    """theta_y (the encoder's angle the core's feed-forward uses, with the
    direction the tune found: it turns with the plant's theta_m) minus the
    plant's theta_m, rad (at rest)."""
    return st.link.read("state.theta_m") - st.nodes.plant_state(st.node_id)["theta_m"]


def check_mechanics(res: Any, pp: Any, shift: float) -> None:
    i, t = res.identified, truth(pp)
    assert i["j_total_motor_side_kgm2"] == pytest.approx(t["j"], rel=0.10)
    assert i["b_total_motor_side_nms_per_rad"] == pytest.approx(t["b"], rel=0.10)
    assert i["tau_coulomb_nm"] == pytest.approx(t["tc"], rel=0.15)
    assert i["j_kgm2"] == pytest.approx(t["j_rotor"], rel=0.10)   # the board key: the rotor's own
    n = pp.motor.cog_n_per_rev
    assert i["cog_n_per_rev"] == n
    for k, (a, ph) in enumerate(zip(pp.motor.cog_amp_nm, pp.motor.cog_phase_rad)):
        assert i["cog_amp_nm"][k] == pytest.approx(a, rel=0.15), k
        # the plant's phase referred to the encoder's angle: theta_m = theta_y - shift
        assert abs(idf.wrap_pi(i["cog_phase_rad"][k] - (ph - (k + 1) * n * shift))) < 0.25, k


@pytest.fixture(scope="module")
def arm_tuned() -> Any:
    board, pp = plant_of(ARM)
    st = SimTune(board, plant=pp, seed=5)
    res = run_tune(st.link, board)
    shift = encoder_shift(st)
    yield board, pp, st, res, shift
    st.close()


def test_arm_mechanics_within_the_floors(arm_tuned: Any) -> None:
    board, pp, st, res, shift = arm_tuned
    assert res.ok, res.problems
    check_mechanics(res, pp, shift)


@pytest.mark.skipif(LIGHT, reason="one plant in light mode")
def test_wrist_mechanics_within_the_floors() -> None:
    board, pp = plant_of(WRIST)
    with SimTune(board, plant=pp, seed=2) as st:
        res = run_tune(st.link, board, only=MECH, write=False)
        assert res.ok, res.problems
        check_mechanics(res, pp, encoder_shift(st))


HIP = "r=1.2,ld=0.9,lq=1.1,flux=0.93,offset=-1.1,j=1.2,b=1.3"


def hip_plant(efficiency: float | None = None) -> tuple[Any, Any]:
    """hip_knee_48v unlike its board: tendon, backlash and the board's gear
    loss (0.85) between gearbox and load, a rotor 1.2x heavier."""
    board = resolve_board("hip_knee_48v")
    pp = scaled_plant(board, parse_plant_scale(HIP))
    if efficiency is not None:
        pp = dataclasses.replace(pp, gearbox=dataclasses.replace(pp.gearbox, efficiency=efficiency))
    return board, pp


def check_totals(res: Any, pp: Any) -> None:
    t = truth(pp)
    assert res.identified["j_total_motor_side_kgm2"] == pytest.approx(t["j"], rel=0.10)
    assert res.identified["b_total_motor_side_nms_per_rad"] == pytest.approx(t["b"], rel=0.10)
    assert res.identified["tau_coulomb_nm"] == pytest.approx(t["tc"], rel=0.15)


@pytest.mark.skipif(LIGHT, reason="one plant in light mode")
def test_series_elastic_joint_with_gear_loss_within_the_floors() -> None:
    # the loss acts on the tendon's torque, the load's inertial torque in it:
    # the fits' model has it by drive direction (actuators/tune/drivetrain.py)
    board, pp = hip_plant()
    assert pp.gearbox.efficiency == pytest.approx(0.85) and pp.gearbox.backlash_rad > 0
    with SimTune(board, plant=pp, seed=1) as st:
        res = run_tune(st.link, board, only={"pp", "offset", "R", "L", "flux", "J", "friction", "cogging", "design",
                                             "write", "verify"})
        assert res.ok, res.problems
        check_totals(res, pp)
        assert res.identified["j_kgm2"] == pytest.approx(pp.motor.j_kgm2, rel=0.10)   # the rotor's own
        assert res.identified["cog_amp_nm"][0] == pytest.approx(pp.motor.cog_amp_nm[0], rel=0.15)
        # the velocity step (the gearbox driving the load) agrees with the design
        v = res.verify["velocity"]
        assert abs(v["rise_error"]) <= 0.25 and abs(v["overshoot_error"]) <= 0.10, v
        # the crossover stays below the load's antiresonance (the step is the loop's, not the rotor's lobe)
        w_z = math.sqrt(board.tendon.k_nm_per_rad / pp.load.j_kgm2)
        assert res.design["velocity"]["wv_rad_s"] <= 0.4 * w_z * (1 + 1e-9)


@pytest.mark.slow
@pytest.mark.skipif(LIGHT, reason="slow plant")
@pytest.mark.parametrize("efficiency,seed", [(1.0, 1), (0.85, 3), (0.7, 2)])
def test_series_elastic_joint_over_efficiencies(efficiency: float, seed: int) -> None:
    # the same fits, lossless and with a loss worse than the board's (its prior is 0.85:
    # the model takes the plant's efficiency from the board, so the board is changed alike)
    board, pp = hip_plant(efficiency)
    board = dataclasses.replace(board, gearbox=dataclasses.replace(board.gearbox, efficiency=efficiency))
    with SimTune(board, plant=pp, seed=seed) as st:
        res = run_tune(st.link, board, only={"pp", "offset", "flux", "J", "friction"}, write=False)
        assert res.ok, res.problems
        check_totals(res, pp)


def _ripple(st: SimTune, pp: Any, v_out: float, t_s: float) -> tuple[float, float]:
    """Velocity mode at v_out for t_s, over the last half: the amplitude
    (N m, root-sum-square over the three harmonics) of the cogging harmonics
    in the shaft's net torque (motor torque less the plant's cogging torque),
    and the same of the true speed (rad/s), by least squares on sin/cos of
    k n theta_m (the plant's angle)."""
    m = pp.motor
    n_per = int(round(0.01 / st.nodes.dt_s))
    th, taus, ws = [], [], []
    for k in range(int(t_s / 0.01)):
        st.link.act.set_velocity(v_out)
        rec = st.nodes.periods(n_per, 1)[0]
        if k >= int(t_s / 0.02):
            cog = sum(a * np.sin((j + 1) * m.cog_n_per_rev * rec.theta_m + ph)
                      for j, (a, ph) in enumerate(zip(m.cog_amp_nm, m.cog_phase_rad)))
            th.append(rec.theta_m)
            taus.append(rec.tau_e - cog)
            ws.append(rec.omega_m)
    theta = np.concatenate(th)
    cols = [np.ones_like(theta), theta - theta.mean()]
    for j in range(1, 4):
        cols += [np.sin(j * m.cog_n_per_rev * theta), np.cos(j * m.cog_n_per_rev * theta)]
    a = np.column_stack(cols)
    out = []
    for y in (np.concatenate(taus), np.concatenate(ws)):
        x, *_ = np.linalg.lstsq(a, y, rcond=None)
        out.append(float(np.sqrt(np.sum(x[2:] ** 2))))
    return out[0], out[1]


def test_written_cogging_table_cuts_the_ripple(arm_tuned: Any) -> None:
    board, pp, st, res, shift = arm_tuned
    link = st.link
    n, m = board.gearbox.ratio, pp.motor
    # the table is in the node (written and saved by the tune)
    assert link.read("cogging.cog_n_per_rev") == m.cog_n_per_rev
    # slow: the cogging's fundamental (n_cog w) at the velocity loop's crossover
    v_out = res.design["velocity"]["wv_rad_s"] / m.cog_n_per_rev / n
    link.enable()
    identified = _ripple(st, pp, v_out, 0.6)
    # the reference: the plant's own map, referred to the encoder's angle, scaled as the tune scales
    k = board.motor.flux_wb / res.identified["flux_wb"]
    true_table = {"cogging.cog_n_per_rev": float(m.cog_n_per_rev)}
    for j, (a, ph) in enumerate(zip(m.cog_amp_nm, m.cog_phase_rad)):
        true_table[f"cogging.amp_nm[{j}]"] = a * k
        true_table[f"cogging.phase_rad[{j}]"] = idf.wrap_pi(ph - (j + 1) * m.cog_n_per_rev * shift)
    link.write_idle(true_table)
    ideal = _ripple(st, pp, v_out, 0.6)
    link.write_idle({"cogging.cog_n_per_rev": 0.0})          # the feed-forward off
    without = _ripple(st, pp, v_out, 0.6)
    link.disable()
    # without it the velocity loop leaves most of the cogging on the shaft
    assert without[0] > 0.5 * float(np.sqrt(np.sum(np.square(m.cog_amp_nm))))
    assert identified[0] < 0.35 * without[0], (identified, without)
    assert identified[1] < 0.35 * without[1], (identified, without)
    # what is left is the feed-forward's own (sampled, held, behind the current
    # loop): the plant's true map does no better
    assert identified[0] < ideal[0] + 0.1 * without[0], (identified, ideal)


def test_velocity_step_agrees_with_the_design(arm_tuned: Any) -> None:
    board, pp, st, res, _ = arm_tuned
    v = res.verify["velocity"]
    assert abs(v["rise_error"]) <= 0.25 and abs(v["overshoot_error"]) <= 0.10, v
    for name in ("motion.vel_pi.kp", "motion.vel_pi.ki"):
        assert st.link.read(name) == pytest.approx(res.gains[name], rel=1e-6)
    # the design from the true plant agrees with the one from the identified plant
    from actuators.tune import design as dz
    t = truth(pp)
    true_d = dz.design_velocity_pi(t["j"], t["b"], board.pwm.period_s * board.pwm.outer_div,
                                   res.design["current_q"]["bandwidth_hz"], board.gearbox.ratio,
                                   pll_bw_hz=board.encoder.pll_bandwidth_hz)
    assert res.design["velocity"]["kp_nms_per_rad"] == pytest.approx(true_d.kp_nms_per_rad, rel=0.10)


class _Recorder:
    """Replaces the link's wait: the same lock-step, recording every outer period."""

    def __init__(self, st: SimTune) -> None:
        self.st = st
        self.owed = 0.0
        self.p_out: list[np.ndarray] = []
        self.v_out: list[np.ndarray] = []
        self.i_abc: list[np.ndarray] = []

    def __call__(self, dt_s: float) -> None:
        st = self.st
        st.nodes.drain()
        st.nodes.flush()
        self.owed += dt_s / st.nodes.dt_s
        n = int(self.owed + 1e-9)
        self.owed -= n
        if n > 0:
            rec = st.nodes.periods(n, 1)[0]
            self.p_out.append(rec.p_out)
            self.v_out.append(rec.v_out)
            self.i_abc.append(np.abs(rec.i_abc).max(axis=1))
        st.nodes.flush()


def test_motion_stays_inside_the_limits() -> None:
    board = resolve_board("wrist_24v")
    with SimTune(board, seed=4) as st:
        rec = _Recorder(st)
        st.link._wait = rec
        # the core's output angle is the plant's plus the encoder's mounting
        est_minus_plant = st.link.read("state.theta_m") / board.gearbox.ratio \
            - st.nodes.plant_state(st.node_id)["p_out"]
        mech_from = {"k": None}

        def say(stage: str, msg: str) -> None:
            if stage == "J" and mech_from["k"] is None:
                mech_from["k"] = len(rec.p_out)
        res = run_tune(st.link, board, only={"pp", "offset", "flux", "J", "friction", "cogging"}, write=False,
                       progress=say)
        assert res.ok, res.problems
        p, v, i = (np.concatenate(x) for x in (rec.p_out, rec.v_out, rec.i_abc))
        p_core = p + est_minus_plant
        lim = board.limits
        travel = min(1.0, 0.25 * (lim.p_out_max_rad - lim.p_out_min_rad))
        assert lim.p_out_min_rad < p_core.min() and p_core.max() < lim.p_out_max_rad
        assert np.max(np.abs(p_core - p_core[0])) <= travel
        # the mechanical stages inside their band (2 % of it tolerance, as the tune checks)
        band = res.plots["band"]
        assert band["hi_out_rad"] - band["lo_out_rad"] <= travel + 1e-9
        pm = np.concatenate(rec.p_out[mech_from["k"]:]) + est_minus_plant
        tol = 0.02 * (band["hi_out_rad"] - band["lo_out_rad"])
        assert band["lo_out_rad"] - tol <= pm.min() and pm.max() <= band["hi_out_rad"] + tol
        assert np.max(np.abs(v)) <= lim.v_out_max_rad_s
        # phase currents: the references stay within i_limit_a (|i_dq|); a phase
        # peak is at most that plus noise and the current loop's overshoot
        assert np.max(i) <= 1.15 * lim.i_limit_a


def _snapshot(st: SimTune) -> dict[str, float]:
    from actuators import core
    rows = [r for r in core.param_table() if r["persistent"] and not r["read_only"]]
    return {r["name"]: st.link.read(r["name"]) for r in rows}


def test_joint_outside_the_limits_is_refused() -> None:
    board = resolve_board("arm_48v")
    narrow = dataclasses.replace(board, limits=dataclasses.replace(board.limits, p_out_min_rad=1.0,
                                                                   p_out_max_rad=2.0))
    with SimTune(board) as st:
        before = _snapshot(st)
        with pytest.raises(TuneAborted, match="outside the board's limits"):
            run_tune(st.link, narrow, only={"J"})
        assert _snapshot(st) == before
        assert st.link.read("state.mode") == 0


def test_friction_that_depends_on_the_direction_is_refused() -> None:
    # a drag on the load in one direction only (a ratchet, a cable): the
    # decays disagree, the fit is refused, nothing is written, parameters restored
    board = resolve_board("arm_48v")
    with SimTune(board, seed=6) as st:
        st.link.write("motion.vel_pi.kp", 4.5)      # a user's own value before the tune
        before = _snapshot(st)
        inner = st.link._wait
        n = board.gearbox.ratio
        b_drag = 2.0 * board.motor.b_nms_per_rad * n * n      # output side, twice the rotor's own

        def wait(dt: float) -> None:
            v = st.nodes.plant_state(st.node_id)["v_out"]
            st.nodes.set_inputs(st.node_id, tau_ext_nm=-b_drag * v if v < 0 else 0.0)
            inner(dt)
        st.link._wait = wait
        with pytest.raises(TuneAborted, match="friction: poor fit"):
            run_tune(st.link, board, only={"pp", "offset", "flux", "J", "friction", "design", "write"})
        assert _snapshot(st) == before
        assert st.link.read("state.mode") == 0


def test_ctrl_c_in_a_mechanical_stage_restores() -> None:
    board = resolve_board("wrist_24v")
    with SimTune(board) as st:
        before = _snapshot(st)
        inner = st.link._wait
        seen = {"J": False, "n": 0}

        def wait(dt: float) -> None:
            if seen["J"]:
                seen["n"] += 1
                if seen["n"] == 300:
                    raise KeyboardInterrupt
            inner(dt)
        st.link._wait = wait
        with pytest.raises(KeyboardInterrupt):
            run_tune(st.link, board, only={"pp", "offset", "J"},
                     progress=lambda s, m: seen.update(J=seen["J"] or s == "J"))
        assert _snapshot(st) == before
        assert st.nodes.state(st.node_id) == "IDLE"
        assert st.link.read("state.mode") == 0
