"""Parameter sets of the software plant, SI units (see mf_plant.h for the model).

Each dataclass validates itself in ``__post_init__`` and raises ``ValueError``
naming the field and its allowed range. ``from_board(tables)`` reads the
board file's table of the same name (``[motor]``, ``[inverter]``,
``[gearbox]``, ``[tendon]``, ``[load]``, ``[thermal]``, ``[sensors]``) with keys
equal to the field names; :class:`PlantParams` aggregates them and converts
to the C struct's field names (:meth:`PlantParams.to_c`).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

COG_MAX = 4  # MF_PLANT_COG_MAX


def _check(obj: object, name: str, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, hi_open: bool = False, integer: bool = False) -> None:
    """Raise ValueError unless getattr(obj, name) is finite and in the range."""
    value = getattr(obj, name)
    cls = type(obj).__name__
    lo_s = "-inf" if lo is None else repr(lo)
    hi_s = "inf" if hi is None else repr(hi)
    rng = f"{'(' if lo_open or lo is None else '['}{lo_s}, {hi_s}{')' if hi_open or hi is None else ']'}"
    kind = "an integer" if integer else "a finite number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{cls}.{name} must be {kind} in {rng}, got {value!r}")
    if integer and not float(value).is_integer():
        raise ValueError(f"{cls}.{name} must be {kind} in {rng}, got {value!r}")
    v = float(value)
    ok = math.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        raise ValueError(f"{cls}.{name} must be {kind} in {rng}, got {value!r}")


def _from_table(cls: type, table: Mapping[str, Any] | None, strict: bool) -> Any:
    table = dict(table or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - names)
    if strict and unknown:
        raise ValueError(f"unknown key(s) {unknown} for {cls.__name__}; allowed: {sorted(names)}")
    return cls(**{k: v for k, v in table.items() if k in names})


@dataclass
class MotorParams:
    """PMSM: ohm (at 20 degC), H, Wb, kg m^2, N m s/rad, N m, rad/s, 1/K.

    Coulomb friction is tau_coulomb_nm * sig(omega_m / omega_coulomb_rad_s)
    with a C2 smooth sign (mf_plant.h). Cogging: sum over k of
    cog_amp_nm[k] sin((k+1) cog_n_per_rev theta_m + cog_phase_rad[k]),
    opposing the motor (subtracted from the torque balance)."""

    r_ohm: float = 0.1
    ld_h: float = 50e-6
    lq_h: float = 50e-6
    flux_wb: float = 0.005
    pole_pairs: int = 14
    j_kgm2: float = 5e-5
    b_nms_per_rad: float = 1e-5
    tau_coulomb_nm: float = 0.005
    omega_coulomb_rad_s: float = 0.1
    r_temp_coeff_per_k: float = 0.00393
    cog_n_per_rev: int = 0
    cog_amp_nm: tuple[float, ...] = ()
    cog_phase_rad: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        _check(self, "r_ohm", 0.0, None, lo_open=True)
        _check(self, "ld_h", 0.0, None, lo_open=True)
        _check(self, "lq_h", 0.0, None, lo_open=True)
        _check(self, "flux_wb", 0.0, None)
        _check(self, "pole_pairs", 1, 1000, integer=True)
        _check(self, "j_kgm2", 0.0, None, lo_open=True)
        _check(self, "b_nms_per_rad", 0.0, None)
        _check(self, "tau_coulomb_nm", 0.0, None)
        _check(self, "omega_coulomb_rad_s", 0.0, None, lo_open=True)
        _check(self, "r_temp_coeff_per_k", 0.0, 0.01)
        _check(self, "cog_n_per_rev", 0, 10000, integer=True)
        self.cog_amp_nm = tuple(float(a) for a in self.cog_amp_nm)
        self.cog_phase_rad = tuple(float(a) for a in self.cog_phase_rad)
        if len(self.cog_amp_nm) > COG_MAX:
            raise ValueError(f"MotorParams.cog_amp_nm has at most {COG_MAX} harmonics, "
                             f"got {len(self.cog_amp_nm)}")
        if len(self.cog_phase_rad) not in (0, len(self.cog_amp_nm)):
            raise ValueError("MotorParams.cog_phase_rad must be empty or as long as cog_amp_nm")
        for a in self.cog_amp_nm:
            if not (math.isfinite(a) and a >= 0.0):
                raise ValueError(f"MotorParams.cog_amp_nm entries must be finite and in [0, inf), got {a!r}")
        for a in self.cog_phase_rad:
            if not math.isfinite(a):
                raise ValueError(f"MotorParams.cog_phase_rad entries must be finite, got {a!r}")

    @property
    def kt_nm_a(self) -> float:
        """Torque constant 1.5 p flux, N m/A."""
        return 1.5 * self.pole_pairs * self.flux_wb

    @classmethod
    def from_board(cls, tables: Mapping[str, Any], strict: bool = False) -> "MotorParams":
        """From the board's [motor] table (keys = field names)."""
        return _from_table(cls, tables.get("motor"), strict)


@dataclass
class InverterParams:
    """Inverter: bus voltage V, dead time s, dead-time current band A, on-resistance ohm."""

    v_bus_v: float = 48.0
    dead_time_s: float = 0.0
    dead_time_i_band_a: float = 0.1
    r_on_ohm: float = 0.0

    def __post_init__(self) -> None:
        _check(self, "v_bus_v", 0.0, None, lo_open=True)
        _check(self, "dead_time_s", 0.0, 1e-3)
        _check(self, "dead_time_i_band_a", 0.0, None, lo_open=True)
        _check(self, "r_on_ohm", 0.0, None)

    @classmethod
    def from_board(cls, tables: Mapping[str, Any], strict: bool = False) -> "InverterParams":
        """From the board's [inverter] table."""
        return _from_table(cls, tables.get("inverter"), strict)


@dataclass
class GearboxParams:
    """Gearbox: ratio (motor turns per output turn), efficiency (0, 1], backlash rad (output).

    The efficiency is a loss on the transmitted torque that opposes the motor
    speed: the motor gives tau_out / (N eta) when it drives the load and gets
    eta tau_out / N when the load back-drives it. Backlash needs a tendon."""

    ratio: float = 9.0
    efficiency: float = 1.0
    backlash_rad: float = 0.0

    def __post_init__(self) -> None:
        _check(self, "ratio", 0.0, None, lo_open=True)
        _check(self, "efficiency", 0.0, 1.0, lo_open=True)
        _check(self, "backlash_rad", 0.0, None)

    @classmethod
    def from_board(cls, tables: Mapping[str, Any], strict: bool = False) -> "GearboxParams":
        """From the board's [gearbox] table."""
        return _from_table(cls, tables.get("gearbox"), strict)


@dataclass
class TendonParams:
    """Series-elastic tendon from the gearbox output to the load link: N m/rad, N m s/rad."""

    k_nm_per_rad: float = 500.0
    c_nms_per_rad: float = 0.5

    def __post_init__(self) -> None:
        _check(self, "k_nm_per_rad", 0.0, None, lo_open=True)
        _check(self, "c_nms_per_rad", 0.0, None)

    @classmethod
    def from_board(cls, tables: Mapping[str, Any], strict: bool = False) -> "TendonParams | None":
        """From the board's [tendon] table; None (rigid) when there is none."""
        if tables.get("tendon") is None:
            return None
        return _from_table(cls, tables.get("tendon"), strict)


@dataclass
class LoadParams:
    """Output link: inertia kg m^2, damper N m s/rad and spring N m/rad to ground,
    spring rest angle rad, external torque N m (positive along the output)."""

    j_kgm2: float = 0.0
    b_nms_per_rad: float = 0.0
    k_nm_per_rad: float = 0.0
    theta0_rad: float = 0.0
    tau_ext_nm: float = 0.0

    def __post_init__(self) -> None:
        _check(self, "j_kgm2", 0.0, None)
        _check(self, "b_nms_per_rad", 0.0, None)
        _check(self, "k_nm_per_rad", 0.0, None)
        _check(self, "theta0_rad")
        _check(self, "tau_ext_nm")

    @classmethod
    def from_board(cls, tables: Mapping[str, Any], strict: bool = False) -> "LoadParams":
        """From the board's [load] table."""
        return _from_table(cls, tables.get("load"), strict)


@dataclass
class ThermalParams:
    """Two-node winding/housing model plus a FET node: degC, J/K, K/W.

    Copper loss 1.5 R(T) |i_dq|^2 heats the winding; R(T) = r_ohm (1 +
    r_temp_coeff_per_k (T - 20)). temp_init_c None starts every node at ambient."""

    temp_ambient_c: float = 25.0
    temp_init_c: float | None = None
    c_winding_j_per_k: float = 20.0
    r_winding_housing_k_per_w: float = 1.0
    c_housing_j_per_k: float = 200.0
    r_housing_ambient_k_per_w: float = 2.0
    c_fet_j_per_k: float = 5.0
    r_fet_ambient_k_per_w: float = 5.0

    def __post_init__(self) -> None:
        _check(self, "temp_ambient_c", -60.0, 200.0)
        if self.temp_init_c is not None:
            _check(self, "temp_init_c", -60.0, 200.0)
        for name in ("c_winding_j_per_k", "r_winding_housing_k_per_w", "c_housing_j_per_k",
                     "r_housing_ambient_k_per_w", "c_fet_j_per_k", "r_fet_ambient_k_per_w"):
            _check(self, name, 0.0, None, lo_open=True)

    @classmethod
    def from_board(cls, tables: Mapping[str, Any], strict: bool = False) -> "ThermalParams":
        """From the board's [thermal] table."""
        return _from_table(cls, tables.get("thermal"), strict)


@dataclass
class SensorParams:
    """Sensors. Phase currents: i = adc_i_a_per_count (count - adc_i_offset_counts)
    (the core's adc_i_gain_a and adc_i_offset); bus voltage = adc_vbus_v_per_count
    count (the core's adc_vbus_gain_v); Gaussian noise std devs in A and V;
    encoder counts per turn, count at theta_m = 0, direction +1/-1, latency s."""

    adc_bits: int = 12
    adc_i_a_per_count: float = 0.02
    adc_i_offset_counts: float = 2048.0
    adc_noise_a: float = 0.02
    adc_vbus_v_per_count: float = 0.02
    adc_vbus_noise_v: float = 0.0
    enc_counts_per_rev: int = 16384
    enc_offset_counts: float = 0.0
    enc_direction: int = 1
    enc_latency_s: float = 0.0

    def __post_init__(self) -> None:
        _check(self, "adc_bits", 8, 16, integer=True)
        _check(self, "adc_i_a_per_count", 0.0, None, lo_open=True)
        _check(self, "adc_i_offset_counts", 0.0, float(2 ** int(self.adc_bits) - 1))
        _check(self, "adc_noise_a", 0.0, None)
        _check(self, "adc_vbus_v_per_count", 0.0, None, lo_open=True)
        _check(self, "adc_vbus_noise_v", 0.0, None)
        _check(self, "enc_counts_per_rev", 4, 2 ** 30, integer=True)
        _check(self, "enc_offset_counts", 0.0, float(self.enc_counts_per_rev), hi_open=True)
        if self.enc_direction not in (1, -1) or isinstance(self.enc_direction, bool):
            raise ValueError(f"SensorParams.enc_direction must be +1 or -1, got {self.enc_direction!r}")
        _check(self, "enc_latency_s", 0.0, 1.0)

    @classmethod
    def from_board(cls, tables: Mapping[str, Any], strict: bool = False) -> "SensorParams":
        """From the board's [sensors] table."""
        return _from_table(cls, tables.get("sensors"), strict)


@dataclass
class PlantParams:
    """Every parameter of the plant; tendon None = load rigidly coupled."""

    motor: MotorParams = field(default_factory=MotorParams)
    inverter: InverterParams = field(default_factory=InverterParams)
    gearbox: GearboxParams = field(default_factory=GearboxParams)
    tendon: TendonParams | None = None
    load: LoadParams = field(default_factory=LoadParams)
    thermal: ThermalParams = field(default_factory=ThermalParams)
    sensors: SensorParams = field(default_factory=SensorParams)

    def __post_init__(self) -> None:
        if self.gearbox.backlash_rad > 0.0 and self.tendon is None:
            raise ValueError("GearboxParams.backlash_rad > 0 needs a tendon (the dead band acts "
                             "in the tendon's deflection); set backlash_rad = 0 or add TendonParams")
        if self.tendon is not None and not self.load.j_kgm2 > 0.0:
            raise ValueError("LoadParams.j_kgm2 must be in (0, inf) with a tendon, "
                             f"got {self.load.j_kgm2!r}")

    @classmethod
    def from_board(cls, tables: Mapping[str, Any], strict: bool = False) -> "PlantParams":
        """From a parsed board file: [motor], [inverter], [gearbox], [tendon], [load],
        [thermal], [sensors]; missing tables take the defaults. strict: refuse
        unknown keys (a board table may hold keys for other consumers)."""
        return cls(
            motor=MotorParams.from_board(tables, strict),
            inverter=InverterParams.from_board(tables, strict),
            gearbox=GearboxParams.from_board(tables, strict),
            tendon=TendonParams.from_board(tables, strict),
            load=LoadParams.from_board(tables, strict),
            thermal=ThermalParams.from_board(tables, strict),
            sensors=SensorParams.from_board(tables, strict),
        )

    def to_c(self) -> dict[str, Any]:
        """The mf_plant_params_t fields by name."""
        m, inv, g, ld, th, se = self.motor, self.inverter, self.gearbox, self.load, self.thermal, self.sensors
        amp = list(m.cog_amp_nm) + [0.0] * (COG_MAX - len(m.cog_amp_nm))
        phase = list(m.cog_phase_rad) + [0.0] * (COG_MAX - len(m.cog_phase_rad))
        tendon = self.tendon
        return {
            "r_ohm": m.r_ohm, "r_temp_coeff_per_k": m.r_temp_coeff_per_k, "ld_h": m.ld_h,
            "lq_h": m.lq_h, "flux_wb": m.flux_wb, "pole_pairs": int(m.pole_pairs),
            "j_kgm2": m.j_kgm2, "b_nms_per_rad": m.b_nms_per_rad,
            "tau_coulomb_nm": m.tau_coulomb_nm, "omega_coulomb_rad_s": m.omega_coulomb_rad_s,
            "cog_n_per_rev": int(m.cog_n_per_rev), "cog_amp_nm": amp, "cog_phase_rad": phase,
            "v_bus_v": inv.v_bus_v, "dead_time_s": inv.dead_time_s,
            "dead_time_i_band_a": inv.dead_time_i_band_a, "r_on_ohm": inv.r_on_ohm,
            "gear_ratio": g.ratio, "gear_efficiency": g.efficiency,
            "gear_backlash_rad": g.backlash_rad,
            "tendon_enabled": tendon is not None,
            "tendon_k_nm_per_rad": tendon.k_nm_per_rad if tendon else 0.0,
            "tendon_c_nms_per_rad": tendon.c_nms_per_rad if tendon else 0.0,
            "load_j_kgm2": ld.j_kgm2, "load_b_nms_per_rad": ld.b_nms_per_rad,
            "load_k_nm_per_rad": ld.k_nm_per_rad, "load_theta0_rad": ld.theta0_rad,
            "load_tau_ext_nm": ld.tau_ext_nm,
            "temp_ambient_c": th.temp_ambient_c,
            "temp_init_c": th.temp_ambient_c if th.temp_init_c is None else th.temp_init_c,
            "th_c_winding_j_per_k": th.c_winding_j_per_k,
            "th_r_winding_housing_k_per_w": th.r_winding_housing_k_per_w,
            "th_c_housing_j_per_k": th.c_housing_j_per_k,
            "th_r_housing_ambient_k_per_w": th.r_housing_ambient_k_per_w,
            "th_c_fet_j_per_k": th.c_fet_j_per_k, "th_r_fet_ambient_k_per_w": th.r_fet_ambient_k_per_w,
            "adc_bits": int(se.adc_bits), "adc_i_a_per_count": se.adc_i_a_per_count,
            "adc_i_offset_counts": se.adc_i_offset_counts, "adc_noise_a": se.adc_noise_a,
            "adc_vbus_v_per_count": se.adc_vbus_v_per_count, "adc_vbus_noise_v": se.adc_vbus_noise_v,
            "enc_counts_per_rev": int(se.enc_counts_per_rev),
            "enc_offset_counts": se.enc_offset_counts, "enc_direction": int(se.enc_direction),
            "enc_latency_s": se.enc_latency_s,
        }
