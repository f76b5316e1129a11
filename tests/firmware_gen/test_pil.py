"""Processor-in-the-loop: the Cortex-M4F firmware in unicorn on the plant.

- A closed-loop current step through the emulated firmware reproduces the
  Cython simulator (actuators.sim.SimActuator, same board and seed) bit for
  bit: the firmware's signals (float32), the applied duties and the plant's
  states (float64), because the plant path, the noise draws and the
  one-period delay are the same and the M4F computes the float32 core
  exactly as the host.
- The CAN path (mf_app_on_frame, mf_app_tx_pop) answers a frame sequence
  with the same bytes as the Cython App.
- Instruction counting: the cheap block count agrees with a per-instruction
  code hook (the same instructions, plus those an IT block skips).
- One HIL scenario passes on the ``pil`` target.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytestmark = [
    pytest.mark.arm,
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc"),
]
unicorn = pytest.importorskip("unicorn")

ROOT = Path(__file__).resolve().parents[2]
BOARD = ROOT / "boards" / "arm_48v.toml"


@pytest.fixture(scope="module")
def board():
    from firmware_gen.board import load_board
    return load_board(BOARD)


@pytest.fixture(scope="module")
def elf():
    from firmware_gen.pil import load_elf
    from firmware_gen.qemu import build
    return load_elf(build() / "pil.elf")


def _bits32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float32).view(np.uint32)


@pytest.mark.parametrize("noise", [True, False])
def test_current_step_matches_the_cython_simulator(board, elf, noise: bool) -> None:
    import dataclasses

    from actuators.sim import SimActuator
    from firmware_gen.pil import PilActuator
    pp = board.plant_params()
    if not noise:
        pp = dataclasses.replace(pp, sensors=dataclasses.replace(pp.sensors, adc_noise_a=0.0,
                                                                 adc_vbus_noise_v=0.0))
    cfg = board.ctrl_config()
    sim = SimActuator(cfg, pp, seed=7)
    pil = PilActuator(cfg, pp, seed=7, elf=elf)
    n_pre, n = 50, 400                       # 2 ms idle, a 7.5 A step for 16 ms
    sim.run(n_pre * sim.dt_s)
    pil.step(n_pre)
    sim.command("current", i_q_ref=7.5)
    pil.command("current", i_q_ref=7.5)
    r = sim.run(n * sim.dt_s)
    q = pil.step(n, record=True)
    assert q is not None and len(r.i_q) == n
    core = {"i_d": r.i_d, "i_q": r.i_q, "i_d_ref": r.i_d_ref, "i_q_ref": r.i_q_ref, "v_d": r.v_d,
            "v_q": r.v_q, "theta_e": r.theta_e, "omega_m_est": r.omega_m_est,
            "p_out_est": r.p_out_est, "v_out_est": r.v_out_est, "tau_out_ref": r.tau_out_ref,
            "v_bus_est": r.v_bus_est}
    for name, ref in core.items():
        diff = np.flatnonzero(_bits32(ref) != _bits32(q.core[name]))
        assert diff.size == 0, f"{name} differs first at period {diff[0]}: {ref[diff[0]]} vs {q.core[name][diff[0]]}"
    assert np.array_equal(_bits32(r.duty), _bits32(q.duty))
    assert np.array_equal(r.i_abc, q.i_abc)                       # the plant saw the same voltages
    for name in ("omega_m", "theta_m", "tau_e", "t_s"):
        assert np.array_equal(getattr(r, name), q.plant[name]), name
    assert np.array_equal(r.faults, q.faults) and not r.faults.any()
    assert np.array_equal(r.mode, q.mode) and (q.mode == 2).all()
    # and it is a current step: i_q settles on the reference (physics, not identity)
    tail = q.core["i_q"][n // 2:]
    assert abs(float(np.mean(tail)) - 7.5) < 0.1


def test_frames_answered_as_the_cython_app(board, elf) -> None:
    from actuators import commands as c
    from actuators import core
    from firmware_gen.pil import PilNode
    ranges = board.impedance_ranges()
    app = core.App(board.ctrl_config(), node_id=3, ranges=ranges)
    node = PilNode(elf)
    assert node.init(app.config_bytes()) == 0
    app.tick(0.0)
    node.tick(0.0)
    frames = [c.make_enable(3, 1), c.make_current(3, 2.0), c.make_velocity(3, 50.0),
              c.make_param_read(3, 1, 4), c.make_impedance(3, ranges, 0.1, 0.0, 20.0, 1.0, 0.5),
              c.make_muscle(3, 0.2, 0.1), c.make_disable(3, 5), c.make_current(4, 1.0),
              c.make_estop(), c.make_clear_faults(3, 6)]
    sense = ((2048, 2047, 2049), 2980, 1234, 30.0, 31.0)
    for k, msg in enumerate(frames):
        rc_host = app.on_frame(msg.arbitration_id, bytes(msg.data), msg.is_fd)
        rc_emu = node.on_frame(msg.arbitration_id, bytes(msg.data), msg.is_fd)
        assert rc_host == rc_emu, (k, msg)
        for _ in range(10):
            f_host = app.isr(*sense)
            f_emu = node.isr(*sense)[0]
            assert f_host == f_emu
        app.tick(0.0004)
        node.tick(0.0004)
        host = app.tx_all()
        emu = []
        while (fr := node.tx_pop()) is not None:
            emu.append(fr)
        assert [(i, bytes(d), fd) for i, d, fd in host] == emu, (k, msg)
    assert app.state == node.state


def test_block_count_agrees_with_a_code_hook(board, elf) -> None:
    """The block hook's decoded count = the instructions a code hook sees
    plus the conditional ones an IT block skips (the M4F issues those too);
    every instruction the code hook sees starts where the decoder says,
    with the length it says."""
    from firmware_gen.pil import PilActuator
    pil = PilActuator(board.ctrl_config(), board.plant_params(), seed=1, elf=elf, count="block")
    seen: list[tuple[int, int]] = []
    blocks: list[tuple[int, int]] = []
    uc = pil.node.uc
    uc.hook_add(unicorn.UC_HOOK_CODE, lambda u, a, s, _: seen.append((a, s)))
    uc.hook_add(unicorn.UC_HOOK_BLOCK, lambda u, a, s, _: blocks.append((a, s)))
    pil.command("velocity", v_out_ref=1.0)
    rec = pil.step(20, record=True)
    assert rec is not None
    seen.clear()
    blocks.clear()
    pil.step(1)
    n_block = pil.node.last_count
    flash = pil.node._flash
    starts: list[tuple[int, int]] = []
    for a, s in blocks:
        k = 0
        while k < s:
            hw = flash[a + k] | (flash[a + k + 1] << 8)
            ln = 4 if (hw >> 11) in (0x1D, 0x1E, 0x1F) else 2
            starts.append((a + k, ln))
            k += ln
    assert len(starts) == n_block
    assert set(seen) <= set(starts)            # same boundaries and lengths
    skipped = [a for a, _ in starts if a not in {x for x, _ in seen}]
    assert n_block == len(seen) + len(skipped)
    assert len(skipped) < 0.1 * n_block
    # the outer loop (every outer_div-th period) costs more than a plain period
    counts = rec.instructions
    assert 100 < counts.min() < counts.max() < 20_000


def test_current_step_scenario_on_the_pil_target(tmp_path: Path) -> None:
    from hil.run import run
    camp = tmp_path / "pil.toml"
    camp.write_text(f"""
[campaign]
name = "pil current step"
board = "{BOARD.as_posix()}"
seed = 1

[[scenario]]
name = "current step"
kind = "current_step"
i_q_a = 7.5
period_s = 4e-5
pre_s = 0.001
duration_s = 0.006
[scenario.limits]
rise_s_max = 0.00028
overshoot_max = 0.10
settling_s_max = 0.003
steady_state_error_max = 0.15
""")
    campaign, results, fig = run(camp, "pil", tmp_path / "out")
    assert len(results) == 1
    assert results[0].passed, [(c.name, c.value, c.limit) for c in results[0].checks]
    assert (tmp_path / "out" / "report.html").is_file()


def test_elf_reader(tmp_path: Path, elf) -> None:
    """A file that is no ARM ELF is refused; the image's sizes are plausible
    for the core (tens of KiB of code, a few KiB of data)."""
    from firmware_gen.pil import PilError, load_elf
    bad = tmp_path / "bad.elf"
    bad.write_bytes(b"\x7fELF" + bytes(60))
    with pytest.raises(PilError):
        load_elf(bad)
    sizes = elf.sizes()
    assert 4096 < sizes["flash_bytes"] < 512 * 1024 and 0 < sizes["ram_bytes"] < 64 * 1024
    assert elf.sym("pil_isr") < elf.sym("pil_app")      # code in flash, state in RAM
