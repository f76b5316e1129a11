"""What every benchmark prints about the machine it ran on (figures from a
shared 2-CPU machine mean little without the load beside them)."""
from __future__ import annotations

import os
import platform
import re

__all__ = ["cpu_model", "load_avg", "machine_line"]


def cpu_model(mhz: bool = False) -> str:
    """The CPU's model name from /proc/cpuinfo (with its clock when ``mhz``)."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    name = model.group(1).strip() if model else (platform.processor() or platform.machine())
    clock = re.search(r"^cpu MHz\s*:\s*([\d.]+)$", text, re.M) if mhz else None
    return name + (f", {float(clock.group(1)):.0f} MHz" if clock else "")


def load_avg() -> float:
    """The 1-minute load average (NaN where the OS has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine_line(*versions: str, mhz: bool = False) -> str:
    """CPU, CPUs and load, OS, Python, then the given library versions."""
    parts = [f"{cpu_model(mhz)}, {os.cpu_count()} CPUs (load {load_avg():.2f})",
             f"{platform.system()} {platform.release()}", f"Python {platform.python_version()}"]
    return "; ".join(parts) + "".join(f", {v}" for v in versions)
