"""The generated C codec compiles warning-free with the core's strict flags (host and Cortex-M4F)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "actuators" / "protocol"
STRICT = ["-std=c99", "-O2", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wextra", "-Wpedantic",
          "-Wconversion", "-Wdouble-promotion", "-Werror"]
ARM = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]


def _compile(cc: str, extra: list[str], tmp_path: Path) -> None:
    # the header on its own, then the source
    unit = tmp_path / "header_only.c"
    unit.write_text('#include "myofoc_can.h"\nint header_only(void) { return MYOFOC_CAN_STATE_REPLY_LENGTH; }\n')
    for src, obj in ((unit, "h.o"), (PROTO / "myofoc_can.c", "c.o")):
        result = subprocess.run([cc, *STRICT, *extra, "-I", str(PROTO), "-c", str(src), "-o", str(tmp_path / obj)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and not result.stderr, result.stderr


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_compiles_on_the_host(tmp_path: Path) -> None:
    _compile("gcc", [], tmp_path)


@pytest.mark.arm
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
def test_compiles_for_cortex_m4f(tmp_path: Path) -> None:
    _compile("arm-none-eabi-gcc", ARM, tmp_path)
