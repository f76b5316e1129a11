"""Board files: load, validate and derive the controller config and plant tables.

    board = load_board("boards/arm_48v.toml")       # raises BoardFileError
    cfg = board.ctrl_config()                        # actuators.core.config.CtrlConfig
    plant = PlantParams.from_board(board.plant_tables())
    ranges = board.impedance_ranges()                # actuators.protocol.ImpedanceRanges

The schema (types, units, ranges, defaults) is ``board_schema.SCHEMA``; the
checks relating several keys are the ``_check_*`` functions below, one per
entry of ``board_schema.CROSS_CHECKS``. SI units throughout.
"""
from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from .board_schema import CROSS_CHECKS, SCHEMA, Key, toml_key
from .errors import BoardFileError, Problem

if TYPE_CHECKING:
    from actuators.core.config import CtrlConfig
    from actuators.plant.params import PlantParams
    from actuators.protocol.impedance import ImpedanceRanges

__all__ = [
    "Adc", "Board", "BoardInfo", "Can", "CanImpedanceRanges", "Control", "Encoder", "FlashLayout",
    "FlashRegion", "Gearbox", "Inverter", "Limits", "Load", "Mcu", "Motor", "Muscle", "Protect",
    "Pwm", "Sensors", "Tendon", "Thermal", "TABLE_CLASSES", "load_board", "load_boards",
]

SQRT3 = math.sqrt(3.0)


# ---------------------------------------------------------------------------
# The tree: one frozen dataclass per table, fields = the schema's keys
# (plus the sub-tables). Units: see board_schema.SCHEMA / docs/boards.md.
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class BoardInfo:
    """[board]: name, uint16 id, hardware revision."""

    name: str
    id: int
    version: str
    description: str


@dataclass(frozen=True)
class FlashRegion:
    """[mcu.layout.*]: a flash region, bytes from the flash base."""

    offset_bytes: int
    size_bytes: int

    @property
    def end_bytes(self) -> int:
        """First byte after the region."""
        return self.offset_bytes + self.size_bytes


@dataclass(frozen=True)
class FlashLayout:
    """[mcu.layout]: bootloader, two image slots, parameter pages."""

    bootloader: FlashRegion
    slot_a: FlashRegion
    slot_b: FlashRegion
    params: FlashRegion


@dataclass(frozen=True)
class Mcu:
    """[mcu]: part, clock (Hz), memories (bytes), flash layout."""

    family: str
    part: str
    core: str
    clock_hz: int
    flash_bytes: int
    ram_bytes: int
    flash_page_bytes: int
    dual_bank: bool
    flash_base_addr: int
    ram_base_addr: int
    layout: FlashLayout


@dataclass(frozen=True)
class Pwm:
    """[pwm]: PWM frequency (Hz), dead time (s), outer-loop divider."""

    pwm_hz: float
    dead_time_s: float
    outer_div: int

    @property
    def period_s(self) -> float:
        return 1.0 / self.pwm_hz

    @property
    def outer_hz(self) -> float:
        return self.pwm_hz / self.outer_div


@dataclass(frozen=True)
class Adc:
    """[adc]: resolution, A/count, offset counts, V/count, shunt count."""

    bits: int
    i_a_per_count: float
    i_offset_counts: float
    vbus_v_per_count: float
    three_shunt: bool


@dataclass(frozen=True)
class Encoder:
    """[encoder]: interface, counts/rev, direction, offset (rad), latency (s), PLL (Hz)."""

    interface: str
    counts_per_rev: int
    direction: int
    offset_e_rad: float
    latency_s: float
    pll_bandwidth_hz: float


@dataclass(frozen=True)
class Motor:
    """[motor]: the actuators.plant.MotorParams keys (ohm, H, Wb, kg m^2, ...)."""

    r_ohm: float
    ld_h: float
    lq_h: float
    flux_wb: float
    pole_pairs: int
    j_kgm2: float
    b_nms_per_rad: float
    tau_coulomb_nm: float
    omega_coulomb_rad_s: float
    r_temp_coeff_per_k: float
    cog_n_per_rev: int
    cog_amp_nm: tuple[float, ...]
    cog_phase_rad: tuple[float, ...]

    @property
    def kt_nm_a(self) -> float:
        """Torque constant 1.5 p flux, N m/A."""
        return 1.5 * self.pole_pairs * self.flux_wb


@dataclass(frozen=True)
class Gearbox:
    """[gearbox]: ratio, efficiency, backlash (rad)."""

    ratio: float
    efficiency: float
    backlash_rad: float


@dataclass(frozen=True)
class Tendon:
    """[tendon]: stiffness N m/rad, damping N m s/rad."""

    k_nm_per_rad: float
    c_nms_per_rad: float


@dataclass(frozen=True)
class Load:
    """[load]: output link of the simulated plant."""

    j_kgm2: float
    b_nms_per_rad: float
    k_nm_per_rad: float
    theta0_rad: float
    tau_ext_nm: float


@dataclass(frozen=True)
class Inverter:
    """[inverter]: nominal bus voltage V, dead-time current band A, on-resistance ohm."""

    v_bus_v: float
    dead_time_i_band_a: float
    r_on_ohm: float


@dataclass(frozen=True)
class Sensors:
    """[sensors]: simulated noise (A, V)."""

    adc_noise_a: float
    adc_vbus_noise_v: float


@dataclass(frozen=True)
class Thermal:
    """[thermal]: degC, J/K, K/W."""

    temp_ambient_c: float
    temp_init_c: float | None
    c_winding_j_per_k: float
    r_winding_housing_k_per_w: float
    c_housing_j_per_k: float
    r_housing_ambient_k_per_w: float
    c_fet_j_per_k: float
    r_fet_ambient_k_per_w: float


@dataclass(frozen=True)
class Limits:
    """[limits]: A, N m, rad/s, rad (output side)."""

    i_limit_a: float
    tau_out_max_nm: float
    v_out_max_rad_s: float
    p_out_min_rad: float
    p_out_max_rad: float


@dataclass(frozen=True)
class Protect:
    """[protect]: mf_protect_config_t without r_ohm and flux_wb."""

    i_max_a: float
    i_cont_a: float
    tau_i2t_s: float
    v_bus_max_v: float
    v_bus_min_v: float
    temp_derate_c: float
    temp_max_c: float
    temp_hyst_c: float
    omega_e_stuck_rad_s: float
    enc_stuck_s: float
    enc_jump_counts: int
    cmd_timeout_s: float
    safe_state: str


@dataclass(frozen=True)
class Control:
    """[control]: current-loop bandwidth (Hz) or PI gains, outer-loop gains."""

    current_bandwidth_hz: float | None
    kp_d_v_per_a: float | None
    ki_d_v_per_as: float | None
    kp_q_v_per_a: float | None
    ki_q_v_per_as: float | None
    decouple: bool
    v_max_frac: float
    pwm_latency_steps: float
    dead_time_comp: bool
    vel_kp_nms_per_rad: float
    vel_ki_nm_per_rad: float
    pos_kp_per_s: float


@dataclass(frozen=True)
class Muscle:
    """[muscle]: mf_muscle_config_t (N, m, l_opt/s, s)."""

    f_max_n: float
    l_opt_m: float
    l_ref_m: float
    moment_arm_m: float
    v_max_lopt_s: float
    width: float
    curv: float
    ecc: float
    k_pe: float
    tau_act_s: float
    tau_deact_s: float


@dataclass(frozen=True)
class CanImpedanceRanges:
    """[can.impedance_ranges]: MIT-mode ranges (rad, rad/s, N m/rad, N m s/rad, N m)."""

    p_min_rad: float
    p_max_rad: float
    v_min_rad_s: float
    v_max_rad_s: float
    kp_max_nm_rad: float
    kd_max_nms_rad: float
    tau_min_nm: float
    tau_max_nm: float


@dataclass(frozen=True)
class Can:
    """[can]: bit rates (bit/s), FD, node-id range, impedance ranges."""

    bitrate_bps: int
    fd: bool
    data_bitrate_bps: int | None
    node_id_min: int
    node_id_max: int
    impedance_ranges: CanImpedanceRanges


# Schema path -> dataclass (tests check that fields and schema keys agree).
TABLE_CLASSES: dict[str, type] = {
    "board": BoardInfo, "mcu": Mcu, "mcu.layout": FlashLayout,
    "mcu.layout.bootloader": FlashRegion, "mcu.layout.slot_a": FlashRegion,
    "mcu.layout.slot_b": FlashRegion, "mcu.layout.params": FlashRegion,
    "pwm": Pwm, "adc": Adc, "encoder": Encoder, "motor": Motor, "gearbox": Gearbox,
    "tendon": Tendon, "load": Load, "inverter": Inverter, "sensors": Sensors,
    "thermal": Thermal, "limits": Limits, "protect": Protect, "control": Control,
    "muscle": Muscle, "can": Can, "can.impedance_ranges": CanImpedanceRanges,
}

SAFE_STATES = {"coast": 0, "brake": 1}  # mf_safe_state_t


@dataclass(frozen=True)
class Board:
    """A validated board file (``path``: where it was read)."""

    path: str
    board: BoardInfo
    mcu: Mcu
    pwm: Pwm
    adc: Adc
    encoder: Encoder
    motor: Motor
    gearbox: Gearbox
    tendon: Tendon | None
    load: Load
    inverter: Inverter
    sensors: Sensors
    thermal: Thermal
    limits: Limits
    protect: Protect
    control: Control
    muscle: Muscle | None
    can: Can

    @property
    def name(self) -> str:
        return self.board.name

    @property
    def current_bandwidth_rad_s(self) -> float | None:
        """Designed current-loop bandwidth, rad/s (None when the gains are given)."""
        bw = self.control.current_bandwidth_hz
        return None if bw is None else 2.0 * math.pi * bw

    @property
    def latency_steps(self) -> float:
        """Angle advance of the current loop, PWM periods: PWM delay + encoder latency."""
        return self.control.pwm_latency_steps + self.encoder.latency_s * self.pwm.pwm_hz

    def omega_m_no_load_rad_s(self, v_bus_v: float | None = None) -> float:
        """Motor speed where the back-EMF uses the whole voltage circle, rad/s."""
        v = self.inverter.v_bus_v if v_bus_v is None else v_bus_v
        return self.control.v_max_frac * v / SQRT3 / (self.motor.pole_pairs * self.motor.flux_wb)

    def ctrl_config(self) -> "CtrlConfig":
        """The core's controller config (actuators.core.config.CtrlConfig)."""
        from actuators.core.config import (CurrentConfig, EstimatorConfig, MotionConfig,
                                           MuscleConfig, PIConfig, ProtectConfig,
                                           make_ctrl_config)

        m, c, lim, p = self.motor, self.control, self.limits, self.protect
        bw = self.current_bandwidth_rad_s
        cfg = make_ctrl_config(
            r_ohm=m.r_ohm, ld_h=m.ld_h, lq_h=m.lq_h, flux_wb=m.flux_wb, pole_pairs=m.pole_pairs,
            gear_ratio=self.gearbox.ratio, pwm_period_s=self.pwm.period_s,
            current_bandwidth_rad_s=bw,
            outer_div=self.pwm.outer_div, three_shunt=self.adc.three_shunt,
            adc_i_gain_a=self.adc.i_a_per_count, adc_i_offset=self.adc.i_offset_counts,
            adc_vbus_gain_v=self.adc.vbus_v_per_count,
            dead_time_s=self.pwm.dead_time_s if c.dead_time_comp else 0.0,
            deadtime_i_band_a=self.inverter.dead_time_i_band_a,
            latency_steps=self.latency_steps,
            i_limit_a=lim.i_limit_a, tau_out_max_nm=lim.tau_out_max_nm)
        if bw is None:  # gains given (the cross-check guarantees all four)
            pi_d = PIConfig(kp=float(c.kp_d_v_per_a or 0.0), ki=float(c.ki_d_v_per_as or 0.0))
            pi_q = PIConfig(kp=float(c.kp_q_v_per_a or 0.0), ki=float(c.ki_q_v_per_as or 0.0))
        else:
            pi_d, pi_q = cfg.current.pi_d, cfg.current.pi_q
        cfg.current = CurrentConfig(pi_d=pi_d, pi_q=pi_q, ld_h=m.ld_h, lq_h=m.lq_h,
                                    flux_wb=m.flux_wb, decouple=c.decouple,
                                    v_max_frac=c.v_max_frac)
        cfg.estimator = EstimatorConfig(
            counts_per_rev=self.encoder.counts_per_rev, direction=self.encoder.direction,
            pole_pairs=m.pole_pairs, offset_e_rad=self.encoder.offset_e_rad,
            pll_bandwidth_rad_s=2.0 * math.pi * self.encoder.pll_bandwidth_hz)
        cfg.motion = MotionConfig(vel_pi=PIConfig(kp=c.vel_kp_nms_per_rad, ki=c.vel_ki_nm_per_rad),
                                  pos_kp=c.pos_kp_per_s, v_max_rad_s=lim.v_out_max_rad_s)
        if self.muscle is not None:
            cfg.muscle = MuscleConfig(**{f.name: getattr(self.muscle, f.name)
                                         for f in fields(Muscle)})
        cfg.protect = ProtectConfig(
            i_max_a=p.i_max_a, i_cont_a=p.i_cont_a, tau_i2t_s=p.tau_i2t_s,
            v_bus_max_v=p.v_bus_max_v, v_bus_min_v=p.v_bus_min_v,
            temp_derate_c=p.temp_derate_c, temp_max_c=p.temp_max_c, temp_hyst_c=p.temp_hyst_c,
            r_ohm=m.r_ohm, flux_wb=m.flux_wb, omega_e_stuck_rad_s=p.omega_e_stuck_rad_s,
            enc_stuck_s=p.enc_stuck_s, enc_jump_counts=p.enc_jump_counts,
            cmd_timeout_s=p.cmd_timeout_s, safe_state=SAFE_STATES[p.safe_state])
        return cfg

    def enc_offset_counts(self) -> float:
        """Encoder count at theta_m = 0 that makes the controller's theta_e equal
        p theta_m (the calibrated mounting), in [0, counts_per_rev).

        The estimator gives theta_e = p 2pi count'/cpr - offset_e_rad with
        count' the directed count; the plant's count is floor(offset +
        direction theta_m cpr / 2pi). So p 2pi offset / cpr = direction
        offset_e_rad (mod 2pi); the half count centres the floor."""
        enc, p = self.encoder, self.motor.pole_pairs
        frac = (enc.direction * enc.offset_e_rad / (2.0 * math.pi)) % 1.0
        return (frac * enc.counts_per_rev / p + 0.5) % enc.counts_per_rev

    def plant_tables(self) -> dict[str, dict[str, Any]]:
        """Tables for actuators.plant.PlantParams.from_board (keys = its field names)."""
        def table(obj: Any) -> dict[str, Any]:
            return {f.name: getattr(obj, f.name) for f in fields(obj)
                    if getattr(obj, f.name) is not None}

        out: dict[str, dict[str, Any]] = {
            "motor": table(self.motor),
            "gearbox": table(self.gearbox),
            "load": table(self.load),
            "thermal": table(self.thermal),
            "inverter": {**table(self.inverter), "dead_time_s": self.pwm.dead_time_s},
            "sensors": {
                **table(self.sensors),
                "adc_bits": self.adc.bits,
                "adc_i_a_per_count": self.adc.i_a_per_count,
                "adc_i_offset_counts": self.adc.i_offset_counts,
                "adc_vbus_v_per_count": self.adc.vbus_v_per_count,
                "enc_counts_per_rev": self.encoder.counts_per_rev,
                "enc_offset_counts": self.enc_offset_counts(),
                "enc_direction": self.encoder.direction,
                "enc_latency_s": self.encoder.latency_s,
            },
        }
        if self.tendon is not None:
            out["tendon"] = table(self.tendon)
        return out

    def plant_params(self) -> "PlantParams":
        """actuators.plant.PlantParams.from_board(self.plant_tables())."""
        from actuators.plant.params import PlantParams

        return PlantParams.from_board(self.plant_tables(), strict=True)

    def impedance_ranges(self) -> "ImpedanceRanges":
        """The MIT-mode ranges as actuators.protocol.ImpedanceRanges."""
        from actuators.protocol.impedance import ImpedanceRanges

        r = self.can.impedance_ranges
        return ImpedanceRanges(**{f.name: getattr(r, f.name) for f in fields(r)})


# ---------------------------------------------------------------------------
# Loading and per-key validation
# ---------------------------------------------------------------------------

def _children(path: str) -> list[str]:
    """Schema paths one level below path ("" = top level)."""
    depth = 0 if not path else path.count(".") + 1
    prefix = f"{path}." if path else ""
    return [p for p in SCHEMA if p.startswith(prefix) and p.count(".") == depth]


def _unknown(name: str, allowed: list[str], what: str, table: str) -> Problem:
    guess = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    shown = toml_key(name)
    key_or_table = "" if what == "table" else shown
    where = table if what == "key" else (f"{table}.{shown}" if table else shown)
    return Problem(where, key_or_table, f"unknown {what}{hint}",
                   f"{what}s " + ", ".join(allowed))


def _validate(doc: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any] | None], list[Problem]]:
    """Per-key checks. Returns the normalised tables (None: absent optional
    table) and the problems."""
    problems: list[Problem] = []
    out: dict[str, dict[str, Any] | None] = {}
    tops = _children("")
    for name in doc:
        if name not in SCHEMA:
            problems.append(_unknown(name, tops, "table", ""))
    for path, table in SCHEMA.items():
        node: Any = doc
        parent_missing = False
        for part in path.split("."):
            if not isinstance(node, Mapping):
                parent_missing = True
                break
            node = node.get(part)
        if parent_missing:
            out[path] = None
            continue
        if node is None:
            parent = path.rpartition(".")[0]
            if parent and out.get(parent) is None:   # parent absent: already reported
                out[path] = None
                continue
            if table.absent == "required":
                problems.append(Problem(path, "", "missing table", "a table with keys "
                                        + (", ".join(table.keys) or ", ".join(
                                            p.rpartition(".")[2] for p in _children(path)))))
                out[path] = None
                continue
            if table.absent == "none":
                out[path] = None
                continue
            node = {}
        if not isinstance(node, Mapping):
            problems.append(Problem(path, "", f"expected a table, got {type(node).__name__}",
                                    "a table"))
            out[path] = None
            continue
        values: dict[str, Any] = {}
        subs = [p.rpartition(".")[2] for p in _children(path)]
        for name, value in node.items():
            if name not in table.keys and name not in subs:
                problems.append(_unknown(name, list(table.keys) + subs, "key", path))
        for name, key in table.keys.items():
            values[name] = _check_key(path, name, key, node, problems)
        out[path] = values
    return out, problems


def _check_key(path: str, name: str, key: Key, node: Mapping[str, Any],
               problems: list[Problem]) -> Any:
    if name not in node:
        if key.required:
            problems.append(Problem(path, name, "missing required key", key.allowed()))
        return key.default if not key.required else None
    value, problem = key.check(node[name])
    if problem is not None:
        problems.append(Problem(path, name, problem, key.allowed()))
    return value


def _build(path: str, tables: Mapping[str, dict[str, Any] | None]) -> Any:
    values = tables.get(path)
    if values is None:
        return None
    kwargs = dict(values)
    for child in _children(path):
        kwargs[child.rpartition(".")[2]] = _build(child, tables)
    return TABLE_CLASSES[path](**kwargs)


def load_board(path: str | os.PathLike[str]) -> Board:
    """Read and validate a board file; raises BoardFileError naming every problem."""
    p = str(path)
    try:
        with open(p, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise BoardFileError(p, [Problem("", "", f"cannot read the file: {e.strerror}",
                                         "a readable TOML file")]) from e
    except tomllib.TOMLDecodeError as e:
        raise BoardFileError(p, [Problem("", "", f"not valid TOML: {e}",
                                         "TOML 1.0")]) from e
    return board_from_dict(doc, p)


def board_from_dict(doc: Mapping[str, Any], path: str = "<board>") -> Board:
    """Validate parsed TOML tables (``path`` names them in messages)."""
    tables, problems = _validate(doc)
    if problems:
        raise BoardFileError(path, problems)
    kwargs = {top: _build(top, tables) for top in _children("")}
    board = Board(path=path, **kwargs)
    from .board_checks import CHECKS   # (imports this module: not at the top)
    problems = []
    for name in CROSS_CHECKS:
        problems.extend(CHECKS[name](board))
    if problems:
        raise BoardFileError(path, problems)
    return board


def load_boards(directory: str | os.PathLike[str]) -> dict[str, Board]:
    """Every ``*.toml`` in directory by board name; names and ids must be unique."""
    boards: dict[str, Board] = {}
    ids: dict[int, str] = {}
    for f in sorted(Path(directory).glob("*.toml")):
        b = load_board(f)
        if b.name in boards:
            raise BoardFileError(str(f), [Problem("board", "name", f"{b.name!r} is also the name "
                                                  f"of {boards[b.name].path}", "a unique name")])
        if b.board.id in ids:
            raise BoardFileError(str(f), [Problem("board", "id", f"{b.board.id} is also the id "
                                                  f"of {ids[b.board.id]}", "a unique id")])
        boards[b.name] = b
        ids[b.board.id] = str(f)
    return boards
