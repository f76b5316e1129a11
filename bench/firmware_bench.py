"""The firmware on the Cortex-M4F: instructions per current-loop ISR, size, PIL speed.

    python bench/firmware_bench.py [--light] [--json FILE]

Builds the emulator target (firmware_gen.qemu.build: the core's sources
with arm-none-eabi-gcc -O2, the board-independent image) and, per board,
runs the firmware in unicorn on the plant (firmware_gen.pil.PilActuator)
through every mode. For each mode it counts the Thumb instructions of every
PWM interrupt (mf_app_isr: ADC scaling -> estimator -> protections -> FOC
-> PWM duties, plus the outer loop every outer_div-th period) with a block
hook: the mean over a whole number of outer-loop periods (so the outer loop
is counted at its rate) and the worst single ISR. Instructions are a lower
bound of cycles (the M4F issues most in one; loads, divides, branches take
more); the share of the PWM period is shown at the board's clock for
orientation. Also: the image's flash and RAM (code and data, the stack
reservation apart), and the PIL loop's speed (PWM periods per wall second)
next to the Cython simulator's (actuators.sim.SimActuator, same board) in
the same run. Figures, never pass/fail. MYOFOC_LIGHT=1 is --light.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from firmware_gen.board import load_board  # noqa: E402

BOARDS = ("hip_knee_48v", "arm_48v", "wrist_24v")
# (name, mode, command fields); "fault": an emergency stop latched
MODES: tuple[tuple[str, str | None, dict[str, Any]], ...] = (
    ("idle", "idle", {}),
    ("voltage", "voltage", {"v_d_ref": 0.2, "v_q_ref": 1.0}),
    ("current", "current", {"i_q_ref": 2.0, "i_d_ref": -0.5}),
    ("velocity", "velocity", {"v_out_ref": 1.0}),
    ("position", "position", {"p_out_ref": 0.1}),
    ("impedance", "impedance", {"p_des": 0.1, "kp": 20.0, "kd": 0.5, "tau_ff": 0.2}),
    ("muscle", "muscle", {"u_flex": 0.3, "u_ext": 0.1}),
    ("fault", None, {}),
)


def isr_counts(board: Any, elf: Any, outer_periods: int, warm: int) -> dict[str, dict[str, float]]:
    """Per mode: mean and max instructions per ISR over outer_periods outer-loop periods."""
    from firmware_gen.pil import PilActuator
    cfg = board.ctrl_config()
    div = int(cfg.outer_div)
    pil = PilActuator(cfg, board.plant_params(), seed=1, elf=elf, count="block")
    out: dict[str, dict[str, float]] = {}
    for name, mode, fields in MODES:
        if mode is None:
            pil.node.estop()
        else:
            pil.command(mode, **fields)
        pil.step(warm)
        rec = pil.step(outer_periods * div, record=True)   # any div consecutive periods hold one outer run
        assert rec is not None
        n = rec.instructions
        if mode is not None and rec.faults.any():
            raise RuntimeError(f"{board.name}: mode {name} faulted (0x{int(rec.faults.max()):x})")
        out[name] = {"mean": float(n.mean()), "max": int(n.max()), "min": int(n.min())}
        if mode is None:
            pil.node.clear_faults()
    return out


def profile(board: Any, elf: Any, mode: str, fields: dict[str, Any], periods: int) -> dict[str, float]:
    """Instructions per PWM period by function (code hook; the 1 kHz main-loop
    tick included at its rate), mean over ``periods``."""
    from firmware_gen.pil import PilActuator
    pil = PilActuator(board.ctrl_config(), board.plant_params(), seed=1, elf=elf, count="profile")
    pil.command(mode, **fields)
    pil.step(200)
    pil.node.histogram.clear()
    pil.step(periods)
    return {k: v / periods for k, v in pil.node.by_function().items()}


def pil_speed(board: Any, elf: Any, n: int) -> dict[str, float]:
    """PWM periods per wall second: PIL (no counting), PIL with block counting,
    and the Cython simulator, current mode, no recording."""
    from actuators.sim import SimActuator
    from firmware_gen.pil import PilActuator
    res: dict[str, float] = {}
    for label, count in (("pil", None), ("pil_counting", "block")):
        pil = PilActuator(board.ctrl_config(), board.plant_params(), seed=1, elf=elf, count=count)
        pil.command("current", i_q_ref=1.0)
        pil.step(200)
        m = n if count is None else max(n // 4, 200)
        t0 = time.perf_counter()
        pil.step(m)
        res[label] = m / (time.perf_counter() - t0)
    cfg = board.ctrl_config()
    cfg.protect.cmd_timeout_s = 1e3
    sim = SimActuator(cfg, board.plant_params(), seed=1)
    sim.command("current", i_q_ref=1.0)
    k = max(n * 100, 100_000)
    sim._bank.step(k // 10, record=False)
    t0 = time.perf_counter()
    sim._bank.step(k, record=False)
    res["sim"] = k / (time.perf_counter() - t0)
    res["sim_over_pil"] = res["sim"] / res["pil"]
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--light", action="store_true", help="short run (CI): fewer periods, one board")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()
    light = args.light or os.environ.get("MYOFOC_LIGHT") == "1"

    from firmware_gen.pil import load_elf
    from firmware_gen.qemu import build
    t0 = time.perf_counter()
    out_dir = build()
    elf = load_elf(out_dir / "pil.elf")
    sizes = elf.sizes()
    print(f"image {out_dir / 'pil.elf'} (built/cached in {time.perf_counter() - t0:.1f} s)")
    print(f"  flash {sizes['flash_bytes']} B, RAM {sizes['ram_bytes']} B "
          f"(+ {sizes['stack_bytes']} B stack reserved); budget 64 KiB / 16 KiB")

    boards = ("arm_48v",) if light else BOARDS
    outer_periods = 4 if light else 40
    figures: dict[str, Any] = {"sizes": sizes, "boards": {}, "light": light}
    for bname in boards:
        board = load_board(os.path.join(ROOT, "boards", f"{bname}.toml"))
        cfg = board.ctrl_config()
        period_cycles = board.mcu.clock_hz / board.pwm.pwm_hz
        counts = isr_counts(board, elf, outer_periods, warm=100 if light else 500)
        speed = pil_speed(board, elf, 1000 if light else 10_000)
        figures["boards"][bname] = {"counts": counts, "speed": speed, "pwm_hz": board.pwm.pwm_hz,
                                    "outer_div": int(cfg.outer_div), "clock_hz": board.mcu.clock_hz}
        print(f"\n{bname}: PWM {board.pwm.pwm_hz / 1e3:g} kHz, outer loop every {cfg.outer_div} "
              f"periods, {board.mcu.clock_hz / 1e6:g} MHz ({period_cycles:.0f} cycles per period)")
        print(f"  {'mode':<10} {'mean':>7} {'max':>6} {'min':>6}  {'mean/period':>11}")
        for name, c in counts.items():
            print(f"  {name:<10} {c['mean']:7.1f} {c['max']:6d} {c['min']:6d}  "
                  f"{100 * c['mean'] / period_cycles:10.1f}%")
        worst = max(c["max"] for c in counts.values())
        print(f"  worst single ISR: {worst} instructions ({100 * worst / period_cycles:.1f}% of a period)")
        print(f"  speed: PIL {speed['pil']:,.0f} periods/s ({speed['pil'] / board.pwm.pwm_hz:.2f}x real "
              f"time), counting {speed['pil_counting']:,.0f}/s; Cython sim {speed['sim']:,.0f}/s "
              f"= {speed['sim_over_pil']:.0f}x the PIL")
    if not light:
        board = load_board(os.path.join(ROOT, "boards", "arm_48v.toml"))
        div = int(board.ctrl_config().outer_div)
        prof = profile(board, elf, "impedance", {"p_des": 0.1, "kp": 20.0, "kd": 0.5}, 20 * div)
        figures["profile_impedance_arm_48v"] = prof
        print(f"\narm_48v impedance mode, instructions per PWM period by function (code hook: "
              f"IT-skipped not counted; the 1 kHz tick included), mean over {20 * div} periods:")
        for name, v in list(prof.items())[:12]:
            print(f"  {name:<28} {v:7.1f}")
        print(f"  {'total':<28} {sum(prof.values()):7.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
