"""Figures of a response: step metrics and frequency response.

``step_metrics``: rise time 10-90 % (linear interpolation between samples),
overshoot (fraction of the step), 2 % settling time, steady-state error
(|mean of the last 10 % of the record - target|). ``frequency_response``:
H(f) = S_yu / S_uu (Welch cross- and auto-spectra, ``scipy.signal.csd``),
magnitude, phase and coherence; ``bandwidth_hz``: the first frequency where
|H| falls 3 dB below its low-frequency value.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import signal

__all__ = ["bandwidth_hz", "frequency_response", "step_metrics"]


def _crossing(t: np.ndarray, frac: np.ndarray, level: float) -> float:
    k = int(np.argmax(frac >= level))
    if frac[k] < level:
        return math.nan
    if k == 0:
        return float(t[0])
    f0, f1 = frac[k - 1], frac[k]
    return float(t[k - 1] + (level - f0) / (f1 - f0) * (t[k] - t[k - 1]))


def step_metrics(t: np.ndarray, y: np.ndarray, y0: float, target: float, band: float = 0.02) -> dict[str, float]:
    """Step from y0 to target at t[0]: rise_s, overshoot (fraction), settling_s
    (last time outside +-band of the step, from t[0]; inf if still outside at
    the end), steady_state_error (|mean of the last 10 % of the samples -
    target|, target units)."""
    t = np.asarray(t, float) - float(t[0])
    y = np.asarray(y, float)
    span = target - y0
    if span == 0 or len(t) < 3:
        raise ValueError("a step needs a non-zero size and at least 3 samples")
    frac = (y - y0) / span
    rise = _crossing(t, frac, 0.9) - _crossing(t, frac, 0.1)
    outside = np.nonzero(np.abs(y - target) > band * abs(span))[0]
    settling = float(t[outside[-1] + 1]) if len(outside) and outside[-1] + 1 < len(t) else \
        (0.0 if not len(outside) else math.inf)
    tail = y[-max(1, len(y) // 10):]
    return {"rise_s": rise, "overshoot": float(max(0.0, frac.max() - 1.0)), "settling_s": settling,
            "steady_state_error": float(abs(np.mean(tail) - target))}


def frequency_response(u: np.ndarray, y: np.ndarray, fs_hz: float, nperseg: int | None = None) \
        -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(f_hz, H complex, coherence) of y over u sampled at fs_hz."""
    u = np.asarray(u, float) - np.mean(u)
    y = np.asarray(y, float) - np.mean(y)
    n = nperseg or min(len(u), 1024)
    f, s_uu = signal.welch(u, fs=fs_hz, nperseg=n)
    _, s_yu = signal.csd(u, y, fs=fs_hz, nperseg=n)
    _, coh = signal.coherence(u, y, fs=fs_hz, nperseg=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = s_yu / s_uu
    return f, h, coh


def bandwidth_hz(f_hz: np.ndarray, h: np.ndarray, f_lo_hz: float, f_hi_hz: float) -> float:
    """First frequency in [f_lo_hz, f_hi_hz] where |H| is 3 dB below its mean
    over the lowest quarter (log scale) of that band; inf if it never is."""
    m = (f_hz >= f_lo_hz) & (f_hz <= f_hi_hz) & np.isfinite(h)
    f, mag = f_hz[m], np.abs(h[m])
    if len(f) < 4:
        return math.nan
    ref = float(np.mean(mag[f <= f_lo_hz * (f_hi_hz / f_lo_hz) ** 0.25]))
    db = 20 * np.log10(mag / ref)
    below = np.nonzero(db <= -3.0)[0]
    if not len(below):
        return math.inf
    k = int(below[0])
    if k == 0:
        return float(f[0])
    # interpolate the -3 dB crossing in log frequency
    a, b = db[k - 1], db[k]
    x = (-3.0 - a) / (b - a)
    return float(f[k - 1] * (f[k] / f[k - 1]) ** x)
