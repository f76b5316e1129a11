"""Bad parameters are refused naming the field; a diverging run raises PlantDivergedError."""
from __future__ import annotations

import math

import numpy as np
import pytest

from actuators.plant import (GearboxParams, InverterParams, LoadParams, MotorParams, Plant,
                             PlantDivergedError, PlantParams, SensorParams, TendonParams,
                             ThermalParams)
from actuators.plant import _plant


@pytest.mark.parametrize("cls, field, value, rng", [
    (MotorParams, "r_ohm", -0.1, "(0.0, inf)"),
    (MotorParams, "r_ohm", 0.0, "(0.0, inf)"),
    (MotorParams, "ld_h", -1e-6, "(0.0, inf)"),
    (MotorParams, "lq_h", 0.0, "(0.0, inf)"),
    (MotorParams, "flux_wb", math.nan, "[0.0, inf)"),
    (MotorParams, "pole_pairs", 0, "[1, 1000]"),
    (MotorParams, "pole_pairs", 2.5, "[1, 1000]"),
    (MotorParams, "j_kgm2", 0.0, "(0.0, inf)"),
    (MotorParams, "b_nms_per_rad", -1.0, "[0.0, inf)"),
    (MotorParams, "tau_coulomb_nm", math.inf, "[0.0, inf)"),
    (MotorParams, "omega_coulomb_rad_s", 0.0, "(0.0, inf)"),
    (MotorParams, "r_temp_coeff_per_k", 0.5, "[0.0, 0.01]"),
    (InverterParams, "v_bus_v", 0.0, "(0.0, inf)"),
    (InverterParams, "dead_time_s", -1e-9, "[0.0, 0.001]"),
    (GearboxParams, "ratio", 0.0, "(0.0, inf)"),
    (GearboxParams, "efficiency", 1.2, "(0.0, 1.0]"),
    (GearboxParams, "backlash_rad", -0.1, "[0.0, inf)"),
    (TendonParams, "k_nm_per_rad", 0.0, "(0.0, inf)"),
    (LoadParams, "j_kgm2", -1.0, "[0.0, inf)"),
    (LoadParams, "tau_ext_nm", math.nan, "(-inf, inf)"),
    (ThermalParams, "c_winding_j_per_k", 0.0, "(0.0, inf)"),
    (ThermalParams, "temp_ambient_c", 500.0, "[-60.0, 200.0]"),
    (SensorParams, "adc_bits", 20, "[8, 16]"),
    (SensorParams, "adc_i_a_per_count", 0.0, "(0.0, inf)"),
    (SensorParams, "adc_i_offset_counts", 5000.0, "[0.0, 4095.0]"),
    (SensorParams, "adc_noise_a", -0.1, "[0.0, inf)"),
    (SensorParams, "enc_counts_per_rev", 2, "[4, 1073741824]"),
    (SensorParams, "enc_latency_s", -1e-6, "[0.0, 1.0]"),
])
def test_bad_field_is_refused_naming_field_and_range(cls: type, field: str, value: float, rng: str) -> None:
    with pytest.raises(ValueError) as err:
        cls(**{field: value})
    msg = str(err.value)
    assert f"{cls.__name__}.{field}" in msg and rng in msg


def test_encoder_direction_and_cogging_lists_are_checked() -> None:
    with pytest.raises(ValueError, match="enc_direction"):
        SensorParams(enc_direction=0)
    with pytest.raises(ValueError, match="cog_amp_nm"):
        MotorParams(cog_n_per_rev=12, cog_amp_nm=(1.0, 1.0, 1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="cog_amp_nm"):
        MotorParams(cog_n_per_rev=12, cog_amp_nm=(-1.0,))


def test_combinations_are_checked() -> None:
    with pytest.raises(ValueError, match="backlash_rad"):
        PlantParams(gearbox=GearboxParams(backlash_rad=0.01))
    with pytest.raises(ValueError, match="LoadParams.j_kgm2"):
        PlantParams(tendon=TendonParams(), load=LoadParams(j_kgm2=0.0))


def test_c_check_names_the_field_too() -> None:
    """The C init refuses what the dataclasses would (a caller of the C API gets the name)."""
    good = PlantParams().to_c()
    _plant.PlantCore(good, 0)
    for field, value in [("r_ohm", -1.0), ("ld_h", 0.0), ("j_kgm2", 0.0), ("flux_wb", math.nan),
                         ("gear_efficiency", 0.0), ("enc_direction", 3), ("adc_bits", 4),
                         ("th_c_fet_j_per_k", 0.0)]:
        bad = dict(good, **{field: value})
        with pytest.raises(ValueError, match=field):
            _plant.PlantCore(bad, 0)


def test_plant_refuses_bad_dt_seed_and_inputs() -> None:
    with pytest.raises(ValueError, match="dt_s"):
        Plant(MotorParams(), 0.0)
    with pytest.raises(ValueError, match="dt_s"):
        Plant(MotorParams(), math.nan)
    with pytest.raises(ValueError, match="seed"):
        Plant(MotorParams(), 25e-6, seed=-1)
    plant = Plant(MotorParams(), 25e-6)
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        plant.run_voltages(np.zeros((4, 2)))
    v = np.zeros((5, 3))
    v[3, 1] = math.nan
    with pytest.raises(ValueError, match="row 3"):
        plant.run_voltages(v)
    with pytest.raises(ValueError, match="must be finite"):
        plant.set_state(omega_m=math.inf)


def test_divergence_raises_naming_the_step_and_the_state() -> None:
    plant = Plant(MotorParams(), 25e-6)
    v = np.zeros((50, 3))
    v[20:] = [1e300, -1e300, 0.0]      # finite, but no physical state survives it
    with pytest.raises(PlantDivergedError) as err:
        plant.run_voltages(v)
    e = err.value
    assert isinstance(e, RuntimeError)
    assert 20 <= e.step < 50
    assert f"step {e.step}" in str(e)
    assert "i_d" in str(e) or "omega_m" in str(e)


def test_from_board_reads_the_tables() -> None:
    tables = {
        "motor": {"r_ohm": 0.3, "ld_h": 80e-6, "lq_h": 90e-6, "flux_wb": 0.007, "pole_pairs": 10,
                  "j_kgm2": 3e-5, "b_nms_per_rad": 0.0, "tau_coulomb_nm": 0.01, "i_max_a": 40.0},
        "gearbox": {"ratio": 12.0, "efficiency": 0.9},
        "tendon": {"k_nm_per_rad": 200.0, "c_nms_per_rad": 1.0},
        "load": {"j_kgm2": 0.02, "tau_ext_nm": 1.0},
        "inverter": {"v_bus_v": 24.0, "dead_time_s": 2e-7},
        "sensors": {"enc_counts_per_rev": 4096, "adc_noise_a": 0.0},
        "thermal": {"temp_ambient_c": 30.0},
    }
    pp = PlantParams.from_board(tables)
    assert pp.motor.r_ohm == 0.3 and pp.motor.pole_pairs == 10
    assert pp.gearbox.ratio == 12.0 and pp.tendon is not None and pp.tendon.k_nm_per_rad == 200.0
    assert pp.load.j_kgm2 == 0.02 and pp.inverter.v_bus_v == 24.0
    assert pp.sensors.enc_counts_per_rev == 4096 and pp.thermal.temp_ambient_c == 30.0
    assert MotorParams.from_board(tables).flux_wb == 0.007
    with pytest.raises(ValueError, match="i_max_a"):
        PlantParams.from_board(tables, strict=True)
    with pytest.raises(ValueError, match="MotorParams.r_ohm"):
        PlantParams.from_board({"motor": {"r_ohm": -1.0}})
    assert PlantParams.from_board({}).tendon is None
    Plant(pp, 25e-6).run_voltages(np.zeros((10, 3)))
