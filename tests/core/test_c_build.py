"""The core builds on its own (no Python) for the host and the Cortex-M4F
with warnings as errors, and its C tests pass, also under ASan + UBSan."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "actuators" / "core"
CTESTS = ROOT / "tests" / "core" / "c"


def _make(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_core_builds_warning_free_on_host(tmp_path):
    r = _make("host", f"BUILD={tmp_path}", cwd=CORE)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr.lower()
    assert (tmp_path / "host" / "libmfcore.a").stat().st_size > 0


@pytest.mark.arm
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None and not os.environ.get("CI"),
                    reason="arm-none-eabi-gcc not installed (make setup installs it)")
def test_core_builds_warning_free_for_cortex_m4f(tmp_path):
    r = _make("arm", f"BUILD={tmp_path}", cwd=CORE)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr.lower()
    lib = tmp_path / "arm" / "libmfcore.a"
    # every object is a hard-float Thumb object for the M4F
    objdump = subprocess.run(["arm-none-eabi-readelf", "-A", str(lib)], capture_output=True, text=True)
    for tag in ("Tag_CPU_arch: v7E-M", "Tag_FP_arch: VFPv4-D16", "Tag_ABI_HardFP_use: SP only",
                "Tag_ABI_VFP_args: VFP registers"):
        assert tag in objdump.stdout, tag
    # the core calls no libm beyond sqrtf/fabsf (both become single instructions)
    nm = subprocess.run(["arm-none-eabi-nm", "-u", str(lib)], capture_output=True, text=True).stdout
    undefined = {line.split()[-1] for line in nm.splitlines() if line.strip().startswith("U")}
    internal = {line.split()[-1] for line in subprocess.run(
        ["arm-none-eabi-nm", "--defined-only", str(lib)], capture_output=True, text=True).stdout.splitlines()
        if len(line.split()) == 3}
    external = undefined - internal
    assert external <= {"memset", "memcpy"}, f"core calls outside itself: {sorted(external)}"


@pytest.mark.parametrize("san", ["0", "1"], ids=["plain", "asan-ubsan"])
def test_core_c_tests_pass(san, tmp_path):
    r = _make("run", f"SAN={san}", cwd=CTESTS)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " 0 failed" in r.stdout
    assert "runtime error" not in r.stderr
