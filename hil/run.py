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

__all__ = ["add_parser", "command", "run"]


def run(campaign_path: str | Path, target_name: str, out_dir: str | Path, *, board: Any = None,
        seed: int | None = None, progress: Any = None) -> tuple[Any, list[Any], dict[str, Any]]:
    """Run a campaign file; write report.html, junit.xml, frames.asc,
    signals.npz, signals/*.csv, meta.json in out_dir. Returns
    (campaign, results, figures). ScenarioError before any motion."""
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
    nodes = sorted({s.params["node"] for s in campaign.scenarios})
    target = make_target(target_name, campaign.board, node_ids=nodes, frame_log=out / "frames.asc")
    w0 = time.perf_counter()
    target.open(campaign.seed)
    try:
        results = run_campaign(campaign, target, progress=progress)
        fw = target.firmware_version
    finally:
        target.close()
    wall = time.perf_counter() - w0
    sim = sum(r.sim_s for r in results)
    figures = {"wall_s": wall, "sim_s": sim}
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

            campaign, results, fig = run(args.campaign, args.target, args.out, board=args.board,
                                         seed=args.seed, progress=tick)
            bar.update(task, completed=n)
    except (ScenarioError, HilError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for r in results:
        status = "PASS" if r.passed else "FAIL"
        detail = r.error or ", ".join(f"{c.name} {c.value:.4g}/{c.limit:.4g}" for c in r.checks if not c.passed)
        print(f"{status}  {r.scenario.index:2d} {r.scenario.name}" + (f"  ({detail})" if detail else ""))
        for note in r.notes:
            print(f"      note: {note}")
    failed = sum(not r.passed for r in results)
    print(f"{campaign.name}: {len(results) - failed}/{len(results)} passed; {fig['sim_s']:.2f} s simulated "
          f"in {fig['wall_s']:.2f} s wall; report {Path(args.out) / 'report.html'}")
    return 1 if failed else 0


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
        epilog="example:\n  myofoc hil run hil/scenarios/acceptance_arm_48v.toml --target sim --out out/hil",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("campaign", help="campaign TOML file")
    r.add_argument("--target", default="sim", help="target name (sim; default: %(default)s)")
    r.add_argument("--out", required=True, help="output directory")
    r.add_argument("--board", default=None, help="board name or file (default: the campaign's)")
    r.add_argument("--seed", type=int, default=None, help="seed (default: the campaign's)")
    r.set_defaults(func=command)
