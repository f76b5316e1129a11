"""The board-file schema: every table and key with type, unit, range, default and meaning.

``SCHEMA`` (one entry per TOML table, dotted paths) drives the per-key checks
of :func:`firmware_gen.board.load_board`; ``CROSS_CHECKS`` names and describes
the checks that relate several keys (implemented in ``board_checks.py``, one function
per name); :func:`schema_markdown` renders both as ``docs/boards.md``:

    python -m firmware_gen.board_schema > docs/boards.md

Keys of physical quantities end in their unit (``r_ohm``, ``pwm_hz``,
``size_bytes``); ``UNIT_SUFFIXES`` lists the endings each unit allows. Ranges
are those of a plausible humanoid joint actuator on an STM32G4, tight enough
that a value in the wrong unit (mH where H is expected, kHz where Hz is)
falls outside them.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["CROSS_CHECKS", "KINDS", "Key", "SCHEMA", "Table", "UNIT_SUFFIXES", "schema_markdown",
           "toml_key"]

KINDS = ("float", "int", "bool", "str", "float_list")

_REQUIRED = object()  # Key.default of a required key


def _num(x: float) -> str:
    """A short, exact-enough text of a number for messages and docs."""
    if isinstance(x, int) or (float(x).is_integer() and abs(x) < 1e9):
        return str(int(x))
    return f"{x:.6g}"


@dataclass(frozen=True)
class Key:
    """One key of a table.

    kind: "float" (an int is accepted), "int", "bool", "str" or "float_list";
    unit: SI unit text ("" for dimensionless, choices and text); lo/hi: the
    range (None = unbounded), open at an end when lo_open/hi_open; choices:
    the allowed values (then the range is not used); pattern: a regular
    expression a str must match; max_len: longest float_list; default:
    the value when the key is absent (_REQUIRED: the key must be given;
    None: optional without a value)."""

    kind: str
    unit: str
    doc: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[Any, ...] | None = None
    pattern: str | None = None
    max_len: int | None = None
    default: Any = _REQUIRED

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def range_text(self, unit: bool = True) -> str:
        """The allowed values without the kind, e.g. ``[1e-06, 0.01] H`` (unit False: no unit)."""
        if self.choices is not None:
            return "one of " + ", ".join(_toml(c) for c in self.choices)
        if self.pattern is not None:
            return f"matching {self.pattern}"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "str":
            return "any text"
        if self.lo is None and self.hi is None:
            text = "any finite value"
        else:
            lo = "-inf" if self.lo is None else _num(self.lo)
            hi = "inf" if self.hi is None else _num(self.hi)
            left = "(" if self.lo_open or self.lo is None else "["
            right = ")" if self.hi_open or self.hi is None else "]"
            text = f"{left}{lo}, {hi}{right}"
        if self.max_len is not None:
            text = f"up to {self.max_len} values, each in {text}"
        return f"{text} {self.unit}" if unit and self.unit else text

    def allowed(self) -> str:
        """Kind and range, as in the error messages: ``float in [1e-06, 0.01] H``."""
        kind = {"float": "float", "int": "integer", "bool": "boolean", "str": "string",
                "float_list": "array of floats"}[self.kind]
        if self.kind == "bool" or (self.kind == "str" and self.choices is None
                                   and self.pattern is None):
            return kind
        if self.pattern is not None:
            return f"{kind} {self.range_text()}"
        sep = ", " if self.choices is not None or self.kind == "float_list" else " in "
        return f"{kind}{sep}{self.range_text()}"

    def check(self, value: Any) -> tuple[Any, str | None]:
        """(normalised value, None) or (None, problem text)."""
        kind = self.kind
        if kind == "bool":
            if isinstance(value, bool):
                return value, None
            return None, f"expected a boolean, got {_got(value)}"
        if kind == "str":
            if not isinstance(value, str):
                return None, f"expected a string, got {_got(value)}"
            if self.choices is not None and value not in self.choices:
                return None, f"{_toml(value)} is not allowed"
            if self.pattern is not None and not re.fullmatch(self.pattern, value):
                return None, f"{_toml(value)} does not match the pattern"
            return value, None
        if kind == "float_list":
            if not isinstance(value, list):
                return None, f"expected an array of floats, got {_got(value)}"
            if self.max_len is not None and len(value) > self.max_len:
                return None, f"{len(value)} values is too many"
            out = []
            for k, item in enumerate(value):
                v, problem = self._scalar(item, "float")
                if problem is not None:
                    return None, f"element {k}: {problem}"
                out.append(v)
            return tuple(out), None
        return self._scalar(value, kind)

    def _scalar(self, value: Any, kind: str) -> tuple[Any, str | None]:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            want = "an integer" if kind == "int" else "a number"
            return None, f"expected {want}, got {_got(value)}"
        if kind == "int" and not isinstance(value, int):
            return None, f"expected an integer, got the float {value!r}"
        v: float | int = int(value) if kind == "int" else float(value)
        if self.choices is not None:
            return (v, None) if v in self.choices else (None, f"{_toml(value)} is not allowed")
        if not math.isfinite(v):
            return None, f"{value!r} is not finite"
        ok = True
        if self.lo is not None:
            ok = v > self.lo if self.lo_open else v >= self.lo
        if ok and self.hi is not None:
            ok = v < self.hi if self.hi_open else v <= self.hi
        if not ok:
            return None, f"{_toml(value)} is out of range"
        return v, None


def _got(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
             dict: "table"}
    return f"the {names.get(type(value), type(value).__name__)} {_toml(value)}"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)   # escaped: a message stays one line
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, dict):
        return "{...}"
    return repr(value)


def toml_key(name: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted and escaped."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def req(kind: str, unit: str, doc: str, lo: float | None = None, hi: float | None = None,
        **kw: Any) -> Key:
    """A required key."""
    return Key(kind, unit, doc, lo, hi, **kw)


def opt(default: Any, kind: str, unit: str, doc: str, lo: float | None = None,
        hi: float | None = None, **kw: Any) -> Key:
    """An optional key with a default (None: no value)."""
    return Key(kind, unit, doc, lo, hi, default=default, **kw)


@dataclass(frozen=True)
class Table:
    """One TOML table: its keys and what happens when it is absent:
    "required" (an error), "defaults" (every key takes its default) or
    "none" (the board has no such part, e.g. no tendon)."""

    doc: str
    keys: dict[str, Key]
    absent: str = "required"


TWO_PI = 2.0 * math.pi

_REGION_KEYS = {
    "offset_bytes": req("int", "bytes", "start, from the flash base", 0, 1 << 20, hi_open=True),
    "size_bytes": req("int", "bytes", "length", 1, 1 << 20),
}

SCHEMA: dict[str, Table] = {
    "board": Table("Identity of the board type.", {
        "name": req("str", "", "board type name (lowercase letters, digits, _)",
                    pattern=r"[a-z][a-z0-9_]{0,31}"),
        "id": req("int", "", "board type id, the uint16 written into firmware image headers; "
                  "unique over boards/", 1, 65535),
        "version": req("str", "", "hardware revision MAJOR.MINOR.PATCH", pattern=r"\d+\.\d+\.\d+"),
        "description": opt("", "str", "", "free text"),
    }),
    "mcu": Table("The microcontroller (STM32G4, Cortex-M4F).", {
        "family": req("str", "", "MCU family", choices=("stm32g4",)),
        "part": req("str", "", "ST part number: STM32G4 + line + pin-count letter + flash-size "
                    "letter (6 32 KiB, 8 64 KiB, B 128 KiB, C 256 KiB, E 512 KiB) + optional "
                    "package/temperature suffix",
                    pattern=r"STM32G4(31|41|71|73|74|83|84)[CKGMPQRV][68BCE][A-Z0-9]*"),
        "core": opt("cortex-m4f", "str", "", "CPU core (hard-float ABI)", choices=("cortex-m4f",)),
        "clock_hz": req("int", "Hz", "core clock SYSCLK = PCLK1 (timer and FDCAN kernel clock)",
                        8_000_000, 170_000_000),
        "flash_bytes": req("int", "bytes", "main flash size (must match the part)", 32768, 524288),
        "ram_bytes": req("int", "bytes", "SRAM1 + SRAM2 + CCM SRAM (must match the part)",
                         16384, 131072),
        "flash_page_bytes": req("int", "bytes", "erase page: 2048 (category 2, and category 3 in "
                                "dual-bank mode) or 4096 (category 3 single-bank)",
                                choices=(2048, 4096)),
        "dual_bank": opt(False, "bool", "", "flash in dual-bank mode (DBANK = 1; category 3 "
                         "with 512 KiB only): slot A and slot B then lie in different banks, "
                         "so one can be written while the other runs"),
        "flash_base_addr": opt(0x0800_0000, "int", "address", "address of flash offset 0",
                               0, 0xFFFF_FFFF),
        "ram_base_addr": opt(0x2000_0000, "int", "address", "address of SRAM1", 0, 0xFFFF_FFFF),
    }),
    "mcu.layout": Table("Flash layout: the four regions below, as offsets from the flash "
                        "base.", {}),
    "mcu.layout.bootloader": Table("Bootloader (CAN/UDS flashing; starts at offset 0, the reset "
                                   "vector).", dict(_REGION_KEYS)),
    "mcu.layout.slot_a": Table("Application image slot A.", dict(_REGION_KEYS)),
    "mcu.layout.slot_b": Table("Application image slot B (same size as A).", dict(_REGION_KEYS)),
    "mcu.layout.params": Table("Parameter pages (the persistent parameter table).",
                               dict(_REGION_KEYS)),
    "pwm": Table("PWM timer (center-aligned) and loop rates.", {
        "pwm_hz": req("float", "Hz", "PWM and current-loop frequency", 10_000.0, 100_000.0),
        "dead_time_s": req("float", "s", "gate-driver dead time programmed into the timer (also "
                           "the simulated inverter's dead time)", 0.0, 5e-6),
        "outer_div": req("int", "", "the outer loop (impedance, velocity, position, muscle) runs "
                         "every outer_div-th PWM period", 1, 100),
    }),
    "adc": Table("Phase-current and bus-voltage ADC scaling: i = i_a_per_count "
                 "(counts - i_offset_counts), v_bus = vbus_v_per_count counts.", {
        "bits": req("int", "bits", "ADC resolution (12 on the STM32G4; up to 16 with "
                    "oversampling)", 8, 16),
        "i_a_per_count": req("float", "A/count", "phase-current gain", 1e-4, 1.0),
        "i_offset_counts": req("float", "counts", "counts at zero current", 0.0, 65535.0),
        "vbus_v_per_count": req("float", "V/count", "bus-voltage gain", 1e-4, 1.0),
        "three_shunt": opt(True, "bool", "", "three shunts (else two, phase c derived)"),
    }),
    "encoder": Table("Rotor position encoder on the motor shaft.", {
        "interface": req("str", "", "spi (absolute) or abz (quadrature with index)",
                         choices=("spi", "abz")),
        "counts_per_rev": req("int", "counts/rev", "counts per mechanical turn (abz: 4 x lines)",
                              4, 1 << 24),
        "direction": req("int", "", "+1 or -1: sign of motor rotation vs counts",
                         choices=(1, -1)),
        "offset_e_rad": req("float", "rad", "electrical angle offset: theta_e = p angle(counts) "
                            "- offset_e_rad (from calibration)", -TWO_PI, TWO_PI),
        "latency_s": opt(0.0, "float", "s", "age of a position sample when the current loop "
                         "reads it", 0.0, 1e-3),
        "pll_bandwidth_hz": req("float", "Hz", "speed-estimator PLL bandwidth", 1.0, 5000.0),
    }),
    "motor": Table("PMSM, keys as actuators.plant.MotorParams (SI, phase values, "
                   "amplitude-invariant dq).", {
        "r_ohm": req("float", "ohm", "phase resistance at 20 degC", 1e-3, 20.0),
        "ld_h": req("float", "H", "d-axis inductance", 1e-6, 0.01),
        "lq_h": req("float", "H", "q-axis inductance", 1e-6, 0.01),
        "flux_wb": req("float", "Wb", "permanent-magnet flux linkage", 1e-4, 0.5),
        "pole_pairs": req("int", "", "pole pairs p (theta_e = p theta_m)", 1, 64),
        "j_kgm2": req("float", "kg m^2", "rotor inertia", 1e-8, 0.1),
        "b_nms_per_rad": opt(0.0, "float", "N m s/rad", "viscous friction, motor side", 0.0, 1.0),
        "tau_coulomb_nm": opt(0.0, "float", "N m", "Coulomb friction, motor side", 0.0, 10.0),
        "omega_coulomb_rad_s": opt(0.1, "float", "rad/s", "speed scale of the smooth friction "
                                   "sign", 1e-3, 100.0),
        "r_temp_coeff_per_k": opt(0.00393, "float", "1/K", "resistance temperature coefficient "
                                  "(copper 0.00393)", 0.0, 0.01),
        "cog_n_per_rev": opt(0, "int", "1/rev", "cogging periods per mechanical turn "
                             "(lcm of slots and poles)", 0, 10000),
        "cog_amp_nm": opt((), "float_list", "N m", "cogging harmonic amplitudes", 0.0, 10.0,
                          max_len=4),
        "cog_phase_rad": opt((), "float_list", "rad", "cogging harmonic phases (empty or one "
                             "per amplitude)", -TWO_PI, TWO_PI, max_len=4),
    }),
    "gearbox": Table("Gearbox, keys as actuators.plant.GearboxParams.", {
        "ratio": req("float", "", "motor turns per output turn", 1.0, 1000.0),
        "efficiency": opt(1.0, "float", "", "torque efficiency", 0.1, 1.0),
        "backlash_rad": opt(0.0, "float", "rad", "total play at the output (needs a tendon)",
                            0.0, 0.1),
    }),
    "tendon": Table("Series-elastic tendon from the gearbox output to the load link, keys as "
                    "actuators.plant.TendonParams; absent = rigid coupling.", {
        "k_nm_per_rad": req("float", "N m/rad", "stiffness", 1.0, 1e6),
        "c_nms_per_rad": opt(0.0, "float", "N m s/rad", "damping", 0.0, 1e4),
    }, absent="none"),
    "load": Table("Output link for the simulated plant, keys as actuators.plant.LoadParams.", {
        "j_kgm2": opt(0.0, "float", "kg m^2", "link inertia", 0.0, 100.0),
        "b_nms_per_rad": opt(0.0, "float", "N m s/rad", "damper to ground", 0.0, 1e4),
        "k_nm_per_rad": opt(0.0, "float", "N m/rad", "spring to ground", 0.0, 1e6),
        "theta0_rad": opt(0.0, "float", "rad", "spring rest angle", -100.0, 100.0),
        "tau_ext_nm": opt(0.0, "float", "N m", "external torque along the output", -1e4, 1e4),
    }, absent="defaults"),
    "inverter": Table("Power stage, keys as actuators.plant.InverterParams (its dead_time_s is "
                      "[pwm] dead_time_s).", {
        "v_bus_v": req("float", "V", "nominal bus voltage", 5.0, 100.0),
        "dead_time_i_band_a": opt(0.5, "float", "A", "current band over which the dead-time "
                                  "error changes sign (plant and compensation)", 1e-3, 100.0),
        "r_on_ohm": opt(0.0, "float", "ohm", "switch on-resistance", 0.0, 1.0),
    }),
    "sensors": Table("Simulated sensor imperfections, keys as actuators.plant.SensorParams (its "
                     "gains, offsets, encoder geometry and latency come from [adc] and "
                     "[encoder]).", {
        "adc_noise_a": opt(0.0, "float", "A", "phase-current noise, standard deviation", 0.0, 10.0),
        "adc_vbus_noise_v": opt(0.0, "float", "V", "bus-voltage noise, standard deviation",
                                0.0, 10.0),
    }, absent="defaults"),
    "thermal": Table("Thermal model (winding, housing, FET nodes), keys as "
                     "actuators.plant.ThermalParams.", {
        "temp_ambient_c": opt(25.0, "float", "degC", "ambient temperature", -40.0, 85.0),
        "temp_init_c": opt(None, "float", "degC", "initial temperature of every node (absent: "
                           "ambient)", -40.0, 150.0),
        "c_winding_j_per_k": req("float", "J/K", "winding heat capacity", 0.1, 1e5),
        "r_winding_housing_k_per_w": req("float", "K/W", "winding-to-housing resistance",
                                         1e-3, 100.0),
        "c_housing_j_per_k": req("float", "J/K", "housing heat capacity", 1.0, 1e6),
        "r_housing_ambient_k_per_w": req("float", "K/W", "housing-to-ambient resistance",
                                         1e-3, 100.0),
        "c_fet_j_per_k": req("float", "J/K", "power-stage heat capacity", 0.01, 1e4),
        "r_fet_ambient_k_per_w": req("float", "K/W", "power-stage-to-ambient resistance",
                                     1e-3, 100.0),
    }),
    "limits": Table("Operating limits (output side of the gearbox).", {
        "i_limit_a": req("float", "A", "|i_dq| reference limit", 0.01, 500.0),
        "tau_out_max_nm": req("float", "N m", "output torque limit", 0.01, 2000.0),
        "v_out_max_rad_s": req("float", "rad/s", "output speed limit of the position loop",
                               0.01, 100.0),
        "p_out_min_rad": req("float", "rad", "lower joint position limit", -100.0, 100.0),
        "p_out_max_rad": req("float", "rad", "upper joint position limit", -100.0, 100.0),
    }),
    "protect": Table("Protections, the fields of mf_protect_config_t (r_ohm and flux_wb come "
                     "from [motor]).", {
        "i_max_a": req("float", "A", "instantaneous phase-current trip", 0.1, 500.0),
        "i_cont_a": req("float", "A", "continuous current of the I2t protection", 0.01, 500.0),
        "tau_i2t_s": req("float", "s", "I2t filter time constant", 0.1, 600.0),
        "v_bus_max_v": req("float", "V", "over-voltage trip", 5.0, 100.0),
        "v_bus_min_v": req("float", "V", "under-voltage trip", 1.0, 100.0),
        "temp_derate_c": req("float", "degC", "start of linear current derating", 0.0, 200.0),
        "temp_max_c": req("float", "degC", "over-temperature trip", 0.0, 200.0),
        "temp_hyst_c": opt(10.0, "float", "degC", "a temperature fault clears below temp_max_c "
                           "- temp_hyst_c", 0.0, 50.0),
        "omega_e_stuck_rad_s": req("float", "rad/s", "back-EMF speed that must move the encoder",
                                   1.0, 1e5),
        "enc_stuck_s": opt(0.05, "float", "s", "time without counts to call the encoder stuck",
                           1e-3, 10.0),
        "enc_jump_counts": req("int", "counts", "largest plausible count change per PWM period",
                               1, 1 << 23),
        "cmd_timeout_s": opt(0.1, "float", "s", "command watchdog", 1e-3, 10.0),
        "safe_state": opt("coast", "str", "", "output on a fault: coast (switches off) or brake "
                          "(low sides on)", choices=("coast", "brake")),
    }),
    "control": Table("Controller tuning. Current PI: either current_bandwidth_hz (pole-zero "
                     "cancellation: kp = L w_c, ki = R w_c) or all four gains.", {
        "current_bandwidth_hz": opt(None, "float", "Hz", "current-loop bandwidth", 50.0, 10000.0),
        "kp_d_v_per_a": opt(None, "float", "V/A", "d-axis proportional gain", 0.0, 1000.0),
        "ki_d_v_per_as": opt(None, "float", "V/(A s)", "d-axis integral gain", 0.0, 1e7),
        "kp_q_v_per_a": opt(None, "float", "V/A", "q-axis proportional gain", 0.0, 1000.0),
        "ki_q_v_per_as": opt(None, "float", "V/(A s)", "q-axis integral gain", 0.0, 1e7),
        "decouple": opt(True, "bool", "", "dq cross-coupling and back-EMF feed-forward"),
        "v_max_frac": opt(0.95, "float", "", "usable fraction of v_bus/sqrt3", 0.5, 1.0),
        "pwm_latency_steps": opt(1.5, "float", "", "PWM and computation delay, periods (the "
                                 "encoder latency is added to it)", 0.0, 4.0),
        "dead_time_comp": opt(True, "bool", "", "compensate the dead time"),
        "vel_kp_nms_per_rad": req("float", "N m s/rad", "velocity PI proportional gain "
                                  "(output side)", 0.0, 1e4),
        "vel_ki_nm_per_rad": req("float", "N m/rad", "velocity PI integral gain (output side)",
                                 0.0, 1e6),
        "pos_kp_per_s": req("float", "1/s", "position loop gain", 0.0, 1e4),
    }),
    "muscle": Table("Hill-type muscle pair, the fields of mf_muscle_config_t; absent = the "
                    "core's defaults.", {
        "f_max_n": req("float", "N", "maximum isometric force", 0.1, 1e5),
        "l_opt_m": req("float", "m", "optimal fibre length", 1e-3, 10.0),
        "l_ref_m": req("float", "m", "muscle length at p_out = 0", 1e-3, 10.0),
        "moment_arm_m": req("float", "m", "moment arm", 1e-3, 1.0),
        "v_max_lopt_s": opt(10.0, "float", "l_opt/s", "maximum shortening speed", 0.1, 100.0),
        "width": opt(0.5, "float", "", "force-length width", 0.01, 10.0),
        "curv": opt(0.25, "float", "", "force-velocity curvature", 0.01, 10.0),
        "ecc": opt(1.5, "float", "", "eccentric force enhancement", 1.0, 10.0),
        "k_pe": opt(1.0, "float", "", "passive stiffness (normalised)", 0.0, 100.0),
        "tau_act_s": opt(0.01, "float", "s", "activation time constant", 1e-4, 10.0),
        "tau_deact_s": opt(0.04, "float", "s", "deactivation time constant", 1e-4, 10.0),
    }, absent="none"),
    "can": Table("CAN bus (FDCAN).", {
        "bitrate_bps": req("int", "bit/s", "nominal (arbitration) bit rate",
                           choices=(125_000, 250_000, 500_000, 1_000_000)),
        "fd": req("bool", "", "CAN FD frames (group frames need it)"),
        "data_bitrate_bps": opt(None, "int", "bit/s", "CAN FD data-phase bit rate (only with "
                                "fd)", choices=(1_000_000, 2_000_000, 4_000_000, 5_000_000,
                                               8_000_000)),
        "node_id_min": req("int", "", "lowest node id this board type may take", 1, 127),
        "node_id_max": req("int", "", "highest node id this board type may take", 1, 127),
    }),
    "can.impedance_ranges": Table("Ranges of the MIT-mode impedance command and state reply "
                                  "(actuators.protocol.ImpedanceRanges; output side).", {
        "p_min_rad": req("float", "rad", "position range, low end", -1000.0, 1000.0),
        "p_max_rad": req("float", "rad", "position range, high end", -1000.0, 1000.0),
        "v_min_rad_s": req("float", "rad/s", "speed range, low end", -1000.0, 1000.0),
        "v_max_rad_s": req("float", "rad/s", "speed range, high end", -1000.0, 1000.0),
        "kp_max_nm_rad": req("float", "N m/rad", "stiffness range, high end (low end 0)",
                             0.0, 1e5, lo_open=True),
        "kd_max_nms_rad": req("float", "N m s/rad", "damping range, high end (low end 0)",
                              0.0, 1e4, lo_open=True),
        "tau_min_nm": req("float", "N m", "torque range, low end", -1e4, 1e4),
        "tau_max_nm": req("float", "N m", "torque range, high end", -1e4, 1e4),
    }),
}

# Endings a key of each unit may have (checked by the tests, so names and units cannot drift).
UNIT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "": ("",), "ohm": ("_ohm",), "H": ("_h",), "Wb": ("_wb",), "kg m^2": ("_kgm2",),
    "N m s/rad": ("_nms_per_rad", "_nms_rad"), "N m/rad": ("_nm_per_rad", "_nm_rad"),
    "N m": ("_nm",), "rad/s": ("_rad_s",), "rad": ("_rad",), "1/K": ("_per_k",),
    "1/rev": ("_per_rev",), "1/s": ("_per_s",), "V": ("_v",), "A": ("_a",), "s": ("_s",),
    "Hz": ("_hz",), "degC": ("_c",), "J/K": ("_j_per_k",), "K/W": ("_k_per_w",),
    "bytes": ("_bytes",), "address": ("_addr",), "bits": ("bits",), "A/count": ("_a_per_count",),
    "V/count": ("_v_per_count",), "counts": ("_counts",), "counts/rev": ("counts_per_rev",),
    "V/A": ("_v_per_a",), "V/(A s)": ("_v_per_as",), "bit/s": ("_bps",), "N": ("_n",),
    "m": ("_m",), "l_opt/s": ("_lopt_s",),
}

CROSS_CHECKS: dict[str, str] = {
    "mcu_part": "The part number is a known STM32G4 line (category 2: G431/G441, 32 KiB RAM; "
                "category 3: G471/G473/G474/G483/G484, 128 KiB RAM); flash_bytes and ram_bytes "
                "match it; flash_page_bytes is 2048 (category 2, or category 3 in dual-bank "
                "mode) or 4096 (category 3 single-bank); dual_bank only on category 3 with "
                "512 KiB (smaller parts have an address gap between the banks).",
    "flash_layout": "Every region lies inside the flash, starts and ends on a flash page "
                    "boundary and overlaps no other; the bootloader starts at offset 0; slot A "
                    "and slot B have the same size; in dual-bank mode each slot lies in one "
                    "bank and the two slots in different banks.",
    "pwm_timer": "clock_hz / (2 pwm_hz) (center-aligned timer period) is a whole number of "
                 "ticks, at most 65535.",
    "outer_rate": "The outer loop rate pwm_hz / outer_div is between 1 and 10 kHz.",
    "dead_time": "dead_time_s is below 5 % of the PWM period.",
    "adc_range": "i_offset_counts <= 2^bits - 1; the ADC spans +-i_max_a: "
                 "min(i_offset_counts, 2^bits - 1 - i_offset_counts) i_a_per_count >= "
                 "[protect] i_max_a; (2^bits - 1) vbus_v_per_count >= [protect] v_bus_max_v.",
    "encoder": "counts_per_rev * pole_pairs < 2^32; abz: counts_per_rev a multiple of 4; "
               "enc_jump_counts below counts_per_rev / 2 and above the count change per PWM "
               "period at the no-load speed at v_bus_max_v; pwm_latency_steps + latency_s "
               "pwm_hz <= 4 (the core's angle-advance limit).",
    "pll_bandwidth": "2 pi pll_bandwidth_hz / pwm_hz <= 0.5 (the PLL runs once per PWM "
                     "period).",
    "current_gains": "Either current_bandwidth_hz or all four PI gains, not both; "
                     "current_bandwidth_hz <= pwm_hz / 10 (phase margin with the PWM delay).",
    "limits": "i_limit_a <= [protect] i_max_a; i_cont_a <= i_max_a; r_ohm i_limit_a <= "
              "v_max_frac v_bus_v / sqrt3 (the inverter can drive i_limit_a at standstill); "
              "tau_out_max_nm <= "
              "1.5 p flux_wb ratio i_limit_a (the motor can make it); v_out_max_rad_s <= "
              "the no-load output speed v_max_frac v_bus_v / (sqrt3 p flux_wb ratio); "
              "p_out_min_rad < p_out_max_rad.",
    "bus_voltage": "v_bus_min_v < [inverter] v_bus_v < v_bus_max_v.",
    "temperatures": "temp_ambient_c < temp_derate_c < temp_max_c; temp_hyst_c < temp_max_c - "
                    "temp_ambient_c (a fault can clear).",
    "plant_parts": "cog_phase_rad is empty or as long as cog_amp_nm; cog_amp_nm needs "
                   "cog_n_per_rev >= 1; backlash_rad > 0 needs a [tendon]; a [tendon] needs "
                   "[load] j_kgm2 > 0.",
    "can_bus": "data_bitrate_bps is given exactly when fd is true and is >= bitrate_bps; "
               "each bit rate is clock_hz / (prescaler n_tq) with n_tq >= 8 time quanta "
               "(nominal: prescaler <= 512, n_tq <= 385; data: prescaler <= 32, n_tq <= 49); "
               "node_id_min <= node_id_max.",
    "impedance_ranges": "Each min < max; [tau_min_nm, tau_max_nm] within +-tau_out_max_nm; "
                        "[p_min_rad, p_max_rad] covers [p_out_min_rad, p_out_max_rad]; "
                        "[v_min_rad_s, v_max_rad_s] covers +-v_out_max_rad_s (so a state reply "
                        "can carry every reachable position and speed).",
}

_INTRO = """\
# Board files

<!-- Generated by `python -m firmware_gen.board_schema > docs/boards.md`
     from firmware_gen/board_schema.py; tests/firmware_gen/test_board.py checks it is current. -->

One TOML file per actuator board type in `boards/` describes the microcontroller,
its flash layout, PWM and loop rates, ADC scaling, encoder, motor, gearbox, limits,
protections, controller tuning and CAN settings. `firmware_gen.board.load_board(path)`
reads it, checks every key against the schema below (type, unit, range, unknown keys)
and then the cross-checks, and returns a frozen `Board`. Every problem raises
`BoardFileError`, one line per problem:

    boards/arm_48v.toml: [motor] ld_h: 0.12 is out of range (allowed: float in [1e-06, 0.01] H)

Keys of physical quantities end in their unit (SI: `_ohm`, `_h`, `_hz`, `_s`, `_bytes`,
...). Ranges are wide enough for any humanoid joint actuator and narrow enough that a value
in the wrong unit (mH for H, kHz for Hz) is refused.

The same file feeds three consumers with the same keys:

- **controller**: `Board.ctrl_config()` gives the core's `CtrlConfig`
  (`actuators.core.config`): `pwm_period_s = 1 / pwm_hz`; ADC gains and offset;
  dead time (0 when `dead_time_comp` is false) and `deadtime_i_band_a` from
  `[inverter] dead_time_i_band_a`; `latency_steps = pwm_latency_steps + latency_s pwm_hz`;
  pole pairs, flux, gear ratio; limits; estimator (counts, direction, offset,
  `pll_bandwidth_rad_s = 2 pi pll_bandwidth_hz`); protections (`r_ohm`, `flux_wb`
  from `[motor]`, `safe_state` coast 0 / brake 1); current PI by pole-zero cancellation
  at `2 pi current_bandwidth_hz` (`actuators.core.config.current_gains`) or as given;
  motion gains with `v_max_rad_s = v_out_max_rad_s`; muscle.
- **plant**: `Board.plant_tables()` gives the tables for
  `actuators.plant.PlantParams.from_board`: `[motor]`, `[gearbox]`, `[tendon]`,
  `[load]`, `[thermal]` as written; `[inverter]` plus `dead_time_s` from `[pwm]`;
  `[sensors]` plus the ADC and encoder values (`adc_bits`, `adc_i_a_per_count`,
  `adc_i_offset_counts`, `adc_vbus_v_per_count`, `enc_counts_per_rev`, `enc_direction`,
  `enc_latency_s`) and the encoder mounting offset `enc_offset_counts` that matches
  `offset_e_rad`, so the simulated actuator is calibrated. Give the plant these tables,
  not the raw file.
- **CAN protocol**: `Board.impedance_ranges()` gives the
  `actuators.protocol.ImpedanceRanges` of the MIT-mode frames.
"""


def schema_markdown() -> str:
    """The text of docs/boards.md: every table and key, then the cross-checks."""
    lines = [_INTRO]
    lines.append("## Tables\n")
    for path, table in SCHEMA.items():
        absent = {"required": "required table", "defaults": "optional table (absent: all "
                  "defaults)", "none": "optional table"}[table.absent]
        lines.append(f"### [{path}]\n")
        lines.append(f"{table.doc} ({absent})\n")
        if not table.keys:
            continue
        lines.append("| key | type | unit | allowed | default | meaning |")
        lines.append("|---|---|---|---|---|---|")
        for name, key in table.keys.items():
            if key.required:
                default = "required"
            elif key.default is None:
                default = "(none)"
            elif key.kind == "float_list":
                default = "[" + ", ".join(_num(x) for x in key.default) + "]"
            elif key.kind == "int" and key.unit == "address":
                default = f"0x{key.default:08X}"
            else:
                default = _toml(key.default)
            rng = key.range_text(unit=False)
            if key.pattern is not None:
                rng = f"matching `{key.pattern}`"
            rng = rng.replace("|", "\\|")
            lines.append(f"| `{name}` | {key.kind} | {key.unit or '-'} | {rng} | {default} | "
                         f"{key.doc} |")
        lines.append("")
    lines.append("## Cross-checks\n")
    for name, text in CROSS_CHECKS.items():
        lines.append(f"- **{name}**: {text}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(schema_markdown(), end="")
