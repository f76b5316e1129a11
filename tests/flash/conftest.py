"""Fixtures of the flashing tests (rig.py holds the helpers)."""
from __future__ import annotations

import pytest

from firmware_gen.board import Board, load_board
from tests.flash.rig import BOARDS, Keys, Rig


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def hk_board() -> Board:
    return load_board(BOARDS / "hip_knee_48v.toml")   # nodes 1-24, CAN FD capable


@pytest.fixture
def rig(keys, hk_board):
    made: list[Rig] = []

    def make(node_ids=(1,), **kw) -> Rig:
        r = Rig(hk_board, list(node_ids), keys, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
