"""Tune outputs: JSON (board-file key names), a board-file snippet, and a
self-contained HTML report (matplotlib figures embedded as PNG)."""
from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from actuators.tune.design import current_closed_loop
from actuators.tune.runner import TuneResult

__all__ = ["board_snippet", "write_outputs", "json_ready"]


def json_ready(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    if isinstance(x, dict):
        return {k: json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return json_ready(x.item())
    if isinstance(x, np.ndarray):
        return json_ready(x.tolist())
    return x


def _toml(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return str(int(v))
    return f"{float(v):.6g}"


def board_snippet(res: TuneResult, board: Any) -> str:
    """The identified values as board-file lines ([motor], [encoder], [control])."""
    i = res.identified
    lines = [f"# identified by myofoc tune for board {board.name}"]
    motor = [(k, i[k]) for k in ("r_ohm", "ld_h", "lq_h", "flux_wb", "pole_pairs", "j_kgm2", "b_nms_per_rad",
                                 "tau_coulomb_nm", "cog_n_per_rev", "cog_amp_nm", "cog_phase_rad") if k in i]
    if motor:
        lines.append("[motor]")
        if "j_total_motor_side_kgm2" in i or "b_total_motor_side_nms_per_rad" in i:
            lines.append("# j_kgm2, b_nms_per_rad: the rotor's own = measured motor-side totals "
                         f"(J {i.get('j_total_motor_side_kgm2', float('nan')):.6g} kg m^2, "
                         f"b {i.get('b_total_motor_side_nms_per_rad', float('nan')):.6g} N m s/rad) "
                         "less the [load] and [gearbox] share")
        if "cog_phase_rad" in i:
            lines.append("# cog_phase_rad: against the encoder's single-turn angle (this unit's mounting)")
        for k, v in motor:
            lines.append(f"{k} = {_toml(v)}")
    enc = []
    if "encoder_direction" in i:
        enc.append(("direction", i["encoder_direction"]))
    if "encoder_offset_e_rad" in i:
        enc.append(("offset_e_rad", round(i["encoder_offset_e_rad"], 5)))
    if enc:
        lines.append("[encoder]")
        lines += [f"{k} = {v}" for k, v in enc]
    if "velocity" in res.design:
        v = res.design["velocity"]
        lines.append("[control]")
        lines.append(f"vel_kp_nms_per_rad = {v['kp_nms_per_rad']:.6g}")
        lines.append(f"vel_ki_nm_per_rad = {v['ki_nm_per_rad']:.6g}")
    return "\n".join(lines) + "\n"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _figures(res: TuneResult, board: Any) -> list[tuple[str, str]]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    nominal = {"r_ohm": board.motor.r_ohm, "ld_h": board.motor.ld_h, "lq_h": board.motor.lq_h,
               "flux_wb": board.motor.flux_wb}
    keys = [k for k in nominal if k in res.identified]
    if keys:
        fig, ax = plt.subplots(figsize=(6, 3))
        ratio = [res.identified[k] / nominal[k] for k in keys]
        ax.bar(keys, ratio)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_ylabel("identified / board file")
        out.append(("Identified motor parameters relative to the board file", _png(fig)))
        plt.close(fig)
    for fit in res.fits:
        if fit["name"] == "inductance" and fit["ok"]:
            fig, ax = plt.subplots(figsize=(6, 3))
            for axn in ("d", "q"):
                pts = sorted((int(k.split("_")[-2]), v) for k, v in fit["values"].items()
                             if k.startswith(f"l{axn}_eq_pwm_"))
                w = [2 * math.pi / (d * board.pwm.period_s) for d, _ in pts]
                ax.plot([1 / x ** 2 for x in w], [v * 1e6 for _, v in pts], "o", label=f"L_{axn} apparent")
                lval, k = fit["values"][f"l{axn}_h"], fit["values"][f"k_motional_{axn}"]
                xs = np.linspace(0, max(1 / x ** 2 for x in w) * 1.1, 20)
                ax.plot(xs, (lval - k * xs) * 1e6, "-", lw=0.8)
            ax.set_xlabel("1 / w^2, s^2")
            ax.set_ylabel("uH")
            ax.legend()
            out.append(("Inductance fit L - k / w^2 (motional back-EMF on q)", _png(fig)))
            plt.close(fig)
    if res.sweep and "current_d" in res.design:
        d = res.design["current_d"]
        f = np.array(res.sweep["f_hz"])
        r = res.identified.get("r_ohm", board.motor.r_ohm)
        ld = res.identified.get("ld_h", board.motor.ld_h)
        cl = current_closed_loop(r, ld, board.pwm.period_s, d["kp_v_per_a"], d["ki_v_per_as"])
        ff = np.geomspace(f.min() / 2, f.max() * 1.2, 200)
        model = cl(np.exp(1j * 2 * np.pi * ff * board.pwm.period_s))
        fig, ax = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
        ax[0].semilogx(ff, 20 * np.log10(np.abs(model)), label="design (discrete model)")
        ax[0].semilogx(f, 20 * np.log10(res.sweep["mag"]), "o", label="measured (stepped sine)")
        ax[0].axhline(-3, color="k", lw=0.6, ls=":")
        ax[0].set_ylabel("|i / i_ref|, dB")
        ax[0].legend()
        ax[1].semilogx(ff, np.degrees(np.unwrap(np.angle(model))), label="design")
        ax[1].semilogx(f, res.sweep["phase_deg"], "o", label="measured")
        ax[1].set_ylabel("phase, deg")
        ax[1].set_xlabel("Hz")
        out.append(("Current loop (d): measured against the design", _png(fig)))
        plt.close(fig)
    from actuators.tune.report_mech import mech_figures
    return out + mech_figures(res, board, _png)


def write_outputs(out_dir: str | Path, res: TuneResult, board: Any, meta: dict[str, Any]) -> dict[str, Path]:
    """tune.json, board_snippet.toml and report.html in out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = json_ready({**res.as_json(), **meta})
    (out / "tune.json").write_text(json.dumps(doc, indent=2))
    snippet = board_snippet(res, board)
    (out / "board_snippet.toml").write_text(snippet)
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(_toml(v) if not isinstance(v, str) else v)}"
                   f"</td></tr>" for k, v in res.identified.items())
    gains = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.6g}</td></tr>" for k, v in res.gains.items())
    fits = "".join(f"<tr><td>{html.escape(f['name'])}</td><td>{'ok' if f['ok'] else 'POOR'}</td>"
                   f"<td>{html.escape(f['quality_name'])}</td><td>{f['quality']:.3g}</td>"
                   f"<td>{html.escape(f['note'])}</td></tr>" for f in res.fits)
    figs = "".join(f"<h3>{html.escape(t)}</h3><img src='data:image/png;base64,{p}'>" for t, p in _figures(res, board))
    ver = ""
    if res.verify:
        v = res.verify
        if "bandwidth_hz" in v:
            ver = (f"<p>Current-loop bandwidth: measured {v['bandwidth_hz']:.0f} Hz, designed "
                   f"{v['bandwidth_design_hz']:.0f} Hz ({100 * v['bandwidth_error']:+.1f} %), peak gain "
                   f"{v['peak_gain']:.3f}.</p>")
        if "velocity" in v:
            w = v["velocity"]
            ver += (f"<p>Velocity step: 10-90 % rise {1e3 * w['rise_s']:.2f} ms (design "
                    f"{1e3 * w['rise_design_s']:.2f} ms, {100 * w['rise_error']:+.1f} %), overshoot "
                    f"{100 * w['overshoot']:.1f} % (design {100 * w['overshoot_design']:.1f} %).</p>")
    des = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(', '.join(f'{a} {b:.4g}' for a, b in d.items()))}"
                  f"</td></tr>" for k, d in res.design.items())
    note = ("<p>Mechanics: every figure is motor side; <code>j_total_motor_side_kgm2</code> and "
            "<code>b_total_motor_side_nms_per_rad</code> are the rotor with the gearbox and the load as measured, "
            "<code>j_kgm2</code> and <code>b_nms_per_rad</code> the rotor's own (the totals less the board's "
            "[load] through the gearbox). Velocity gains are on the output side.</p>"
            if any(k.startswith(("j_", "b_")) for k in res.identified) else "")
    problems = "".join(f"<li>{html.escape(p)}</li>" for p in res.problems) or "<li>none</li>"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>myofoc tune {html.escape(board.name)}</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto}}td{{padding:2px 8px}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f3f3f3}}</style></head><body>
<h1>myofoc tune: {html.escape(board.name)}, node {meta.get('node')}</h1>
<p>Result: <b>{'OK' if res.ok else 'NOT OK'}</b>; gains written: {res.written}. Wall time {meta.get('wall_s', 0):.2f} s.</p>
<h2>Problems</h2><ul>{problems}</ul>
<h2>Identified (board-file keys)</h2><table>{rows}</table>{note}
<h2>Fits</h2><table><tr><th>stage</th><th></th><th>quality</th><th></th><th>note</th></tr>{fits}</table>
<h2>Design</h2><table>{des}</table><h2>Gains</h2><table>{gains}</table>
<h2>Verification</h2>{ver}
{figs}
<h2>Board-file snippet</h2><pre>{html.escape(snippet)}</pre>
</body></html>"""
    (out / "report.html").write_text(page)
    return {"json": out / "tune.json", "snippet": out / "board_snippet.toml", "report": out / "report.html"}
