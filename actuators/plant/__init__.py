"""The software plant of a joint actuator: PMSM, inverter, sensors, mechanics,
gearbox, tendon, load and thermal model (C, double precision; mf_plant.h).

    from actuators.plant import MotorParams, Plant
    run = Plant(MotorParams(), dt_s=25e-6).run_voltages(v_abc)   # v_abc (n, 3), V
    run.i_abc, run.omega_m, run.theta_m, run.tau_e
"""
from .params import (
    GearboxParams,
    InverterParams,
    LoadParams,
    MotorParams,
    PlantParams,
    SensorParams,
    TendonParams,
    ThermalParams,
)
from .plant import Plant, PlantDivergedError, PlantRun, SenseSample

__all__ = [
    "GearboxParams",
    "InverterParams",
    "LoadParams",
    "MotorParams",
    "Plant",
    "PlantDivergedError",
    "PlantParams",
    "PlantRun",
    "SenseSample",
    "SensorParams",
    "TendonParams",
    "ThermalParams",
]
