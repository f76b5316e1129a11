"""``myofoc tune`` (a process) against ``myofoc sim serve --slcan`` (another
process, paced to the wall clock, a Lawicel slcan pseudo-terminal between
them), as a user runs it on a bench: exit code, the JSON under the board
file's key names, the report and the board snippet. The light variant runs
a few stages (the inertia among them); the full one every stage."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from actuators.tune.cli import resolve_board
from actuators.sim_spawn import spawn_serve

ROOT = Path(__file__).resolve().parents[2]
LIGHT = os.environ.get("MYOFOC_LIGHT") == "1"
BOARD = "arm_48v"
NODE = 25


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _serve() -> tuple[subprocess.Popen, str]:
    proc, ready = spawn_serve(["--board", str(ROOT / "boards" / f"{BOARD}.toml"), "--nodes", str(NODE),
                               "--slcan", "--no-boot"])
    return proc, ready.split()[-1]


def _tune(tty: str, out: Path, *extra: str, timeout_s: float) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "actuators.cli", "tune", "--board", BOARD, "--node", str(NODE),
           "--interface", "slcan", "--channel", tty, "--out", str(out), "--json", *extra]
    return subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout_s)


def _run(tmp_path: Path, *extra: str, timeout_s: float) -> tuple[dict, subprocess.CompletedProcess]:
    pytest.importorskip("serial", reason="python-can's slcan interface needs pyserial")
    proc, tty = _serve()
    try:
        r = _tune(tty, tmp_path / "out", *extra, timeout_s=timeout_s)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return json.loads(r.stdout), r


def _truth() -> dict[str, float]:
    """The simulated node's plant is the board's: its motor-side totals."""
    b = resolve_board(BOARD)
    pp = b.plant_params()
    n2 = b.gearbox.ratio ** 2
    return {"j": pp.motor.j_kgm2 + pp.load.j_kgm2 / n2,
            "b": pp.motor.b_nms_per_rad + pp.load.b_nms_per_rad / (n2 * b.gearbox.efficiency),
            "tc": pp.motor.tau_coulomb_nm}


def test_tune_process_light(tmp_path: Path) -> None:
    doc, _ = _run(tmp_path, "--only", "pp,offset,flux,J", timeout_s=120)
    assert doc["ok"] and doc["pole_pairs"] == resolve_board(BOARD).motor.pole_pairs
    assert doc["j_total_motor_side_kgm2"] == pytest.approx(_truth()["j"], rel=0.10)
    assert "j_kgm2" in doc and "J" in doc["stages_s"]
    out = tmp_path / "out"
    html = (out / "report.html").read_text()
    assert "Inertia: sine torque pulses" in html and "<img" in html
    snippet = tomllib.loads((out / "board_snippet.toml").read_text())
    assert snippet["motor"]["j_kgm2"] == pytest.approx(doc["j_kgm2"], rel=1e-5)
    saved = json.loads((out / "tune.json").read_text())
    assert saved["identified"]["j_kgm2"] == pytest.approx(doc["j_kgm2"])


@pytest.mark.slow
@pytest.mark.skipif(LIGHT, reason="a minute of paced simulation: the light variant runs in CI")
def test_tune_process_every_stage(tmp_path: Path) -> None:
    doc, _ = _run(tmp_path, timeout_s=400)
    t = _truth()
    assert doc["ok"], doc["problems"]
    for key in ("r_ohm", "ld_h", "lq_h", "flux_wb", "pole_pairs", "j_kgm2", "b_nms_per_rad", "tau_coulomb_nm",
                "cog_n_per_rev", "cog_amp_nm", "cog_phase_rad"):
        assert key in doc, key
    assert doc["j_total_motor_side_kgm2"] == pytest.approx(t["j"], rel=0.10)
    assert doc["b_total_motor_side_nms_per_rad"] == pytest.approx(t["b"], rel=0.10)
    assert doc["tau_coulomb_nm"] == pytest.approx(t["tc"], rel=0.15)
    b = resolve_board(BOARD)
    assert doc["cog_n_per_rev"] == b.motor.cog_n_per_rev
    assert doc["cog_amp_nm"][0] == pytest.approx(b.motor.cog_amp_nm[0], rel=0.15)
    for name in ("current.pi_d.kp", "current.pi_q.ki", "motion.vel_pi.kp", "motion.vel_pi.ki"):
        assert doc["gains"][name] > 0
    assert "velocity" in doc["design"] and "velocity" in doc["verify"]
    html = (tmp_path / "out" / "report.html").read_text()
    for title in ("Inertia", "Friction", "Cogging map", "Velocity loop"):
        assert title in html
    snippet = tomllib.loads((tmp_path / "out" / "board_snippet.toml").read_text())
    assert snippet["motor"]["cog_amp_nm"] == pytest.approx(doc["cog_amp_nm"], rel=1e-5)
    assert snippet["control"]["vel_kp_nms_per_rad"] == pytest.approx(doc["design"]["velocity"]["kp_nms_per_rad"],
                                                                     rel=1e-5)
