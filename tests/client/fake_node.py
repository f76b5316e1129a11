"""Fake actuators for the client tests: the real firmware application (core.App,
the C mf_app) behind a python-can bus, served by a background thread.

The thread feeds every received frame to every App, runs a few PWM periods
with constant healthy sensing (0 A, 48 V, a fixed encoder count: the motor
stands still), ticks the main loop with the wall time and sends what the
Apps queued. No plant: positions stay where the encoder says.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path

import can

from actuators import core
from firmware_gen.board import Board, load_board

BOARD_PATH = Path(__file__).resolve().parents[2] / "boards" / "arm_48v.toml"
PERIODS_PER_LOOP = 4          # PWM periods run per loop turn
ENC_COUNT = 1234


def board() -> Board:
    return load_board(BOARD_PATH)


def make_app(b: Board, node_id: int, group: tuple[int, int] | None = None) -> core.App:
    cfg = b.ctrl_config()
    # no plant behind the ADC: a current reference would make the back-EMF
    # check call the (standing) encoder stuck; and the test's pauses must not
    # trip the command watchdog
    cfg.protect.enc_stuck_s = 5.0
    cfg.protect.cmd_timeout_s = 5.0
    gid, slot = group if group is not None else (0, 0)
    return core.App(cfg, node_id, group_id=gid, slot=slot, ranges=b.impedance_ranges())


class FakeNodes:
    """``FakeNodes(channel, {node_id: group or None})``: core.App nodes on a
    python-can ``interface`` bus (virtual by default), served by a thread
    between ``start()`` and ``stop()`` (or as a context manager)."""

    def __init__(self, channel: str, nodes: Mapping[int, tuple[int, int] | None], *,
                 interface: str = "virtual") -> None:
        self.board = board()
        adc = self.board.adc
        self.adc_i = (int(adc.i_offset_counts),) * 3
        self.adc_vbus = round(48.0 / adc.vbus_v_per_count)
        self.apps = {n: make_app(self.board, n, g) for n, g in nodes.items()}
        self.lock = threading.Lock()
        self.received: list[can.Message] = []
        self.bus = can.Bus(interface=interface, channel=channel)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for app in self.apps.values():          # boot: the first tick announces BOOT, then IDLE
            app.run(PERIODS_PER_LOOP, self.adc_i, self.adc_vbus, ENC_COUNT)
            app.tick(0.0)
            app.tx_all()

    def __enter__(self) -> "FakeNodes":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="fake-nodes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.bus.shutdown()

    def _serve(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            msg = self.bus.recv(0.001)
            now = time.monotonic()
            with self.lock:
                if msg is not None:
                    self.received.append(msg)
                    for app in self.apps.values():
                        app.on_frame(msg.arbitration_id, bytes(msg.data), bool(msg.is_fd))
                out = []
                for app in self.apps.values():
                    app.run(PERIODS_PER_LOOP, self.adc_i, self.adc_vbus, ENC_COUNT)
                    app.tick(now - last)
                    out += app.tx_all()
            last = now
            for can_id, data, fd in out:
                self.bus.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False,
                                          is_fd=fd, bitrate_switch=fd))
