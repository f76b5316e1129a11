# cython: language_level=3
"""Thin Cython binding of the myofoc C99 control core (actuators/core/*.c).

No control logic lives here: each section wraps one C module. The Pythonic
API is in actuators/core/__init__.py and the plain .py modules beside it.
"""
import numpy as np
cimport numpy as cnp

cnp.import_array()

__all__ = []  # each section below appends its public names

include "_core_math.pxi"
include "_core_foc.pxi"
include "_core_pi.pxi"
include "_core_outer.pxi"
include "_core_estimator.pxi"
include "_core_protect.pxi"
include "_core_ctrl.pxi"
include "_core_app.pxi"
