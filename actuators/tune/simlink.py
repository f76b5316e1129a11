"""A simulated actuator to tune: ``SimNodes`` of a board on an in-process
virtual bus, answered in lock-step (``hil.targets.sim.LockstepBus``), with a
plant that may differ from the board file (``plant_scale``)."""
from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Mapping

import can

from actuators.client import Actuator, BusDispatcher
from actuators.sim_node import SimNodes
from actuators.tune.link import TuneLink

__all__ = ["SimTune", "parse_plant_scale", "scaled_plant"]

# --plant-scale keys -> MotorParams fields they multiply
_MOTOR_KEYS = {"r": ("r_ohm",), "l": ("ld_h", "lq_h"), "ld": ("ld_h",), "lq": ("lq_h",), "flux": ("flux_wb",),
               "j": ("j_kgm2",), "b": ("b_nms_per_rad",), "tc": ("tau_coulomb_nm",), "cog": ("cog_amp_nm",)}


def parse_plant_scale(text: str | None) -> dict[str, float]:
    """``"r=1.2,l=0.9"`` -> {"r": 1.2, "l": 0.9}; keys: r, l, ld, lq, flux, j, b,
    tc (Coulomb), cog (cogging amplitudes), offset (encoder offset, added, rad
    electrical), dir (-1: the encoder counts the other way)."""
    out: dict[str, float] = {}
    if not text:
        return out
    for part in text.split(","):
        key, _, val = part.partition("=")
        key = key.strip()
        if key not in _MOTOR_KEYS and key not in ("offset", "dir"):
            raise ValueError(f"--plant-scale key {key!r} unknown; keys: {sorted(_MOTOR_KEYS)}, offset, dir")
        try:
            out[key] = float(val)
        except ValueError:
            raise ValueError(f"--plant-scale {part!r}: the value must be a number") from None
    return out


def scaled_plant(board: Any, scale: Mapping[str, float]) -> Any:
    """The board's PlantParams with motor parameters multiplied (and the
    encoder offset moved by ``offset`` rad electrical)."""
    pp = board.plant_params()
    m = pp.motor
    changes: dict[str, Any] = {}
    for key, factor in scale.items():
        for name in _MOTOR_KEYS.get(key, ()):
            cur = changes.get(name, getattr(m, name))
            changes[name] = tuple(a * factor for a in cur) if isinstance(cur, tuple) else cur * factor
    motor = dataclasses.replace(m, **changes)
    sensors = pp.sensors
    if "offset" in scale:
        cpr = sensors.enc_counts_per_rev
        shift = scale["offset"] / (2 * 3.141592653589793) * cpr / m.pole_pairs
        sensors = dataclasses.replace(sensors, enc_offset_counts=(sensors.enc_offset_counts + shift) % cpr)
    if scale.get("dir", 1.0) < 0:
        sensors = dataclasses.replace(sensors, enc_direction=-sensors.enc_direction)
    return dataclasses.replace(pp, motor=motor, sensors=sensors)


class SimTune:
    """One simulated node of ``board`` (node id: the board's lowest) with its
    plant (``plant``: PlantParams or None for the board's), a TuneLink on it
    (``link``) whose wait advances simulated time."""

    def __init__(self, board: Any, plant: Any = None, node_id: int | None = None, seed: int = 0) -> None:
        from hil.targets.sim import LockstepBus
        self.board = board
        self.node_id = node_id or board.can.node_id_min
        channel = f"tune-{uuid.uuid4().hex}"
        self._node_bus = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
        inner = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
        self.nodes = SimNodes(self._node_bus, board, [self.node_id], seed=seed, plant_params=plant)
        self.bus = LockstepBus(inner, self.nodes)
        disp = BusDispatcher.of(self.bus)
        # lock-step: replies come at once; a wall-clock timeout only guards a busy machine
        self.actuator = Actuator(disp, self.node_id, board=board, fd=self.nodes.fd, timeout_s=0.5)
        disp.poll()
        self.link = TuneLink(self.actuator, wait=self.nodes.step, clock=lambda: self.nodes.t_s)

    def close(self) -> None:
        self.bus.shutdown()
        self._node_bus.shutdown()

    def __enter__(self) -> "SimTune":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
