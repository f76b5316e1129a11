"""The simulated actuator: the firmware's control core driving the software plant.

``SimActuator`` runs the very C code of the microcontroller (the firmware
application mf_app_t: mf_app_isr once per PWM period around mf_ctrl_step,
mf_app_tick every millisecond) against the plant (actuators/plant), in
virtual time: reproducible bit for bit from the seed, far faster than real
time. ``SimBank`` steps many actuators together in one C loop (a humanoid's
60 joints). The loop itself is C (actuators/simcore/mf_sim.c); this module
builds the configs, applies a command schedule between C runs and returns
numpy records. Commands given here go straight to the controller
(mf_sim_command: the node's state machine shows RUNNING, and mf_ctrl's
command watchdog guards it); ``actuators.sim_node.SimNodes`` puts the same
nodes on a python-can bus, where frames go through the firmware's dispatch.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from actuators import _sim, core
from actuators.core.config import CtrlConfig
from actuators.plant import PlantDivergedError, PlantParams
from actuators.plant import _plant

__all__ = ["Event", "SimActuator", "SimBank", "SimRecord", "SimError"]

MODES = {"idle": core.MODE_IDLE, "voltage": core.MODE_VOLTAGE, "current": core.MODE_CURRENT,
         "velocity": core.MODE_VELOCITY, "position": core.MODE_POSITION,
         "impedance": core.MODE_IMPEDANCE, "muscle": core.MODE_MUSCLE}


class SimError(RuntimeError):
    """A simulated actuator refused a command or a configuration."""


@dataclass(frozen=True)
class Event:
    """Something that happens at ``t_s`` (s, simulated): a command
    (``mode`` name or number and its fields, SI, output side), plant inputs
    (``tau_ext_nm``, ``v_bus_v``), ``clear_faults`` or ``estop``, or an
    injected fault that persists until changed (None: unchanged):
    ``encoder_stuck`` (the encoder count freezes at its present value; False
    releases it), ``i_sense_offset_a`` (A added to the sensed phase-a current),
    ``heat_w`` (W of extra heat into the motor winding)."""

    t_s: float
    mode: Union[str, int, None] = None
    fields: Mapping[str, float] | None = None
    tau_ext_nm: float | None = None
    v_bus_v: float | None = None
    clear_faults: bool = False
    estop: bool = False
    encoder_stuck: bool | None = None
    i_sense_offset_a: float | None = None
    heat_w: float | None = None

    def faults(self) -> dict[str, Any]:
        """The injected-fault fields this event sets (name -> value)."""
        return {k: getattr(self, k) for k in FAULT_FIELDS if getattr(self, k) is not None}


FAULT_FIELDS = ("encoder_stuck", "i_sense_offset_a", "heat_w")


ScheduleLike = Iterable[Union[Event, tuple[float, Mapping[str, Any]]]]


def _as_event(item: Union[Event, tuple[float, Mapping[str, Any]]]) -> Event:
    if isinstance(item, Event):
        return item
    t_s, spec = item
    spec = dict(spec)
    kw: dict[str, Any] = {k: spec.pop(k) for k in ("mode", "tau_ext_nm", "v_bus_v", "clear_faults",
                                                     "estop") + FAULT_FIELDS if k in spec}
    return Event(t_s=float(t_s), fields=spec or None, **kw)


@dataclass(frozen=True)
class SimRecord:
    """Recorded signals of one actuator, one row per recorded period (SI).

    ``*_est`` and the current/voltage signals are the core's view; the rest
    is the plant's truth. Positions and speeds named ``p_``/``v_`` are on the
    output side of the gearbox; ``theta_m``/``omega_m`` on the motor side."""

    t_s: np.ndarray
    i_d: np.ndarray
    i_q: np.ndarray
    i_d_ref: np.ndarray
    i_q_ref: np.ndarray
    v_d: np.ndarray
    v_q: np.ndarray
    theta_e: np.ndarray
    omega_m_est: np.ndarray
    p_out_est: np.ndarray
    v_out_est: np.ndarray
    tau_out_ref: np.ndarray
    v_bus_est: np.ndarray
    duty: np.ndarray
    i_abc: np.ndarray
    theta_m: np.ndarray
    omega_m: np.ndarray
    tau_e: np.ndarray
    p_out: np.ndarray
    v_out: np.ndarray
    tau_out: np.ndarray
    p_load: np.ndarray
    temp_winding_c: np.ndarray
    faults: np.ndarray
    mode: np.ndarray
    pwm_enable: np.ndarray

    @staticmethod
    def concat(parts: Sequence["SimRecord"]) -> "SimRecord":
        names = SimRecord.__dataclass_fields__.keys()
        return SimRecord(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})


def _configs(ctrl_config: CtrlConfig, plant_params: PlantParams, seed: int,
             app: Mapping[str, Any]) -> tuple[bytes, bytes]:
    core.Controller(ctrl_config)  # raises ValueError naming a bad field
    app_cfg = core.App(ctrl_config, **app)  # and a bad app parameter
    plant = _plant.PlantCore(plant_params.to_c(), seed)
    return app_cfg.config_bytes(), plant.params_bytes()


def _check_consistent(cfg: CtrlConfig, pp: PlantParams) -> None:
    """The firmware must be configured for the plant it drives."""
    m, s = pp.motor, pp.sensors
    pairs = [("pole_pairs", cfg.pole_pairs, m.pole_pairs),
             ("estimator.counts_per_rev", cfg.estimator.counts_per_rev, s.enc_counts_per_rev),
             ("adc_i_gain_a", cfg.adc_i_gain_a, s.adc_i_a_per_count),
             ("adc_i_offset", cfg.adc_i_offset, s.adc_i_offset_counts),
             ("adc_vbus_gain_v", cfg.adc_vbus_gain_v, s.adc_vbus_v_per_count),
             ("gear_ratio", cfg.gear_ratio, pp.gearbox.ratio)]
    for name, a, b in pairs:
        if not math.isclose(float(a), float(b), rel_tol=1e-6):
            raise SimError(f"controller {name} = {a} does not match the plant's {b}")


class SimBank:
    """Many simulated actuators stepped together in one C loop, lock-step.

    ``apps`` (optional, one mapping per actuator) are the keyword arguments
    of ``actuators.core.App`` besides the controller config: ``node_id``,
    ``group_id``, ``slot``, ``ranges`` (MIT ranges), ``heartbeat_period_s``;
    by default actuator i is node i % 127 + 1 with the parameter table's
    defaults. With ``boot`` (default) every node runs its first main-loop
    tick at once (BOOT -> IDLE, the boot Heartbeat queued); without it the
    caller boots them (``core.tick(i, 0.0)``), e.g. after loading a
    parameter page.
    """

    def __init__(self, configs: Sequence[tuple[CtrlConfig, PlantParams]], seed: int = 0,
                 apps: Sequence[Mapping[str, Any]] | None = None, boot: bool = True) -> None:
        if not configs:
            raise SimError("a bank needs at least one actuator")
        if apps is not None and len(apps) != len(configs):
            raise SimError(f"{len(apps)} app parameter sets for {len(configs)} actuators")
        self._bank = _sim.Bank(len(configs))
        self.dt_s = float(configs[0][0].pwm_period_s)
        for i, (cfg, pp) in enumerate(configs):
            if not math.isclose(cfg.pwm_period_s, self.dt_s, rel_tol=1e-12):
                raise SimError("every actuator of a bank must share one PWM period")
            _check_consistent(cfg, pp)
            app = dict(apps[i]) if apps is not None else {"node_id": i % 127 + 1}
            cbytes, pbytes = _configs(cfg, pp, seed + i, app)
            self._bank.init_node(i, cbytes, pbytes, seed + i)
            if boot:
                self._bank.tick(i, 0.0)
        self.n = len(configs)
        self.outer_div = [cfg.outer_div for cfg, _ in configs]
        self.t_s = 0.0

    # commands -------------------------------------------------------------
    def command(self, i: int, mode: Union[str, int], **fields: float) -> None:
        """Set actuator i's command (what the CAN layer would do)."""
        m = MODES[mode] if isinstance(mode, str) else int(mode)
        rc = self._bank.command(i, m, **fields)
        if rc != 0:
            reason = {-3: "a field is non-finite or out of range",
                      -4: "a fault is latched"}.get(rc, f"code {rc}")
            raise SimError(f"actuator {i} refused {mode} {fields}: {reason}")

    def apply(self, i: int, ev: Event) -> None:
        if ev.estop:
            self._bank.estop(i)
        if ev.clear_faults:
            self._bank.clear_faults(i)
        if ev.tau_ext_nm is not None or ev.v_bus_v is not None:
            self._bank.set_inputs(i, tau_ext_nm=ev.tau_ext_nm, v_bus_v=ev.v_bus_v)
        if ev.faults():
            self.inject(i, **ev.faults())
        if ev.mode is not None:
            self.command(i, ev.mode, **dict(ev.fields or {}))

    def faults(self, i: int) -> int:
        return int(self._bank.faults(i))

    def inject(self, i: int, *, encoder_stuck: bool | None = None,
               i_sense_offset_a: float | None = None, heat_w: float | None = None) -> None:
        """Inject plant/sensor faults into actuator i; each persists until
        changed, None leaves it as it is. ``encoder_stuck``: the encoder count
        freezes at its present value (False releases it); ``i_sense_offset_a``:
        A added to the sensed phase-a current (0 removes it); ``heat_w``: W of
        extra heat into the winding node (0 removes it)."""
        self._bank.inject(i, encoder_stuck=encoder_stuck, i_sense_offset_a=i_sense_offset_a,
                          heat_w=heat_w)

    def injected(self, i: int) -> dict[str, Any]:
        """Actuator i's injected faults: encoder_stuck, i_sense_offset_a (A), heat_w (W)."""
        return dict(self._bank.injected(i))

    @property
    def core(self) -> "_sim.Bank":
        """The C bank (actuators._sim.Bank): frames in and out, parameters,
        application state of each node."""
        return self._bank

    # running --------------------------------------------------------------
    def step(self, n_steps: int, decimate: int = 1, record: bool = True) -> list[SimRecord] | None:
        """Run every actuator n_steps PWM periods in C; returns one record each."""
        if n_steps <= 0:
            return [self._empty() for _ in range(self.n)] if record else None
        done, bad, out = self._bank.run(int(n_steps), self.dt_s, int(decimate), record)
        if done < n_steps:
            raise PlantDivergedError(int(round(self.t_s / self.dt_s)) + int(done),
                                     self.t_s + (done + 1) * self.dt_s,
                                     {"actuator": float(bad), **self._bank.plant_state(bad)})
        self.t_s += n_steps * self.dt_s
        if not record:
            return None
        return [SimRecord(**{k: v[i] for k, v in out.items()}) for i in range(self.n)]

    def _empty(self) -> SimRecord:
        _, _, out = self._bank.run(0, self.dt_s, 1, True)
        return SimRecord(**{k: v[0] for k, v in out.items()})

    def run(self, duration_s: float, schedule: Mapping[int, ScheduleLike] | None = None,
            decimate: int = 1) -> list[SimRecord]:
        """Run for duration_s (s) applying each actuator's schedule of events
        (times relative to the start of this run) between C runs."""
        events: list[tuple[int, int, Event]] = []
        for i, sched in (schedule or {}).items():
            for item in sched:
                ev = _as_event(item)
                events.append((int(round(ev.t_s / self.dt_s)), i, ev))
        events.sort(key=lambda e: (e[0], e[1]))
        n_total = int(round(duration_s / self.dt_s))
        stops = sorted({e[0] for e in events if 0 < e[0] < n_total} | {n_total})
        parts: list[list[SimRecord]] = []
        k = j = 0
        for stop in stops:
            while j < len(events) and events[j][0] <= k:
                self.apply(events[j][1], events[j][2])
                j += 1
            if stop > k:
                # each chunk records every decimate-th period from its start;
                # t_s says when each sample was taken
                parts.append(self.step(stop - k, decimate))
                k = stop
        for _, i, ev in events[j:]:  # events at or after the end
            self.apply(i, ev)
        if not parts:
            return [self._empty() for _ in range(self.n)]
        return [SimRecord.concat([p[i] for p in parts]) for i in range(self.n)]


class SimActuator:
    """One simulated actuator: ``run(duration_s, schedule)`` -> SimRecord."""

    def __init__(self, ctrl_config: CtrlConfig, plant_params: PlantParams, seed: int = 0) -> None:
        self.ctrl_config = ctrl_config
        self.plant_params = plant_params
        self._bank = SimBank([(ctrl_config, plant_params)], seed=seed)

    @classmethod
    def from_board(cls, board: Any, seed: int = 0) -> "SimActuator":
        """From a board file path or a loaded ``firmware_gen.board.Board``."""
        if isinstance(board, (str, Path)):
            from firmware_gen.board import load_board
            board = load_board(board)
        return cls(board.ctrl_config(), board.plant_params(), seed=seed)

    @property
    def dt_s(self) -> float:
        return self._bank.dt_s

    @property
    def t_s(self) -> float:
        return self._bank.t_s

    @property
    def faults(self) -> int:
        return self._bank.faults(0)

    def command(self, mode: Union[str, int], **fields: float) -> None:
        self._bank.command(0, mode, **fields)

    def inject(self, *, encoder_stuck: bool | None = None, i_sense_offset_a: float | None = None,
               heat_w: float | None = None) -> None:
        """Inject plant/sensor faults (see :meth:`SimBank.inject`)."""
        self._bank.inject(0, encoder_stuck=encoder_stuck, i_sense_offset_a=i_sense_offset_a,
                          heat_w=heat_w)

    def injected(self) -> dict[str, Any]:
        """The injected faults (see :meth:`SimBank.injected`)."""
        return self._bank.injected(0)

    def run(self, duration_s: float, schedule: ScheduleLike | None = None,
            decimate: int = 1) -> SimRecord:
        return self._bank.run(duration_s, {0: schedule or []}, decimate)[0]
