# cython: language_level=3
"""Thin Cython binding of the myofoc bootloader C (actuators/boot/*.c):
Ed25519 verification, ISO-TP, the UDS server, A/B slots and the boot record.
No logic lives here; each section wraps one C module."""
import numpy as np
cimport numpy as cnp

cnp.import_array()

__all__ = []  # each section below appends its public names

include "_boot_ed25519.pxi"
include "_boot_uds.pxi"
