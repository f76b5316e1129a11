"""``sim``: simulated actuators (``SimNodes``) on an in-process ``virtual``
CAN bus, driven lock-step through the real host client.

Every command is a frame built and parsed by ``actuators.client.Actuator``;
the nodes' firmware dispatch answers it. The host side of the bus is
wrapped (``LockstepBus``) so that a receive with nothing waiting lets the
nodes read their frames and answer at once, at the same simulated instant
(as the CAN receive interrupt of the MCU does); simulated time passes only
in ``advance``. Every frame, both ways, is logged with ``can.Logger``
(``frames.asc`` or ``.blf``) stamped with the simulated time.
"""
from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

import can

from actuators import commands as cmd
from actuators import protocol as p
from actuators.client import Actuator, BusDispatcher
from actuators.sim_node import SimNodes
from hil.errors import HilError
from hil.targets.base import Target

__all__ = ["LockstepBus", "SimTarget"]


class LockstepBus(can.BusABC):
    """The host end of a virtual bus whose other end is ``nodes``: a receive
    with nothing waiting runs the nodes' frame handling (no simulated time)."""

    def __init__(self, inner: can.BusABC, nodes: SimNodes, log: can.Listener | None = None) -> None:
        self._inner = inner
        self._nodes = nodes
        self._log = log
        super().__init__(channel=getattr(inner, "channel_info", "lockstep"))

    def _logged(self, msg: can.Message, rx: bool) -> None:
        if self._log is not None:
            self._log.on_message_received(can.Message(
                timestamp=self._nodes.t_s, arbitration_id=msg.arbitration_id, data=msg.data,
                is_extended_id=msg.is_extended_id, is_fd=msg.is_fd, bitrate_switch=msg.bitrate_switch,
                is_rx=rx, channel=0))

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        self._inner.send(msg)
        self._logged(msg, rx=False)

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        msg = self._inner.recv(0.0)
        if msg is None:
            self._nodes.step(0.0)     # the nodes read and answer, no time passes
            msg = self._inner.recv(0.0)
        if msg is not None:
            self._logged(msg, rx=True)
        return msg, False

    def shutdown(self) -> None:
        self._inner.shutdown()
        super().shutdown()


class SimTarget(Target):
    """Options: ``node_ids`` (default: the board's lowest node id),
    ``frame_log`` (path of the frame log, .asc or .blf; None: no log),
    ``fd`` (CAN FD frames; default the board's)."""

    name = "sim"

    def __init__(self, board: Any, **opts: Any) -> None:
        super().__init__(board, **opts)
        self.node_ids = list(opts.get("node_ids") or [board.can.node_id_min])
        self._board_run = board          # the board the nodes are built from (hot_start changes it)
        self._seed = 0
        self._log: can.Listener | None = None
        self.nodes: SimNodes | None = None
        self.actuators: dict[int, Actuator] = {}
        self.protocol_version: int | None = None

    # ---- life cycle -------------------------------------------------------
    def _open(self, seed: int) -> None:
        self._seed = seed
        self._board_run = self.board
        self._build()

    def _build(self) -> None:
        channel = f"hil-{uuid.uuid4().hex}"
        node_bus = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
        host_inner = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
        fd = self.opts.get("fd")
        self.nodes = SimNodes(node_bus, self._board_run, self.node_ids, seed=self._seed, fd=fd)
        if self._log is None and self.opts.get("frame_log"):
            path = Path(self.opts["frame_log"])
            path.parent.mkdir(parents=True, exist_ok=True)
            self._log = can.Logger(str(path))
        self._node_bus = node_bus
        self.bus = LockstepBus(host_inner, self.nodes, self._log)
        disp = BusDispatcher.of(self.bus)
        use_fd = self.nodes.fd if fd is None else bool(fd)
        self.actuators = {n: Actuator(disp, n, board=self._board_run, fd=use_fd) for n in self.node_ids}
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
        return f"sim (protocol {self.protocol_version})"

    # ---- commands -----------------------------------------------------------
    def _actuator(self, node: int) -> Actuator:
        try:
            return self.actuators[node]
        except KeyError:
            raise HilError(f"target sim: no node {node} (nodes {self.node_ids})") from None

    def _enable(self, node: int) -> None:
        self._actuator(node).enable()

    def _disable_all(self) -> None:
        for a in self.actuators.values():
            try:
                a.disable()
            except Exception:  # a node in BOOT refuses; nothing moves then anyway
                pass

    def _command(self, node: int, kind: str, f: dict[str, float]) -> dict[str, Any] | None:
        a = self._actuator(node)
        if kind == "current":
            st = a.set_current(f.get("i_q_ref_a", 0.0), f.get("i_d_ref_a", 0.0))
        elif kind == "velocity":
            st = a.set_velocity(f.get("v_out_ref_rad_s", 0.0), f.get("tau_ff_nm", 0.0))
        elif kind == "position":
            st = a.set_position(f["p_out_ref_rad"], f.get("v_out_ff_rad_s", 0.0), f.get("tau_ff_nm", 0.0))
        elif kind == "impedance":
            st = a.set_impedance(f.get("p_des_rad", 0.0), f.get("v_des_rad_s", 0.0), f.get("kp_nm_rad", 0.0),
                                 f.get("kd_nms_rad", 0.0), f.get("tau_ff_nm", 0.0))
        else:
            st = a.set_muscle(f.get("u_flex", 0.0), f.get("u_ext", 0.0))
        return {"p_out_rad": st.p_out_rad, "v_out_rad_s": st.v_out_rad_s, "tau_out_nm": st.tau_out_nm,
                "temp_c": st.temp_c, "faults": st.faults, "mode": st.mode}

    def _advance(self, duration_s: float) -> None:
        assert self.nodes is not None
        self.nodes.step(duration_s)

    def _observe(self, node: int) -> dict[str, Any]:
        disp = BusDispatcher.of(self.bus)
        disp.poll()
        out: dict[str, Any] = {}
        hb = disp.last_heartbeat.get(node)
        if hb is not None:
            out["node_state"] = cmd.parse_reply(hb).node_state  # type: ignore[union-attr]
        st = disp.kept(p.frame_id("Status", node))
        if st:
            out["faults"] = cmd.parse_reply(st[-1]).faults  # type: ignore[union-attr]
        return out

    def _write_param(self, node: int, name: str, value: float) -> float:
        return self._actuator(node).write_param(name, value)

    # ---- faults -------------------------------------------------------------
    def _inject(self, fault: str, **params: Any) -> None:
        assert self.nodes is not None
        if fault == "load":
            for n in params.get("nodes", self.node_ids):
                self.nodes.set_inputs(n, tau_ext_nm=float(params["tau_ext_nm"]))
        elif fault == "v_bus":
            for n in params.get("nodes", self.node_ids):
                self.nodes.set_inputs(n, v_bus_v=float(params["v_bus_v"]))
        elif fault == "hot_start":
            # the thermal load of a bench (a heated housing): the nodes restart
            # with winding and housing at temp_c; only before a scenario moves
            temp_c = float(params["temp_c"])
            th = dataclasses.replace(self.board.thermal, temp_ambient_c=temp_c, temp_init_c=temp_c)
            self._teardown()
            self._board_run = dataclasses.replace(self.board, thermal=th)
            self._build()
        else:
            raise HilError(f"target sim: fault injection {fault!r} not supported "
                           f"(load, v_bus, hot_start; command timeout: stop sending)")
