"""The myofoc control core (C99), as compiled into the firmware, from Python.

Vectorised transforms take numpy arrays (or scalars) and return float32
arrays computed by the very C functions the microcontroller runs.
Angles in rad (theta_e electrical), currents in A, voltages in V.
"""
from actuators._core import *  # noqa: F401,F403  (the binding's public names)
from actuators._core import __all__  # noqa: F401
