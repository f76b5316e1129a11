"""``myofoc hil run``: load, validate (before any motion), run, record, report.

Exit codes: 0 every check passed, 1 a check failed, 2 bad input (campaign,
board, target).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from hil.errors import HilError, ScenarioError

__all__ = ["add_parser", "command", "replay_command", "run"]


def run(campaign_path: str | Path, target_name: str, out_dir: str | Path, *, board: Any = None,
        seed: int | None = None, progress: Any = None, frame_log: str = "frames.asc",
        **target_opts: Any) -> tuple[Any, list[Any], dict[str, Any]]:
    """Run a campaign file; write report.html, junit.xml, the frame log
    (``frame_log``: frames.asc or frames.blf), signals.npz, signals/*.csv,
    meta.json in out_dir. ``target_opts``: the target's options
    (interface, channel, bitrate, node_ids, ...). Returns (campaign,
    results, figures). ScenarioError before any motion."""
    from hil.recorder import write_signals
    from hil.report import write_html, write_junit
    from hil.runner import run_campaign
    from hil.scenario import load_campaign
    from hil.targets import make_target

    campaign = load_campaign(campaign_path, board=board)
    if seed is not None:
        campaign.seed = seed
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    nodes = target_opts.pop("node_ids", None) or sorted({s.params["node"] for s in campaign.scenarios})
    missing = sorted({s.params["node"] for s in campaign.scenarios} - set(nodes))
    if missing:
        raise HilError(f"the campaign commands node(s) {missing}, not in --nodes {nodes}")
    target = make_target(target_name, campaign.board, node_ids=nodes, frame_log=out / frame_log, **target_opts)
    w0 = time.perf_counter()
    target.open(campaign.seed)
    try:
        w1 = time.perf_counter()
        results = run_campaign(campaign, target, progress=progress)
        wall = time.perf_counter() - w1          # the campaign alone (bench/hil_bench.py times the same)
        fw = target.firmware_version
    finally:
        target.close()                           # writes the frame log
    sim = sum(r.sim_s for r in results)
    figures = {"wall_s": wall, "sim_s": sim, "open_close_s": time.perf_counter() - w0 - wall}
    figures["frames"] = len(getattr(target, "frames", ()))
    write_signals(out, campaign, results, target=target_name, firmware_version=fw, extra=figures)
    write_html(out / "report.html", campaign, results, target=target_name, firmware_version=fw)
    write_junit(out / "junit.xml", campaign, results)
    return campaign, results, figures


def command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    try:
        from hil.scenario import load_campaign
        n = len(load_campaign(args.campaign, board=args.board).scenarios)
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("hil", total=n)

            def tick(sc: Any) -> None:
                bar.update(task, advance=0 if sc.index == 0 else 1, description=sc.name)

            opts: dict[str, Any] = {}
            for k in ("interface", "channel", "bitrate"):
                if getattr(args, k, None) is not None:
                    opts[k] = getattr(args, k)
            if getattr(args, "nodes", None):
                from actuators.sim_serve import parse_nodes
                try:
                    opts["node_ids"] = parse_nodes(args.nodes)
                except ValueError as e:
                    raise HilError(str(e)) from e
            campaign, results, fig = run(args.campaign, args.target, args.out, board=args.board,
                                         seed=args.seed, progress=tick, frame_log=args.frame_log, **opts)
            bar.update(task, completed=n)
    except (ScenarioError, HilError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from hil.report import status
    failed = sum(not r.passed for r in results)
    if args.json:
        import json
        import math

        def num(x: float) -> Any:
            return x if math.isfinite(x) else str(x)

        print(json.dumps({
            "campaign": campaign.name, "board": campaign.board.name, "target": args.target,
            "passed": failed == 0, "failed": failed, "sim_s": fig["sim_s"], "wall_s": fig["wall_s"],
            "out": str(args.out),
            "scenarios": [{"index": r.scenario.index, "name": r.scenario.name, "kind": r.scenario.kind,
                           "status": status(r), "error": r.error, "skipped": r.skipped,
                           "figures": {k: num(v) for k, v in r.figures.items()},
                           "checks": [{"name": c.name, "value": num(c.value), "limit": c.limit, "passed": c.passed}
                                      for c in r.checks]} for r in results]}, indent=2))
        return 1 if failed else 0
    for r in results:
        detail = r.error or r.skipped or ", ".join(f"{c.name} {c.value:.4g}/{c.limit:.4g}"
                                                   for c in r.checks if not c.passed)
        print(f"{status(r):5s} {r.scenario.index:2d} {r.scenario.name}" + (f"  ({detail})" if detail else ""))
        for note in r.notes:
            print(f"      note: {note}")
    print(f"{campaign.name}: {len(results) - failed}/{len(results)} passed"
          f"{f' ({sum(bool(r.skipped) for r in results)} skipped)' if any(r.skipped for r in results) else ''}; "
          f"{fig['sim_s']:.2f} s simulated in {fig['wall_s']:.2f} s wall ({fig['sim_s'] / max(fig['wall_s'], 1e-9):.0f}x "
          f"real time; bench open and frame log {fig.get('open_close_s', 0.0):.2f} s); "
          f"report {Path(args.out) / 'report.html'}")
    return 1 if failed else 0


def replay_command(args: argparse.Namespace) -> int:
    from hil.replay import replay
    try:
        res = replay(args.dir)
    except (ScenarioError, HilError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    same = all(r.same for r in res)
    if args.json:
        import json
        print(json.dumps({"same": same, "scenarios": [
            {"index": r.index, "name": r.name, "same": r.same, "checks": r.checks,
             "replayed": {k: (v if v == v and abs(v) != float("inf") else str(v)) for k, v in r.replayed.items()}}
            for r in res]}, indent=2))
    else:
        for r in res:
            diff = [k for k in r.recorded if k in r.replayed and r.recorded[k] != r.replayed[k]]
            print(f"{'same' if r.same else 'DIFF'}  {r.index:2d} {r.name}" + (f"  ({', '.join(diff)})" if diff else ""))
        print(f"{args.dir}: {'every figure recomputed equal' if same else 'figures differ'}")
    return 0 if same else 1


def add_parser(sub: Any) -> None:
    """Add ``hil run`` to the myofoc subcommands."""
    h = sub.add_parser("hil", help="HIL test bench: run campaigns on a target, report",
                       description="Hardware-in-the-loop campaigns (hil/scenarios/*.toml).")
    hsub = h.add_subparsers(dest="hil_command", required=True, metavar="ACTION")
    r = hsub.add_parser(
        "run", help="run a campaign on a target; write report.html, junit.xml, frames.asc, signals",
        description="Validate a campaign (before any motion), run it on a target, judge every check and "
                    "write DIR/report.html, junit.xml, frames.asc (every CAN frame), signals.npz, "
                    "signals/*.csv and meta.json. Exit 0: all passed; 1: a check failed; 2: bad input.",
        epilog="examples:\n  myofoc hil run hil/scenarios/acceptance_arm_48v.toml --target sim --out out/hil\n"
               "  myofoc hil run hil/scenarios/acceptance_arm_48v.toml --target sim-remote --out out/remote\n"
               "  myofoc hil run hil/scenarios/acceptance_wrist_24v.toml --target can --interface socketcan "
               "--channel can0 --nodes 1 --out out/bench --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("campaign", help="campaign TOML file")
    r.add_argument("--target", default="sim", help="target: sim, sim-remote, can, pil (default: %(default)s)")
    r.add_argument("--out", required=True, help="output directory")
    r.add_argument("--interface", default=None, help="python-can interface (can, sim-remote): socketcan, "
                                                     "pcan, kvaser, slcan, gs_usb, udp_multicast, ...")
    r.add_argument("--channel", default=None, help="python-can channel (can0, /dev/ttyACM0, PCAN_USBBUS1, ...)")
    r.add_argument("--bitrate", type=int, default=None, help="bit rate, bit/s (when the interface needs it)")
    r.add_argument("--nodes", default=None, help="node ids on the bench, e.g. 1-6 or 1,3 "
                                                 "(default: the campaign's)")
    r.add_argument("--frame-log", default="frames.asc", help="frame log file name in --out: .asc or .blf "
                                                               "(default: %(default)s)")
    r.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    r.add_argument("--board", default=None, help="board name or file (default: the campaign's)")
    r.add_argument("--seed", type=int, default=None, help="seed (default: the campaign's)")
    r.set_defaults(func=command)
    rp = hsub.add_parser(
        "replay", help="recompute every figure of a recorded run (DIR of hil run) and compare",
        description="Re-validate the recorded campaign (meta.json), judge every scenario again on its "
                    "recorded signals (signals.npz) and compare with the figures of the run. Exit 0: all "
                    "equal; 1: a figure differs; 2: DIR is not a recording.",
        epilog="example:\n  myofoc hil replay out/hil --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("dir", help="output directory of a hil run")
    rp.add_argument("--json", action="store_true", help="print the result as JSON")
    rp.set_defaults(func=replay_command)
