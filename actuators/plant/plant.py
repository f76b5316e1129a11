"""Open-loop plant: ``Plant(params, dt_s).run_voltages(v_abc)`` and friends.

The stepping runs in C (mf_plant.c) without the GIL; this module checks the
inputs, shapes the outputs and turns a non-finite state into
:class:`PlantDivergedError`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _plant
from .params import MotorParams, PlantParams


class PlantDivergedError(RuntimeError):
    """The plant's state stopped being finite; ``step`` (0-based) and ``state`` say where."""

    def __init__(self, step: int, t_s: float, state: dict[str, float]) -> None:
        self.step = step
        self.t_s = t_s
        self.state = state
        bad = [k for k, v in state.items() if not np.isfinite(v)]
        super().__init__(
            f"plant diverged at step {step} (t = {t_s:.9g} s): non-finite {', '.join(bad)}; "
            f"state {state}")


@dataclass(frozen=True)
class PlantRun:
    """Outputs of a run, one row per step, at the end of each step (SI units).

    Sensor arrays (adc_i, adc_vbus, enc_count, temp_sensed_c) are None unless
    the run sampled the sensors."""

    t_s: np.ndarray            # (n,) s
    i_abc: np.ndarray          # (n, 3) A, positive into the motor
    i_d: np.ndarray            # (n,) A
    i_q: np.ndarray            # (n,) A
    omega_m: np.ndarray        # (n,) rad/s, motor
    theta_m: np.ndarray        # (n,) rad, motor, multi-turn
    tau_e: np.ndarray          # (n,) N m, electromagnetic
    tau_out_nm: np.ndarray     # (n,) N m, gearbox output on the load path
    theta_load: np.ndarray     # (n,) rad, load link
    omega_load: np.ndarray     # (n,) rad/s, load link
    v_abc: np.ndarray          # (n, 3) V, applied phase-neutral over the step
    v_d: np.ndarray            # (n,) V at the step start
    v_q: np.ndarray            # (n,) V at the step start
    temp_winding_c: np.ndarray
    temp_housing_c: np.ndarray
    temp_fet_c: np.ndarray
    tau_fric_nm: np.ndarray    # (n,) N m, viscous + Coulomb
    tau_cog_nm: np.ndarray     # (n,) N m
    p_cu_w: np.ndarray         # (n,) W, copper loss
    adc_i: np.ndarray | None = None        # (n, 3) uint16 counts
    adc_vbus: np.ndarray | None = None     # (n,) uint16 counts
    enc_count: np.ndarray | None = None    # (n,) uint32 counts
    temp_sensed_c: np.ndarray | None = None  # (n, 2) float32: motor, FET


@dataclass(frozen=True)
class SenseSample:
    """One sensor sample, as the core's mf_ctrl_sense_t."""

    adc_i: tuple[int, int, int]
    adc_vbus: int
    enc_count: int
    temp_motor_c: float
    temp_fet_c: float


class Plant:
    """The plant of one actuator stepped at a fixed dt_s (s).

    ``params`` is a :class:`PlantParams` or, for a bare motor, a
    :class:`MotorParams` (the other parts take their defaults). ``seed`` seeds
    the sensor noise: the same seed and inputs give bit-identical outputs."""

    def __init__(self, params: PlantParams | MotorParams, dt_s: float, seed: int = 0) -> None:
        if isinstance(params, MotorParams):
            params = PlantParams(motor=params)
        if not isinstance(params, PlantParams):
            raise TypeError(f"params must be PlantParams or MotorParams, got {type(params).__name__}")
        if not (isinstance(dt_s, (int, float)) and np.isfinite(dt_s) and 0.0 < dt_s <= 1.0):
            raise ValueError(f"dt_s must be in (0, 1] s, got {dt_s!r}")
        if not (isinstance(seed, (int, np.integer)) and 0 <= int(seed) < 2 ** 64):
            raise ValueError(f"seed must be an integer in [0, 2^64), got {seed!r}")
        self.params = params
        self.dt_s = float(dt_s)
        self._core = _plant.PlantCore(params.to_c(), int(seed))

    # -- state ---------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Back to rest (theta 0, currents 0, temperatures initial), noise from seed."""
        self._core.reset(seed)

    @property
    def state(self) -> dict[str, float]:
        """i_d, i_q (A), theta_m (rad), omega_m (rad/s), theta_l, omega_l (load link),
        temperatures (degC), v_bus_v (V), tau_ext_nm (N m), t_s (s)."""
        return self._core.get_state()

    def set_state(self, **fields: float) -> None:
        """Set state fields by name (see :attr:`state`); the caches follow."""
        self._core.set_state(**fields)

    @property
    def omega_m(self) -> float:
        """Motor speed, rad/s."""
        return self.state["omega_m"]

    @property
    def theta_m(self) -> float:
        """Motor angle, rad (multi-turn)."""
        return self.state["theta_m"]

    @property
    def i_dq(self) -> tuple[float, float]:
        """(i_d, i_q), A."""
        s = self.state
        return s["i_d"], s["i_q"]

    @property
    def step_count(self) -> int:
        """Steps since the last reset."""
        return int(self._core.step_count)

    def outputs(self) -> dict[str, Any]:
        """The C struct's last outputs (SI units)."""
        return self._core.outputs()

    # -- stepping ------------------------------------------------------------
    def run_voltages(self, v_abc: npt.ArrayLike, sense: bool = False) -> PlantRun:
        """One step per row of ``v_abc`` ((n, 3) phase-neutral voltages, V, held over dt_s)."""
        v = np.asarray(v_abc, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != 3:
            raise ValueError(f"v_abc must have shape (n, 3), got {v.shape}")
        bad = ~np.isfinite(v).all(axis=1)
        if bad.any():
            raise ValueError(f"v_abc row {int(np.argmax(bad))} is not finite")
        return self._finish(self._core.run_voltages(v, self.dt_s, sense), sense)

    def run_pwm(self, duty: npt.ArrayLike, enable: npt.ArrayLike | bool = True,
                sense: bool = False) -> PlantRun:
        """One PWM period per row of ``duty`` ((n, 3) in [0, 1]) through the inverter;
        ``enable`` (bool or (n,)) False = coast (switches off)."""
        d = np.asarray(duty, dtype=np.float32)
        if d.ndim != 2 or d.shape[1] != 3:
            raise ValueError(f"duty must have shape (n, 3), got {d.shape}")
        e = np.broadcast_to(np.asarray(enable, dtype=bool), (d.shape[0],)).astype(np.uint8)
        return self._finish(self._core.run_pwm(d, e, self.dt_s, sense), sense)

    def sense(self) -> SenseSample:
        """Sample the sensors once (advances the noise generator)."""
        adc_i, adc_vbus, enc, t_m, t_f = self._core.sense()
        return SenseSample(tuple(int(a) for a in adc_i), int(adc_vbus), int(enc), t_m, t_f)

    def randn(self, n: int) -> np.ndarray:
        """n standard normals from the plant's noise generator."""
        return self._core.randn(int(n))

    def _finish(self, res: tuple, sense: bool) -> PlantRun:
        done, f, i_abc, v_abc, adc, vbus, enc, temps = res
        n = f.shape[0]
        if done < n:
            raise PlantDivergedError(int(done), float(self.state["t_s"]) + self.dt_s, self.state)
        cols = {name: f[:, k] for k, name in enumerate(_plant.RECORD_FIELDS)}
        return PlantRun(
            t_s=cols["t_s"], i_abc=i_abc, i_d=cols["i_d"], i_q=cols["i_q"],
            omega_m=cols["omega_m"], theta_m=cols["theta_m"], tau_e=cols["tau_e"],
            tau_out_nm=cols["tau_out_nm"], theta_load=cols["theta_load"],
            omega_load=cols["omega_load"], v_abc=v_abc, v_d=cols["v_d"], v_q=cols["v_q"],
            temp_winding_c=cols["temp_winding_c"], temp_housing_c=cols["temp_housing_c"],
            temp_fet_c=cols["temp_fet_c"], tau_fric_nm=cols["tau_fric_nm"],
            tau_cog_nm=cols["tau_cog_nm"], p_cu_w=cols["p_cu_w"],
            adc_i=adc if sense else None, adc_vbus=vbus if sense else None,
            enc_count=enc if sense else None, temp_sensed_c=temps if sense else None)
