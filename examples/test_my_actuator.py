"""An acceptance test of your own, on any bench:

    pytest -p hil.pytest_plugin examples/test_my_actuator.py                     # simulated
    pytest -p hil.pytest_plugin examples/test_my_actuator.py --hil-target can \\
        --hil-interface socketcan --hil-channel can0 --hil-nodes 1 --hil-board arm_48v
"""
import numpy as np

from hil.metrics import step_metrics


def test_velocity_step_settles(actuator):
    rec = actuator.step("velocity", "v_out_ref_rad_s", 2.0, duration_s=0.3)
    m = step_metrics(rec["t_s"], rec["v_out_rad_s"], 0.0, 2.0)
    assert m["steady_state_error"] < 0.1        # rad/s
    assert m["overshoot"] < 0.2
    assert not np.any(rec["faults"])


def test_holds_position_against_nothing(actuator):
    first = actuator.command("velocity", v_out_ref_rad_s=0.0)
    rec = actuator.hold("position", 0.2, p_out_ref_rad=first["p_out_rad"])
    assert np.nanmax(np.abs(rec["p_out_rad"] - first["p_out_rad"])) < 0.01   # rad
