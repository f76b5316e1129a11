"""Processor-in-the-loop: the Cortex-M4F firmware in unicorn, the plant on the host.

``PilNode`` loads ``pil.elf`` (built by ``firmware_gen.qemu.build()`` from
the core's sources: mf_app and everything under it, with the entry points of
``targets/mps2_an386/pil_entry.c``) into a unicorn Cortex-M engine and calls
its functions: ``init`` runs the real ``mf_app_init`` on a config image
written into emulated RAM, ``isr`` the PWM interrupt (``mf_app_isr``),
``on_frame``/``tx_pop`` the CAN receive path and transmit queue, ``tick``
the main loop. Each call sets the arguments (r0.., s0), LR to a stop address
and runs until it returns. With ``count`` set, every call counts the Thumb
instructions it executed: ``"block"`` (a block hook adds the instruction
count of each translated block, decoded once; cheap), ``"code"`` (a code
hook per instruction; slow; IT-skipped instructions not counted) or
``"profile"`` (a code hook that also keeps a per-address histogram:
``by_function()``).

``PilActuator`` closes the loop with the C plant (``actuators.plant``) under
the simulator's convention (``actuators/simcore/mf_sim.c``: sense at the
start of the period, the ISR, the previous period's duties applied, a
disabled output at once, the main-loop tick every millisecond), so that with
the same board and seed it reproduces ``actuators.sim.SimActuator`` bit for
bit while the controller runs as compiled for the microcontroller.
"""
from __future__ import annotations

import bisect
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

__all__ = ["ElfImage", "PilActuator", "PilError", "PilNode", "PilRecord", "load_elf"]

CMD_FLOATS = ("i_d_ref", "i_q_ref", "v_d_ref", "v_q_ref", "theta_e_force", "v_out_ref",
              "p_out_ref", "tau_ff_nm", "p_des", "v_des", "kp", "kd", "tau_ff", "u_flex", "u_ext")
_CMD = struct.Struct("<BB15f43x")   # vectors.h command record (the inject block zero)
_SENSE = struct.Struct("<3HHIff")
_PWM_FAULTS = struct.Struct("<3f?3xI")   # pil_io_t.pwm, .faults
LAYOUT_FIELDS = ("magic", "sizeof_app_config", "sizeof_app", "sizeof_sense", "sizeof_pwm",
                 "off_sense_enc", "off_sense_temp_fet", "off_pwm_enable", "off_app_state",
                 "off_app_ctrl", "off_faults", "off_first_fault", "off_derate", "off_pwm",
                 "off_active_mode", "off_cmd_mode", "off_i_abc", "off_i_d", "off_i_q",
                 "off_i_d_ref", "off_i_q_ref", "off_v_d", "off_v_q", "off_v_bus", "off_theta_e",
                 "off_theta_m", "off_omega_m", "off_p_out", "off_v_out", "off_tau_out_ref",
                 "off_tau_out_est", "off_step_count", "sizeof_ctrl", "off_io_pwm", "off_io_faults",
                 "off_frame_len", "off_frame_fd", "off_frame_data")
LAYOUT_MAGIC = 0x4C49504D
FLASH_BASE, FLASH_SIZE = 0x00000000, 4 << 20
RAM_BASE, RAM_SIZE = 0x20000000, 256 << 10
STOP_ADDR = FLASH_BASE + FLASH_SIZE - 0x100   # a mapped, never-executed return address
MODES = {"idle": 0, "voltage": 1, "current": 2, "velocity": 3, "position": 4, "impedance": 5,
         "muscle": 6}
SIM_TICK_S = 0.001   # the simulated firmware's main-loop period (mf_sim.h MF_SIM_TICK_S)


class PilError(RuntimeError):
    """The PIL image cannot be loaded or a call in it failed (fault, runaway, layout)."""


# ---- ELF ------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    name: str
    addr: int
    size: int
    flags: int
    type: int


@dataclass(frozen=True)
class ElfImage:
    """A 32-bit little-endian ARM ELF: loadable segments, sections, symbols."""

    path: Path
    entry: int
    segments: tuple[tuple[int, bytes, int], ...]   # (vaddr, file bytes, memsz)
    sections: tuple[Section, ...]
    symbols: Mapping[str, tuple[int, int]]          # name -> (value, size)

    def sym(self, name: str) -> int:
        try:
            return self.symbols[name][0]
        except KeyError:
            raise PilError(f"{self.path}: no symbol {name!r}") from None

    def sizes(self) -> dict[str, int]:
        """Bytes of flash (code, constants, .data's initial values) and RAM
        (.data + .bss, the stack reservation apart)."""
        alloc = [s for s in self.sections if s.flags & 0x2 and s.size > 0]
        flash = sum(s.size for s in alloc if s.addr < RAM_BASE or s.name == ".data")
        ram = sum(s.size for s in alloc if s.addr >= RAM_BASE and s.name != ".stack")
        stack = sum(s.size for s in alloc if s.name == ".stack")
        return {"flash_bytes": flash, "ram_bytes": ram, "stack_bytes": stack}


def load_elf(path: Union[str, Path]) -> ElfImage:
    """Read the segments, sections and symbols of a 32-bit ARM ELF."""
    path = Path(path)
    b = path.read_bytes()
    if b[:4] != b"\x7fELF" or b[4] != 1 or b[5] != 1:
        raise PilError(f"{path}: not a 32-bit little-endian ELF")
    (e_type, e_machine, _, e_entry, e_phoff, e_shoff, _, _, e_phentsize, e_phnum, e_shentsize,
     e_shnum, e_shstrndx) = struct.unpack_from("<HHIIIIIHHHHHH", b, 16)
    if e_machine != 40:
        raise PilError(f"{path}: not an ARM ELF (e_machine {e_machine})")
    segs = []
    for k in range(e_phnum):
        p_type, p_off, p_vaddr, _, p_filesz, p_memsz, _, _ = struct.unpack_from(
            "<IIIIIIII", b, e_phoff + k * e_phentsize)
        if p_type == 1 and p_memsz > 0:
            segs.append((p_vaddr, b[p_off:p_off + p_filesz], p_memsz))
    raw = [struct.unpack_from("<IIIIIIIIII", b, e_shoff + k * e_shentsize) for k in range(e_shnum)]
    shstr = raw[e_shstrndx]

    def name_at(table: tuple, off: int) -> str:
        start = table[4] + off
        return b[start:b.index(b"\0", start)].decode()

    sections = tuple(Section(name_at(shstr, r[0]), r[3], r[5], r[2], r[1]) for r in raw)
    symbols: dict[str, tuple[int, int]] = {}
    for r in raw:
        if r[1] != 2:   # SHT_SYMTAB
            continue
        strtab = raw[r[6]]
        for off in range(r[4], r[4] + r[5], 16):
            st_name, st_value, st_size, st_info, _, st_shndx = struct.unpack_from("<IIIBBH", b, off)
            if st_name and st_shndx != 0 and (st_info & 0xF) in (0, 1, 2):   # notype, object, func
                symbols[name_at(strtab, st_name)] = (st_value & ~1 if (st_info & 0xF) == 2
                                                     else st_value, st_size)
    return ElfImage(path, e_entry, tuple(segs), sections, symbols)


# ---- one emulated MCU -------------------------------------------------------
class PilNode:
    """One firmware node (mf_app_t) on an emulated Cortex-M4F.

    ``elf``: the PIL image (default: ``firmware_gen.qemu.build()/pil.elf``);
    ``count``: None, "block", "code" or "profile" (instruction counting, see
    the module doc);
    ``max_instructions``: when counting, a call that runs longer is stopped
    and reported (a runaway); without counting there is no limit (a limit
    in unicorn costs a hook or a timer thread on every call)."""

    def __init__(self, elf: Union[str, Path, ElfImage, None] = None, count: str | None = None,
                 max_instructions: int = 200_000) -> None:
        from unicorn import UC_ARCH_ARM, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
        from unicorn import arm_const as A
        if elf is None:
            from firmware_gen.qemu import build
            elf = build() / "pil.elf"
        self.image = elf if isinstance(elf, ElfImage) else load_elf(elf)
        self._A = A
        uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        uc.mem_map(FLASH_BASE, FLASH_SIZE)
        uc.mem_map(RAM_BASE, RAM_SIZE)
        for vaddr, data, memsz in self.image.segments:
            uc.mem_write(vaddr, data + bytes(memsz - len(data)))
        self.uc = uc
        self._flash = bytes(uc.mem_read(FLASH_BASE, max(v + m for v, _, m in self.image.segments
                                                        if v < RAM_BASE)))
        sym = self.image.sym
        self._fn = {n: sym(n) for n in ("pil_init", "pil_isr", "pil_tick", "pil_on_frame",
                                        "pil_tx_pop", "pil_command", "pil_clear_faults",
                                        "pil_estop", "pil_refresh")}
        self.a_app, self.a_cfg = sym("pil_app"), sym("pil_cfg")
        self.a_io = sym("pil_io")
        self.a_cmd, self.a_frame = sym("pil_cmd_buf"), sym("pil_frame")
        self.sp = sym("_estack")
        words = struct.unpack(f"<{len(LAYOUT_FIELDS)}I",
                              uc.mem_read(sym("pil_layout"), 4 * len(LAYOUT_FIELDS)))
        self.layout = dict(zip(LAYOUT_FIELDS, words))
        self._check_layout()
        self.a_ctrl = self.a_app + self.layout["off_app_ctrl"]
        self.max_instructions = int(max_instructions)
        self.count_mode = count
        self.last_count = 0          # instructions of the last call (when counting)
        self._blocks: dict[tuple[int, int], int] = {}
        self._n = 0
        self._hook = None
        if count == "block":
            from unicorn import UC_HOOK_BLOCK
            self._hook = uc.hook_add(UC_HOOK_BLOCK, self._on_block)
        elif count in ("code", "profile"):
            from unicorn import UC_HOOK_CODE
            self._hook = uc.hook_add(UC_HOOK_CODE, self._on_code if count == "code" else self._on_profile)
        elif count is not None:
            raise ValueError(f"count = {count!r}: None, 'block', 'code' or 'profile'")
        self.histogram: dict[int, int] = {}   # "profile": instructions executed per address
        uc.reg_write(A.UC_ARM_REG_FPEXC, 0x40000000)   # FPU on (FPEXC.EN)
        uc.reg_write(A.UC_ARM_REG_SP, self.sp)
        self._arg_regs = (A.UC_ARM_REG_R0, A.UC_ARM_REG_R1, A.UC_ARM_REG_R2, A.UC_ARM_REG_R3)

    def _check_layout(self) -> None:
        lay = self.layout
        want = {"magic": LAYOUT_MAGIC, "sizeof_sense": 20, "sizeof_pwm": 16, "off_sense_enc": 8,
                "off_sense_temp_fet": 16, "off_pwm_enable": 12, "off_io_pwm": 20,
                "off_io_faults": 36, "off_frame_len": 4, "off_frame_fd": 5, "off_frame_data": 6}
        bad = {k: (lay[k], v) for k, v in want.items() if lay[k] != v}
        if bad:
            raise PilError(f"{self.image.path}: layout differs from what the host writes: {bad}")

    # ---- instruction counting ---------------------------------------------
    def _on_block(self, uc: Any, address: int, size: int, _: Any) -> None:
        key = (address, size)
        n = self._blocks.get(key)
        if n is None:
            n = self._decode_count(address, size)
            self._blocks[key] = n
        self._n += n
        if self._n > self.max_instructions:
            uc.emu_stop()

    def _on_code(self, uc: Any, address: int, size: int, _: Any) -> None:
        self._n += 1
        if self._n > self.max_instructions:
            uc.emu_stop()

    def _on_profile(self, uc: Any, address: int, size: int, _: Any) -> None:
        self._n += 1
        self.histogram[address] = self.histogram.get(address, 0) + 1
        if self._n > self.max_instructions:
            uc.emu_stop()

    def by_function(self) -> dict[str, int]:
        """The "profile" histogram summed per function of the image, largest first."""
        funcs = sorted((v, sz, name) for name, (v, sz) in self.image.symbols.items()
                       if sz > 0 and v < RAM_BASE and not name.startswith("$"))
        starts = [f[0] for f in funcs]
        out: dict[str, int] = {}
        for addr, n in self.histogram.items():
            k = bisect.bisect_right(starts, addr) - 1
            name = funcs[k][2] if k >= 0 and addr < funcs[k][0] + funcs[k][1] else f"0x{addr:08x}"
            out[name] = out.get(name, 0) + n
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def _decode_count(self, address: int, size: int) -> int:
        """Thumb instructions in [address, address + size): a halfword whose
        top five bits are 0b11101, 0b11110 or 0b11111 starts a 32-bit one."""
        code = self._flash[address:address + size]
        k = n = 0
        while k + 1 < len(code):
            hw = code[k] | (code[k + 1] << 8)
            k += 4 if (hw >> 11) in (0x1D, 0x1E, 0x1F) else 2
            n += 1
        return n

    # ---- calls --------------------------------------------------------------
    def call(self, name: str, *args: int, f0: float | None = None, result: bool = True) -> int:
        """Call an entry point with integer args (r0..r3) and an optional
        float (s0); returns r0 (unsigned; 0 when ``result`` is false)."""
        A, uc = self._A, self.uc
        for r, v in zip(self._arg_regs, args):
            uc.reg_write(r, int(v) & 0xFFFFFFFF)
        if f0 is not None:
            uc.reg_write(A.UC_ARM_REG_S0, struct.unpack("<I", struct.pack("<f", f0))[0])
        uc.reg_write(A.UC_ARM_REG_LR, STOP_ADDR | 1)   # SP: every call returns it balanced
        self._n = 0
        try:
            uc.emu_start(self._fn[name] | 1, STOP_ADDR)
        except Exception as exc:   # unicorn's UcError: an unmapped access, a fault
            pc = uc.reg_read(A.UC_ARM_REG_PC)
            uc.reg_write(A.UC_ARM_REG_SP, self.sp)
            raise PilError(f"{name}: {exc} at pc 0x{pc:08X}") from exc
        if self.count_mode is not None:
            if self._n > self.max_instructions:   # the hook stopped a runaway
                uc.reg_write(A.UC_ARM_REG_SP, self.sp)
                raise PilError(f"{name} did not return within {self.max_instructions} instructions")
            self.last_count = self._n
        return int(uc.reg_read(A.UC_ARM_REG_R0)) if result else 0

    @staticmethod
    def _signed(v: int) -> int:
        return v - (1 << 32) if v & 0x80000000 else v

    def init(self, app_config: bytes) -> int:
        """Write an mf_app_config_t image (``actuators.core.App(...).config_bytes()``)
        and run mf_app_init; returns its code."""
        if len(app_config) != self.layout["sizeof_app_config"]:
            raise PilError(f"config image of {len(app_config)} bytes, the firmware's "
                           f"mf_app_config_t has {self.layout['sizeof_app_config']}")
        self.uc.mem_write(self.a_cfg, bytes(app_config))
        return self._signed(self.call("pil_init"))

    def isr(self, adc_i: Sequence[int], adc_vbus: int, enc_count: int, temp_motor_c: float,
            temp_fet_c: float) -> tuple[int, tuple[float, float, float], bool]:
        """One PWM period: (fault bits, duties, pwm_enable)."""
        self.uc.mem_write(self.a_io, _SENSE.pack(int(adc_i[0]), int(adc_i[1]), int(adc_i[2]),
                                                 int(adc_vbus), int(enc_count), temp_motor_c,
                                                 temp_fet_c))
        self.call("pil_isr", result=False)
        d0, d1, d2, en, faults = _PWM_FAULTS.unpack(self.uc.mem_read(self.a_io + 20, 20))
        return faults, (d0, d1, d2), en

    def tick(self, dt_s: float) -> None:
        self.call("pil_tick", f0=dt_s, result=False)

    def on_frame(self, can_id: int, data: bytes, fd: bool = False) -> int:
        """mf_app_on_frame: 0 accepted, 1 ignored, negative mf_err code."""
        data = bytes(data)
        if len(data) > 64:
            raise ValueError(f"a CAN frame carries at most 64 bytes, got {len(data)}")
        self.uc.mem_write(self.a_frame + 6, data)   # mf_app_frame_t: id u32, len u8, fd bool, data
        return self._signed(self.call("pil_on_frame", can_id, len(data), int(bool(fd))))

    def tx_pop(self) -> tuple[int, bytes, bool] | None:
        """The oldest queued frame as (can_id, data, fd), or None."""
        if not self.call("pil_tx_pop"):
            return None
        raw = bytes(self.uc.mem_read(self.a_frame, 6 + 64))
        can_id, n, fd = struct.unpack_from("<IB?", raw)
        return can_id, raw[6:6 + min(n, 64)], fd

    def command(self, mode: Union[int, str], **fields: float) -> int:
        """A command given straight to the controller (as mf_sim_command); returns its code."""
        m = MODES[mode] if isinstance(mode, str) else int(mode)
        unknown = set(fields) - set(CMD_FLOATS) - {"force_angle"}
        if unknown:
            raise TypeError(f"unknown command fields {sorted(unknown)}; known: {CMD_FLOATS}")
        self.uc.mem_write(self.a_cmd, _CMD.pack(m, int(bool(fields.get("force_angle", False))),
                                                *(float(fields.get(k, 0.0)) for k in CMD_FLOATS)))
        return self._signed(self.call("pil_command"))

    def clear_faults(self) -> int:
        return self.call("pil_clear_faults")

    def estop(self) -> None:
        self.call("pil_estop", result=False)

    # ---- state ----------------------------------------------------------------
    def _ctrl_bytes(self) -> bytes:
        return bytes(self.uc.mem_read(self.a_ctrl, self.layout["sizeof_ctrl"]))

    @property
    def state(self) -> int:
        """Heartbeat.node_state: 0 BOOT, 1 IDLE, 2 ARMED, 3 RUNNING, 4 FAULT."""
        return self.uc.mem_read(self.a_app + self.layout["off_app_state"], 1)[0]

    @property
    def faults(self) -> int:
        return struct.unpack("<I", self.uc.mem_read(self.a_ctrl + self.layout["off_faults"], 4))[0]

    def signals(self) -> dict[str, Any]:
        """The controller's last-period signals (names as actuators.core.App.signals)."""
        self.call("pil_refresh", result=False)
        b, lay = self._ctrl_bytes(), self.layout

        def f(name: str, k: int = 0) -> float:
            return struct.unpack_from("<f", b, lay["off_" + name] + 4 * k)[0]

        def u(name: str) -> int:
            return struct.unpack_from("<I", b, lay["off_" + name])[0]

        return {"i_abc": (f("i_abc"), f("i_abc", 1), f("i_abc", 2)), "i_d": f("i_d"),
                "i_q": f("i_q"), "i_d_ref": f("i_d_ref"), "i_q_ref": f("i_q_ref"), "v_d": f("v_d"),
                "v_q": f("v_q"), "v_bus": f("v_bus"), "theta_e": f("theta_e"),
                "theta_m": f("theta_m"), "omega_m": f("omega_m"), "p_out": f("p_out"),
                "v_out": f("v_out"), "tau_out_ref": f("tau_out_ref"),
                "tau_out_est": f("tau_out_est"), "faults": u("faults"),
                "first_fault": u("first_fault"), "derate": f("derate"),
                "mode": b[lay["off_active_mode"]], "commanded_mode": b[lay["off_cmd_mode"]],
                "duty": (f("pwm"), f("pwm", 1), f("pwm", 2)),
                "pwm_enable": bool(b[lay["off_pwm"] + 12]), "step_count": u("step_count")}


# ---- closed loop ------------------------------------------------------------
# core view (float32 in the firmware) and plant truth (float64), per period
CORE_FIELDS = ("i_d", "i_q", "i_d_ref", "i_q_ref", "v_d", "v_q", "theta_e", "omega_m_est",
               "p_out_est", "v_out_est", "tau_out_ref", "v_bus_est")
_CORE_OFFS = ("i_d", "i_q", "i_d_ref", "i_q_ref", "v_d", "v_q", "theta_e", "omega_m", "p_out",
              "v_out", "tau_out_ref", "v_bus")
PLANT_FIELDS = ("t_s", "omega_m", "theta_m", "tau_e", "tau_out", "temp_winding_c")
_PLANT_COLS = {"t_s": 0, "omega_m": 3, "theta_m": 4, "tau_e": 5, "tau_out": 6, "temp_winding_c": 9}


@dataclass(frozen=True)
class PilRecord:
    """One row per recorded period: the core's view (float32 arrays, the
    firmware's values), the applied duties, the plant's truth (float64),
    faults, mode, pwm_enable and, when counting, the ISR's instruction count."""

    core: dict[str, np.ndarray]
    duty: np.ndarray
    i_abc: np.ndarray
    plant: dict[str, np.ndarray]
    faults: np.ndarray
    mode: np.ndarray
    pwm_enable: np.ndarray
    instructions: np.ndarray


class PilActuator:
    """The firmware (``PilNode``) on the C plant, under the simulator's convention.

    ``PilActuator(ctrl_config, plant_params, seed=0, app=None, boot=True,
    count=None, elf=None)``: ``app`` the keyword arguments of
    ``actuators.core.App`` besides the config (default node 1, as
    ``SimActuator``); ``boot`` runs the first main-loop tick at once."""

    def __init__(self, ctrl_config: Any, plant_params: Any, seed: int = 0,
                 app: Mapping[str, Any] | None = None, boot: bool = True, count: str | None = None,
                 elf: Union[str, Path, ElfImage, None] = None) -> None:
        from actuators import core
        from actuators.plant import _plant
        self.ctrl_config = ctrl_config
        self.plant_params = plant_params
        self.node = PilNode(elf, count=count)
        app_cfg = core.App(ctrl_config, **dict(app or {"node_id": 1}))
        rc = self.node.init(app_cfg.config_bytes())
        if rc != 0:
            raise PilError(f"mf_app_init refused the config ({rc})")
        self.plant = _plant.PlantCore(plant_params.to_c(), seed)
        self.dt_s = float(ctrl_config.pwm_period_s)
        period = float(np.float32(ctrl_config.pwm_period_s))   # as mf_sim_node_init reads it
        self.tick_div = int(SIM_TICK_S / period + 0.5) if 0.0 < period < SIM_TICK_S else 1
        self.tick_count = 0
        self.steps = 0
        self._pending: tuple[tuple[float, float, float], bool] = ((0.0, 0.0, 0.0), False)
        if boot:
            self.node.tick(0.0)

    @classmethod
    def from_board(cls, board: Any, seed: int = 0, **kw: Any) -> "PilActuator":
        if isinstance(board, (str, Path)):
            from firmware_gen.board import load_board
            board = load_board(board)
        return cls(board.ctrl_config(), board.plant_params(), seed=seed, **kw)

    @property
    def t_s(self) -> float:
        return self.steps * self.dt_s

    @property
    def faults(self) -> int:
        return self.node.faults

    def command(self, mode: Union[int, str], **fields: float) -> None:
        rc = self.node.command(mode, **fields)
        if rc != 0:
            raise PilError(f"the firmware refused {mode} {fields} (code {rc})")

    def set_inputs(self, tau_ext_nm: float | None = None, v_bus_v: float | None = None) -> None:
        """Plant inputs: external load torque (N m), bus voltage (V)."""
        kw = {k: v for k, v in (("tau_ext_nm", tau_ext_nm), ("v_bus_v", v_bus_v)) if v is not None}
        if kw:
            self.plant.set_state(**kw)

    def step(self, n: int, record: bool = False) -> PilRecord | None:
        """n PWM periods: sense, ISR in the emulator, plant step, tick."""
        node, plant, dt = self.node, self.plant, self.dt_s
        counting = node.count_mode is not None
        rec_core = np.zeros((n, len(CORE_FIELDS)), np.float32) if record else None
        rec_duty = np.zeros((n, 3), np.float32) if record else None
        rec_iabc = np.zeros((n, 3)) if record else None
        rec_plant = np.zeros((n, len(PLANT_FIELDS))) if record else None
        rec_int = np.zeros((n, 3), np.int64) if record else None
        counts = np.zeros(n, np.int64) if counting else np.zeros(0, np.int64)
        duty = np.zeros((1, 3), np.float32)
        en = np.zeros(1, np.uint8)
        lay = node.layout
        offs = [lay["off_" + k] for k in _CORE_OFFS]
        for k in range(n):
            faults, fresh, fresh_en = node.isr(*plant.sense())
            if counting:
                counts[k] = node.last_count
            # new duties wait a period; an output switched off acts at once
            applied, applied_en = self._pending if (fresh_en and faults == 0) else (fresh, fresh_en)
            duty[0] = applied
            en[0] = applied_en
            done, fl, i_abc = plant.run_pwm(duty, en, dt, False)[:3]
            if done < 1:
                from actuators.plant import PlantDivergedError
                raise PlantDivergedError(self.steps, self.t_s + dt, plant.get_state())
            if record:
                node.call("pil_refresh", result=False)   # after the count: not part of the ISR
                b = node._ctrl_bytes()
                rec_core[k] = [struct.unpack_from("<f", b, o)[0] for o in offs]
                rec_duty[k] = applied
                rec_iabc[k] = i_abc[0]
                rec_plant[k] = [fl[0, _PLANT_COLS[f]] for f in PLANT_FIELDS]
                rec_int[k] = (faults, b[lay["off_active_mode"]], int(bool(applied_en)))
            self._pending = (fresh, fresh_en)
            self.steps += 1
            self.tick_count += 1
            if self.tick_count >= self.tick_div:
                node.tick(float(np.float32(self.tick_count * dt)))
                self.tick_count = 0
        if not record:
            return None
        return PilRecord(core={f: rec_core[:, j] for j, f in enumerate(CORE_FIELDS)},
                         duty=rec_duty, i_abc=rec_iabc,
                         plant={f: rec_plant[:, j] for j, f in enumerate(PLANT_FIELDS)},
                         faults=rec_int[:, 0], mode=rec_int[:, 1], pwm_enable=rec_int[:, 2].astype(bool),
                         instructions=counts)

    def run(self, duration_s: float, record: bool = True) -> PilRecord | None:
        return self.step(int(round(duration_s / self.dt_s)), record=record)

