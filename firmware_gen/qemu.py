"""The control core on an emulated Cortex-M4F (QEMU ``-M mps2-an386``).

``build()`` compiles the emulator target (``firmware_gen/targets/mps2_an386``:
the core's C sources, the CAN codec, startup, semihosting, the vector
runner and the PIL entry points) with ``arm-none-eabi-gcc`` and the core's
flags, cached by a hash of every source, the Makefile and the compiler's
version. ``Vectors`` records operations on the Cython controller
(``actuators.core.Controller``: init, command, step, clear, e-stop) together
with the controller's state after each one (its "snapshot"), and writes them
as the runner's input file (format: ``targets/mps2_an386/vectors.h``).
``run_vectors()`` replays them in QEMU and returns the firmware's snapshots;
``compare()`` lists every word whose bits differ.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SNAP_FIELDS", "Mismatch", "QemuError", "Vectors", "build", "cache_dir", "compare",
           "run_vectors", "target_dir"]

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(__file__).resolve().parent / "targets" / "mps2_an386"
ARM_CC = os.environ.get("ARM_CC", "arm-none-eabi-gcc")
QEMU = os.environ.get("QEMU_SYSTEM_ARM", "qemu-system-arm")

MAGIC_IN, MAGIC_OUT, MAGIC_END, VERSION = b"MFVI", b"MFVO", b"MFVE", 1
OP_END, OP_INIT_CTRL, OP_STEP, OP_COMMAND, OP_CLEAR, OP_ESTOP = range(6)
# the snapshot words (vectors.h); "flags" = pwm_enable | active_mode << 8 | cmd.mode << 16
SNAP_FIELDS = ("result", "faults", "first_fault", "flags", "duty_a", "duty_b", "duty_c",
               "i_a", "i_b", "i_c", "i_d", "i_q", "i_d_ref", "i_q_ref", "v_d", "v_q", "v_bus",
               "theta_e", "theta_m", "omega_m", "p_out", "v_out", "tau_out_ref", "tau_out_est",
               "derate", "step_count", "cmd_rejects")
FLOAT_WORDS = frozenset(range(4, 25))
CMD_FLOATS = ("i_d_ref", "i_q_ref", "v_d_ref", "v_q_ref", "theta_e_force", "v_out_ref",
              "p_out_ref", "tau_ff_nm", "p_des", "v_des", "kp", "kd", "tau_ff", "u_flex", "u_ext")
_SENSE = struct.Struct("<B3HHIff")
# the inject block (mf_inject_config_t of MF_MODE_INJECT): kind, axis, use_encoder, then floats
INJECT_FIELDS = ("kind", "axis", "use_encoder", "amp", "offset", "hold", "freq_hz", "omega_e_cmd",
                 "accel_e", "theta0_e", "lockin_harmonic", "settle_s", "window_s")
_CMD = struct.Struct("<BBB15f3B10f")


class QemuError(RuntimeError):
    """Building or running the emulator target failed (the tool's output is in the message)."""


def target_dir() -> Path:
    """The emulator target's sources (startup, linker script, runner, Makefile)."""
    return TARGET


def _sources() -> list[Path]:
    core = ROOT / "actuators" / "core"
    proto = ROOT / "actuators" / "protocol"
    files = sorted(core.glob("*.c")) + sorted(core.glob("*.h"))
    files += [proto / "myofoc_can.c", proto / "myofoc_can.h"]
    files += sorted(p for p in TARGET.iterdir() if p.suffix in (".c", ".h", ".ld") or p.name == "Makefile")
    return files


def _compiler_version() -> str:
    try:
        out = subprocess.run([ARM_CC, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise QemuError(f"{ARM_CC} not usable ({exc}); install gcc-arm-none-eabi "
                        f"libnewlib-arm-none-eabi (make sysdeps)") from exc
    return out.stdout.splitlines()[0] if out.stdout else ""


def source_hash() -> str:
    """Hash of every source of the target, its Makefile and the compiler's version."""
    h = hashlib.sha256(_compiler_version().encode())
    for p in _sources():
        h.update(str(p.relative_to(ROOT)).encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """Where builds are kept: $MYOFOC_CACHE or ~/.cache/myofoc, then mps2_an386/."""
    base = os.environ.get("MYOFOC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "myofoc")
    return Path(base) / "mps2_an386"


def build(force: bool = False) -> Path:
    """Build (or reuse) the target; returns the folder holding
    ``vector_runner.elf`` and ``pil.elf`` (and their .map files)."""
    out = cache_dir() / source_hash()
    if not force and (out / "vector_runner.elf").is_file() and (out / "pil.elf").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out.parent))
    try:
        jobs = "-j2"
        proc = subprocess.run(["make", "-s", jobs, "-C", str(TARGET), f"BUILD={tmp}",
                               f"ROOT={ROOT}", f"ARM_CC={ARM_CC}"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise QemuError(f"building {TARGET} failed:\n{proc.stdout}{proc.stderr}")
        if out.exists():
            shutil.rmtree(out, ignore_errors=True)
        try:
            os.replace(tmp, out)
        except OSError:
            if not (out / "pil.elf").is_file():  # another process won the race: use its build
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _f32_bits(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).astype(np.float32).view(np.uint32)


_CMD_CODES = (("non-finite or out of range", -3), ("fault is latched", -4))


class Vectors:
    """Operations on a host Controller, recorded for the emulator.

    Each method calls the Cython controller and appends the operation to
    the input file and the controller's snapshot after it to ``expected``
    (the values the firmware must reproduce bit for bit)."""

    def __init__(self) -> None:
        self._buf = bytearray(MAGIC_IN + struct.pack("<I", VERSION))
        self._ints: list[tuple[int, int, int, int, int, int]] = []
        self._floats: list[tuple[float, ...]] = []
        self.ctrl: Any = None
        self.ops: list[int] = []

    @property
    def n_ops(self) -> int:
        return len(self.ops)

    @property
    def n_steps(self) -> int:
        return sum(1 for op in self.ops if op == OP_STEP)

    def _snap(self, op: int, result: int) -> None:
        c = self.ctrl
        sig = c.signals()
        flags = int(bool(c.pwm_enable)) | (int(c.mode) << 8) | (int(c.commanded_mode) << 16)
        self.ops.append(op)
        self._ints.append((result & 0xFFFFFFFF, c.faults, c.first_fault, flags, c.step_count,
                           c.cmd_rejects))
        self._floats.append((*c.duty, *sig["i_abc"], sig["i_d"], sig["i_q"], sig["i_d_ref"],
                             sig["i_q_ref"], sig["v_d"], sig["v_q"], sig["v_bus"], sig["theta_e"],
                             sig["theta_m"], sig["omega_m"], sig["p_out"], sig["v_out"],
                             sig["tau_out_ref"], sig["tau_out_est"], c.derate))

    def init(self, ctrl_config: Any) -> Any:
        """A new Controller from a CtrlConfig (ValueError if refused); returns it."""
        from actuators import core
        self.ctrl = core.Controller(ctrl_config)
        img = self.ctrl.config_bytes()
        self._buf += struct.pack("<BI", OP_INIT_CTRL, len(img)) + img
        self._snap(OP_INIT_CTRL, 0)
        return self.ctrl

    def step(self, adc_i: Sequence[int], adc_vbus: int, enc_count: int, temp_motor_c: float,
             temp_fet_c: float) -> int:
        """One current-loop period; returns the fault bits."""
        tm, tf = (float(np.float32(temp_motor_c)), float(np.float32(temp_fet_c)))
        faults = self.ctrl.step(adc_i, int(adc_vbus), int(enc_count), tm, tf)
        self._buf += _SENSE.pack(OP_STEP, int(adc_i[0]), int(adc_i[1]), int(adc_i[2]), int(adc_vbus),
                                 int(enc_count), tm, tf)
        self._snap(OP_STEP, faults)
        return int(faults)

    def command(self, mode: int, **fields: Any) -> int:
        """Set the command; returns its code (0, -3 refused, -4 fault/config).
        ``inject``: a dict of mf_inject_config_t fields (kind, axis as numbers)."""
        from actuators import core
        rc = 0
        inject = dict(fields.get("inject") or {})
        unknown = set(inject) - set(INJECT_FIELDS)
        if unknown:
            raise TypeError(f"unknown inject fields {sorted(unknown)}; known: {INJECT_FIELDS}")
        try:
            self.ctrl.command(int(mode), **fields)
        except ValueError as exc:
            # the binding names mf_ctrl_command's code in its message (_CMD_STATUS)
            rc = next((code for text, code in _CMD_CODES if text in str(exc)), None)
            if rc is None:
                raise
        vals = [float(np.float32(fields.get(k, 0.0))) for k in CMD_FLOATS]
        names = (getattr(core, "INJECT_KINDS", {}), getattr(core, "INJECT_AXES", {}))
        inj = [int(names[j].get(v, -1) if isinstance(v, str) else v)
               for j, v in enumerate((inject.get("kind", 0), inject.get("axis", 0)))]
        inj.append(int(bool(inject.get("use_encoder", False))))
        inj_f = [float(np.float32(inject.get(k, 0.0))) for k in INJECT_FIELDS[3:]]
        self._buf += _CMD.pack(OP_COMMAND, int(mode), int(bool(fields.get("force_angle", False))), *vals,
                               *inj, *inj_f)
        self._snap(OP_COMMAND, rc)
        return rc

    def clear_faults(self) -> int:
        left = int(self.ctrl.clear_faults())
        self._buf += bytes([OP_CLEAR])
        self._snap(OP_CLEAR, left)
        return left

    def estop(self) -> None:
        self.ctrl.estop()
        self._buf += bytes([OP_ESTOP])
        self._snap(OP_ESTOP, 0)

    def data(self) -> bytes:
        """The runner's input file."""
        return bytes(self._buf) + bytes([OP_END])

    def expected(self) -> np.ndarray:
        """The host's snapshots, (n_ops, len(SNAP_FIELDS)) uint32 raw bits."""
        n = len(self.ops)
        out = np.zeros((n, len(SNAP_FIELDS)), dtype=np.uint32)
        if n == 0:
            return out
        ints = np.asarray(self._ints, dtype=np.uint64).astype(np.uint32)
        out[:, 0:4] = ints[:, 0:4]
        out[:, 25:27] = ints[:, 4:6]
        out[:, 4:25] = _f32_bits(self._floats).reshape(n, 21)
        return out


def run_vectors(data: bytes, elf: Path | None = None, timeout_s: float = 600.0) -> np.ndarray:
    """Replay an input file in QEMU; returns the firmware's snapshots,
    (n_ops, len(SNAP_FIELDS)) uint32 raw bits."""
    elf = Path(elf) if elf is not None else build() / "vector_runner.elf"
    with tempfile.TemporaryDirectory(prefix="myofoc-qemu-") as d:
        (Path(d) / "vectors.in").write_bytes(data)
        cmd = [QEMU, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
               "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
        try:
            proc = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=timeout_s)
        except FileNotFoundError as exc:
            raise QemuError(f"{QEMU} not found; install qemu-system-arm (make sysdeps)") from exc
        except subprocess.TimeoutExpired as exc:
            raise QemuError(f"QEMU did not finish within {timeout_s} s") from exc
        if proc.returncode != 0:
            raise QemuError(f"the vector runner failed (exit {proc.returncode}): "
                            f"{proc.stdout.strip()} {proc.stderr.strip()}")
        raw = (Path(d) / "vectors.out").read_bytes()
    nw = len(SNAP_FIELDS)
    if raw[:4] != MAGIC_OUT or raw[-8:-4] != MAGIC_END:
        raise QemuError("the vector runner's output is incomplete")
    n_ops = struct.unpack("<I", raw[-4:])[0]
    body = np.frombuffer(raw[12:-8], dtype="<u4")
    if body.size != n_ops * nw:
        raise QemuError(f"output holds {body.size} words, expected {n_ops} x {nw}")
    return body.reshape(n_ops, nw).astype(np.uint32)


@dataclass(frozen=True)
class Mismatch:
    """One word whose bits differ: operation index, field, host and target bits."""

    op: int
    field: str
    host: int
    target: int
    nan_payload_only: bool

    def __str__(self) -> str:
        kind = " (NaN payloads)" if self.nan_payload_only else ""
        return f"op {self.op} {self.field}: host 0x{self.host:08X} target 0x{self.target:08X}{kind}"


def compare(expected: np.ndarray, got: np.ndarray) -> list[Mismatch]:
    """Every differing word. Two NaNs with different bits are reported with
    ``nan_payload_only`` (IEEE 754 leaves the payload of a generated NaN to
    the hardware: x86 gives 0xFFC00000, the M4F 0x7FC00000)."""
    if expected.shape != got.shape:
        raise QemuError(f"shape {got.shape} of the target's output differs from the host's {expected.shape}")
    rows, cols = np.nonzero(expected != got)
    out = []
    for r, c in zip(rows.tolist(), cols.tolist()):
        a, b = int(expected[r, c]), int(got[r, c])
        nan = c in FLOAT_WORDS and (a & 0x7F800000) == 0x7F800000 and (a & 0x7FFFFF) != 0 \
            and (b & 0x7F800000) == 0x7F800000 and (b & 0x7FFFFF) != 0
        out.append(Mismatch(r, SNAP_FIELDS[c], a, b, nan))
    return out
