"""Report figures of the mechanical stages (matplotlib, Agg): the inertia
pulses against their model, the speed decays with the friction fit, the
cogging map, the velocity step against the design."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

__all__ = ["mech_figures"]


def _decel_vs_speed(plot: dict[str, Any], j: float) -> tuple[np.ndarray, np.ndarray]:
    """Deceleration torque -J dw/dt against |w| from the decays (smoothed by a
    20-sample line fit), the friction the motor felt."""
    t, w, d = (np.asarray(plot[k], float) for k in ("t_s", "w_m_rad_s", "dir"))
    speeds, taus = [], []
    for sgn in (1.0, -1.0):
        m = d == sgn
        tt, ww = t[m], w[m]
        # the decays only: after the peak speed
        if not len(ww):
            continue
        k_peak = int(np.argmax(sgn * ww))
        tt, ww = tt[k_peak + 3:], ww[k_peak + 3:]
        for k in range(0, len(tt) - 20, 10):
            a = np.polyfit(tt[k:k + 20], ww[k:k + 20], 1)[0]
            speeds.append(abs(float(np.mean(ww[k:k + 20]))))
            taus.append(-sgn * j * a)
    return np.array(speeds), np.array(taus)


def mech_figures(res: Any, board: Any, png: Callable[[Any], str]) -> list[tuple[str, str]]:
    """(title, base64 PNG) for each mechanical fit in ``res.plots``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    pl = res.plots
    if "inertia" in pl:
        p = pl["inertia"]
        fig, ax = plt.subplots(figsize=(6, 3))
        k = np.arange(len(p["measured_m_rad_s"]))
        ax.plot(k, p["measured_m_rad_s"], "o", label="measured (on-chip mean)")
        ax.plot(k, p["model_m_rad_s"], "x", ms=9, label=f"model, J = {p['j']:.4g} kg m^2")
        ax.set_xlabel("pulse")
        ax.set_ylabel("mean motor speed, rad/s")
        ax.legend()
        out.append(("Inertia: sine torque pulses, mean speed against the fitted model (motor side)", png(fig)))
        plt.close(fig)
    if "friction" in pl and pl["friction"].get("j"):
        p = pl["friction"]
        speeds, taus = _decel_vs_speed(p, float(p["j"]))
        fig, ax = plt.subplots(1, 2, figsize=(9, 3))
        t, w, d = (np.asarray(p[k], float) for k in ("t_s", "w_m_rad_s", "dir"))
        for sgn in (1.0, -1.0):
            m = d == sgn
            ax[0].plot(t[m], w[m], ".", ms=2, label="+" if sgn > 0 else "-")
        ax[0].set_xlabel("s")
        ax[0].set_ylabel("motor speed, rad/s")
        ax[0].set_title("torque steps and decays")
        if len(speeds):
            ax[1].plot(speeds, taus, ".", ms=3, label="-J dw/dt (decays)")
            if p.get("b") is not None:
                ws = np.linspace(0, max(speeds), 50)
                ax[1].plot(ws, p["tau_c"] + p["b"] * ws, "-",
                           label=f"b w + tau_c: b {p['b']:.3g}, tau_c {p['tau_c']:.3g}")
            ax[1].set_xlabel("|w|, rad/s")
            ax[1].set_ylabel("friction torque, N m")
            ax[1].legend(fontsize=7)
        out.append(("Friction: speed decays and the fitted torque against speed (motor side)", png(fig)))
        plt.close(fig)
    if "cogging" in pl:
        p = pl["cogging"]
        n = int(p["n"])
        th = np.linspace(0, 2 * math.pi / n, 200)
        tau = sum(a * np.sin((k + 1) * n * th + ph) for k, (a, ph) in enumerate(zip(p["amp_nm"], p["phase_rad"])))
        fig, ax = plt.subplots(1, 2, figsize=(9, 3))
        ax[0].plot(th * 1e3, tau * 1e3)
        ax[0].set_xlabel("theta_y (encoder), mrad, one period")
        ax[0].set_ylabel("tau_cog, mN m")
        ks = np.arange(1, len(p["amp_nm"]) + 1)
        ax[1].bar(ks - 0.2, np.array(p["amp_nm"]) * 1e3, 0.4, label="identified")
        if p.get("board_amp_nm"):
            bk = np.arange(1, len(p["board_amp_nm"]) + 1)
            ax[1].bar(bk + 0.2, np.array(p["board_amp_nm"]) * 1e3, 0.4, label="board file")
        ax[1].set_xlabel("harmonic")
        ax[1].set_ylabel("amplitude, mN m")
        ax[1].legend()
        out.append((f"Cogging map ({n} periods per turn, motor side)", png(fig)))
        plt.close(fig)
    if "velocity_step" in pl:
        p = pl["velocity_step"]
        t = np.asarray(p["t_s"])
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot(t * 1e3, p["y"], ".", ms=3, label="measured (equivalent-time samples)")
        if "velocity_model" in pl:
            tm = np.asarray(pl["velocity_model"]["t_s"])
            keep = tm <= t.max() if len(t) else tm >= 0
            ax.step(tm[keep] * 1e3, np.asarray(pl["velocity_model"]["y"])[keep], where="post",
                    label="design (python-control, outer-rate samples)")
        ax.set_xlabel("ms")
        ax.set_ylabel("normalised speed")
        ax.legend()
        out.append(("Velocity loop: speed step against the design", png(fig)))
        plt.close(fig)
    return out
