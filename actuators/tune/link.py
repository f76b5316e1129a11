"""The tuner's access to one actuator over CAN: parameters, the identification
injection (Control INJECT, actuators/core/mf_inject.h), waiting, and restoring
the parameters the actuator had before.

Time: ``wait(dt_s)`` lets dt_s of the actuator's time pass: ``time.sleep`` on
a real bus, the simulator's lock-step advance on a simulated one
(``SimLink``). Watchdog: while an injection runs the host re-sends Control
INJECT (the same config: the node continues it) every ``keepalive_s``, well
inside the node's command timeout.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from actuators import core
from actuators.client import Actuator, ActuatorTimeout, ControlRefused, ParamError

__all__ = ["InjectResult", "TuneAborted", "TuneLink", "INJECT_KINDS"]

INJECT_KINDS = {"V_DC": 0, "I_DC": 1, "V_SINE": 2, "I_SINE": 3, "V_ROTATE": 4, "I_ROTATE": 5}
_RESULT_FIELDS = ("done", "n", "n_bad", "v_d_mean", "v_q_mean", "i_d_mean", "i_q_mean", "v_d_rotor_mean",
                  "v_q_rotor_mean", "i_d_rotor_mean", "i_q_rotor_mean", "omega_e_mean", "theta_err_mean",
                  "v_c", "v_s", "i_c", "i_s", "theta_cmd_turned", "theta_enc_turned", "t_s")
_CFG_FIELDS = ("kind", "axis", "use_encoder", "amp", "offset", "hold", "freq_hz", "omega_e_cmd", "accel_e",
               "theta0_e", "lockin_harmonic", "settle_s", "window_s")


class TuneAborted(RuntimeError):
    """The tune stopped (fault, timeout, refusal, poor fit or Ctrl-C); the
    motor is disabled and the saved parameters are restored."""


@dataclass(frozen=True)
class InjectResult:
    """Results of one injection (mf_inject_t), SI units; see mf_inject.h."""
    done: bool
    n: int
    n_bad: int
    v_d_mean: float
    v_q_mean: float
    i_d_mean: float
    i_q_mean: float
    v_d_rotor_mean: float
    v_q_rotor_mean: float
    i_d_rotor_mean: float
    i_q_rotor_mean: float
    omega_e_mean: float
    theta_err_mean: float
    v_c: float
    v_s: float
    i_c: float
    i_s: float
    theta_cmd_turned: float
    theta_enc_turned: float
    t_s: float
    config: dict[str, float] = field(default_factory=dict)


class TuneLink:
    """An Actuator plus a clock. ``wait``: callable letting dt_s pass (default
    time.sleep); ``keepalive_s``: Control INJECT re-send period during an
    injection (default half the node's protect.cmd_timeout_s)."""

    def __init__(self, actuator: Actuator, wait: Callable[[float], None] | None = None,
                 keepalive_s: float | None = None, log: Callable[[str], None] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.act = actuator
        self._wait = wait or time.sleep
        self._clock = clock or time.monotonic
        self.log = log or (lambda _msg: None)
        self._inject_cfg: dict[str, float] = {}
        self._last_started: dict[str, float] = {}
        self.snapshot: dict[str, float] | None = None
        timeout = self.read("protect.cmd_timeout_s")
        self.keepalive_s = keepalive_s if keepalive_s is not None else 0.4 * timeout
        self.injections = 0

    # ---- basics --------------------------------------------------------------
    def wait(self, dt_s: float) -> None:
        if dt_s > 0:
            self._wait(dt_s)

    def now(self) -> float:
        """The actuator's time, s (the wall clock; simulated time on a SimLink)."""
        return self._clock()

    def read(self, name: str) -> float:
        return self.act.read_param(name)

    def write(self, name: str, value: float) -> float:
        return self.act.write_param(name, value)

    def faults(self) -> int:
        """The node's latched fault bits (parameter state.faults)."""
        return int(self.read("state.faults"))

    def mode(self) -> int:
        """The node's commanded mode (parameter state.mode, mf_mode_t)."""
        return int(self.read("state.mode"))

    def enable(self) -> None:
        self.act.enable()

    def disable(self) -> None:
        self.act.disable()

    def write_idle(self, values: Mapping[str, float]) -> None:
        """Write idle-only parameters: DISABLE, write, ENABLE."""
        self.disable()
        for name, value in values.items():
            self.write(name, value)
        self.enable()

    # ---- snapshot / restore -------------------------------------------------------
    def take_snapshot(self) -> dict[str, float]:
        """Read every writable persistent parameter (restored on abort)."""
        rows = [r for r in core.param_table() if r["persistent"] and not r["read_only"]]
        self.snapshot = {r["name"]: self.read(r["name"]) for r in rows}
        return dict(self.snapshot)

    def restore(self) -> list[str]:
        """Motor off, then write back every snapshot value that changed.
        Returns the names written."""
        if self.snapshot is None:
            return []
        try:
            self.disable()
        except (ActuatorTimeout, ControlRefused):
            pass
        changed = []
        for name, value in self.snapshot.items():
            now = self.read(name)
            if now != value and not (math.isnan(now) and math.isnan(value)):
                self.write(name, value)
                changed.append(name)
        return changed

    # ---- injection ------------------------------------------------------------
    def _configure(self, cfg: Mapping[str, float]) -> None:
        full = {"kind": 0, "axis": 0, "use_encoder": 0, "amp": 0.0, "offset": 0.0, "hold": 0.0,
                "freq_hz": 0.0, "omega_e_cmd": 0.0, "accel_e": 0.0, "theta0_e": 0.0, "lockin_harmonic": 0.0,
                "settle_s": 0.0, "window_s": 0.1}
        for k, v in cfg.items():
            if k not in full:
                raise ValueError(f"unknown inject field {k!r}; fields: {list(full)}")
            full[k] = INJECT_KINDS[v] if k == "kind" and isinstance(v, str) else v
        full = {k: float(v) for k, v in full.items()}
        if full == self._last_started:
            # the node restarts an injection only when its config changes: the
            # same angle one turn on (theta0_e is wrapped) makes a repeat new
            full["theta0_e"] += 2.0 * math.pi if full["theta0_e"] <= 0.0 else -2.0 * math.pi
        self._last_started = dict(full)
        for k in _CFG_FIELDS:
            v = float(full[k])
            if self._inject_cfg.get(k) != v:
                self.write(f"inject.{k}", v)
                self._inject_cfg[k] = v

    def _start(self) -> None:
        try:
            self.act.control("INJECT")
        except ActuatorTimeout as exc:
            faults = self.faults()
            raise TuneAborted(f"node {self.act.node_id}: Control INJECT not acknowledged "
                              f"(refused: config out of range or not ARMED/RUNNING; faults {faults:#x}): "
                              f"{exc}") from exc

    def inject(self, cfg: Mapping[str, float], timeout_s: float | None = None,
               then: Callable[[], None] | None = None, poll_s: float | None = None) -> InjectResult:
        """Run one injection to completion and return its results. The node
        must be ARMED or RUNNING. Raises TuneAborted on a fault or timeout.

        The host waits settle + window (keep-alive every ``keepalive_s``),
        then polls ``inject.result.done`` every ``poll_s`` (default a quarter
        of the injection, at least 5 ms); ``then`` (e.g. a brake) runs as soon
        as done is seen, before the results are read: the node keeps running
        the references after done until the mode changes."""
        self._configure(cfg)
        total = float(self._inject_cfg["settle_s"]) + float(self._inject_cfg["window_s"])
        limit = timeout_s if timeout_s is not None else 2.0 * total + 0.5
        self._start()
        self.injections += 1
        waited = 0.0
        poll = poll_s if poll_s is not None else min(self.keepalive_s, max(total / 4.0, 0.005))
        while True:
            if waited < total and poll_s is not None:
                step = min(self.keepalive_s, total - waited + 0.5 * poll)
            else:
                step = min(self.keepalive_s, poll)
            self.wait(step)
            waited += step
            if self.read("inject.result.done") == 1.0:
                if then is not None:
                    then()
                break
            faults = self.faults()
            if faults:
                raise TuneAborted(f"node {self.act.node_id}: fault {faults:#x} during the injection")
            if waited > limit:
                raise TuneAborted(f"node {self.act.node_id}: injection not done after {waited:.2f} s")
            self._start()   # keep-alive (same config: continues)
        values = {f: self.read(f"inject.result.{f}") for f in _RESULT_FIELDS}
        values["done"] = values["done"] == 1.0
        values["n"] = int(values["n"])
        values["n_bad"] = int(values["n_bad"])
        return InjectResult(**values, config=dict(self._inject_cfg))  # type: ignore[arg-type]



def param_exists(name: str) -> bool:
    return any(r["name"] == name for r in core.param_table())


_ = (Any, ParamError)
