"""STM32G4 register values derived from a board: PLL, flash wait states, TIM1
period and dead time, FDCAN bit timings (RM0440). Pure integer arithmetic;
each function raises ``ValueError`` naming the quantity when the hardware
cannot do what is asked."""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["BitTiming", "PllConfig", "dead_time_dtg", "fdcan_bit_timing", "flash_latency",
           "pll_config", "pwm_period_ticks", "HSI16_HZ"]

HSI16_HZ = 16_000_000


@dataclass(frozen=True)
class PllConfig:
    """Main PLL: f_sys = f_src / m * n / r (RM0440 7.4.4, PLLCFGR)."""

    src_hz: int
    m: int          # 1..16
    n: int          # 8..127
    r: int          # 2, 4, 6, 8
    vco_hz: int


def pll_config(src_hz: int, sysclk_hz: int) -> PllConfig:
    """PLL settings giving exactly ``sysclk_hz`` from ``src_hz`` (VCO input
    2.66..16 MHz, VCO output 96..344 MHz, R in {2, 4, 6, 8}); the smallest M
    (least jitter), then the smallest R."""
    for m in range(1, 17):
        if not 2_660_000 <= src_hz / m <= 16_000_000:
            continue
        for r in (2, 4, 6, 8):
            num = sysclk_hz * m * r
            if num % src_hz:
                continue
            n = num // src_hz
            vco = src_hz * n // m
            if 8 <= n <= 127 and 96_000_000 <= vco <= 344_000_000:
                return PllConfig(src_hz=src_hz, m=m, n=n, r=r, vco_hz=vco)
    raise ValueError(f"clock_hz {sysclk_hz}: no PLL setting (M 1-16, N 8-127, R 2/4/6/8) "
                     f"reaches it exactly from a {src_hz} Hz source")


def flash_latency(sysclk_hz: int) -> tuple[int, bool]:
    """(wait states, boost mode) for HCLK = ``sysclk_hz`` in voltage range 1
    (RM0440 table 29: boost above 150 MHz, 34 MHz per wait state; normal 30 MHz)."""
    boost = sysclk_hz > 150_000_000
    step = 34_000_000 if boost else 30_000_000
    ws = max(0, math.ceil(sysclk_hz / step) - 1)
    if ws > 15:
        raise ValueError(f"clock_hz {sysclk_hz}: above the STM32G4's 170 MHz")
    return ws, boost


def pwm_period_ticks(clock_hz: int, pwm_hz: float) -> int:
    """TIM1 ARR for centre-aligned PWM at ``pwm_hz``: clock / (2 pwm_hz), a
    whole number <= 65535 (the board's pwm_timer cross-check)."""
    ticks = clock_hz / (2.0 * pwm_hz)
    n = round(ticks)
    if abs(ticks - n) > 1e-6 * ticks or not 2 <= n <= 65535:
        raise ValueError(f"pwm_hz {pwm_hz}: clock_hz / (2 pwm_hz) = {ticks} is not a whole "
                         "number of timer ticks in 2..65535")
    return n


def dead_time_dtg(clock_hz: int, dead_time_s: float) -> tuple[int, float]:
    """TIM1 BDTR.DTG for at least ``dead_time_s`` with t_DTS = 1 / clock_hz
    (CKD = 0), RM0440 28.6.20: returns (DTG, programmed dead time in s)."""
    t = 1.0 / clock_hz
    ticks = max(0, math.ceil(dead_time_s * clock_hz - 1e-9))
    if ticks <= 127:
        return ticks, ticks * t
    for prefix, base, mult, width in ((0x80, 64, 2, 6), (0xC0, 32, 8, 5), (0xE0, 32, 16, 5)):
        k = max(0, math.ceil(ticks / mult) - base)
        if k < (1 << width):
            return prefix | k, (base + k) * mult * t
    raise ValueError(f"dead_time_s {dead_time_s}: above the timer's longest dead time "
                     f"{(32 + 31) * 16 * t:.3g} s at {clock_hz} Hz")


@dataclass(frozen=True)
class BitTiming:
    """One FDCAN bit timing (actual values, the registers hold value - 1):
    bit time = prescaler (1 + tseg1 + tseg2) / f_kernel."""

    prescaler: int
    tseg1: int        # propagation + phase segment 1, time quanta
    tseg2: int        # phase segment 2, time quanta
    sjw: int          # resynchronisation jump width, time quanta
    tdco: int         # transmitter delay compensation offset, kernel clocks (data phase)
    tdc: bool = False  # transmitter delay compensation on (data phase)

    @property
    def n_tq(self) -> int:
        return 1 + self.tseg1 + self.tseg2

    @property
    def sample_point(self) -> float:
        return (1 + self.tseg1) / self.n_tq

    def bitrate_bps(self, clock_hz: int) -> float:
        return clock_hz / (self.prescaler * self.n_tq)


_NOMINAL = dict(presc=512, tseg1=256, tseg2=128, sjw=128)
_DATA = dict(presc=32, tseg1=32, tseg2=16, sjw=16)


def fdcan_bit_timing(clock_hz: int, bitrate_bps: int, *, data: bool = False,
                     sample_point: float | None = None) -> BitTiming:
    """FDCAN NBTP (nominal) or DBTP (``data=True``) timing for exactly
    ``bitrate_bps`` from the kernel clock: the smallest prescaler (most time
    quanta, >= 8) whose segments fit the register fields, sample point nearest
    ``sample_point`` (default 80 % nominal, 75 % data, the CiA 601-3
    recommendations), SJW = tseg2. For the data phase the transmitter delay
    compensation offset is the sample point in kernel clocks (<= 127; when it
    would be larger the compensation is left off, allowed up to 1 Mbit/s)."""
    lim = _DATA if data else _NOMINAL
    sp = sample_point if sample_point is not None else (0.75 if data else 0.8)
    what = "data_bitrate_bps" if data else "bitrate_bps"
    for presc in range(1, lim["presc"] + 1):
        if clock_hz % (presc * bitrate_bps):
            continue
        n_tq = clock_hz // (presc * bitrate_bps)
        if n_tq < 8 or n_tq > 1 + lim["tseg1"] + lim["tseg2"]:
            continue
        tseg2 = min(lim["tseg2"], max(1, round(n_tq * (1.0 - sp))))
        tseg1 = n_tq - 1 - tseg2
        if tseg1 > lim["tseg1"]:
            tseg1 = lim["tseg1"]
            tseg2 = n_tq - 1 - tseg1
            if tseg2 > lim["tseg2"]:
                continue
        if tseg1 < (1 if data else 2):
            continue
        tdco = presc * (1 + tseg1) if data else 0
        if tdco > 127:
            if bitrate_bps > 1_000_000:
                continue     # TDC needed above 1 Mbit/s and its offset field is 7 bits
            tdco = 0         # slow data phase: no compensation needed
        return BitTiming(prescaler=presc, tseg1=tseg1, tseg2=tseg2,
                         sjw=min(tseg2, lim["sjw"]), tdco=tdco, tdc=tdco > 0)
    raise ValueError(f"{what} {bitrate_bps}: not reachable from {clock_hz} Hz as "
                     f"clock / (prescaler n_tq) with prescaler <= {lim['presc']}, "
                     f"8 <= n_tq <= {1 + lim['tseg1'] + lim['tseg2']}")
