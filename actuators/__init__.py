"""myofoc: firmware toolkit for humanoid joint actuators.

One C99 control core runs on the actuator's microcontroller and, through
Cython, in the simulated actuator (``actuators.core``, ``actuators.sim``).
"""
__version__ = "0.1.0"
