"""Simulated actuators as nodes on a python-can bus.

``SimNodes`` puts several simulated actuators of one board on one bus (any
python-can ``BusABC``: ``virtual`` in a test, ``udp_multicast`` or the slcan
pseudo-terminal of ``actuators.slcan_bridge`` between processes, a real
adapter on a bench). Every received frame goes to every node's firmware
dispatch (``mf_app_on_frame``: the C filters by node id, group and
function), the frames the firmware queues are sent on the bus, and the
plants run in one C loop:

- **lock-step** (tests): ``step(duration_s)`` drains the bus without
  blocking, feeds the frames, sends the replies, runs ``duration_s`` of PWM
  periods and sends what the firmware queued meanwhile (heartbeats, status).
  Simulated time never reads the wall clock.
- **paced** (benches, ``myofoc sim serve``): ``serve_forever()`` runs the
  plants ``period_s`` at a time on the wall clock and, in between, answers
  each frame the moment it arrives, as the CAN receive interrupt of the
  microcontroller does, so a reply takes the transport's round trip.

Each node's parameter page lives in ``flash_dir/node_<id>.bin`` (the
emulated flash page; ``<id>`` is the node id given here): loaded at start
(a refused page is reported with a warning naming the file; the node then
runs with the board's values and the file stays as it is until the next
SAVE), written atomically (temporary file + rename) when a ParamRequest SAVE
asks for it. Without ``flash_dir`` the pages are kept in memory for the life
of the object.
"""
from __future__ import annotations

import collections
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import can

from actuators.sim import SimBank, SimError

__all__ = ["SimNodes", "flash_path"]

log = logging.getLogger(__name__)

STATE_NAMES = {0: "BOOT", 1: "IDLE", 2: "ARMED", 3: "RUNNING", 4: "FAULT"}
_LOAD_ERRORS = {-1: "bad page (magic, version, length, CRC or an index) or values that make the "
                    "config invalid",
                -3: "a value outside its parameter's range",
                -4: "not allowed in this state"}
_ECHO_MEMORY = 4096    # sent frames remembered for the own-echo filter
_MAX_LAG_S = 0.05      # paced mode: beyond this lag the simulation slips instead of catching up


def flash_path(flash_dir: Union[str, os.PathLike[str]], node_id: int) -> Path:
    """The emulated flash page of a node: ``flash_dir/node_<id>.bin``."""
    return Path(flash_dir) / f"node_{node_id}.bin"


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class SimNodes:
    """Simulated actuators of one board sharing one bus.

    ``bus``: an open python-can bus (never opened or shut down here);
    ``board``: a ``firmware_gen.board.Board`` or a board file path;
    ``node_ids``: CAN node ids, inside the board's ``[can]`` node range;
    ``seed``: plant noise seed (node k gets seed + k);
    ``flash_dir``: directory of the emulated flash pages (None: in memory);
    ``fd``: the nodes' CAN controllers speak CAN FD (None: the board's
    ``can.fd``); a classic node does not see FD frames;
    ``echo_filter``: drop the frames this object sent when the bus hands
    them back (None: on for ``udp_multicast``, whose senders receive their
    own datagrams);
    ``plant_params``: the simulated plant (an ``actuators.plant.PlantParams``;
    None: the board's), e.g. a motor that differs from its board file.
    """

    def __init__(self, bus: can.BusABC, board: Any, node_ids: Sequence[int], *, seed: int = 0,
                 flash_dir: Union[str, os.PathLike[str], None] = None, fd: bool | None = None,
                 echo_filter: bool | None = None, plant_params: Any = None, boot: bool = False,
                 pubkey: Any = None, auto_confirm: bool = True) -> None:
        if isinstance(board, (str, os.PathLike)):
            from firmware_gen.board import load_board
            board = load_board(board)
        self.board = board
        self.bus = bus
        self.node_ids = [int(n) for n in node_ids]
        lo, hi = board.can.node_id_min, board.can.node_id_max
        if not self.node_ids:
            raise SimError("SimNodes needs at least one node id")
        bad = [n for n in self.node_ids if not lo <= n <= hi]
        if bad:
            raise SimError(f"node id(s) {bad} outside the node range {lo}-{hi} of board "
                           f"{board.name} ({board.path}: [can] node_id_min, node_id_max)")
        dup = sorted({n for n in self.node_ids if self.node_ids.count(n) > 1})
        if dup:
            raise SimError(f"node id(s) {dup} given twice")
        self.fd = bool(board.can.fd) if fd is None else bool(fd)
        if echo_filter is None:
            echo_filter = type(bus).__name__ == "UdpMulticastBus"
        self.echo_filter = bool(echo_filter)
        self.flash_dir = None if flash_dir is None else Path(flash_dir)
        if self.flash_dir is not None:
            self.flash_dir.mkdir(parents=True, exist_ok=True)
        self._pages: dict[int, bytes] = {}   # in-memory flash when there is no flash_dir
        self._index = {n: k for k, n in enumerate(self.node_ids)}
        self._sent: collections.Counter[tuple[int, bytes, bool]] = collections.Counter()
        self._sent_order: collections.deque[tuple[int, bytes, bool]] = collections.deque()
        self._owed_periods = 0.0
        # counters of this bus adapter (the nodes' own are counters(node_id))
        self.frames_in = 0        # frames fed to the nodes
        self.frames_out = 0       # frames sent on the bus
        self.dropped_in = 0       # received but not fed: own echoes, extended/remote/error/FD-on-classic
        self.send_errors = 0      # bus.send raised
        self.overruns = 0         # paced mode: times the simulation fell behind the wall clock
        ranges = board.impedance_ranges()
        cfg = board.ctrl_config()
        pp = board.plant_params() if plant_params is None else plant_params
        self._bank = SimBank([(cfg, pp)] * len(self.node_ids), seed=seed,
                             apps=[{"node_id": n, "ranges": ranges} for n in self.node_ids],
                             boot=False)
        self.core = self._bank.core
        self.dt_s = self._bank.dt_s
        # boot: each node's whole flash (slots, boot record, params) in
        # flash_dir/node_<id>.flash and its bootloader's UDS server (sim_flash.py)
        self._boot: dict[int, Any] = {}
        self._uds_ids: dict[int, int] = {}
        if boot:
            from actuators.sim_flash import SimBootloader
            for n in self.node_ids:
                self._boot[n] = SimBootloader(board, n, flash_dir=self.flash_dir, pubkey=pubkey, fd=self.fd,
                                              auto_confirm=auto_confirm)
                self._uds_ids[self._boot[n].request_id] = n
        for k, n in enumerate(self.node_ids):
            self._load_page(k, n)  # in BOOT, before the main loop starts
        # power-up: the PWM interrupt runs and the first main-loop tick
        # (MF_SIM_TICK_S) announces the boot (Heartbeat BOOT + Status with
        # sensed values); the nodes are then IDLE
        self.advance(self.core.tick_div(0) * self.dt_s)
        self.flush()

    # ---- flash -------------------------------------------------------------
    def _load_page(self, k: int, node_id: int) -> None:
        if node_id in self._boot:
            page = self._boot[node_id].flash.read_params()
            where = f"{self._boot[node_id].flash.path or 'in-memory flash'} (params region)"
        elif self.flash_dir is None:
            page = self._pages.get(node_id)
            where = f"in-memory page of node {node_id}"
        else:
            path = flash_path(self.flash_dir, node_id)
            where = str(path)
            try:
                page = path.read_bytes()
            except FileNotFoundError:
                page = None
            except OSError as exc:
                log.warning("%s: cannot read the parameter page (%s); node %d uses the board's values",
                            where, exc, node_id)
                return
        if page is None:
            return
        rc = self.core.params_load(k, page)
        if rc != 0:
            log.warning("%s: parameter page refused: %s; node %d uses the board's values "
                        "(the file is kept until the next SAVE)",
                        where, _LOAD_ERRORS.get(rc, f"code {rc}"), node_id)

    def _store_page(self, k: int, node_id: int) -> int:
        page = self.core.params_save(k)
        if node_id in self._boot:
            try:
                self._boot[node_id].flash.write_params(page)
            except SimError as exc:
                log.warning("node %d: cannot store the parameter page: %s", node_id, exc)
                return -1
            return 0
        if self.flash_dir is None:
            self._pages[node_id] = page
            return 0
        path = flash_path(self.flash_dir, node_id)
        try:
            _write_atomic(path, page)
        except OSError as exc:
            log.warning("%s: cannot store the parameter page: %s", path, exc)
            return -1
        return 0

    # ---- frames --------------------------------------------------------------
    def receive(self, msg: can.Message) -> None:
        """Feed one received message to every node's firmware dispatch."""
        if msg.is_extended_id or msg.is_remote_frame or msg.is_error_frame or (msg.is_fd and not self.fd):
            self.dropped_in += 1  # an 11-bit classic/FD controller never accepts these
            return
        data = bytes(msg.data)
        if self.echo_filter:
            key = (msg.arbitration_id, data, bool(msg.is_fd))
            if self._sent[key] > 0:
                self._sent[key] -= 1
                if self._sent[key] == 0:
                    del self._sent[key]
                self.dropped_in += 1
                return
        self.frames_in += 1
        if msg.arbitration_id in self._uds_ids:  # UDS request (function 14): the node's bootloader
            self._boot[self._uds_ids[msg.arbitration_id]].on_frame(data)
            return
        self.core.on_frame_all(msg.arbitration_id, data, bool(msg.is_fd))

    def drain(self) -> int:
        """Feed every frame waiting on the bus (no blocking); returns how many were read."""
        n = 0
        while True:
            msg = self.bus.recv(timeout=0.0)
            if msg is None:
                return n
            self.receive(msg)
            n += 1

    def flush(self) -> int:
        """Store the pages a SAVE asked for, then send every queued frame
        (node by node, oldest first); returns the number sent."""
        sent = 0
        for _node_id, can_id, data, is_fd in self.pop_frames():
            msg = can.Message(arbitration_id=can_id, data=data, is_extended_id=False,
                              is_fd=is_fd, bitrate_switch=is_fd)
            try:
                self.bus.send(msg)
            except can.CanError as exc:
                self.send_errors += 1
                log.debug("send 0x%03X failed: %s", can_id, exc)
                continue
            sent += 1
            if self.echo_filter:
                self._remember(can_id, data, is_fd)
        for node_id, bl in self._boot.items():  # UDS responses (function 15)
            for data in bl.pop_frames():
                msg = can.Message(arbitration_id=bl.response_id, data=data, is_extended_id=False,
                                  is_fd=bl.fd, bitrate_switch=bl.fd)
                try:
                    self.bus.send(msg)
                except can.CanError as exc:
                    self.send_errors += 1
                    log.debug("send 0x%03X failed: %s", bl.response_id, exc)
                    continue
                sent += 1
                if self.echo_filter:
                    self._remember(bl.response_id, bytes(data), bl.fd)
        self.frames_out += sent
        return sent

    def _remember(self, can_id: int, data: bytes, is_fd: bool) -> None:
        key = (can_id, data, is_fd)
        self._sent[key] += 1
        self._sent_order.append(key)
        if len(self._sent_order) > _ECHO_MEMORY:  # an echo that never came: forget it
            old = self._sent_order.popleft()
            if self._sent[old] > 0:
                self._sent[old] -= 1
                if self._sent[old] == 0:
                    del self._sent[old]

    # ---- time --------------------------------------------------------------
    @property
    def t_s(self) -> float:
        """Simulated time since the start, s."""
        return self._bank.t_s

    def advance(self, duration_s: float) -> None:
        """Run the plants and firmware duration_s (s) of PWM periods (a
        fraction of a period is carried to the next call), no frames."""
        if not math.isfinite(duration_s) or duration_s < 0.0:
            raise ValueError(f"duration_s = {duration_s!r}: must be finite and >= 0")
        self._owed_periods += duration_s / self.dt_s
        n = int(self._owed_periods + 1e-9)
        self._owed_periods = max(self._owed_periods - n, 0.0)
        if n > 0:
            self._bank.step(n, record=False)
        for bl in self._boot.values():
            bl.poll(duration_s)

    def periods(self, n: int, decimate: int = 0) -> "list[Any] | None":
        """Run exactly n PWM periods (no frames, no bus); with decimate > 0
        return each node's ``SimRecord`` of every decimate-th period (in
        node-id order), else None. For a bench that feeds frames itself
        (``core.on_frame_all`` / ``pop_frames``) between big C runs."""
        if n <= 0:
            return None
        if decimate > 0:
            return self._bank.step(int(n), int(decimate), record=True)
        self._bank.step(int(n), record=False)
        return None

    def pop_frames(self) -> list[tuple[int, int, bytes, bool]]:
        """Take every frame the nodes queued, without sending it:
        (node id, CAN id, data, is_fd), node by node, oldest first; pages a
        SAVE asked for are stored first (as ``flush`` does)."""
        out: list[tuple[int, int, bytes, bool]] = []
        for k, node_id in enumerate(self.node_ids):
            if self.core.save_requested(k):
                self.core.save_done(k, self._store_page(k, node_id))
            while True:
                frame = self.core.tx_pop(k)
                if frame is None:
                    break
                out.append((node_id, frame[0], frame[1], frame[2]))
        return out

    def step(self, duration_s: float = 0.001) -> None:
        """Lock-step: feed the waiting frames, send the replies, run
        duration_s (s), send what the firmware queued meanwhile."""
        self.drain()
        self.flush()
        self.advance(duration_s)
        self.flush()

    def run(self, duration_s: float, paced: bool = False, period_s: float = 0.001) -> None:
        """duration_s (s) of simulated time: lock-step as fast as the CPU
        allows, or paced to the wall clock (``serve_forever`` for that long)."""
        if paced:
            self.serve_forever(period_s=period_s, duration_s=duration_s)
            return
        n = int(round(duration_s / period_s))
        for _ in range(n):
            self.step(period_s)

    def serve_forever(self, paced: bool = True, period_s: float = 0.001,
                      stop: threading.Event | None = None, duration_s: float | None = None) -> None:
        """Serve the bus until ``stop`` is set (or ``duration_s`` of wall
        clock has passed). Paced: the plants run period_s (s) at a time on
        the wall clock; a frame is answered the moment it arrives. Unpaced:
        lock-step periods back to back (as fast as the CPU allows)."""
        if not period_s > 0.0:
            raise ValueError(f"period_s = {period_s!r}: must be > 0")
        t0 = time.monotonic()
        end = None if duration_s is None else t0 + duration_s
        if not paced:
            while not (stop is not None and stop.is_set()) and (end is None or time.monotonic() < end):
                self.step(period_s)
            return
        deadline = t0 + period_s
        while not (stop is not None and stop.is_set()):
            now = time.monotonic()
            if end is not None and now >= end:
                return
            wait = deadline - now
            if wait > 0.0:
                msg = self.bus.recv(timeout=wait)
                if msg is not None:
                    self.receive(msg)
                    self.drain()
                    self.flush()
                continue
            self.advance(period_s)
            self.flush()
            deadline += period_s
            if time.monotonic() - deadline > _MAX_LAG_S:
                self.overruns += 1
                deadline = time.monotonic() + period_s

    # ---- inspection (for tests and tools; the bus is the real interface) ----
    def _k(self, node_id: int) -> int:
        try:
            return self._index[node_id]
        except KeyError:
            raise SimError(f"no simulated node {node_id} (nodes: {self.node_ids})") from None

    def state(self, node_id: int) -> str:
        """Heartbeat.node_state name: BOOT, IDLE, ARMED, RUNNING or FAULT."""
        return STATE_NAMES[self.core.state(self._k(node_id))]

    def faults(self, node_id: int) -> int:
        """Latched fault bits (MF_FAULT_*)."""
        return int(self.core.faults(self._k(node_id)))

    def mode(self, node_id: int) -> int:
        """The mode the node's last PWM period ran (mf_mode_t)."""
        return int(self.core.mode(self._k(node_id)))

    def counters(self, node_id: int) -> dict[str, int]:
        """The node's receive/transmit counters (mf_app_counters_t)."""
        return dict(self.core.counters(self._k(node_id)))

    def app_info(self, node_id: int) -> dict[str, Any]:
        """The node's application state (node id, group, state, uptime, ...)."""
        return dict(self.core.app_info(self._k(node_id)))

    def plant_state(self, node_id: int) -> dict[str, float]:
        """The node's plant states (SI; p_out/v_out/tau_out: gearbox output)."""
        return dict(self.core.plant_state(self._k(node_id)))

    def set_inputs(self, node_id: int, tau_ext_nm: float | None = None,
                   v_bus_v: float | None = None) -> None:
        """Plant inputs of a node: external load torque (N m), bus voltage (V)."""
        self.core.set_inputs(self._k(node_id), tau_ext_nm=tau_ext_nm, v_bus_v=v_bus_v)

    def read_param(self, node_id: int, index: int) -> float:
        """A parameter of a node, as a ParamRequest READ would give it."""
        status, value = self.core.param_read(self._k(node_id), index)
        if status != 0:
            raise KeyError(f"node {node_id}: no parameter with index {index}")
        return float(value)

    def bootloader(self, node_id: int) -> Any:
        """The node's ``actuators.sim_flash.SimBootloader`` (SimNodes(boot=True) only)."""
        self._k(node_id)
        if node_id not in self._boot:
            raise SimError("no bootloader: SimNodes(..., boot=True) simulates the flash and bootloader")
        return self._boot[node_id]
