"""``sim``: simulated actuators (``SimNodes``) in this process, virtual time.

Single commands, enable/disable and parameters go through the real host
client (``actuators.client.Actuator``) on an in-process ``virtual`` bus
whose host end (``LockstepBus``) lets the nodes answer at the same
simulated instant (as the CAN receive interrupt of the MCU does).

A **segment** (a scenario's whole command schedule) runs in big C chunks:
the schedule's setpoint frames are built at once by the DBC codec
(``hil.frames``), each is handed to the nodes' firmware dispatch
(``mf_app_on_frame``) when its value changes or the CAN period
(``cmd_period_s``, 1 ms) has passed, the plants run in C up to the next
frame, and the replies (StateReply, Heartbeat, Status) are taken from the
firmware's transmit queue and decoded in bulk. Samples between two
commands (a sample period shorter than the CAN period: current-loop
steps) come from the simulator's decimated record (the firmware's
estimates: p_out, v_out, i_q x kt, the latched faults). Every frame both
ways is kept in a ``hil.frames.FrameLog`` stamped with simulated time and
written on ``close`` (``frames.asc`` or ``.blf``). Frames can be lost on
purpose (``inject("frame_loss", ...)``: ``hil.lossy.LossPolicy``).
"""
from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

import can
import numpy as np
from can.interfaces.virtual import VirtualBus

from actuators import commands as cmd
from actuators import protocol as p
from actuators.client import Actuator, BusDispatcher
from actuators.sim_node import STATE_NAMES, SimNodes
from hil.errors import HilError
from hil.frames import FrameLog, decode_states, encode_commands
from hil.lossy import LossPolicy
from hil.targets.base import STATE_CODES, Target, empty_record
from hil.targets.client_ops import ClientNodes, command_reply, observe

__all__ = ["LockstepBus", "SimTarget"]

_STATE_FN = p.function_code("StateReply")
_HEARTBEAT_FN = p.function_code("Heartbeat")
_STATUS_FN = p.function_code("Status")
_I_D_PARAM = 187          # "state.i_d", the controller's measured d current (mf_params.c)


class LockstepBus(can.BusABC):
    """The host end of a virtual bus whose other end is ``nodes``: a receive
    with nothing waiting runs the nodes' frame handling (no simulated time).
    Every frame is added to ``log``; ``loss`` drops frames on purpose."""

    def __init__(self, inner: can.BusABC, nodes: SimNodes, log: FrameLog | None = None,
                 loss: LossPolicy | None = None) -> None:
        self._inner = inner
        self._nodes = nodes
        self.t_base_s = 0.0           # the bench clock when these nodes started (s)
        self._log = log
        self._loss = loss
        super().__init__(channel=getattr(inner, "channel_info", "lockstep"))

    def _logged(self, msg: can.Message, rx: bool) -> None:
        if self._log is not None:
            self._log.add(self.t_base_s + self._nodes.t_s, msg.arbitration_id, bytes(msg.data), rx,
                          bool(msg.is_fd))

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        self._logged(msg, rx=False)
        if self._loss is None or self._loss.keep(to_node=True):
            self._inner.send(msg)

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        msg = self._inner.recv(0.0)
        if msg is None:
            self._nodes.step(0.0)     # the nodes read and answer, no time passes
            msg = self._inner.recv(0.0)
        if msg is not None:
            self._logged(msg, rx=True)
            if self._loss is not None and not self._loss.keep(to_node=False):
                return None, False
        return msg, False

    def shutdown(self) -> None:
        self._inner.shutdown()
        super().shutdown()


class SimTarget(ClientNodes, Target):
    """Options: ``node_ids`` (default: the board's lowest node id),
    ``frame_log`` (path of the frame log, .asc or .blf, written on close;
    None: frames kept in ``frames`` only), ``fd`` (CAN FD frames; default
    the board's), ``cmd_period_s`` (the CAN period, default 1 ms)."""

    name = "sim"
    injections = frozenset({"load", "v_bus", "hot_start", "frame_loss", "encoder_stuck", "i_sense_offset_a",
                            "heat_w"})

    def __init__(self, board: Any, **opts: Any) -> None:
        super().__init__(board, **opts)
        self.node_ids = list(opts.get("node_ids") or [board.can.node_id_min])
        self.min_period_s = 1.0 / board.pwm.pwm_hz
        self.cmd_period_s = float(opts.get("cmd_period_s") or 1e-3)
        self._board_run = board          # the board the nodes are built from (hot_start changes it)
        self._seed = 0
        self._t_base = 0.0                # the bench clock when the present nodes started (s)
        self.frames = FrameLog()
        self.loss = LossPolicy(0)
        self.nodes: SimNodes | None = None
        self.actuators: dict[int, Actuator] = {}
        self.protocol_version: int | None = None
        self._obs: dict[int, dict[str, Any]] = {}
        self._ranges = board.impedance_ranges()
        self._kt_out = 1.5 * board.motor.pole_pairs * board.motor.flux_wb * board.gearbox.ratio

    # ---- life cycle -------------------------------------------------------
    def _open(self, seed: int) -> None:
        self._seed = seed
        self._board_run = self.board
        self.frames = FrameLog()
        self._t_base = 0.0
        self._build()

    def _build(self) -> None:
        channel = f"hil-{uuid.uuid4().hex}"
        # the class itself, not can.Bus(): that reads python-can's config files on every call
        node_bus = VirtualBus(channel=channel, receive_own_messages=False)
        host_inner = VirtualBus(channel=channel, receive_own_messages=False)
        fd = self.opts.get("fd")
        self.nodes = SimNodes(node_bus, self._board_run, self.node_ids, seed=self._seed, fd=fd)
        self.loss = LossPolicy(self._seed)
        self._node_bus = node_bus
        self.bus = LockstepBus(host_inner, self.nodes, self.frames, self.loss)
        self.bus.t_base_s = self._t_base
        disp = BusDispatcher.of(self.bus)
        self.fd = self.nodes.fd if fd is None else bool(fd)
        self.actuators = {n: Actuator(disp, n, board=self._board_run, fd=self.fd) for n in self.node_ids}
        self._obs = {n: {} for n in self.node_ids}
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
            self._t_base += self.nodes.t_s
            self.bus.shutdown()
            self._node_bus.shutdown()
            self.nodes = None

    def _close(self) -> None:
        self._teardown()
        path = self.opts.get("frame_log")
        if path:
            self.frames.write(Path(path))

    def _time(self) -> float:
        """The bench clock (s): fresh nodes (every reset) start their own
        clock at 0; the bench's runs on, so logs and records stay monotonic."""
        return self._t_base + (self.nodes.t_s if self.nodes is not None else 0.0)

    def _firmware_version(self) -> str:
        return f"sim (protocol {self.protocol_version})"

    # ---- commands -----------------------------------------------------------

    def _enable(self, node: int) -> None:
        self._actuator(node).enable()

    def _disable_all(self) -> None:
        saved = (self.loss.to_node, self.loss.to_host)
        self.loss.set(0.0, 0.0)          # a bench's disable goes out on a healthy link
        for a in self.actuators.values():
            try:
                a.disable()
            except Exception:  # a node in BOOT refuses; nothing moves then anyway
                pass
        self.loss.set(*saved)

    def _command(self, node: int, kind: str, f: dict[str, float]) -> dict[str, Any] | None:
        return command_reply(self._actuator(node), kind, f)

    def _advance(self, duration_s: float) -> None:
        assert self.nodes is not None
        self.nodes.step(duration_s)

    def _observe(self, node: int) -> dict[str, Any]:
        return dict(observe(self.bus, node, self._obs.setdefault(node, {}), discard_status=True))

    def _write_param(self, node: int, name: str, value: float) -> float:
        return self._actuator(node).write_param(name, value)

    # ---- segments in C chunks ------------------------------------------------
    def _segment(self, node: int, kind: str | None, fields: dict[str, np.ndarray] | None, n: int,
                 period_s: float) -> dict[str, np.ndarray]:
        nodes = self.nodes
        assert nodes is not None
        self._actuator(node)
        self._observe(node)               # what the client path left on the bus
        nodes.step(0.0)
        core, dt = nodes.core, nodes.dt_s
        per = max(1, int(round(period_s / dt)))
        if abs(per * dt - period_s) > 1e-6 * period_s:
            note = f"period_s {period_s:g} s rounded to {per} PWM periods ({per * dt:g} s)"
            if note not in self.notes:
                self.notes.append(note)
        step_s = per * dt
        every = max(1, int(round(self.cmd_period_s / step_s)))   # rows per CAN period
        kidx = self.node_ids.index(node)
        rec = empty_record(n)
        t0n = nodes.t_s                   # the nodes' clock (counts their PWM periods)
        t0 = self._t_base + t0n           # the bench clock: records and frame log
        rec["t_s"][:] = t0 + np.arange(n) * step_s
        idx = np.arange(n)
        if fields is not None:
            can_id, data = encode_commands(kind or "", node, fields, n, self._ranges)
            changed = np.ones(n, bool)
            changed[1:] = np.any(data[1:] != data[:-1], axis=1)
            last_change = np.maximum.accumulate(np.where(changed, idx, 0))
            send = changed | ((idx - last_change) % every == 0)
            starts = np.flatnonzero(send)
            raw = data.tobytes()
            width = data.shape[1]
        else:
            can_id, raw, width = 0, b"", 8
            send = np.zeros(n, bool)
            starts = np.arange(0, n, every)   # observe at the CAN period
        raw_mv = memoryview(raw)
        bounds = starts.tolist() + [n]
        send_l = send.tolist()
        replies: list[tuple[int, bytes]] = []
        fd = self.fd
        loss = self.loss
        lossy = loss.active
        log = self.frames.frames.append
        on_frame, tx_pop = core.on_frame_all, core.tx_pop
        bank = nodes._bank                # actuators.sim.SimBank
        crun = core.run                   # its C loop, without SimBank.step's per-call wrapper
        tick_div = max(1, int(core.tick_div(0)))
        periods_done = periods_0 = int(round(t0n / dt))
        n_nodes = len(self.node_ids)
        ob = self._obs.setdefault(node, {})
        state_now = STATE_CODES.get(str(ob.get("node_state")), -1)
        faults_now = int(ob.get("faults", 0))
        chunk_state: list[int] = []
        chunk_faults: list[int] = []
        state_id = p.frame_id("StateReply", node)

        def take(t_reply: float, row: int, t_tick: float) -> None:
            """Drain every node's transmit queue once per chunk: a StateReply
            answers this chunk's command (only a command makes one, stamped
            when it was sent), Heartbeat and Status come from the main-loop
            tick inside the chunk (stamped at its end)."""
            nonlocal state_now, faults_now
            for k in range(n_nodes):
                while True:
                    fr = tx_pop(k)
                    if fr is None:
                        break
                    cid, d, ffd = fr
                    fn = cid >> 7
                    log((t_reply if fn == _STATE_FN else t_tick, cid, d, True, ffd))
                    if lossy and not loss.keep(to_node=False):
                        continue
                    if fn == _STATE_FN:
                        if cid == state_id and row >= 0:
                            replies.append((row, d))
                    elif fn == _HEARTBEAT_FN:
                        name = STATE_NAMES.get(d[0] & 0x0F, "BOOT")
                        self._obs.setdefault(self.node_ids[k], {})["node_state"] = name
                        if k == kidx:
                            state_now = STATE_CODES.get(name, -1)
                    elif fn == _STATUS_FN:
                        bits = int.from_bytes(d[0:4], "little")
                        self._obs.setdefault(self.node_ids[k], {})["faults"] = bits
                        if k == kidx:
                            faults_now = bits

        recording = fields is not None
        rec["i_d_a"][0] = core.param_read(kidx, _I_D_PARAM)[1]
        keep = loss.keep
        kt_out = self._kt_out
        for a, b in zip(bounds[:-1], bounds[1:]):
            row = -1
            if send_l[a]:
                lo = width * a
                log((t0 + a * step_s, can_id, raw[lo:lo + width], False, fd))
                if not lossy or keep(to_node=True):
                    on_frame(can_id, raw_mv[lo:lo + width], fd)    # a memoryview: no copy
                    row = a
            chunk_state.append(state_now)
            chunk_faults.append(faults_now)
            m = (b - a) * per
            if b - a > 1 and recording:
                done, _, out = crun(m, dt, per, True)
                sl = slice(a + 1, b)
                rec["p_out_rad"][sl] = out["p_out_est"][kidx, :-1]
                rec["v_out_rad_s"][sl] = out["v_out_est"][kidx, :-1]
                rec["tau_out_nm"][sl] = out["i_q"][kidx, :-1] * kt_out
                rec["temp_c"][sl] = out["temp_winding_c"][kidx, :-1]
                rec["faults"][sl] = out["faults"][kidx, :-1]
                rec["mode"][sl] = out["mode"][kidx, :-1]
                rec["i_d_a"][sl] = out["i_d"][kidx, :-1]
                if b < n:
                    rec["i_d_a"][b] = out["i_d"][kidx, -1]
            else:
                done = crun(m, dt, 1, False)[0]
            before = periods_done
            periods_done += m
            if done < m:
                bank.t_s = t0n + (before + done - periods_0) * dt
                raise HilError(f"target sim: the plant diverged at t = {bank.t_s:.6f} s; its state: "
                               f"{core.plant_state(kidx)}")
            if row >= 0 or periods_done // tick_div != before // tick_div:
                take(t0 + a * step_s, row, t0 + b * step_s)
        bank.t_s = t0n + (periods_done - periods_0) * dt     # as SimBank.step would have counted
        lengths = np.diff(np.asarray(bounds))
        node_state = np.repeat(np.asarray(chunk_state, float), lengths)
        obs_faults = np.repeat(np.asarray(chunk_faults, np.int64), lengths)
        if replies:
            rows = np.array([r for r, _ in replies])
            st = decode_states(np.frombuffer(b"".join(d for _, d in replies), np.uint8).reshape(-1, 8),
                               self._ranges)
            for f in ("p_out_rad", "v_out_rad_s", "tau_out_nm", "temp_c"):
                rec[f][rows] = st[f]
            rec["faults"][rows] = st["faults"]
            rec["mode"][rows] = st["mode"]
        rec["sent"][send] = 1.0
        rec["faults"] = rec["faults"] | obs_faults
        rec["node_state"] = node_state
        return rec

    # ---- faults -------------------------------------------------------------
    def _inject(self, fault: str, **params: Any) -> None:
        assert self.nodes is not None
        targets = params.get("nodes", self.node_ids)
        if fault == "load":
            for n in targets:
                self.nodes.set_inputs(n, tau_ext_nm=float(params["tau_ext_nm"]))
        elif fault == "v_bus":
            for n in targets:
                self.nodes.set_inputs(n, v_bus_v=float(params["v_bus_v"]))
        elif fault == "frame_loss":
            self.loss.set(params.get("to_node"), params.get("to_host"))
        elif fault == "hot_start":
            # the thermal load of a bench (a heated housing): the nodes restart
            # with winding and housing at temp_c; only before a scenario moves
            temp_c = float(params["temp_c"])
            th = dataclasses.replace(self.board.thermal, temp_ambient_c=temp_c, temp_init_c=temp_c)
            self._teardown()
            self._board_run = dataclasses.replace(self.board, thermal=th)
            self._build()
        elif fault in ("encoder_stuck", "i_sense_offset_a", "heat_w"):
            bank = self.nodes._bank
            if not hasattr(bank, "inject"):
                raise HilError(f"target sim: fault injection {fault!r} needs actuators.sim.SimBank.inject "
                               f"(not in this build)")
            for n in targets:
                bank.inject(self.node_ids.index(n), **{fault: params[fault]})
        else:
            raise HilError(f"target sim: fault injection {fault!r} not supported "
                           f"({', '.join(sorted(self.injections))}; command timeout: stop sending)")
