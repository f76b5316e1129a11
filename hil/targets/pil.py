"""``pil``: the compiled Cortex-M4F firmware in an emulator, on the software plant.

Each node is a ``firmware_gen.pil.PilActuator``: the firmware application
(mf_app, built with arm-none-eabi-gcc from the core's sources) runs in
unicorn, one ``mf_app_isr`` call per PWM period, against the C plant under
the simulator's conventions. Frames reach the firmware the way they reach a
board: the host client (``actuators.client.Actuator``) sends them on an
in-process ``virtual`` bus, ``PilNodes`` hands each to every node's
``mf_app_on_frame`` in the emulator and sends what ``mf_app_tx_pop`` gives
back. The host end of the bus is ``hil.targets.sim.LockstepBus``: a receive
with nothing waiting lets the nodes answer at the same simulated instant.
Time is virtual; a scenario streams one command per sample (the base
class's ``_segment``). Slower than ``sim`` (tens of microseconds per PWM
period instead of a fraction), so use it for short scenarios.
"""
from __future__ import annotations

import dataclasses
import math
import uuid
from pathlib import Path
from typing import Any

import can

from actuators import commands as cmd
from actuators.client import Actuator, BusDispatcher
from hil.errors import HilError
from hil.targets.base import Target
from hil.targets.client_ops import ClientNodes, command_reply, observe

__all__ = ["PilNodes", "PilTarget"]

STATE_NAMES = {0: "BOOT", 1: "IDLE", 2: "ARMED", 3: "RUNNING", 4: "FAULT"}
WALL_TIMEOUT_S = 2.0   # wall-clock wait for a reply (see PilTarget._build)


class PilNodes:
    """Emulated firmware nodes of one board on one python-can bus (lock-step).

    ``bus``: an open bus (not shut down here); ``node_ids``: CAN node ids in
    the board's range; ``seed``: plant noise seed (node k gets seed + k);
    ``fd``: the nodes speak CAN FD (None: the board's); ``log``: a
    ``can.Listener`` that gets every frame both ways, stamped with
    simulated time."""

    def __init__(self, bus: can.BusABC, board: Any, node_ids: list[int], *, seed: int = 0,
                 fd: bool | None = None, log: can.Listener | None = None) -> None:
        from firmware_gen.pil import PilActuator, load_elf
        from firmware_gen.qemu import build
        lo, hi = board.can.node_id_min, board.can.node_id_max
        bad = [n for n in node_ids if not lo <= n <= hi]
        if bad:
            raise HilError(f"node id(s) {bad} outside the node range {lo}-{hi} of board {board.name}")
        self.bus = bus
        self.board = board
        self.node_ids = list(node_ids)
        self.fd = bool(board.can.fd) if fd is None else bool(fd)
        self.log = log
        elf = load_elf(build() / "pil.elf")
        ranges = board.impedance_ranges()
        cfg, pp = board.ctrl_config(), board.plant_params()
        self.nodes = [PilActuator(cfg, pp, seed=seed + k, app={"node_id": n, "ranges": ranges},
                                  boot=False, elf=elf) for k, n in enumerate(self.node_ids)]
        self.dt_s = self.nodes[0].dt_s
        self._owed = 0.0
        # power-up: PWM periods until the first main-loop tick announces the boot
        self.advance(self.nodes[0].tick_div * self.dt_s)
        self.flush()

    @property
    def t_s(self) -> float:
        """Simulated time since the start, s."""
        return self.nodes[0].t_s

    def _log(self, msg: can.Message, rx: bool) -> None:
        if self.log is not None:
            self.log.on_message_received(can.Message(
                timestamp=self.t_s, arbitration_id=msg.arbitration_id, data=msg.data,
                is_extended_id=False, is_fd=msg.is_fd, bitrate_switch=msg.is_fd, is_rx=rx, channel=0))

    def receive(self, msg: can.Message) -> None:
        """One received frame to every node's firmware dispatch."""
        if msg.is_extended_id or msg.is_remote_frame or msg.is_error_frame or (msg.is_fd and not self.fd):
            return
        self._log(msg, rx=False)   # host -> nodes
        for a in self.nodes:
            a.node.on_frame(msg.arbitration_id, bytes(msg.data), bool(msg.is_fd))

    def drain(self) -> None:
        while True:
            msg = self.bus.recv(timeout=0.0)
            if msg is None:
                return
            self.receive(msg)

    def flush(self) -> None:
        """Send every frame the firmware queued, node by node, oldest first."""
        for a in self.nodes:
            while True:
                fr = a.node.tx_pop()
                if fr is None:
                    break
                can_id, data, is_fd = fr
                msg = can.Message(arbitration_id=can_id, data=data, is_extended_id=False,
                                  is_fd=is_fd, bitrate_switch=is_fd)
                self.bus.send(msg)
                self._log(msg, rx=True)

    def advance(self, duration_s: float) -> None:
        """Run every node duration_s (s) of PWM periods (a fraction carried over)."""
        self._owed += duration_s / self.dt_s
        n = int(self._owed + 1e-9)
        self._owed = max(self._owed - n, 0.0)
        if n > 0:
            for a in self.nodes:
                a.step(n)

    def step(self, duration_s: float = 0.001) -> None:
        """Lock-step: feed waiting frames, send replies, run duration_s, send."""
        self.drain()
        self.flush()
        self.advance(duration_s)
        self.flush()

    def node(self, node_id: int) -> Any:
        try:
            return self.nodes[self.node_ids.index(node_id)]
        except ValueError:
            raise HilError(f"no PIL node {node_id} (nodes: {self.node_ids})") from None

    def state(self, node_id: int) -> str:
        return STATE_NAMES.get(self.node(node_id).node.state, "?")

    def set_inputs(self, node_id: int, tau_ext_nm: float | None = None,
                   v_bus_v: float | None = None) -> None:
        self.node(node_id).set_inputs(tau_ext_nm=tau_ext_nm, v_bus_v=v_bus_v)


class PilTarget(ClientNodes, Target):
    """Options: ``node_ids`` (default: the board's lowest node id),
    ``frame_log`` (path of the frame log, .asc or .blf), ``fd`` (CAN FD;
    default the board's)."""

    name = "pil"
    injections = frozenset({"load", "v_bus", "hot_start"})

    def __init__(self, board: Any, **opts: Any) -> None:
        super().__init__(board, **opts)
        self.node_ids = list(opts.get("node_ids") or [board.can.node_id_min])
        self.min_period_s = 1.0 / board.pwm.pwm_hz
        self._board_run = board
        self._seed = 0
        self._log: can.Listener | None = None
        self.nodes: PilNodes | None = None
        self.actuators: dict[int, Actuator] = {}
        self.protocol_version: int | None = None

    # ---- life cycle -------------------------------------------------------
    def _open(self, seed: int) -> None:
        self._seed = seed
        self._board_run = self.board
        self._build()

    def _build(self) -> None:
        from hil.targets.sim import LockstepBus
        channel = f"hil-pil-{uuid.uuid4().hex}"
        node_bus = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
        host_inner = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
        if self._log is None and self.opts.get("frame_log"):
            path = Path(self.opts["frame_log"])
            path.parent.mkdir(parents=True, exist_ok=True)
            self._log = can.Logger(str(path))
        self.nodes = PilNodes(node_bus, self._board_run, self.node_ids, seed=self._seed,
                              fd=self.opts.get("fd"), log=self._log)
        self._node_bus = node_bus
        self.bus = LockstepBus(host_inner, self.nodes)
        disp = BusDispatcher.of(self.bus)
        # lock-step: the firmware answers before simulated time moves, so a
        # wall-clock timeout only guards against a node that never answers
        # (the client's 10 ms default trips on a busy machine)
        self.actuators = {n: Actuator(disp, n, board=self._board_run, fd=self.nodes.fd,
                                      timeout_s=WALL_TIMEOUT_S, param_timeout_s=WALL_TIMEOUT_S)
                          for n in self.node_ids}
        disp.poll()                       # the boot Heartbeats
        hb = disp.last_heartbeat.get(self.node_ids[0])
        if hb is not None:
            self.protocol_version = cmd.parse_reply(hb).protocol_version  # type: ignore[union-attr]

    def _reset(self, seed: int) -> None:
        self._teardown()
        self._seed = seed
        self._board_run = self.board
        self._build()

    def _teardown(self) -> None:
        if self.nodes is not None:
            self.bus.shutdown()
            self._node_bus.shutdown()
            self.nodes = None

    def _close(self) -> None:
        self._teardown()
        if self._log is not None:
            self._log.stop()
            self._log = None

    def _time(self) -> float:
        return self.nodes.t_s if self.nodes is not None else 0.0

    def _firmware_version(self) -> str:
        return f"pil: Cortex-M4F build in unicorn (protocol {self.protocol_version})"

    # ---- commands -----------------------------------------------------------

    def _enable(self, node: int) -> None:
        self._actuator(node).enable()

    def _disable_all(self) -> None:
        for a in self.actuators.values():
            try:
                a.disable()
            except Exception:  # a node in BOOT refuses; nothing moves then anyway
                pass

    def _command(self, node: int, kind: str, f: dict[str, float]) -> dict[str, Any] | None:
        return command_reply(self._actuator(node), kind, f)

    def _advance(self, duration_s: float) -> None:
        if self.nodes is None:
            raise HilError("target pil: not open")
        self.nodes.step(duration_s)

    def _observe(self, node: int) -> dict[str, Any]:
        return observe(self.bus, node)

    def _write_param(self, node: int, name: str, value: float) -> float:
        return self._actuator(node).write_param(name, value)

    # ---- faults -------------------------------------------------------------
    def _inject(self, fault: str, **params: Any) -> None:
        if self.nodes is None:
            raise HilError("target pil: not open")
        if fault == "load":
            for n in params.get("nodes", self.node_ids):
                self.nodes.set_inputs(n, tau_ext_nm=float(params["tau_ext_nm"]))
        elif fault == "v_bus":
            for n in params.get("nodes", self.node_ids):
                self.nodes.set_inputs(n, v_bus_v=float(params["v_bus_v"]))
        elif fault == "hot_start":
            temp_c = float(params["temp_c"])
            if not math.isfinite(temp_c):
                raise HilError(f"hot_start temp_c = {temp_c!r}: must be finite")
            th = dataclasses.replace(self.board.thermal, temp_ambient_c=temp_c, temp_init_c=temp_c)
            self._teardown()
            self._board_run = dataclasses.replace(self.board, thermal=th)
            self._build()
        else:
            raise HilError(f"target pil: fault injection {fault!r} not supported "
                           f"(load, v_bus, hot_start; command timeout: stop sending)")
