"""Bus targets: actuators reached over a python-can bus, in real time.

``can`` (``CanTarget``): real actuators on any python-can interface
(socketcan, pcan, kvaser, slcan, gs_usb, ...): options ``interface``,
``channel``, ``bitrate``, ``node_ids`` (or an open ``bus``).
``sim-remote`` (``SimRemoteTarget``): nodes served by ``myofoc sim serve``
in another process; the same options, or none at all: then the target
starts ``myofoc sim serve --slcan`` itself and talks to it through
python-can's ``slcan`` interface on the server's pseudo-terminal.

The bench clock is the wall clock (``time.monotonic``); a segment sends one
command per sample (``period_s`` >= ``min_period_s``, 1 ms by default) and
waits for its reply; ``advance`` sleeps to the next sample. A node that
leaves ``lost_after`` commands in a row unanswered (or a Control) raises
``TargetLost``: the runner disables everything and the report says where
the run stopped. Every frame both ways is kept in a ``FrameLog`` (wall
time from the open) and written on close. Fault injection: ``frame_loss``
(``hil.lossy.LossyBus`` around the bus); the plant faults of the ``sim``
target cannot be done on a bus, their scenarios are skipped.
"""
from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import can

from actuators import commands as cmd
from actuators.client import Actuator, ActuatorError, ActuatorTimeout, BusDispatcher
from hil.errors import HilError
from hil.frames import FrameLog
from hil.lossy import LossPolicy, LossyBus
from hil.targets.base import Target, TargetLost
from hil.targets.client_ops import ClientNodes, command_reply, observe

__all__ = ["CanTarget", "LoggingBus", "SimRemoteTarget"]


class LoggingBus(can.BusABC):
    """``inner`` with every frame sent and received added to ``log``
    (timestamps from ``clock``)."""

    def __init__(self, inner: can.BusABC, log: FrameLog, clock: Any) -> None:
        self._inner = inner
        self._log = log
        self._clock = clock
        super().__init__(channel=getattr(inner, "channel_info", "logging"))

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        self._log.add(self._clock(), msg.arbitration_id, bytes(msg.data), False, bool(msg.is_fd))
        self._inner.send(msg, timeout)

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        msg = self._inner.recv(timeout)
        if msg is not None:
            self._log.add(self._clock(), msg.arbitration_id, bytes(msg.data), True, bool(msg.is_fd))
        return msg, False

    def shutdown(self) -> None:
        super().shutdown()           # the inner bus belongs to whoever opened it


class CanTarget(ClientNodes, Target):
    """Options: ``interface``, ``channel``, ``bitrate`` (python-can), or
    ``bus`` (an open python-can bus, not shut down here); ``node_ids``;
    ``fd`` (default the board's); ``period_s`` (shortest sample period,
    default 1 ms); ``reply_timeout_s`` (default 20 ms); ``lost_after``
    (unanswered commands in a row that end the run, default 5);
    ``frame_log`` (path, written on close)."""

    name = "can"
    injections = frozenset({"frame_loss"})

    def __init__(self, board: Any, **opts: Any) -> None:
        super().__init__(board, **opts)
        self.node_ids = list(opts.get("node_ids") or [board.can.node_id_min])
        self.min_period_s = float(opts.get("period_s") or 1e-3)
        self.cmd_period_s = self.min_period_s
        self.reply_timeout_s = float(opts.get("reply_timeout_s") or 0.02)
        self.lost_after = int(opts.get("lost_after") or 5)
        self.fd = bool(board.can.fd) if opts.get("fd") is None else bool(opts["fd"])
        self.frames = FrameLog()
        self.loss = LossPolicy(0)
        self.actuators: dict[int, Actuator] = {}
        self._raw: can.BusABC | None = None
        self._own_bus = False
        self._t0 = time.monotonic()
        self._deadline = self._t0
        self._misses = 0
        self._params_orig: dict[tuple[int, str], float] = {}
        self.overruns = 0
        self.protocol_version: int | None = None

    # ---- bus ------------------------------------------------------------------
    def _open_raw(self) -> can.BusABC:
        if self.opts.get("bus") is not None:
            return self.opts["bus"]
        iface = self.opts.get("interface")
        if not iface:
            raise HilError(f"target {self.name}: give --interface (and --channel) of the CAN adapter")
        kw: dict[str, Any] = {"interface": iface}
        if self.opts.get("channel") is not None:
            kw["channel"] = self.opts["channel"]
        if self.opts.get("bitrate"):
            kw["bitrate"] = int(self.opts["bitrate"])
        if self.fd:
            kw["fd"] = True
        if iface == "slcan":
            kw.setdefault("sleep_after_open", 0)
        try:
            self._own_bus = True
            return can.Bus(**kw)
        except (can.CanError, OSError, ValueError, ImportError) as e:
            raise HilError(f"target {self.name}: cannot open the bus {kw}: {e}") from e

    def _clock(self) -> float:
        return time.monotonic() - self._t0

    def _open(self, seed: int) -> None:
        self._t0 = time.monotonic()
        self._deadline = self._t0
        self.frames = FrameLog()
        self.loss = LossPolicy(seed)
        self._raw = self._open_raw()
        self.bus = LoggingBus(LossyBus(self._raw, self.loss), self.frames, self._clock)
        disp = BusDispatcher.of(self.bus)
        self.actuators = {n: Actuator(disp, n, board=self.board, fd=self.fd,
                                      timeout_s=self.reply_timeout_s, param_timeout_s=0.2)
                          for n in self.node_ids}
        for n in self.node_ids:   # every node must answer before anything moves
            try:
                hb = self.actuators[n].disable()
            except ActuatorError as e:
                self._close()
                raise HilError(f"target {self.name}: node {n} does not answer: {e}") from e
            self.protocol_version = hb.protocol_version

    def _close(self) -> None:
        for (n, name), value in self._params_orig.items():
            try:
                self.actuators[n].write_param(name, value)
            except (ActuatorError, can.CanError, OSError):
                pass
        self._params_orig.clear()
        if self._raw is not None and self._own_bus:
            try:
                self._raw.shutdown()
            except (can.CanError, OSError):
                pass
        self._raw = None
        path = self.opts.get("frame_log")
        if path:
            self.frames.write(Path(path))

    def _time(self) -> float:
        return self._clock()

    def _firmware_version(self) -> str:
        return f"{self.name} (protocol {self.protocol_version})"

    def _lost(self, what: str) -> TargetLost:
        return TargetLost(f"{what} at t = {self._clock():.3f} s (bench time); every node disabled",
                          self._clock())

    # ---- hooks --------------------------------------------------------------
    def _reset(self, seed: int) -> None:
        self.loss.set(0.0, 0.0)
        for (n, name), value in list(self._params_orig.items()):
            try:
                self.actuators[n].write_param(name, value)
            except ActuatorError as e:
                raise self._lost(f"node {n}: restoring {name}: {e}") from e
        self._params_orig.clear()
        for a in self.actuators.values():
            try:
                a.disable()
                if a.status(timeout_s=0.3).faults:
                    a.clear_faults()
            except (ActuatorError, can.CanError, OSError) as e:
                raise self._lost(f"node {a.node_id} does not answer ({e})") from e
        self._misses = 0
        self._deadline = time.monotonic()

    def _enable(self, node: int) -> None:
        try:
            self._actuator(node).enable()
        except (ActuatorTimeout, can.CanError, OSError) as e:
            raise self._lost(f"node {node} does not answer ENABLE ({e})") from e
        self._deadline = time.monotonic()

    def _disable_all(self) -> None:
        saved = (self.loss.to_node, self.loss.to_host)
        self.loss.set(0.0, 0.0)
        for n in self.node_ids:
            try:
                self.bus.send(cmd.make_disable(n, 0))
            except (can.CanError, OSError):
                pass
        self.loss.set(*saved)

    def _command(self, node: int, kind: str, f: dict[str, float]) -> dict[str, Any] | None:
        a = self._actuator(node)
        try:
            reply = command_reply(a, kind, f)
        except ActuatorTimeout:   # before OSError: a TimeoutError is an OSError
            self._misses += 1
            if self._misses >= self.lost_after and self.loss.to_node < 1.0 and self.loss.to_host < 1.0:
                raise self._lost(f"node {node}: no reply to {self._misses} commands in a row") from None
            return None
        except (can.CanError, OSError) as e:
            raise self._lost(f"node {node}: the bus failed ({e})") from e
        self._misses = 0
        return reply

    def _advance(self, duration_s: float) -> None:
        end = time.monotonic() + duration_s
        while True:
            wait = end - time.monotonic()
            if wait <= 0:
                return
            time.sleep(min(wait, 0.05))

    def _observe(self, node: int) -> dict[str, Any]:
        return observe(self.bus, node)

    def _write_param(self, node: int, name: str, value: float) -> float:
        a = self._actuator(node)
        try:
            if (node, name) not in self._params_orig:
                self._params_orig[(node, name)] = a.read_param(name)
            return a.write_param(name, value)
        except (ActuatorTimeout, can.CanError, OSError) as e:
            raise self._lost(f"node {node}: parameter {name}: {e}") from e

    def _inject(self, fault: str, **params: Any) -> None:
        if fault == "frame_loss":
            self.loss.set(params.get("to_node"), params.get("to_host"))
            return
        raise HilError(f"target {self.name}: fault injection {fault!r} not possible on a bus "
                       f"({', '.join(sorted(self.injections))})")


class SimRemoteTarget(CanTarget):
    """``CanTarget`` on nodes served by ``myofoc sim serve``. Without
    ``interface`` and ``bus`` it starts the server itself (``--slcan``, the
    board's file, ``node_ids``, ``seed``) and stops it on close."""

    name = "sim-remote"

    def __init__(self, board: Any, **opts: Any) -> None:
        super().__init__(board, **opts)
        self._proc: subprocess.Popen[str] | None = None

    def _open_raw(self) -> can.BusABC:
        if self.opts.get("bus") is not None or self.opts.get("interface"):
            return super()._open_raw()
        from actuators.sim_serve import format_nodes
        from actuators.sim_spawn import spawn_serve
        try:
            self._proc, ready = spawn_serve(["--board", str(self.board.path), "--nodes",
                                             format_nodes(self.node_ids), "--slcan"], timeout_s=20.0)
        except RuntimeError as e:
            raise HilError(f"target sim-remote: `myofoc sim serve` did not start: {e}") from None
        self._own_bus = True
        return can.Bus(interface="slcan", channel=ready.split()[-1], sleep_after_open=0, bitrate=1_000_000)

    def _stop_server(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGINT)
                try:
                    self._proc.communicate(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.communicate()
            self._proc = None

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._stop_server()
