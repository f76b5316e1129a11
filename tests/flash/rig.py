"""Shared rig of the flashing tests: signed images made here with
`cryptography`, and simulated nodes (SimNodes with their bootloaders) served
in a thread on an in-process ``virtual`` bus, with optional chaos on the
node side: frames lost either way, a node reset after the n-th UDS frame,
a power cut after n flash bytes (then the node powers up again)."""
from __future__ import annotations

import itertools
import os
import random
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import can
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from actuators.sim_flash import FlashLayout
from actuators.sim_node import SimNodes
from firmware_gen.board import Board, load_board
from firmware_gen.image import build_image, read_image

BOARDS = Path(__file__).resolve().parents[2] / "boards"
LIGHT = os.environ.get("MYOFOC_LIGHT") == "1"
_channels = itertools.count()


class Keys:
    """A signing key pair for the tests (and a second, untrusted one)."""

    def __init__(self, seed: int = 1) -> None:
        rnd = random.Random(seed)
        self.key = Ed25519PrivateKey.from_private_bytes(bytes(rnd.getrandbits(8) for _ in range(32)))
        self.other = Ed25519PrivateKey.from_private_bytes(bytes(rnd.getrandbits(8) for _ in range(32)))
        self.pub = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def make_image(board: Board, keys: Keys, slot: int, version: str, counter: int, *, size: int = 8192,
               board_id: Optional[int] = None, key: Any = "good", seed: int = 0) -> bytes:
    """A signed image for a slot (0 A, 1 B) of the board: payload of ``size``
    pseudo-random bytes; ``key`` "good", "other" or None (unsigned)."""
    lay = FlashLayout.from_board(board)
    payload = random.Random(f"{version}-{slot}-{seed}").randbytes(size)
    raw = build_image(payload, fw_version=version, security_counter=counter,
                      board_id=board.board.id if board_id is None else board_id,
                      load_addr=lay.slot_addr(slot) + 512, build_hash=bytes(32), version_text=version)
    if key is None:
        return raw
    img = read_image(raw)
    signer = keys.key if key == "good" else keys.other
    return img.with_signature(signer.sign(img.signed_bytes()))


def image_pair(board: Board, keys: Keys, version: str, counter: int, **kw: Any) -> list[tuple[str, bytes]]:
    """The two images (slot A, slot B) of one version, as (name, bytes)."""
    return [(f"{version}-a", make_image(board, keys, 0, version, counter, **kw)),
            (f"{version}-b", make_image(board, keys, 1, version, counter, **kw))]


class ChaosBus(can.BusABC):
    """The nodes' side of the bus with chaos: drops frames in both
    directions with probability ``loss``; drops a UDS request frame sent
    less than ``min_gap_s`` after the previous one (a transport that loses
    bursts, as udp_multicast does above ~50k frames/s); calls ``on_uds(n)``
    for every UDS request frame received (n counts them)."""

    def __init__(self, inner: can.BusABC, seed: int = 0) -> None:
        self.inner = inner
        self.rng = random.Random(seed)
        self.loss = 0.0
        self.min_gap_s = 0.0
        self._last_uds_s: Optional[float] = None
        self.dropped = 0
        self.uds_frames = 0
        self.on_uds: Optional[Callable[[int], None]] = None
        super().__init__(channel=getattr(inner, "channel_info", "chaos"))

    def send(self, msg: can.Message, timeout: Optional[float] = None) -> None:
        if self.loss and self.rng.random() < self.loss:
            self.dropped += 1
            return
        self.inner.send(msg, timeout)

    def _recv_internal(self, timeout: Optional[float]) -> tuple[Optional[can.Message], bool]:
        while True:
            msg = self.inner.recv(timeout)
            if msg is None:
                return None, False
            if self.loss and self.rng.random() < self.loss:
                self.dropped += 1
                timeout = 0.0
                continue
            if (msg.arbitration_id >> 7) == 14:
                last, self._last_uds_s = self._last_uds_s, msg.timestamp
                if self.min_gap_s and last is not None and msg.timestamp - last < self.min_gap_s:
                    self.dropped += 1
                    timeout = 0.0
                    continue
                self.uds_frames += 1
                if self.on_uds is not None:
                    self.on_uds(self.uds_frames)
            return msg, False

    def shutdown(self) -> None:
        super().shutdown()


class Rig:
    """Host bus + simulated nodes with bootloaders, served in a thread."""

    def __init__(self, board: Board | str, node_ids: list[int], keys: Keys, *, fd: bool = False,
                 flash_dir: Any = None, auto_confirm: bool = True, seed: int = 0) -> None:
        self.board = load_board(board) if isinstance(board, (str, Path)) else board
        channel = f"test_flash_{next(_channels)}"
        self.fd = fd
        self.host = can.Bus(interface="virtual", channel=channel, fd=fd)
        self.raw = can.Bus(interface="virtual", channel=channel, fd=fd)
        self.chaos = ChaosBus(self.raw, seed)
        self.nodes = SimNodes(self.chaos, self.board, node_ids, boot=True, pubkey=keys.pub, fd=fd,
                              flash_dir=flash_dir, auto_confirm=auto_confirm, seed=seed)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.start()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.nodes.serve_forever(paced=True, stop=self._stop, period_s=0.001)

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(5.0)
            self._thread = None

    def boot(self, node: int) -> Any:
        """The node's SimBootloader."""
        return self.nodes.bootloader(node)

    def close(self) -> None:
        self.stop()
        for n in self.nodes.node_ids:
            self.nodes.bootloader(n).close()
        self.host.shutdown()
        self.chaos.shutdown()
        self.raw.shutdown()


def wait_until(cond: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()
