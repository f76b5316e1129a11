"""HIL targets by name (as python-can's ``BACKENDS``): ``make_target(name, board, **opts)``."""
from __future__ import annotations

import importlib
from typing import Any

from hil.errors import HilError
from hil.targets.base import Target

__all__ = ["TARGETS", "Target", "make_target"]

# name -> (module, class)
TARGETS: dict[str, tuple[str, str]] = {
    "sim": ("hil.targets.sim", "SimTarget"),
    "sim-remote": ("hil.targets.bus", "SimRemoteTarget"),
    "can": ("hil.targets.bus", "CanTarget"),
    "pil": ("hil.targets.pil", "PilTarget"),
}


def make_target(name: str, board: Any, **opts: Any) -> Target:
    """A target by name for ``board`` (a Board or a board file path)."""
    if name not in TARGETS:
        raise HilError(f"unknown target {name!r} (known: {', '.join(sorted(TARGETS))})")
    if not hasattr(board, "limits"):
        from firmware_gen.board import load_board
        board = load_board(board)
    module, cls = TARGETS[name]
    return getattr(importlib.import_module(module), cls)(board, **opts)
