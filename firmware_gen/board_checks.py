"""Board-file cross-checks: the rules that relate several keys (MCU part and
flash layout, PWM timer and loop rates, ADC range, encoder, PLL, gains,
limits, bus voltage, temperatures, plant parts, CAN bit timing, impedance
ranges), one function per entry of ``board_schema.CROSS_CHECKS`` (``CHECKS``
maps the names). Each returns the problems it finds, naming table, key and
the allowed range; ``board.board_from_dict`` runs them after the schema."""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Callable

from .board import SQRT3, Board, FlashLayout, FlashRegion
from .errors import Problem

__all__ = ["CHECKS"]

_G4_LINES = {  # line -> (category, RAM bytes)
    "31": (2, 32768), "41": (2, 32768),
    "71": (3, 131072), "73": (3, 131072), "74": (3, 131072), "83": (3, 131072), "84": (3, 131072),
}
_G4_FLASH = {"6": 32768, "8": 65536, "B": 131072, "C": 262144, "E": 524288}
_G4_FLASH_CODES = {2: "68B", 3: "BCE"}


def _check_mcu_part(b: Board) -> list[Problem]:
    m = b.mcu
    line, flash_code = m.part[7:9], m.part[10]
    cat, ram = _G4_LINES[line]
    out: list[Problem] = []
    if flash_code not in _G4_FLASH_CODES[cat]:
        out.append(Problem("mcu", "part", f"{m.part}: STM32G4{line} has no flash-size code "
                           f"{flash_code!r}", f"flash codes {', '.join(_G4_FLASH_CODES[cat])} "
                           f"for STM32G4{line}"))
        return out
    flash = _G4_FLASH[flash_code]
    if m.flash_bytes != flash:
        out.append(Problem("mcu", "flash_bytes", f"{m.flash_bytes} does not match {m.part}",
                           f"{flash} bytes"))
    if m.ram_bytes != ram:
        out.append(Problem("mcu", "ram_bytes", f"{m.ram_bytes} does not match {m.part}",
                           f"{ram} bytes"))
    if m.dual_bank and not (cat == 3 and flash == 524288):
        out.append(Problem("mcu", "dual_bank", f"true on {m.part} (category {cat}, "
                           f"{flash // 1024} KiB)", "true only on category 3 parts with 512 KiB"))
    page = 4096 if (cat == 3 and not m.dual_bank) else 2048
    if m.flash_page_bytes != page:
        mode = f"category {cat}" + ("" if cat == 2 else (", dual-bank" if m.dual_bank
                                                         else ", single-bank"))
        out.append(Problem("mcu", "flash_page_bytes", f"{m.flash_page_bytes} is not the page "
                           f"of {m.part} ({mode})", f"{page} bytes"))
    return out


def _check_flash_layout(b: Board) -> list[Problem]:
    m, lay = b.mcu, b.mcu.layout
    page = m.flash_page_bytes
    regions = {f.name: getattr(lay, f.name) for f in fields(FlashLayout)}
    out: list[Problem] = []
    for name, r in regions.items():
        t = f"mcu.layout.{name}"
        if r.offset_bytes % page:
            out.append(Problem(t, "offset_bytes", f"{r.offset_bytes} is not on a flash page "
                               f"boundary", f"a multiple of flash_page_bytes = {page}"))
        if r.size_bytes % page:
            out.append(Problem(t, "size_bytes", f"{r.size_bytes} is not a whole number of "
                               f"flash pages", f"a multiple of flash_page_bytes = {page}"))
        if r.end_bytes > m.flash_bytes:
            out.append(Problem(t, "size_bytes", f"the region ends at {r.end_bytes}, beyond the "
                               f"flash", f"offset_bytes + size_bytes <= flash_bytes = "
                               f"{m.flash_bytes}"))
    if lay.bootloader.offset_bytes != 0:
        out.append(Problem("mcu.layout.bootloader", "offset_bytes",
                           f"{lay.bootloader.offset_bytes}: the MCU boots from offset 0", "0"))
    names = list(regions)
    for i, a in enumerate(names):
        for bname in names[i + 1:]:
            ra, rb = regions[a], regions[bname]
            if ra.offset_bytes < rb.end_bytes and rb.offset_bytes < ra.end_bytes:
                out.append(Problem(f"mcu.layout.{bname}", "offset_bytes",
                                   f"[{rb.offset_bytes}, {rb.end_bytes}) overlaps {a} "
                                   f"[{ra.offset_bytes}, {ra.end_bytes})",
                                   "regions that do not overlap"))
    if lay.slot_a.size_bytes != lay.slot_b.size_bytes:
        out.append(Problem("mcu.layout.slot_b", "size_bytes", f"{lay.slot_b.size_bytes} differs "
                           f"from slot_a size_bytes {lay.slot_a.size_bytes}",
                           f"{lay.slot_a.size_bytes} (equal slots)"))
    if m.dual_bank:
        half = m.flash_bytes // 2

        def bank(r: FlashRegion) -> int | None:
            first, last = r.offset_bytes // half, (r.end_bytes - 1) // half
            return first if first == last else None

        ba, bb = bank(lay.slot_a), bank(lay.slot_b)
        for name, r, bk in (("slot_a", lay.slot_a, ba), ("slot_b", lay.slot_b, bb)):
            if bk is None:
                out.append(Problem(f"mcu.layout.{name}", "offset_bytes", f"[{r.offset_bytes}, "
                                   f"{r.end_bytes}) spans both flash banks",
                                   f"inside [0, {half}) or [{half}, {m.flash_bytes})"))
        if ba is not None and ba == bb:
            out.append(Problem("mcu.layout.slot_b", "offset_bytes", f"slot_b is in bank "
                               f"{bb + 1} like slot_a", "the other bank than slot_a "
                               "(read-while-write updates)"))
    return out


def _check_pwm_timer(b: Board) -> list[Problem]:
    ticks = b.mcu.clock_hz / (2.0 * b.pwm.pwm_hz)
    if abs(ticks - round(ticks)) > 1e-6 or not 1 <= round(ticks) <= 65535:
        return [Problem("pwm", "pwm_hz", f"{b.pwm.pwm_hz:g} Hz gives a timer period of "
                        f"clock_hz / (2 pwm_hz) = {ticks:.6g} ticks",
                        f"clock_hz / (2 pwm_hz) a whole number in [1, 65535] "
                        f"(clock_hz = {b.mcu.clock_hz})")]
    return []


def _check_outer_rate(b: Board) -> list[Problem]:
    hz = b.pwm.outer_hz
    if not 1000.0 <= hz <= 10000.0:
        lo, hi = math.ceil(b.pwm.pwm_hz / 10000.0), math.floor(b.pwm.pwm_hz / 1000.0)
        return [Problem("pwm", "outer_div", f"{b.pwm.outer_div} gives an outer loop of "
                        f"pwm_hz / outer_div = {hz:g} Hz", f"1000 .. 10000 Hz, i.e. outer_div "
                        f"in [{lo}, {hi}] at pwm_hz = {b.pwm.pwm_hz:g}")]
    return []


def _check_dead_time(b: Board) -> list[Problem]:
    limit = 0.05 * b.pwm.period_s
    if not b.pwm.dead_time_s < limit:
        return [Problem("pwm", "dead_time_s", f"{b.pwm.dead_time_s:g} s is not below 5 % of "
                        f"the PWM period", f"[0, {limit:g}) s at pwm_hz = {b.pwm.pwm_hz:g}")]
    return []


def _check_adc_range(b: Board) -> list[Problem]:
    a, p = b.adc, b.protect
    full = 2 ** a.bits - 1
    out: list[Problem] = []
    if a.i_offset_counts > full:
        return [Problem("adc", "i_offset_counts", f"{a.i_offset_counts:g} is beyond the ADC",
                        f"[0, {full}] counts at {a.bits} bits")]
    span = min(a.i_offset_counts, full - a.i_offset_counts) * a.i_a_per_count
    if span < p.i_max_a:
        need = p.i_max_a / min(a.i_offset_counts, full - a.i_offset_counts) \
            if min(a.i_offset_counts, full - a.i_offset_counts) > 0 else math.inf
        out.append(Problem("adc", "i_a_per_count", f"{a.i_a_per_count:g} spans only "
                           f"+-{span:.4g} A around i_offset_counts = {a.i_offset_counts:g}, "
                           f"less than [protect] i_max_a = {p.i_max_a:g} A",
                           f">= {need:.4g} A/count"))
    if full * a.vbus_v_per_count < p.v_bus_max_v:
        out.append(Problem("adc", "vbus_v_per_count", f"{a.vbus_v_per_count:g} gives a full "
                           f"scale of {full * a.vbus_v_per_count:.4g} V, below [protect] "
                           f"v_bus_max_v = {p.v_bus_max_v:g} V",
                           f">= {p.v_bus_max_v / full:.4g} V/count"))
    return out


def _check_encoder(b: Board) -> list[Problem]:
    e, p = b.encoder, b.protect
    out: list[Problem] = []
    if e.counts_per_rev * b.motor.pole_pairs >= 2 ** 32:
        out.append(Problem("encoder", "counts_per_rev", f"{e.counts_per_rev} * pole_pairs "
                           f"{b.motor.pole_pairs} is not below 2^32",
                           f"< {2 ** 32 // b.motor.pole_pairs}"))
    if e.interface == "abz" and e.counts_per_rev % 4:
        out.append(Problem("encoder", "counts_per_rev", f"{e.counts_per_rev} with interface "
                           f"abz", "a multiple of 4 (4 counts per line)"))
    per_step = (b.omega_m_no_load_rad_s(p.v_bus_max_v) * e.counts_per_rev
                / (2.0 * math.pi * b.pwm.pwm_hz))
    half = e.counts_per_rev // 2
    if not per_step < p.enc_jump_counts < half:
        out.append(Problem("protect", "enc_jump_counts", f"{p.enc_jump_counts} (the no-load "
                           f"speed at v_bus_max_v moves {per_step:.3g} counts per PWM period)",
                           f"({per_step:.3g}, {half}) counts"))
    if b.latency_steps > 4.0:
        out.append(Problem("encoder", "latency_s", f"{e.latency_s:g} s makes "
                           f"pwm_latency_steps + latency_s pwm_hz = {b.latency_steps:.3g} periods",
                           f"<= {(4.0 - b.control.pwm_latency_steps) / b.pwm.pwm_hz:.3g} s"))
    return out


def _check_pll_bandwidth(b: Board) -> list[Problem]:
    wdt = 2.0 * math.pi * b.encoder.pll_bandwidth_hz / b.pwm.pwm_hz
    if wdt > 0.5:
        return [Problem("encoder", "pll_bandwidth_hz", f"{b.encoder.pll_bandwidth_hz:g} Hz "
                        f"gives w_b dt = {wdt:.3g} at pwm_hz = {b.pwm.pwm_hz:g}",
                        f"<= {0.5 * b.pwm.pwm_hz / (2.0 * math.pi):.4g} Hz (w_b dt <= 0.5)")]
    return []


def _check_current_gains(b: Board) -> list[Problem]:
    c = b.control
    gains = {"kp_d_v_per_a": c.kp_d_v_per_a, "ki_d_v_per_as": c.ki_d_v_per_as,
             "kp_q_v_per_a": c.kp_q_v_per_a, "ki_q_v_per_as": c.ki_q_v_per_as}
    given = [k for k, v in gains.items() if v is not None]
    allowed = "current_bandwidth_hz alone, or all of " + ", ".join(gains)
    if c.current_bandwidth_hz is not None:
        if given:
            return [Problem("control", given[0], "given together with current_bandwidth_hz",
                            allowed)]
        if c.current_bandwidth_hz > b.pwm.pwm_hz / 10.0:
            return [Problem("control", "current_bandwidth_hz", f"{c.current_bandwidth_hz:g} Hz "
                            f"is above pwm_hz / 10", f"<= {b.pwm.pwm_hz / 10.0:g} Hz")]
        return []
    missing = [k for k in gains if k not in given]
    if missing:
        return [Problem("control", missing[0] if given else "current_bandwidth_hz",
                        "missing (no current_bandwidth_hz to design the gains)", allowed)]
    return []


def _check_limits(b: Board) -> list[Problem]:
    lim, p, m, g = b.limits, b.protect, b.motor, b.gearbox
    out: list[Problem] = []
    if lim.i_limit_a > p.i_max_a:
        out.append(Problem("limits", "i_limit_a", f"{lim.i_limit_a:g} A is above [protect] "
                           f"i_max_a = {p.i_max_a:g} A", f"<= {p.i_max_a:g} A"))
    if p.i_cont_a > p.i_max_a:
        out.append(Problem("protect", "i_cont_a", f"{p.i_cont_a:g} A is above i_max_a = "
                           f"{p.i_max_a:g} A", f"<= {p.i_max_a:g} A"))
    v_max = b.control.v_max_frac * b.inverter.v_bus_v / SQRT3
    if m.r_ohm * lim.i_limit_a > v_max:
        out.append(Problem("motor", "r_ohm", f"{m.r_ohm:g} ohm needs r_ohm i_limit_a = "
                           f"{m.r_ohm * lim.i_limit_a:.4g} V at standstill, more than the "
                           f"inverter's {v_max:.4g} V at v_bus_v = {b.inverter.v_bus_v:g} V",
                           f"<= {v_max / lim.i_limit_a:.4g} ohm with i_limit_a = "
                           f"{lim.i_limit_a:g} A"))
    tau_reach = m.kt_nm_a * g.ratio * lim.i_limit_a
    if lim.tau_out_max_nm > tau_reach:
        out.append(Problem("limits", "tau_out_max_nm", f"{lim.tau_out_max_nm:g} N m is more "
                           f"than the motor makes at i_limit_a (1.5 p flux_wb ratio i_limit_a = "
                           f"{tau_reach:.4g} N m)", f"<= {tau_reach:.4g} N m"))
    v_reach = b.omega_m_no_load_rad_s() / g.ratio
    if lim.v_out_max_rad_s > v_reach:
        out.append(Problem("limits", "v_out_max_rad_s", f"{lim.v_out_max_rad_s:g} rad/s is above "
                           f"the no-load output speed at v_bus_v = {b.inverter.v_bus_v:g} V",
                           f"<= {v_reach:.4g} rad/s"))
    if not lim.p_out_min_rad < lim.p_out_max_rad:
        out.append(Problem("limits", "p_out_max_rad", f"{lim.p_out_max_rad:g} is not above "
                           f"p_out_min_rad = {lim.p_out_min_rad:g}",
                           f"> {lim.p_out_min_rad:g} rad"))
    return out


def _check_bus_voltage(b: Board) -> list[Problem]:
    p, v = b.protect, b.inverter.v_bus_v
    if not p.v_bus_min_v < p.v_bus_max_v:
        return [Problem("protect", "v_bus_min_v", f"{p.v_bus_min_v:g} V is not below "
                        f"v_bus_max_v = {p.v_bus_max_v:g} V", f"< {p.v_bus_max_v:g} V")]
    if not p.v_bus_min_v < v < p.v_bus_max_v:
        return [Problem("inverter", "v_bus_v", f"{v:g} V is outside the protection window",
                        f"({p.v_bus_min_v:g}, {p.v_bus_max_v:g}) V ([protect] v_bus_min_v, "
                        f"v_bus_max_v)")]
    return []


def _check_temperatures(b: Board) -> list[Problem]:
    p, amb = b.protect, b.thermal.temp_ambient_c
    out: list[Problem] = []
    if not p.temp_derate_c < p.temp_max_c:
        out.append(Problem("protect", "temp_derate_c", f"{p.temp_derate_c:g} degC is not below "
                           f"temp_max_c = {p.temp_max_c:g} degC", f"< {p.temp_max_c:g} degC"))
    if not amb < p.temp_derate_c:
        out.append(Problem("thermal", "temp_ambient_c", f"{amb:g} degC is not below [protect] "
                           f"temp_derate_c = {p.temp_derate_c:g} degC",
                           f"< {p.temp_derate_c:g} degC"))
    if not p.temp_hyst_c < p.temp_max_c - amb:
        out.append(Problem("protect", "temp_hyst_c", f"{p.temp_hyst_c:g} K: a fault could not "
                           f"clear at ambient {amb:g} degC", f"< {p.temp_max_c - amb:g} K"))
    return out


def _check_plant_parts(b: Board) -> list[Problem]:
    m = b.motor
    out: list[Problem] = []
    if m.cog_phase_rad and len(m.cog_phase_rad) != len(m.cog_amp_nm):
        out.append(Problem("motor", "cog_phase_rad", f"{len(m.cog_phase_rad)} phases for "
                           f"{len(m.cog_amp_nm)} amplitudes",
                           f"an empty array or {len(m.cog_amp_nm)} values"))
    if any(a > 0.0 for a in m.cog_amp_nm) and m.cog_n_per_rev < 1:
        out.append(Problem("motor", "cog_n_per_rev", "0 with cogging amplitudes given",
                           ">= 1 when cog_amp_nm is not all zero"))
    if b.gearbox.backlash_rad > 0.0 and b.tendon is None:
        out.append(Problem("gearbox", "backlash_rad", f"{b.gearbox.backlash_rad:g} rad without "
                           "a [tendon] (the dead band acts in the tendon's deflection)",
                           "0 without a [tendon]"))
    if b.tendon is not None and not b.load.j_kgm2 > 0.0:
        out.append(Problem("load", "j_kgm2", f"{b.load.j_kgm2:g} with a [tendon]",
                           "(0, 100] kg m^2 with a [tendon]"))
    return out


def _bit_timing_ok(clock_hz: int, bitrate: int, max_prescaler: int, max_tq: int) -> bool:
    if clock_hz % bitrate:
        return False
    total = clock_hz // bitrate   # prescaler * n_tq
    return any(total % pre == 0 and 8 <= total // pre <= max_tq
               for pre in range(1, max_prescaler + 1))


def _check_can_bus(b: Board) -> list[Problem]:
    c, clk = b.can, b.mcu.clock_hz
    out: list[Problem] = []
    if c.fd and c.data_bitrate_bps is None:
        out.append(Problem("can", "data_bitrate_bps", "missing with fd = true",
                           "one of 1000000, 2000000, 4000000, 5000000, 8000000 with fd"))
    if not c.fd and c.data_bitrate_bps is not None:
        out.append(Problem("can", "data_bitrate_bps", f"{c.data_bitrate_bps} given with "
                           "fd = false", "only with fd = true"))
    if not _bit_timing_ok(clk, c.bitrate_bps, 512, 385):
        out.append(Problem("can", "bitrate_bps", f"{c.bitrate_bps} cannot be timed from "
                           f"clock_hz = {clk}", "clock_hz / (prescaler <= 512 * n_tq in "
                           "[8, 385])"))
    if c.fd and c.data_bitrate_bps is not None:
        if c.data_bitrate_bps < c.bitrate_bps:
            out.append(Problem("can", "data_bitrate_bps", f"{c.data_bitrate_bps} is below "
                               f"bitrate_bps = {c.bitrate_bps}", f">= {c.bitrate_bps}"))
        elif not _bit_timing_ok(clk, c.data_bitrate_bps, 32, 49):
            out.append(Problem("can", "data_bitrate_bps", f"{c.data_bitrate_bps} cannot be "
                               f"timed from clock_hz = {clk}", "clock_hz / (prescaler <= 32 * "
                               "n_tq in [8, 49])"))
    if c.node_id_min > c.node_id_max:
        out.append(Problem("can", "node_id_max", f"{c.node_id_max} is below node_id_min = "
                           f"{c.node_id_min}", f"[{c.node_id_min}, 127]"))
    return out


def _check_impedance_ranges(b: Board) -> list[Problem]:
    r, lim = b.can.impedance_ranges, b.limits
    t = "can.impedance_ranges"
    out: list[Problem] = []
    for lo, hi in (("p_min_rad", "p_max_rad"), ("v_min_rad_s", "v_max_rad_s"),
                   ("tau_min_nm", "tau_max_nm")):
        if not getattr(r, lo) < getattr(r, hi):
            out.append(Problem(t, hi, f"{getattr(r, hi):g} is not above {lo} = "
                               f"{getattr(r, lo):g}", f"> {getattr(r, lo):g}"))
    tmax = lim.tau_out_max_nm
    if r.tau_max_nm > tmax:
        out.append(Problem(t, "tau_max_nm", f"{r.tau_max_nm:g} N m is beyond [limits] "
                           f"tau_out_max_nm = {tmax:g}", f"<= {tmax:g} N m"))
    if r.tau_min_nm < -tmax:
        out.append(Problem(t, "tau_min_nm", f"{r.tau_min_nm:g} N m is beyond [limits] "
                           f"-tau_out_max_nm = {-tmax:g}", f">= {-tmax:g} N m"))
    if r.p_min_rad > lim.p_out_min_rad:
        out.append(Problem(t, "p_min_rad", f"{r.p_min_rad:g} rad does not cover [limits] "
                           f"p_out_min_rad = {lim.p_out_min_rad:g}",
                           f"<= {lim.p_out_min_rad:g} rad"))
    if r.p_max_rad < lim.p_out_max_rad:
        out.append(Problem(t, "p_max_rad", f"{r.p_max_rad:g} rad does not cover [limits] "
                           f"p_out_max_rad = {lim.p_out_max_rad:g}",
                           f">= {lim.p_out_max_rad:g} rad"))
    vmax = lim.v_out_max_rad_s
    if r.v_min_rad_s > -vmax:
        out.append(Problem(t, "v_min_rad_s", f"{r.v_min_rad_s:g} rad/s does not cover [limits] "
                           f"-v_out_max_rad_s = {-vmax:g}", f"<= {-vmax:g} rad/s"))
    if r.v_max_rad_s < vmax:
        out.append(Problem(t, "v_max_rad_s", f"{r.v_max_rad_s:g} rad/s does not cover [limits] "
                           f"v_out_max_rad_s = {vmax:g}", f">= {vmax:g} rad/s"))
    return out


CHECKS: dict[str, Callable[[Board], list[Problem]]] = {
    "mcu_part": _check_mcu_part,
    "flash_layout": _check_flash_layout,
    "pwm_timer": _check_pwm_timer,
    "outer_rate": _check_outer_rate,
    "dead_time": _check_dead_time,
    "adc_range": _check_adc_range,
    "encoder": _check_encoder,
    "pll_bandwidth": _check_pll_bandwidth,
    "current_gains": _check_current_gains,
    "limits": _check_limits,
    "bus_voltage": _check_bus_voltage,
    "temperatures": _check_temperatures,
    "plant_parts": _check_plant_parts,
    "can_bus": _check_can_bus,
    "impedance_ranges": _check_impedance_ranges,
}
