"""Shared board fixtures for the simulated-actuator tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from firmware_gen.board import Board, load_board

BOARDS = Path(__file__).resolve().parents[2] / "boards"


@pytest.fixture(scope="module")
def arm_board() -> Board:
    return load_board(BOARDS / "arm_48v.toml")
