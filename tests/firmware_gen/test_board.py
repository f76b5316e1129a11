"""Board files: every board loads and drives the real core and plant; every kind
of error names the file, the table, the key and the allowed range.

Closed-loop references are independent of the loader: python-control's discrete
PI x one-period delay x ZOH RL loop for the d-axis current step, and the
estimator's documented angle convention for the encoder mounting.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import re
import tomllib
from pathlib import Path

import control
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from actuators import core
from actuators.plant import Plant, PlantParams
from actuators.plant import params as plant_params
from actuators.protocol import ImpedanceRanges, pack_impedance, unpack_impedance
from firmware_gen import BoardFileError, board_from_dict, load_board, load_boards
from firmware_gen import board as board_mod
from firmware_gen import board_checks
from firmware_gen.board_schema import CROSS_CHECKS, SCHEMA, UNIT_SUFFIXES, schema_markdown

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "boards"
BOARD_FILES = sorted(BOARDS.glob("*.toml"))
HIP, ARM, WRIST = (BOARDS / f"{n}.toml" for n in ("hip_knee_48v", "arm_48v", "wrist_24v"))


def test_the_three_humanoid_boards_exist_and_are_unique() -> None:
    boards = load_boards(BOARDS)
    assert {"hip_knee_48v", "arm_48v", "wrist_24v"} <= set(boards)
    assert len({b.board.id for b in boards.values()}) == len(boards)
    hip, arm, wrist = boards["hip_knee_48v"], boards["arm_48v"], boards["wrist_24v"]
    assert hip.inverter.v_bus_v == arm.inverter.v_bus_v == 48.0 and wrist.inverter.v_bus_v == 24.0
    assert hip.limits.tau_out_max_nm > arm.limits.tau_out_max_nm > wrist.limits.tau_out_max_nm


# ---------------------------------------------------------------------------
# Every board feeds the core, the plant and the protocol
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_board_gives_a_config_the_core_accepts(path: Path) -> None:
    b = load_board(path)
    cfg = b.ctrl_config()
    ctrl = core.Controller(cfg)           # raises ValueError on a field the C core refuses
    assert ctrl.faults == 0
    assert ctrl.kt_nm_a == pytest.approx(1.5 * b.motor.pole_pairs * b.motor.flux_wb, rel=1e-6)
    assert cfg.pwm_period_s * b.pwm.pwm_hz == pytest.approx(1.0)
    # pole-zero cancellation: PI zero ki/kp = R/L, crossover kp/L = the designed bandwidth
    w_c = 2 * math.pi * b.control.current_bandwidth_hz
    assert cfg.current.pi_q.ki / cfg.current.pi_q.kp == pytest.approx(b.motor.r_ohm / b.motor.lq_h)
    assert cfg.current.pi_d.kp / b.motor.ld_h == pytest.approx(w_c)
    assert 2 * math.pi * 1000 <= w_c <= 2 * math.pi * 2000     # the 1-2 kHz the boards aim at


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_board_gives_plant_params_with_the_plant_keys(path: Path) -> None:
    b = load_board(path)
    params = PlantParams.from_board(b.plant_tables(), strict=True)
    Plant(params, b.pwm.period_s).run_voltages(np.zeros((4, 3)))
    assert params.motor.r_ohm == b.motor.r_ohm and params.gearbox.ratio == b.gearbox.ratio
    assert params.inverter.dead_time_s == b.pwm.dead_time_s
    assert params.sensors.adc_i_a_per_count == b.adc.i_a_per_count
    assert (params.tendon is None) == (b.tendon is None)
    # the raw file's plant tables use exactly the plant's field names
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    PlantParams.from_board(raw, strict=True)


def test_plant_tables_of_the_schema_are_subsets_of_the_plant_dataclasses() -> None:
    pairs = {"motor": plant_params.MotorParams, "gearbox": plant_params.GearboxParams,
             "tendon": plant_params.TendonParams, "load": plant_params.LoadParams,
             "inverter": plant_params.InverterParams, "sensors": plant_params.SensorParams,
             "thermal": plant_params.ThermalParams}
    for table, cls in pairs.items():
        names = {f.name for f in dataclasses.fields(cls)}
        assert set(SCHEMA[table].keys) <= names, table


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_impedance_ranges_are_protocol_ranges(path: Path) -> None:
    b = load_board(path)
    r = b.impedance_ranges()
    assert isinstance(r, ImpedanceRanges)
    # the joint's travel, speed limit and torque limit fit in the MIT frame
    lim = b.limits
    for p, v in ((lim.p_out_min_rad, -lim.v_out_max_rad_s),
                 (lim.p_out_max_rad, lim.v_out_max_rad_s)):
        sp = unpack_impedance(pack_impedance(p, v, 0.0, 0.0, r.tau_max_nm, r), r)
        assert sp.p_des_rad == pytest.approx(p, abs=(r.p_max_rad - r.p_min_rad) / 65535)
        assert sp.v_des_rad_s == pytest.approx(v, abs=(r.v_max_rad_s - r.v_min_rad_s) / 4095)
    assert -lim.tau_out_max_nm <= r.tau_min_nm < r.tau_max_nm <= lim.tau_out_max_nm


def _plant_and_ctrl(b, noise: bool = False):
    tables = b.plant_tables()
    if not noise:
        tables["sensors"]["adc_noise_a"] = 0.0
        tables["sensors"]["adc_vbus_noise_v"] = 0.0
    plant = Plant(PlantParams.from_board(tables, strict=True), b.pwm.period_s, seed=1)
    return plant, core.Controller(b.ctrl_config())


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_encoder_mounting_matches_the_electrical_offset(path: Path) -> None:
    """theta_e of the controller equals p theta_m of the plant (calibrated board),
    for either encoder direction, to within one encoder count."""
    b = load_board(path)
    plant, ctrl = _plant_and_ctrl(b)
    p, cpr = b.motor.pole_pairs, b.encoder.counts_per_rev
    for theta_m in np.linspace(-3.0, 9.0, 13):
        plant.set_state(theta_m=float(theta_m))
        s = plant.sense()
        ctrl.step(s.adc_i, s.adc_vbus, s.enc_count, s.temp_motor_c, s.temp_fet_c)
        err = (ctrl.signals()["theta_e"] - p * theta_m + math.pi) % (2 * math.pi) - math.pi
        assert abs(err) <= 2 * math.pi * p / cpr, f"theta_m {theta_m}: error {err:.4g} rad"


def _run_current(b, plant, ctrl, n: int, **cmd) -> np.ndarray:
    """Current mode for n periods, duties applied one period late (MCU shadow
    registers). Columns: plant i_d, i_q, omega_m; controller i_q, omega_m."""
    ctrl.command(core.MODE_CURRENT, **cmd)
    duty, enable = (0.5, 0.5, 0.5), False
    out = np.empty((n, 5))
    for k in range(n):
        s = plant.sense()
        assert ctrl.step(s.adc_i, s.adc_vbus, s.enc_count, s.temp_motor_c, s.temp_fet_c) == 0
        st_, sig = plant.state, ctrl.signals()
        out[k] = st_["i_d"], st_["i_q"], st_["omega_m"], sig["i_q"], sig["omega_m"]
        plant.run_pwm([duty], enable)
        duty, enable = ctrl.duty, ctrl.pwm_enable
    return out


def _predicted_d_step(b, cfg, n: int) -> np.ndarray:
    """python-control: PI (backward Euler) x one-period delay x ZOH RL, with the
    plant's true resistance (winding at ambient plus the switch)."""
    t = b.pwm.period_s
    r = (b.motor.r_ohm * (1 + b.motor.r_temp_coeff_per_k * (b.thermal.temp_ambient_c - 20.0))
         + b.inverter.r_on_ohm)
    a = math.exp(-r * t / b.motor.ld_h)
    rl = control.tf([(1 - a) / r], [1, -a], t)
    delay = control.tf([1], [1, 0], t)
    kp, ki = cfg.current.pi_d.kp, cfg.current.pi_d.ki
    pi = control.tf([kp + ki * t, -kp], [1, -1], t)
    _, y = control.forced_response(control.feedback(pi * delay * rl, 1), T=np.arange(n) * t,
                                   U=np.ones(n))
    return np.asarray(y)


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_d_axis_current_step_is_the_designed_loop(path: Path) -> None:
    """The board's derived gains, ADC scaling and encoder offset, on the board's
    own plant, give python-control's closed loop to within one ADC count. The
    dead time is set to zero here: the linear reference has no inverter
    nonlinearity (with it the first periods deviate by about 3 % of the step)."""
    b = load_board(path)
    b = dataclasses.replace(b, pwm=dataclasses.replace(b.pwm, dead_time_s=0.0))
    plant, ctrl = _plant_and_ctrl(b)
    n = int(round(b.pwm.pwm_hz * 0.004))
    i_ref = 0.25 * b.limits.i_limit_a
    rec = _run_current(b, plant, ctrl, n, i_d_ref=i_ref)
    expected = i_ref * _predicted_d_step(b, b.ctrl_config(), n)
    err = np.abs(rec[:, 0] - expected)
    assert err.max() < b.adc.i_a_per_count, f"max deviation {err.max():.4g} A"
    assert np.abs(rec[:, 1]).max() < 0.01 * i_ref + 2 * b.adc.i_a_per_count   # no q leakage


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_q_axis_current_turns_the_motor_forward(path: Path) -> None:
    """Positive i_q gives positive speed in the plant and in the controller's
    estimate (direction and offset consistent), the controller measures the
    plant's i_q to within one ADC count on average while the rotor turns, and
    the full board (dead time, noise) holds i_q near the reference. The bound
    on that last one is loose on purpose: the accelerating rotor's back-EMF is
    fed forward from the PLL speed, which lags by about 2 a / w_b."""
    b = load_board(path)
    plant, ctrl = _plant_and_ctrl(b, noise=True)
    n = int(round(b.pwm.pwm_hz * 0.004))
    i_ref = 0.25 * b.limits.i_limit_a
    rec = _run_current(b, plant, ctrl, n, i_q_ref=i_ref)
    tail = rec[-n // 8:]
    assert tail[:, 2].min() > 1.0 and tail[:, 4].min() > 0.0
    assert 0.0 < (tail[:, 2] - tail[:, 4]).mean() < 0.5 * tail[:, 2].mean()   # the PLL lags
    assert abs(tail[:, 3].mean() - tail[:, 1].mean()) < b.adc.i_a_per_count
    assert tail[:, 1].mean() == pytest.approx(i_ref, rel=0.1)
    assert abs(tail[:, 0].mean()) < 0.02 * i_ref


# ---------------------------------------------------------------------------
# Error kinds: bad variants of a real board's TOML text
# ---------------------------------------------------------------------------

def _variant(tmp_path: Path, src: Path, old: str | list[tuple[str, str]],
             new: str | None = None) -> Path:
    """src with each old text (which must occur once) replaced, written to tmp_path."""
    text = src.read_text()
    for o, n in ([(old, new)] if isinstance(old, str) else old):
        assert text.count(o) == 1, f"{o!r} occurs {text.count(o)} times in {src.name}"
        text = text.replace(o, n)
    out = tmp_path / src.name
    out.write_text(text)
    return out


def _error(path: Path) -> BoardFileError:
    with pytest.raises(BoardFileError) as e:
        load_board(path)
    return e.value


CASES = [
    # (id, board, old text, new text, "[table] key", expected fragment of the line)
    ("missing_key", HIP, "r_ohm = 0.09\n", "", "[motor] r_ohm",
     "missing required key (allowed: float in [0.001, 20] ohm)"),
    ("unknown_key_typo", HIP, "tau_i2t_s = 30.0", "tau_i2ts = 30.0", "[protect] tau_i2ts",
     "unknown key; did you mean 'tau_i2t_s'?"),
    ("unit_suffix_mh", HIP, "ld_h = 65e-6", "ld_mh = 0.065", "[motor] ld_mh",
     "did you mean 'ld_h'?"),
    ("unknown_table", ARM, "[gearbox]", "[gear_box]", "[gear_box]",
     "unknown table; did you mean 'gearbox'?"),
    ("missing_table", ARM, "[gearbox]", "[gear_box]", "[gearbox]",
     "missing table (allowed: a table with keys ratio, efficiency, backlash_rad)"),
    ("wrong_type_float_for_int", HIP, "pole_pairs = 14", "pole_pairs = 14.0",
     "[motor] pole_pairs", "expected an integer, got the float 14.0 (allowed: integer in [1, 64])"),
    ("wrong_type_string", WRIST, "r_ohm = 0.55", 'r_ohm = "0.55 ohm"', "[motor] r_ohm",
     "expected a number, got the string \"0.55 ohm\" (allowed: float in [0.001, 20] ohm)"),
    ("wrong_type_bool", WRIST, "fd = false", "fd = 0", "[can] fd",
     "expected a boolean, got the integer 0 (allowed: boolean)"),
    ("wrong_unit_mh", HIP, "ld_h = 65e-6", "ld_h = 0.065", "[motor] ld_h",
     "0.065 is out of range (allowed: float in [1e-06, 0.01] H)"),
    ("wrong_unit_khz", ARM, "pwm_hz = 25_000.0", "pwm_hz = 25.0", "[pwm] pwm_hz",
     "25 is out of range (allowed: float in [10000, 100000] Hz)"),
    ("wrong_unit_ns", WRIST, "dead_time_s = 150e-9", "dead_time_s = 150.0", "[pwm] dead_time_s",
     "150 is out of range (allowed: float in [0, 5e-06] s)"),
    ("out_of_range", ARM, "node_id_max = 63", "node_id_max = 200", "[can] node_id_max",
     "200 is out of range (allowed: integer in [1, 127])"),
    ("not_a_choice", WRIST, 'interface = "abz"', 'interface = "i2c"', "[encoder] interface",
     '"i2c" is not allowed (allowed: string, one of "spi", "abz")'),
    ("not_finite", HIP, "flux_wb = 0.0167", "flux_wb = nan", "[motor] flux_wb",
     "nan is not finite (allowed: float in [0.0001, 0.5] Wb)"),
    ("layout_overlap", WRIST, "offset_bytes = 0x11800", "offset_bytes = 0x11000",
     "[mcu.layout.slot_b] offset_bytes",
     "[69632, 124928) overlaps slot_a [16384, 71680) (allowed: regions that do not overlap)"),
    ("layout_misaligned", WRIST, "offset_bytes = 0x1F000", "offset_bytes = 0x1E900",
     "[mcu.layout.params] offset_bytes",
     "125184 is not on a flash page boundary (allowed: a multiple of flash_page_bytes = 2048)"),
    ("layout_outside_flash", WRIST, "size_bytes = 0x01000", "size_bytes = 0x02000",
     "[mcu.layout.params] size_bytes",
     "ends at 135168, beyond the flash "
     "(allowed: offset_bytes + size_bytes <= flash_bytes = 131072)"),
    ("layout_unequal_slots", HIP, "size_bytes = 0x38000              # 224 KiB\n",
     "size_bytes = 0x36000\n", "[mcu.layout.slot_b] size_bytes",
     "221184 differs from slot_a size_bytes 229376 (allowed: 229376 (equal slots))"),
    ("layout_slots_in_one_bank", HIP,
     [("size_bytes = 0x38000              # 224 KiB, ends", "size_bytes = 0x1C000  # ends"),
      ("offset_bytes = 0x40000", "offset_bytes = 0x24000"),
      ("size_bytes = 0x38000              # 224 KiB\n", "size_bytes = 0x1C000\n")],
     None, "[mcu.layout.slot_b] offset_bytes",
     "slot_b is in bank 1 like slot_a (allowed: the other bank than slot_a"),
    ("layout_slot_spans_banks", ARM, "offset_bytes = 0x40000", "offset_bytes = 0x3F000",
     "[mcu.layout.slot_b] offset_bytes", "[258048, 495616) spans both flash banks"),
    ("page_size_vs_bank_mode", HIP, "flash_page_bytes = 2048", "flash_page_bytes = 4096",
     "[mcu] flash_page_bytes", "(allowed: 2048 bytes)"),
    ("flash_size_vs_part", WRIST, "flash_bytes = 131_072", "flash_bytes = 262_144",
     "[mcu] flash_bytes", "262144 does not match STM32G431CBU6 (allowed: 131072 bytes)"),
    ("limit_above_trip", HIP, "i_limit_a = 40.0", "i_limit_a = 70.0", "[limits] i_limit_a",
     "70 A is above [protect] i_max_a = 60 A (allowed: <= 60 A)"),
    ("resistance_in_milliohm", HIP, "r_ohm = 0.09", "r_ohm = 9.0", "[motor] r_ohm",
     "9 ohm needs r_ohm i_limit_a = 360 V at standstill"),
    ("torque_beyond_motor", ARM, "tau_out_max_nm = 50.0", "tau_out_max_nm = 80.0",
     "[limits] tau_out_max_nm", "(allowed: <= 74.25 N m)"),
    ("bus_outside_window", WRIST, "v_bus_v = 24.0", "v_bus_v = 32.0", "[inverter] v_bus_v",
     "32 V is outside the protection window (allowed: (18, 30) V"),
    ("tau_range_beyond_limit", HIP, "tau_max_nm = 200.0", "tau_max_nm = 250.0",
     "[can.impedance_ranges] tau_max_nm", "(allowed: <= 200 N m)"),
    ("impedance_min_not_below_max", ARM, "v_min_rad_s = -20.0", "v_min_rad_s = 25.0",
     "[can.impedance_ranges] v_max_rad_s", "20 is not above v_min_rad_s = 25 (allowed: > 25)"),
    ("outer_loop_too_fast", HIP, "outer_div = 4", "outer_div = 1", "[pwm] outer_div",
     "pwm_hz / outer_div = 20000 Hz (allowed: 1000 .. 10000 Hz, i.e. outer_div in [2, 20]"),
    ("dead_time_too_long", WRIST, "dead_time_s = 150e-9", "dead_time_s = 1.5e-6",
     "[pwm] dead_time_s", "(allowed: [0, 1.25e-06) s at pwm_hz = 40000)"),
    ("pwm_not_whole_ticks", HIP, "pwm_hz = 20_000.0", "pwm_hz = 30_000.0", "[pwm] pwm_hz",
     "2833.33 ticks"),
    ("adc_span_below_trip", HIP, "i_a_per_count = 0.0322265625", "i_a_per_count = 0.02",
     "[adc] i_a_per_count", "less than [protect] i_max_a = 60 A (allowed: >= 0.02931 A/count)"),
    ("pll_too_fast", WRIST, "pll_bandwidth_hz = 400.0", "pll_bandwidth_hz = 4000.0",
     "[encoder] pll_bandwidth_hz", "(allowed: <= 3183 Hz (w_b dt <= 0.5))"),
    ("gains_and_bandwidth", HIP, "decouple = true", "decouple = true\nkp_d_v_per_a = 0.5",
     "[control] kp_d_v_per_a", "given together with current_bandwidth_hz"),
    ("data_rate_without_fd", WRIST, "fd = false", "fd = false\ndata_bitrate_bps = 2_000_000",
     "[can] data_bitrate_bps", "2000000 given with fd = false (allowed: only with fd = true)"),
    ("data_rate_untimable", ARM, "data_bitrate_bps = 5_000_000", "data_bitrate_bps = 4_000_000",
     "[can] data_bitrate_bps", "cannot be timed from clock_hz = 170000000"),
    ("node_range_reversed", ARM, "node_id_min = 25", "node_id_min = 70", "[can] node_id_max",
     "63 is below node_id_min = 70 (allowed: [70, 127])"),
    ("backlash_without_tendon", ARM, "backlash_rad = 0.0", "backlash_rad = 0.002",
     "[gearbox] backlash_rad", "(allowed: 0 without a [tendon])"),
    ("enc_jump_too_small", WRIST, "enc_jump_counts = 200", "enc_jump_counts = 5",
     "[protect] enc_jump_counts", "counts per PWM period"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_board_names_file_table_key_and_allowed(tmp_path: Path, case) -> None:
    _, src, old, new, where, fragment = case
    bad = _variant(tmp_path, src, old, new)
    err = _error(bad)
    lines = [ln for ln in str(err).splitlines() if ln.startswith(f"{bad}: {where}:")]
    assert lines, f"no line for {where} in:\n{err}"
    assert any(fragment in ln for ln in lines), f"{fragment!r} not in:\n{err}"
    assert all("(allowed: " in ln for ln in str(err).splitlines())
    assert err.path == str(bad)


def test_encoder_count_overflow_check() -> None:
    """counts_per_rev * pole_pairs < 2^32 (the estimator's integer angle). The
    schema's ranges (2^24 counts, 64 pole pairs) already keep it, so the
    cross-check is exercised on a board built past them."""
    b = load_board(HIP)
    wide = dataclasses.replace(b, encoder=dataclasses.replace(b.encoder, counts_per_rev=2 ** 29))
    problems = board_checks._check_encoder(wide)
    assert any(p.table == "encoder" and p.key == "counts_per_rev" and "2^32" in p.problem
               and p.allowed == f"< {2 ** 32 // 14}" for p in problems)
    assert not board_checks._check_encoder(b)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = HIP.read_text().replace("r_ohm = 0.09\n", "")
    text = text.replace("pole_pairs = 14", "pole_pairs = 0").replace("fd = true", "fd = 1")
    (tmp_path / "x.toml").write_text(text)
    err = _error(tmp_path / "x.toml")
    keys = {(p.table, p.key) for p in err.problems}
    assert {("motor", "r_ohm"), ("motor", "pole_pairs"), ("can", "fd")} <= keys
    assert len(str(err).splitlines()) == len(err.problems)


def test_toml_syntax_error_and_missing_file_name_the_file(tmp_path: Path) -> None:
    bad = _variant(tmp_path, ARM, "r_ohm = 0.25", "r_ohm = 0.25 0.3")
    assert str(bad) in str(_error(bad)) and "not valid TOML" in str(_error(bad))
    missing = tmp_path / "none.toml"
    assert str(missing) in str(_error(missing))


def test_duplicate_board_ids_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(HIP.read_text())
    (tmp_path / "b.toml").write_text(HIP.read_text().replace('name = "hip_knee_48v"',
                                                             'name = "hip_copy"'))
    with pytest.raises(BoardFileError, match=r"b\.toml: \[board\] id: 257 is also the id"):
        load_boards(tmp_path)


def test_explicit_gains_replace_the_design(tmp_path: Path) -> None:
    gains = ("kp_d_v_per_a = 0.4\nki_d_v_per_as = 500.0\nkp_q_v_per_a = 0.5\n"
             "ki_q_v_per_as = 600.0\n")
    p = _variant(tmp_path, HIP, "current_bandwidth_hz = 1000.0     # kp = L w_c, ki = R w_c\n",
                 gains)
    cfg = load_board(p).ctrl_config()
    assert (cfg.current.pi_d.kp, cfg.current.pi_d.ki) == (0.4, 500.0)
    assert (cfg.current.pi_q.kp, cfg.current.pi_q.ki) == (0.5, 600.0)
    p = _variant(tmp_path, HIP, "current_bandwidth_hz = 1000.0     # kp = L w_c, ki = R w_c\n",
                 gains.replace("kp_q_v_per_a = 0.5\n", ""))
    assert "[control] kp_q_v_per_a: missing" in str(_error(p))


def test_optional_tables_take_defaults_or_none(tmp_path: Path) -> None:
    text = ARM.read_text()
    start, end = text.index("[sensors]"), text.index("[thermal]")
    (tmp_path / "arm.toml").write_text(text[:start] + text[end:])
    b = load_board(tmp_path / "arm.toml")
    assert b.sensors.adc_noise_a == 0.0 and b.tendon is None
    assert PlantParams.from_board(b.plant_tables(), strict=True).tendon is None


# ---------------------------------------------------------------------------
# Any board the loader accepts, the core and the plant accept
# ---------------------------------------------------------------------------

_RAW = {p.stem: tomllib.loads(p.read_text()) for p in BOARD_FILES}
_LEAVES = sorted((path, key) for path, t in SCHEMA.items() for key in t.keys)


def _values(spec, current):
    """Any TOML-ish value, a value in the key's allowed range, or a rescaled current one."""
    out = [st.floats(allow_nan=True, allow_infinity=True), st.integers(-2 ** 40, 2 ** 40),
           st.booleans(), st.text(max_size=4), st.lists(st.floats(-10, 10), max_size=6)]
    if spec.choices is not None:
        out.append(st.sampled_from(spec.choices))
    elif spec.kind in ("float", "int") and spec.lo is not None and spec.hi is not None:
        if spec.kind == "int":
            out.append(st.integers(int(spec.lo), int(spec.hi)))
        else:
            out.append(st.floats(spec.lo, spec.hi))
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        scale = st.sampled_from([0.5, 0.9, 1.1, 2.0, 10.0, -1.0, 1e-3, 1e3])
        out.append(scale.map(lambda f: current * f if isinstance(current, float)
                             else int(current * f)))
    return st.one_of(*out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_whatever_passes_validation_runs_in_core_and_plant(data) -> None:
    name = data.draw(st.sampled_from(sorted(_RAW)))
    doc = copy.deepcopy(_RAW[name])
    for _ in range(data.draw(st.integers(1, 3))):
        path, key = data.draw(st.sampled_from(_LEAVES))
        node = doc
        for part in path.split("."):
            node = node.setdefault(part, {})
        if data.draw(st.booleans()) and key in node:
            del node[key]
        else:
            node[key] = data.draw(_values(SCHEMA[path].keys[key], node.get(key)))
    try:
        b = board_from_dict(doc, f"{name}.toml")
    except BoardFileError as e:
        assert all(ln.startswith(f"{name}.toml: [") and "(allowed: " in ln
                   for ln in str(e).splitlines())
        event("refused")
        return
    event("accepted")
    core.Controller(b.ctrl_config())
    Plant(b.plant_params(), b.pwm.period_s)
    b.impedance_ranges()


# ---------------------------------------------------------------------------
# The schema, the dataclasses, the cross-checks and the docs agree
# ---------------------------------------------------------------------------

def test_dataclass_fields_are_the_schema_keys() -> None:
    for path, cls in board_mod.TABLE_CLASSES.items():
        subs = {p.rpartition(".")[2] for p in SCHEMA if p.rpartition(".")[0] == path}
        assert {f.name for f in dataclasses.fields(cls)} == set(SCHEMA[path].keys) | subs, path
    assert set(board_mod.TABLE_CLASSES) == set(SCHEMA)
    tops = {p for p in SCHEMA if "." not in p}
    assert {f.name for f in dataclasses.fields(board_mod.Board)} == tops | {"path"}


def test_every_cross_check_is_documented_and_implemented() -> None:
    assert list(board_checks.CHECKS) == list(CROSS_CHECKS)


def test_keys_end_in_their_unit() -> None:
    for path, table in SCHEMA.items():
        for key, spec in table.keys.items():
            assert spec.unit in UNIT_SUFFIXES, f"[{path}] {key}: unit {spec.unit!r}"
            suffixes = UNIT_SUFFIXES[spec.unit]
            if spec.unit:
                assert key.endswith(suffixes), f"[{path}] {key} should end in {suffixes}"
            else:   # a dimensionless key must not look like it carries a unit
                unit_like = [s for u, ss in UNIT_SUFFIXES.items() if u for s in ss]
                assert not any(key.endswith(s) for s in unit_like
                               if s not in ("_c", "_a", "_v", "_m", "_n", "_s", "_h")), key


def test_docs_boards_md_is_generated_from_the_schema() -> None:
    doc = (ROOT / "docs" / "boards.md").read_text()
    assert doc == schema_markdown(), ("docs/boards.md is stale: run "
                                      "`python -m firmware_gen.board_schema > docs/boards.md`")
    for path, table in SCHEMA.items():
        assert f"### [{path}]" in doc
        for key in table.keys:
            assert re.search(rf"^\| `{re.escape(key)}` \|", doc, re.M), key
