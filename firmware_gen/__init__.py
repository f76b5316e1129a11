"""firmware_gen: board file -> firmware project -> build -> signed image -> flash.

Part 1, board files: ``load_board(path)`` reads and validates ``boards/*.toml``
against ``board_schema.SCHEMA`` and returns a frozen :class:`Board`, from which
``ctrl_config()``, ``plant_tables()`` and ``impedance_ranges()`` derive what the
control core, the simulated plant and the CAN protocol need.
"""
from __future__ import annotations

from typing import Any

from .errors import BoardFileError, Problem

__all__ = ["Board", "BoardFileError", "Problem", "board_from_dict", "load_board", "load_boards"]

_FROM_BOARD = ("Board", "board_from_dict", "load_board", "load_boards")


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m firmware_gen.board_schema` does not import it twice.
    if name in _FROM_BOARD:
        from . import board

        return getattr(board, name)
    raise AttributeError(f"module 'firmware_gen' has no attribute {name!r}")
