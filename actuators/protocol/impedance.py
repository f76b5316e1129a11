"""MIT-mode raw packing of impedance commands and joint states.

The impedance command, the state reply and the group frames carry position,
speed, gains and torque as unsigned raw integers scaled onto per-board ranges
(the MIT Cheetah / mini-cheetah motor protocol):

    x = raw / (2**bits - 1) * (x_max - x_min) + x_min

with 16 bits for positions and 12 bits for speeds, gains and torques. Packing
rounds to the nearest raw value (half up), so a round trip is within half a
quantisation step; a value outside its range raises ProtocolError (no silent
clamping) unless the caller asks to saturate.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from .errors import ProtocolError

__all__ = [
    "GROUP_SLOTS",
    "ImpedanceRanges",
    "ImpedanceSetpoint",
    "JointState",
    "MINI_CHEETAH_RANGES",
    "dequantise",
    "group_slots_to_values",
    "group_values_to_slots",
    "pack_impedance",
    "pack_state",
    "quantise",
    "unpack_impedance",
    "unpack_state",
]

P_BITS = 16
V_BITS = 12
KP_BITS = 12
KD_BITS = 12
TAU_BITS = 12

GROUP_SLOTS = 8  # actuators per CAN FD group frame


@dataclass(frozen=True)
class ImpedanceRanges:
    """Per-board ranges of the MIT-mode raw fields (board file P_MIN/P_MAX, ...).

    Output side of the gearbox. Units: rad, rad/s, N m/rad, N m s/rad, N m.
    """

    p_min_rad: float
    p_max_rad: float
    v_min_rad_s: float
    v_max_rad_s: float
    kp_max_nm_rad: float
    kd_max_nms_rad: float
    tau_min_nm: float
    tau_max_nm: float

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ProtocolError(f"ImpedanceRanges.{f.name} = {value!r}: must be a finite number")
        for lo, hi in (("p_min_rad", "p_max_rad"), ("v_min_rad_s", "v_max_rad_s"),
                       ("tau_min_nm", "tau_max_nm")):
            if not getattr(self, lo) < getattr(self, hi):
                raise ProtocolError(f"ImpedanceRanges.{lo} = {getattr(self, lo)} must be below "
                                    f"{hi} = {getattr(self, hi)}")
        for name in ("kp_max_nm_rad", "kd_max_nms_rad"):
            if not getattr(self, name) > 0.0:
                raise ProtocolError(f"ImpedanceRanges.{name} = {getattr(self, name)}: must be > 0")


# The ranges of the original mini-cheetah firmware (a common default for MIT-mode drives).
MINI_CHEETAH_RANGES = ImpedanceRanges(
    p_min_rad=-12.5, p_max_rad=12.5, v_min_rad_s=-65.0, v_max_rad_s=65.0,
    kp_max_nm_rad=500.0, kd_max_nms_rad=5.0, tau_min_nm=-18.0, tau_max_nm=18.0)


@dataclass(frozen=True)
class ImpedanceSetpoint:
    """An impedance command: tau = kp (p_des - p) + kd (v_des - v) + tau_ff (output side, SI)."""

    p_des_rad: float
    v_des_rad_s: float
    kp_nm_rad: float
    kd_nms_rad: float
    tau_ff_nm: float


@dataclass(frozen=True)
class JointState:
    """The MIT-layout part of a state reply (output side, SI)."""

    p_out_rad: float
    v_out_rad_s: float
    tau_out_nm: float


def _range_error(field: str, value: float, lo: float, hi: float, unit: str) -> ProtocolError:
    return ProtocolError(f"{field} = {value!r} outside [{lo}, {hi}] {unit}".rstrip())


def quantise(value: float, lo: float, hi: float, bits: int, field: str = "value",
             unit: str = "", saturate: bool = False) -> int:
    """Raw integer of ``value`` on ``[lo, hi]`` with ``bits`` bits, rounded half up.

    Raises ProtocolError naming ``field`` if value is not finite or, unless
    ``saturate``, outside [lo, hi].
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProtocolError(f"{field} = {value!r}: must be a finite number")
    if value < lo or value > hi:
        if not saturate:
            raise _range_error(field, value, lo, hi, unit)
        value = min(max(value, lo), hi)
    full = (1 << bits) - 1
    raw = math.floor((value - lo) / (hi - lo) * full + 0.5)
    return min(max(raw, 0), full)


def dequantise(raw: int, lo: float, hi: float, bits: int, field: str = "raw") -> float:
    """Value of the raw integer ``raw`` (``bits`` bits) on ``[lo, hi]``."""
    full = (1 << bits) - 1
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= full:
        raise ProtocolError(f"{field} = {raw!r}: must be an integer in [0, {full}]")
    return raw / full * (hi - lo) + lo


def pack_impedance(p_des_rad: float, v_des_rad_s: float, kp_nm_rad: float, kd_nms_rad: float,
                   tau_ff_nm: float, ranges: ImpedanceRanges) -> dict[str, int]:
    """ImpedanceCommand raw signal values (DBC names) of an impedance setpoint.

    Positions rad, speeds rad/s, kp N m/rad, kd N m s/rad, torque N m, output
    side. Out-of-range or non-finite values raise ProtocolError naming the field.
    """
    r = ranges
    return {
        "p_des_raw": quantise(p_des_rad, r.p_min_rad, r.p_max_rad, P_BITS, "p_des_rad", "rad"),
        "v_des_raw": quantise(v_des_rad_s, r.v_min_rad_s, r.v_max_rad_s, V_BITS, "v_des_rad_s", "rad/s"),
        "kp_raw": quantise(kp_nm_rad, 0.0, r.kp_max_nm_rad, KP_BITS, "kp_nm_rad", "N m/rad"),
        "kd_raw": quantise(kd_nms_rad, 0.0, r.kd_max_nms_rad, KD_BITS, "kd_nms_rad", "N m s/rad"),
        "tau_ff_raw": quantise(tau_ff_nm, r.tau_min_nm, r.tau_max_nm, TAU_BITS, "tau_ff_nm", "N m"),
    }


def unpack_impedance(raw: Mapping[str, int], ranges: ImpedanceRanges) -> ImpedanceSetpoint:
    """Impedance setpoint (SI, output side) of ImpedanceCommand raw signal values."""
    r = ranges
    return ImpedanceSetpoint(
        p_des_rad=dequantise(_get(raw, "p_des_raw"), r.p_min_rad, r.p_max_rad, P_BITS, "p_des_raw"),
        v_des_rad_s=dequantise(_get(raw, "v_des_raw"), r.v_min_rad_s, r.v_max_rad_s, V_BITS, "v_des_raw"),
        kp_nm_rad=dequantise(_get(raw, "kp_raw"), 0.0, r.kp_max_nm_rad, KP_BITS, "kp_raw"),
        kd_nms_rad=dequantise(_get(raw, "kd_raw"), 0.0, r.kd_max_nms_rad, KD_BITS, "kd_raw"),
        tau_ff_nm=dequantise(_get(raw, "tau_ff_raw"), r.tau_min_nm, r.tau_max_nm, TAU_BITS, "tau_ff_raw"),
    )


def pack_state(p_out_rad: float, v_out_rad_s: float, tau_out_nm: float, ranges: ImpedanceRanges,
               *, saturate: bool = False) -> dict[str, int]:
    """StateReply raw values p_out_raw, v_out_raw, tau_out_raw of a joint state.

    With ``saturate`` a value beyond its range is sent as the range end (what
    an actuator does: its state may exceed the command ranges); otherwise it
    raises ProtocolError naming the field.
    """
    r = ranges
    return {
        "p_out_raw": quantise(p_out_rad, r.p_min_rad, r.p_max_rad, P_BITS, "p_out_rad", "rad", saturate),
        "v_out_raw": quantise(v_out_rad_s, r.v_min_rad_s, r.v_max_rad_s, V_BITS, "v_out_rad_s", "rad/s",
                              saturate),
        "tau_out_raw": quantise(tau_out_nm, r.tau_min_nm, r.tau_max_nm, TAU_BITS, "tau_out_nm", "N m",
                                saturate),
    }


def unpack_state(raw: Mapping[str, int], ranges: ImpedanceRanges) -> JointState:
    """Joint state (SI, output side) of StateReply raw values."""
    r = ranges
    return JointState(
        p_out_rad=dequantise(_get(raw, "p_out_raw"), r.p_min_rad, r.p_max_rad, P_BITS, "p_out_raw"),
        v_out_rad_s=dequantise(_get(raw, "v_out_raw"), r.v_min_rad_s, r.v_max_rad_s, V_BITS, "v_out_raw"),
        tau_out_nm=dequantise(_get(raw, "tau_out_raw"), r.tau_min_nm, r.tau_max_nm, TAU_BITS, "tau_out_raw"),
    )


def group_slots_to_values(slots: Sequence[Mapping[str, int] | None]) -> dict[str, int]:
    """GroupCommand / GroupState signal values from up to 8 per-slot dicts.

    Slot k's keys are the single-frame signal names (``p_des_raw``, ... or
    ``p_out_raw``, ...), stored as ``slot<k>_<name>``. A None slot (no actuator)
    is filled with zeros, as are slots beyond the list: an actuator only reads
    its own slot.
    """
    if len(slots) > GROUP_SLOTS:
        raise ProtocolError(f"group frame: {len(slots)} slots, at most {GROUP_SLOTS}")
    keys: list[str] | None = None
    for slot in slots:
        if slot is not None:
            keys = list(slot)
            break
    if keys is None:
        raise ProtocolError("group frame: every slot is empty")
    values: dict[str, int] = {}
    for k in range(GROUP_SLOTS):
        slot = slots[k] if k < len(slots) else None
        if slot is not None and set(slot) != set(keys):
            raise ProtocolError(f"group frame slot {k}: signals {sorted(slot)}, expected {sorted(keys)}")
        for key in keys:
            values[f"slot{k}_{key}"] = 0 if slot is None else slot[key]
    return values


def group_values_to_slots(values: Mapping[str, int | float]) -> list[dict[str, int | float]]:
    """The 8 per-slot dicts (single-frame signal names) of decoded group-frame values."""
    slots: list[dict[str, int | float]] = [{} for _ in range(GROUP_SLOTS)]
    for name, value in values.items():
        head, sep, key = name.partition("_")
        if not sep or not head.startswith("slot") or not head[4:].isdigit() or int(head[4:]) >= GROUP_SLOTS:
            raise ProtocolError(f"group frame: signal {name!r} is not slot<k>_<name> with k < {GROUP_SLOTS}")
        slots[int(head[4:])][key] = value
    return slots


def _get(raw: Mapping[str, int], key: str) -> int:
    try:
        return raw[key]
    except KeyError:
        raise ProtocolError(f"raw values lack {key!r} (have {sorted(raw)})") from None
