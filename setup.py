"""Build the Cython extensions that wrap the myofoc C99 control core.

The core's C sources are compiled with the core's own strict flags (the same
ones the firmware uses); the Cython-generated glue is compiled with the
compiler's defaults, since its code is not ours to keep warning-free.
"""
from __future__ import annotations

import glob
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CORE_DIR = os.path.join("actuators", "core")
PLANT_DIR = os.path.join("actuators", "plant")
PROTO_DIR = os.path.join("actuators", "protocol")
SIM_DIR = os.path.join("actuators", "simcore")
BOOT_DIR = os.path.join("actuators", "boot")

# The flags every target compiles the core with (DESIGN.md section 1).
# -fno-tree-slp-vectorize: gcc's merging of neighbouring float stores into one
# vector store stalls the loads that follow (store forwarding) on x86; it
# changes no result, and the M4F has no vector unit. ~3 ns of a 50 ns step.
CORE_CFLAGS = [
    "-std=c99", "-O2", "-ffp-contract=off", "-fno-math-errno", "-fno-tree-slp-vectorize",
    "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wdouble-promotion", "-Werror",
]
GLUE_CFLAGS = ["-O2", "-ffp-contract=off", "-fno-math-errno"]


def _c_sources(folder: str) -> list[str]:
    """Hand-written C of a folder; Cython's generated ``_*.c`` are not ours."""
    return sorted(f for f in glob.glob(os.path.join(folder, "*.c"))
                  if not os.path.basename(f).startswith("_"))


# extension name -> C sources compiled with CORE_CFLAGS and linked in.
# The generated CAN codec is part of the core (mf_app packs and unpacks frames).
CODEC_SOURCES = [os.path.join(PROTO_DIR, "myofoc_can.c")]

STRICT_SOURCES: dict[str, list[str]] = {
    "actuators._core": _c_sources(CORE_DIR) + CODEC_SOURCES,
    "actuators.plant._plant": _c_sources(PLANT_DIR),
    "actuators._sim": _c_sources(CORE_DIR) + CODEC_SOURCES + _c_sources(PLANT_DIR) + _c_sources(SIM_DIR),
    # The bootloader (UDS over ISO-TP, A/B slots, image checks, Ed25519).
    "actuators._boot": _c_sources(BOOT_DIR),
}


class StrictCoreBuildExt(build_ext):
    """Compile each extension's C sources with the core flags, then the glue."""

    def build_extension(self, ext: Extension) -> None:
        strict = STRICT_SOURCES.get(ext.name, [])
        if strict:
            objects = self.compiler.compile(
                strict,
                output_dir=os.path.join(self.build_temp, ext.name.replace(".", "_")),
                include_dirs=ext.include_dirs,
                extra_postargs=CORE_CFLAGS,
                depends=ext.depends,
            )
            ext.extra_objects = list(objects)
        super().build_extension(ext)


def _ext(name: str, pyx: str) -> Extension:
    # Every C source and header counts as a dependency, so that editing one
    # relinks the extension (setuptools otherwise keeps the old .so).
    depends = STRICT_SOURCES.get(name, []) + glob.glob(os.path.join("actuators", "*.pxi"))
    for folder in (CORE_DIR, PLANT_DIR, SIM_DIR, PROTO_DIR, BOOT_DIR):
        depends += glob.glob(os.path.join(folder, "*.h"))
    return Extension(
        name,
        sources=[pyx],
        include_dirs=[CORE_DIR, PLANT_DIR, SIM_DIR, PROTO_DIR, BOOT_DIR, numpy.get_include()],
        depends=depends,
        extra_compile_args=GLUE_CFLAGS,
        libraries=["m"],  # the plant uses libm (the core itself does not)
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )


EXTENSIONS = [
    _ext(name, pyx)
    for name, pyx in [
        ("actuators._core", "actuators/_core.pyx"),
        ("actuators.plant._plant", "actuators/plant/_plant.pyx"),
        ("actuators._sim", "actuators/_sim.pyx"),
        ("actuators._boot", "actuators/_boot.pyx"),
    ]
    if os.path.exists(pyx)
    # MYOFOC_ONLY=actuators._core builds just the named extension(s), for development.
    and (not os.environ.get("MYOFOC_ONLY") or name in os.environ["MYOFOC_ONLY"].split(","))
]

setup(
    ext_modules=cythonize(
        EXTENSIONS,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
    cmdclass={"build_ext": StrictCoreBuildExt},
)
