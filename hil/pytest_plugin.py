"""pytest plugin: the HIL bench as fixtures, so teams write their own acceptance tests.

Enable it with ``-p hil.pytest_plugin`` (or installed: the ``pytest11``
entry point ``hil.pytest_plugin`` in pyproject.toml, which loads it by itself; the
``-p`` is then a no-op). Options::

    --hil-target sim|sim-remote|can|pil   (default sim)
    --hil-board NAME_OR_FILE              (default arm_48v)
    --hil-interface IFACE --hil-channel CH --hil-bitrate BPS   (can, sim-remote)
    --hil-nodes 1-6                       (default: the board's lowest node id)

Fixtures: ``bench`` (the open ``hil.targets.Target``, once per session;
closed, every node disabled, at the end) and ``actuator`` (a
``BenchActuator``: the first node, reset and enabled for each test, with
``step`` / ``hold`` / ``command`` helpers returning the recorded signals).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

__all__ = ["BenchActuator"]


def pytest_addoption(parser: Any) -> None:
    g = parser.getgroup("hil", "myofoc HIL bench")
    g.addoption("--hil-target", default="sim", help="sim, sim-remote, can or pil (default sim)")
    g.addoption("--hil-board", default="arm_48v", help="board name in boards/ or a board file")
    g.addoption("--hil-interface", default=None, help="python-can interface (can, sim-remote)")
    g.addoption("--hil-channel", default=None, help="python-can channel")
    g.addoption("--hil-bitrate", type=int, default=None, help="bit rate, bit/s")
    g.addoption("--hil-nodes", default=None, help="node ids, e.g. 1-6 (default: the board's lowest)")


class BenchActuator:
    """One node of the bench. Every command is clamped to the board's
    limits by the target. Signals are dicts of numpy arrays
    (``hil.targets.base.RECORD_FIELDS``: t_s, p_out_rad, v_out_rad_s,
    tau_out_nm, temp_c, faults, mode, node_state, sent)."""

    def __init__(self, bench: Any, node: int) -> None:
        self.bench = bench
        self.node = node
        self.board = bench.board

    def command(self, kind: str, **fields: float) -> dict[str, Any] | None:
        """One setpoint (current, velocity, position, impedance, muscle; SI); the reply."""
        return self.bench.command(self.node, kind, **fields)

    def hold(self, kind: str, duration_s: float, period_s: float = 1e-3, **fields: Any) -> dict[str, np.ndarray]:
        """Command ``fields`` (scalars or one array value per sample) for duration_s (s)."""
        return self.bench.segment(self.node, kind, fields, duration_s, period_s)

    def step(self, kind: str, field: str, size: float, duration_s: float, pre_s: float = 0.01,
             period_s: float = 1e-3) -> dict[str, np.ndarray]:
        """``field`` at 0 for pre_s, then at ``size`` for duration_s; the
        record of the step part (time from the step in ``t_step_s``)."""
        self.hold(kind, pre_s, period_s, **{field: 0.0})
        rec = self.hold(kind, duration_s, period_s, **{field: size})
        rec["t_step_s"] = rec["t_s"] - rec["t_s"][0]
        return rec

    def write_param(self, name: str, value: float) -> float:
        return self.bench.write_param(self.node, name, value)


def _board(spec: str) -> Any:
    from pathlib import Path

    from firmware_gen.board import load_board
    from hil.scenario import BOARDS_DIR
    for c in (Path(spec), BOARDS_DIR / spec, BOARDS_DIR / f"{spec}.toml"):
        if c.is_file():
            return load_board(c)
    raise pytest.UsageError(f"--hil-board {spec!r}: no such board (a name in {BOARDS_DIR} or a file)")


@pytest.fixture(scope="session")
def bench(pytestconfig: Any) -> Any:
    """The HIL target named by --hil-target, open for the whole session."""
    from hil.targets import make_target
    opt = pytestconfig.getoption
    board = _board(opt("--hil-board"))
    nodes = [board.can.node_id_min]
    if opt("--hil-nodes"):
        from actuators.sim_serve import parse_nodes
        nodes = parse_nodes(opt("--hil-nodes"))
    opts: dict[str, Any] = {"node_ids": nodes}
    for k in ("interface", "channel", "bitrate"):
        if opt(f"--hil-{k}") is not None:
            opts[k] = opt(f"--hil-{k}")
    target = make_target(opt("--hil-target"), board, **opts)
    target.open(0)
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def actuator(bench: Any) -> BenchActuator:
    """The bench's first node: reset (IDLE, no fault) and enabled; disabled after the test."""
    node = bench.node_ids[0]
    bench.reset(0)
    bench.enable(node)
    yield BenchActuator(bench, node)
    bench.disable_all()
