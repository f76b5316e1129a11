"""``myofoc tune``: identify an actuator over CAN, design its gains, write,
persist and verify them; report.

Exit codes: 0 tuned (every fit good, verification within 10 %), 1 a poor
fit, a refused write or a failed verification (the parameters the actuator
had are restored when the tune aborted), 2 bad input (board, bus, options).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "command", "resolve_board"]

BOARDS_DIR = Path(__file__).resolve().parents[2] / "boards"


def resolve_board(spec: str) -> Any:
    """A board by name (boards/<name>.toml) or file path."""
    from firmware_gen.board import load_board
    for c in (Path(spec), BOARDS_DIR / spec, BOARDS_DIR / f"{spec}.toml"):
        if c.is_file():
            return load_board(c)
    raise ValueError(f"no board {spec!r} (a name in {BOARDS_DIR} or a path)")


def command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from actuators.tune.link import TuneAborted
    from actuators.tune.report import json_ready, write_outputs
    from actuators.tune.runner import STAGES, run_tune

    console = Console(stderr=True)
    try:
        board = resolve_board(args.board)
        only = None
        if args.only:
            only = {s.strip() for s in args.only.split(",") if s.strip()}
            bad = sorted(only - set(STAGES))
            if bad:
                raise ValueError(f"--only: unknown stage(s) {bad}; stages: {', '.join(STAGES)}")
        if not args.sim and (args.interface is None or args.node is None):
            raise ValueError("a real bus needs --interface, --channel and --node (or --sim)")
    except Exception as e:  # board file errors, bad options
        print(f"error: {e}", file=sys.stderr)
        return 2
    sim = None
    bus = None
    try:
        if args.sim:
            from actuators.tune.simlink import SimTune, parse_plant_scale, scaled_plant
            plant = scaled_plant(board, parse_plant_scale(args.plant_scale))
            sim = SimTune(board, plant=plant, node_id=args.node, seed=args.seed)
            link, node = sim.link, sim.node_id
        else:
            import can

            from actuators.client import Actuator
            from actuators.tune.link import TuneLink
            kw: dict[str, Any] = {"interface": args.interface, "channel": args.channel}
            if args.bitrate:
                kw["bitrate"] = args.bitrate
            bus = can.Bus(**kw)
            act = Actuator(bus, args.node, board=board, fd=bool(board.can.fd))
            link, node = TuneLink(act), args.node
    except Exception as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    code = 0
    res = None
    try:
        def say(stage: str, msg: str) -> None:
            console.print(f"[bold cyan]{stage:>7}[/] {msg}")
        try:
            res = run_tune(link, board, only=only, progress=say, travel_out_rad=args.travel_rad)
        except (TuneAborted, KeyboardInterrupt) as e:
            console.print(f"[bold red]aborted[/]: {e or 'interrupted'}; motor disabled, parameters restored")
            code = 1
        except Exception as e:  # bus errors, timeouts: restored by run_tune
            console.print(f"[bold red]aborted[/]: {type(e).__name__}: {e}; motor disabled, parameters restored")
            code = 1
        wall = time.perf_counter() - t0
        if res is not None:
            if not res.ok:
                code = 1
            meta = {"board": board.name, "node": node, "sim": bool(args.sim), "wall_s": wall,
                    "plant_scale": args.plant_scale}
            paths = write_outputs(args.out, res, board, meta)
            if args.json:
                design = {k: v for k, v in res.design.items() if k in ("current_d", "current_q", "velocity")}
                print(json.dumps(json_ready({**res.identified, "gains": res.gains, "design": design, "ok": res.ok,
                                             "verify": res.verify, "problems": res.problems,
                                             "stages_s": res.stages_s, "wall_s": wall}), indent=2))
            else:
                for k, v in res.identified.items():
                    if isinstance(v, (list, tuple)):
                        v = "[" + ", ".join(f"{x:.6g}" for x in v) + "]"
                    print(f"{k:31s} {v:.6g}" if isinstance(v, float) else f"{k:31s} {v}")
                for k, v in res.gains.items():
                    print(f"{k:31s} {v:.6g}")
                print(f"{'OK' if res.ok else 'NOT OK'}: {wall:.2f} s wall; report {paths['report']}")
        elif args.json:
            print(json.dumps({"ok": False, "aborted": True, "wall_s": wall}))
    finally:
        if sim is not None:
            sim.close()
        if bus is not None:
            bus.shutdown()
    return code


def add_parser(sub: Any) -> None:
    """Add ``tune`` to the myofoc subcommands."""
    t = sub.add_parser(
        "tune", help="identify an actuator over CAN, design and write its gains, verify them",
        description="Identify pole pairs, encoder direction and offset, R, L_d, L_q and flux linkage with the "
                    "core's injection test modes (Control INJECT), then the mechanics (motor side: inertia J "
                    "from sine torque pulses, viscous and Coulomb friction from torque steps and speed decays, "
                    "the cogging map's first three harmonics from a slow synchronous rotation), design the "
                    "current PI and the velocity PI (python-control, phase margin >= 60 deg on the discrete "
                    "model), write and save the gains and the cogging feed-forward table, verify the "
                    "current-loop bandwidth by stepped sine and the velocity loop by speed steps, and write "
                    "DIR/report.html, tune.json and board_snippet.toml. The motion stays inside the board's "
                    "position, speed and current limits (a band of --travel-rad around where the joint is). "
                    "A poor fit refuses to write; a fault, timeout or Ctrl-C disables the motor and restores "
                    "the parameters the actuator had. Exit 0: tuned; 1: poor fit, failed verification or "
                    "aborted; 2: bad input.",
        epilog="examples:\n  myofoc tune --board arm_48v --sim --out out/tune\n"
               "  myofoc tune --board arm_48v --sim --plant-scale r=1.2,l=0.9,flux=1.05 --out out/tune --json\n"
               "  myofoc tune --board wrist_24v --node 3 --interface socketcan --channel can0 --out out/w3\n"
               "  myofoc tune --board arm_48v --sim --only pp,offset,R --out out/tune\n"
               "  myofoc tune --board arm_48v --sim --only pp,offset,flux,J,friction,cogging --out out/mech",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--board", required=True, help="board name (boards/NAME.toml) or file")
    t.add_argument("--node", type=int, default=None, help="node id (default with --sim: the board's lowest)")
    t.add_argument("--interface", default=None, help="python-can interface: socketcan, pcan, slcan, udp_multicast, ...")
    t.add_argument("--channel", default=None, help="python-can channel (can0, /dev/ttyACM0, ...)")
    t.add_argument("--bitrate", type=int, default=None, help="bit rate, bit/s (when the interface needs it)")
    t.add_argument("--out", required=True, help="output directory")
    t.add_argument("--only", default=None, help="stages to run, comma separated: pp, offset, R, L, flux, J, "
                                                "friction, cogging, design, write, verify (default: all)")
    t.add_argument("--travel-rad", type=float, default=None,
                   help="output travel the mechanical stages may use around the start, rad (default: min(1, a "
                        "quarter of the board's position range))")
    t.add_argument("--json", action="store_true", help="print identified values (board-file keys) and gains as JSON")
    t.add_argument("--sim", action="store_true", help="tune a simulated node of the board, in process")
    t.add_argument("--plant-scale", default=None, help="with --sim: a plant that differs from the board, e.g. "
                                                       "r=1.2,l=0.9,flux=1.05,offset=0.5 (keys r l ld lq flux j b "
                                                       "tc cog; offset adds rad electrical)")
    t.add_argument("--seed", type=int, default=0, help="with --sim: plant noise seed")
    t.set_defaults(func=command)
