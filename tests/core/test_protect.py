"""Protections (actuators/core/mf_protect.c): thresholds, latching, clearing.

Each protection: just below its threshold no trip, just above a trip in the
same step; the fault stays latched when the cause goes; clear refuses while
the cause persists and succeeds once it is gone. References: the I2t trip
time of the first-order filter t = -tau ln(1 - i_cont^2 / i^2), the linear
derating law, the fault bit values parsed from mf_protect.h.
"""
from __future__ import annotations

import math
import pathlib
import re

import numpy as np
import pytest

from actuators import core

HEADER = pathlib.Path(__file__).parents[2] / "actuators" / "core" / "mf_protect.h"

CFG = dict(i_max_a=40.0, i_cont_a=15.0, tau_i2t_s=0.2, v_bus_max_v=56.0, v_bus_min_v=18.0,
           temp_derate_c=90.0, temp_max_c=110.0, temp_hyst_c=10.0, r_ohm=0.1, flux_wb=0.005,
           omega_e_stuck_rad_s=500.0, enc_stuck_s=0.05, enc_jump_counts=1000,
           cmd_timeout_s=0.1, safe_state="coast")
DT = 1e-4


def _inp(**over: object) -> dict:
    """A healthy input (standstill, 24 V, 25 degC, disarmed), with overrides."""
    d = dict(v_bus=24.0, i_abc=(0.0, 0.0, 0.0), i_d=0.0, i_q=0.0, v_q=0.0, temp_motor_c=25.0,
             temp_fet_c=25.0, enc_delta_counts=1, armed=False)
    d.update(over)
    return d


def _prot(**over: object) -> core.Protect:
    cfg = dict(CFG)
    cfg.update(over)
    return core.Protect(**cfg)


def _step(p: core.Protect, dt: float = DT, **over: object) -> int:
    return p.step(**_inp(**over), dt_s=dt)


def _clear(p: core.Protect, **over: object) -> int:
    return p.clear(**_inp(**over))


def _below(x: float) -> float:
    """Largest float32 below x."""
    return float(np.nextafter(np.float32(x), np.float32(-np.inf)))


def _above(x: float) -> float:
    """Smallest float32 above x."""
    return float(np.nextafter(np.float32(x), np.float32(np.inf)))


def test_fault_bits_match_header() -> None:
    """FAULT_* equal the MF_FAULT_* macros of mf_protect.h; fault_names decodes them."""
    macros = dict(re.findall(r"#define MF_FAULT_(\w+)\s+\(1u << (\d+)\)", HEADER.read_text()))
    assert len(macros) == 10
    for name, shift in macros.items():
        assert getattr(core, f"FAULT_{name}") == 1 << int(shift)
    assert core.fault_names(core.FAULT_I2T | core.FAULT_ESTOP) == ["i2t", "estop"]
    assert core.fault_names(0) == []
    assert core.fault_names(1 << 12) == ["bit12"]


@pytest.mark.parametrize("phase", [0, 1, 2])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_overcurrent(phase: int, sign: float) -> None:
    p = _prot()
    i = [0.0, 0.0, 0.0]
    i[phase] = sign * 40.0
    assert _step(p, i_abc=tuple(i)) == 0                   # at the threshold: no trip
    i[phase] = sign * _above(40.0)
    assert _step(p, i_abc=tuple(i)) == core.FAULT_OVERCURRENT
    assert p.first_fault == core.FAULT_OVERCURRENT
    assert _clear(p, i_abc=tuple(i)) == core.FAULT_OVERCURRENT
    assert _step(p) == core.FAULT_OVERCURRENT              # cause gone: still latched
    assert _clear(p) == 0
    assert p.first_fault == 0


def test_bus_voltage() -> None:
    p = _prot()
    assert _step(p, v_bus=56.0) == 0 and _step(p, v_bus=18.0) == 0
    assert _step(p, v_bus=_above(56.0)) == core.FAULT_OVERVOLTAGE
    assert _step(p, v_bus=24.0) == core.FAULT_OVERVOLTAGE
    assert _clear(p, v_bus=57.0) == core.FAULT_OVERVOLTAGE
    assert _clear(p, v_bus=56.0) == 0
    assert _step(p, v_bus=_below(18.0)) == core.FAULT_UNDERVOLTAGE
    assert _clear(p, v_bus=10.0) == core.FAULT_UNDERVOLTAGE
    assert _clear(p, v_bus=18.0) == 0


def test_temperature_derating_and_trip() -> None:
    """derate = clip((T_max - T)/(T_max - T_derate), 0, 1); trip at T_max; clear
    below T_max - hyst; the hotter of motor and FET counts."""
    p = _prot()
    temps = np.linspace(60.0, 109.9, 200)
    derate = []
    for k, t in enumerate(temps):
        kw = {"temp_motor_c": t} if k % 2 else {"temp_fet_c": t}
        assert _step(p, **kw) == 0
        derate.append(p.derate)
    ref = np.clip((110.0 - temps) / (110.0 - 90.0), 0.0, 1.0)
    assert np.max(np.abs(np.array(derate) - ref)) < 1e-5
    assert _step(p, temp_fet_c=_below(110.0)) == 0
    assert _step(p, temp_fet_c=110.0) == core.FAULT_OVERTEMP
    assert p.derate == 0.0
    assert _step(p) == core.FAULT_OVERTEMP
    assert p.derate == 1.0
    assert _clear(p, temp_motor_c=100.0) == core.FAULT_OVERTEMP   # not below max - hyst
    assert _clear(p, temp_fet_c=105.0) == core.FAULT_OVERTEMP
    assert _clear(p, temp_motor_c=99.9, temp_fet_c=99.9) == 0


def _i2t_trip_time(p: core.Protect, i_d: float, i_q: float, t_max: float) -> float | None:
    for k in range(1, int(t_max / DT) + 1):
        if _step(p, i_d=i_d, i_q=i_q) & core.FAULT_I2T:
            return k * DT
    return None


@pytest.mark.parametrize("i_a", [15.5, 16.0, 18.0, 22.0, 30.0, 40.0])
def test_i2t_trip_time(i_a: float) -> None:
    """Constant |i_dq| > i_cont trips after t = -tau ln(1 - i_cont^2 / i^2)."""
    p = _prot()
    tau, i_cont = CFG["tau_i2t_s"], CFG["i_cont_a"]
    t_ref = -tau * math.log(1.0 - i_cont**2 / i_a**2)
    angle = 0.3 * i_a                                      # any split between d and q
    t = _i2t_trip_time(p, i_a * math.sin(angle), i_a * math.cos(angle), 3 * t_ref)
    assert t is not None
    print(f"I2t at {i_a:4.1f} A: trip {t:.4f} s, analytic {t_ref:.4f} s, "
          f"error {(t / t_ref - 1) * 100:+.3f} %")
    assert t == pytest.approx(t_ref, rel=0.01)
    assert p.faults == core.FAULT_I2T


def test_i2t_never_trips_at_i_cont() -> None:
    """|i_dq| = i_cont (9^2 + 12^2 = 15^2) for 15 tau: no trip."""
    p = _prot()
    assert _i2t_trip_time(p, 9.0, 12.0, 15 * CFG["tau_i2t_s"]) is None
    assert p.i2t <= 15.0**2
    assert p.i2t > 0.99 * 15.0**2


def test_i2t_clear_after_cooling() -> None:
    """After a trip at i, with i = 0 the filter decays as x e^(-t/tau): clear is
    refused until x < 0.8 i_cont^2, i.e. t = tau ln(x_trip / (0.8 i_cont^2))."""
    p = _prot()
    assert _i2t_trip_time(p, 0.0, 30.0, 1.0) is not None
    x_trip = p.i2t
    t_clear = CFG["tau_i2t_s"] * math.log(x_trip / (core.I2T_CLEAR_FRAC * 15.0**2))
    n = int(round(t_clear / DT))
    for _ in range(n - 20):
        assert _step(p) == core.FAULT_I2T
    assert _clear(p) == core.FAULT_I2T
    for _ in range(40):
        _step(p)
    assert _clear(p) == 0


def test_encoder_jump() -> None:
    p = _prot()
    assert _step(p, enc_delta_counts=1000) == 0
    assert _step(p, enc_delta_counts=-1000) == 0
    assert _step(p, enc_delta_counts=-1001) == core.FAULT_ENCODER
    assert _step(p, enc_delta_counts=3) == core.FAULT_ENCODER
    assert _clear(p, enc_delta_counts=5000) == core.FAULT_ENCODER
    assert _clear(p, enc_delta_counts=-(2**31)) == core.FAULT_ENCODER
    assert _clear(p, enc_delta_counts=3) == 0
    assert _step(p, enc_delta_counts=1001) == core.FAULT_ENCODER


def test_encoder_stuck() -> None:
    """Standstill: no trip whatever the holding current; voltage saying the
    motor turns while the counts do not: trip after enc_stuck_s."""
    p = _prot()
    for _ in range(int(1.0 / DT)):                          # 1 s, counts still, no voltage
        assert _step(p, enc_delta_counts=0) == 0
    for _ in range(int(1.0 / DT)):                          # holding 10 A: v_q = R i_q
        assert _step(p, enc_delta_counts=0, i_q=10.0, v_q=1.0) == 0
    # back-EMF 5 V / 5 mWb = 1000 rad/s electrical, counts moving: healthy
    for _ in range(int(0.1 / DT)):
        assert _step(p, enc_delta_counts=3, i_q=10.0, v_q=6.0) == 0
    assert p.omega_e_emf == pytest.approx(1000.0, rel=1e-3)
    n_still = 0
    while _step(p, enc_delta_counts=0, i_q=10.0, v_q=6.0) == 0:
        n_still += 1
        assert n_still < 10 * CFG["enc_stuck_s"] / DT
    assert p.faults == core.FAULT_ENCODER
    assert (n_still + 1) * DT == pytest.approx(CFG["enc_stuck_s"], abs=1.5 * DT)
    assert _clear(p, enc_delta_counts=0, i_q=10.0, v_q=6.0) == core.FAULT_ENCODER
    assert _clear(p, enc_delta_counts=0, i_q=10.0, v_q=1.0) == 0


def test_encoder_stuck_ignores_current_transient() -> None:
    """A 1 ms L di/dt spike in v_q (4000 rad/s apparent) with still counts does not trip."""
    p = _prot()
    for _ in range(int(0.2 / DT)):
        assert _step(p, enc_delta_counts=0, i_q=10.0, v_q=1.0) == 0
    for _ in range(int(1e-3 / DT)):
        assert _step(p, enc_delta_counts=0, i_q=10.0, v_q=21.0) == 0
    for _ in range(int(0.2 / DT)):
        assert _step(p, enc_delta_counts=0, i_q=10.0, v_q=1.0) == 0


def test_command_timeout_only_when_armed() -> None:
    dt = 1.0 / 1024.0                                       # sums exactly
    p = _prot(cmd_timeout_s=0.125)                          # 128 steps
    for _ in range(1000):
        assert _step(p, dt=dt) == 0                         # disarmed: never
    assert p.since_cmd_s == 0.0
    for _ in range(127):
        assert _step(p, dt=dt, armed=True) == 0
    p.feed()                                                # a command restarts it
    for _ in range(127):
        assert _step(p, dt=dt, armed=True) == 0
    assert p.since_cmd_s == pytest.approx(127 * dt)
    assert _step(p, dt=dt, armed=True) == core.FAULT_CMD_TIMEOUT
    assert _step(p, dt=dt) == core.FAULT_CMD_TIMEOUT       # disarmed: still latched
    assert _clear(p) == core.FAULT_CMD_TIMEOUT             # no command since
    p.feed()
    assert _clear(p) == 0


@pytest.mark.parametrize("field", ["v_bus", "i_a", "i_b", "i_c", "i_d", "i_q", "v_q",
                                   "temp_motor_c", "temp_fet_c", "dt_s"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input_is_bad_input(field: str, bad: float) -> None:
    """A NaN/Inf input trips BAD_INPUT only; the state stays finite; clear waits
    for finite inputs."""
    p = _prot()
    over: dict = {}
    dt = DT
    if field == "dt_s":
        dt = bad
    elif field.startswith("i_") and field[2] in "abc":
        i = [0.0, 0.0, 0.0]
        i["abc".index(field[2])] = bad
        over["i_abc"] = tuple(i)
    else:
        over[field] = bad
    assert _step(p, dt=dt, **over) == core.FAULT_BAD_INPUT
    assert p.first_fault == core.FAULT_BAD_INPUT
    assert all(math.isfinite(x) for x in (p.i2t, p.since_cmd_s, p.omega_e_emf, p.derate))
    if field != "dt_s":
        assert _clear(p, **over) == core.FAULT_BAD_INPUT
    assert _step(p) == core.FAULT_BAD_INPUT
    assert _clear(p) == 0


def test_estop_config_and_first_fault() -> None:
    p = _prot()
    p.trip(core.FAULT_ESTOP)
    assert _step(p, v_bus=60.0) == core.FAULT_ESTOP | core.FAULT_OVERVOLTAGE
    assert p.first_fault == core.FAULT_ESTOP
    assert _clear(p, v_bus=60.0) == core.FAULT_OVERVOLTAGE  # e-stop clears, cause of OV remains
    assert p.first_fault == core.FAULT_OVERVOLTAGE
    assert _clear(p) == 0
    p.trip(core.FAULT_CONFIG)
    assert _clear(p) == core.FAULT_CONFIG                   # never by clear
    p.reset()
    assert p.faults == 0


@pytest.mark.parametrize("field,value", [
    ("i_max_a", 0.0), ("i_max_a", -1.0), ("i_max_a", float("nan")),
    ("i_cont_a", 41.0), ("i_cont_a", 0.0),
    ("tau_i2t_s", 0.0), ("tau_i2t_s", float("inf")),
    ("v_bus_min_v", 0.0), ("v_bus_min_v", 60.0), ("v_bus_max_v", float("nan")),
    ("temp_max_c", 80.0), ("temp_derate_c", float("nan")), ("temp_hyst_c", -1.0),
    ("r_ohm", -0.1), ("flux_wb", 0.0), ("flux_wb", float("nan")),
    ("omega_e_stuck_rad_s", -5.0), ("enc_stuck_s", 0.0), ("enc_jump_counts", 0),
    ("cmd_timeout_s", 0.0), ("cmd_timeout_s", -1.0), ("safe_state", 2), ("safe_state", "free"),
])
def test_bad_config_raises(field: str, value: object) -> None:
    """Out-of-range, NaN, zero, negative or min > max fields raise ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        _prot(**{field: value})


def test_safe_state_names() -> None:
    assert _prot(safe_state="brake").safe_state == "brake"
    assert _prot(safe_state=0).safe_state == "coast"
