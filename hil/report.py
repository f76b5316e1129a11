"""The campaign report: one self-contained ``report.html`` (summary table,
one PNG per scenario embedded as base64, limits drawn; Bode plots for
chirps; no network) and ``junit.xml`` (one testcase per check)."""
from __future__ import annotations

import base64
import html
import io
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from hil.runner import ScenarioResult
from hil.scenario import Campaign

__all__ = ["status", "write_html", "write_junit"]


def _png(fig) -> str:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plot(r: ScenarioResult) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not r.signals:
        return []
    out = []
    t = (r.signals["t_s"] - r.t_step_s) * 1e3
    fig, ax = plt.subplots(figsize=(7, 3.4), dpi=90)
    ax.plot(t, r.signals["ref"], "k--", lw=1, label="command")
    ax.plot(t, r.signals["y"], "C0", lw=1.2, label=r.y_name)
    lim = r.scenario.limits
    ref_final = float(r.signals["ref"][-1])
    ref0 = float(r.signals["ref"][0])
    span = ref_final - ref0
    if "overshoot_max" in lim and span:
        ax.axhline(ref_final + lim["overshoot_max"] * span, color="C3", ls=":", lw=1, label="overshoot limit")
    if "settling_s_max" in lim:
        ax.axvline(lim["settling_s_max"] * 1e3, color="C2", ls=":", lw=1, label="settling limit")
        if span:
            ax.axhspan(ref_final - 0.02 * abs(span), ref_final + 0.02 * abs(span), color="C2", alpha=0.12)
    if "rise_s_max" in lim:
        ax.axvline(lim["rise_s_max"] * 1e3, color="C1", ls=":", lw=1, label="rise-time limit (from step)")
    if "reaction_s_max" in lim:
        # the fault bit is due t_expected_s after the step / injection
        t_cause = r.figures.get("t_expected_s", math.nan)
        if math.isfinite(t_cause):
            ax.axvline((lim["reaction_s_max"] + t_cause) * 1e3, color="C3", ls=":", lw=1,
                       label="reaction limit")
    ax.set_xlabel("time from the step / last command (ms)")
    ax.set_title(f"{r.scenario.name}: {'PASS' if r.passed else 'FAIL'}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out.append(_png(fig))
    plt.close(fig)
    if r.bode:
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 4.6), dpi=90, sharex=True)
        f = r.bode["f_hz"]
        a1.semilogx(f, r.bode["mag_db"], "C0")
        a1.axhline(float(np.mean(r.bode["mag_db"][: max(1, len(f) // 8)])) - 3.0, color="k", ls=":", lw=1,
                   label="-3 dB")
        if "bandwidth_hz_min" in lim:
            a1.axvline(lim["bandwidth_hz_min"], color="C3", ls=":", lw=1, label="bandwidth limit")
        bw = r.figures.get("bandwidth_hz", math.nan)
        if math.isfinite(bw):
            a1.axvline(bw, color="C2", lw=1, label=f"bandwidth {bw:.4g} Hz")
        a1.set_ylabel("|H| (dB)")
        a1.legend(fontsize=7)
        a1.grid(True, which="both", alpha=0.3)
        a2.semilogx(f, r.bode["phase_deg"], "C0")
        a2.set_ylabel("phase (deg)")
        a2.set_xlabel("frequency (Hz)")
        a2.grid(True, which="both", alpha=0.3)
        a1.set_title(f"{r.scenario.name}: Bode (S_yu / S_uu)")
        fig.tight_layout()
        out.append(_png(fig))
        plt.close(fig)
    return out


def status(r: ScenarioResult) -> str:
    """PASS, FAIL, ERROR (did not complete) or SKIP (the target cannot run it)."""
    if r.skipped:
        return "SKIP"
    if r.error:
        return "ERROR"
    return "PASS" if r.passed else "FAIL"


def _fmt(x: float) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def write_html(path: Path, campaign: Campaign, results: list[ScenarioResult], *, target: str,
               firmware_version: str) -> None:
    e = html.escape
    n_fail = sum(not r.passed for r in results)
    n_skip = sum(bool(r.skipped) for r in results)
    rows, sections = [], []
    for r in results:
        checks = "<br>".join(f"{e(c.name)} {_fmt(c.value)} {'&le;' if c.bound == 'max' else '&ge;'} "
                             f"{_fmt(c.limit)} {'ok' if c.passed else 'FAIL'}" for c in r.checks)
        if r.error:
            checks = f"error: {e(r.error)}"
        if r.skipped:
            checks = f"skipped: {e(r.skipped)}"
        cls = "pass" if r.passed else "fail"
        rows.append(f'<tr class="{cls}"><td>{r.scenario.index}</td><td><a href="#s{r.scenario.index}">'
                    f'{e(r.scenario.name)}</a></td><td>{e(r.scenario.kind)}</td>'
                    f'<td>{status(r)}</td><td>{checks}</td></tr>')
        figs = ", ".join(f"{e(k)} = {_fmt(v)}" for k, v in r.figures.items())
        notes = "".join(f"<li>{e(n)}</li>" for n in r.notes)
        imgs = "".join(f'<img alt="{e(r.scenario.name)}" src="{src}">' for src in _plot(r))
        why = f"<p>{e(r.error or r.skipped or '')}</p>" if (r.error or r.skipped) else ""
        sections.append(f'<section id="s{r.scenario.index}"><h2>{r.scenario.index}. {e(r.scenario.name)} '
                        f'<span class="{cls}">{status(r)}</span></h2>{why}'
                        f'<p>{figs}</p>{"<ul>" + notes + "</ul>" if notes else ""}{imgs}'
                        f'<p class="small">simulated/bench time {r.sim_s:.3f} s, wall {r.wall_s:.3f} s</p></section>')
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(campaign.name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}.pass{{color:#070}}.fail{{color:#b00}}
.small{{color:#666;font-size:small}}img{{display:block;max-width:100%}}</style></head><body>
<h1>{e(campaign.name)}: {"PASS" if not n_fail else f"{n_fail} FAILED"}{f", {n_skip} skipped" if n_skip else ""}</h1>
<p>board {e(campaign.board.name)}, target {e(target)}, firmware {e(firmware_version)}, seed {campaign.seed},
campaign file {e(campaign.path)}</p>
<table id="summary"><thead><tr><th>#</th><th>scenario</th><th>kind</th><th>result</th><th>checks</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
{''.join(sections)}
</body></html>
"""
    path.write_text(doc)


def write_junit(path: Path, campaign: Campaign, results: list[ScenarioResult]) -> None:
    """One testsuite per campaign, one testcase per check (``<scenario>.<check>``)."""
    cases = []
    for r in results:
        cname = f"{campaign.board.name}.{r.scenario.name}"
        if r.skipped:
            cases.append((cname, "run", 0.0, "skipped", r.skipped))
            continue
        if r.error:
            cases.append((cname, "run", r.wall_s, "error", r.error))
            continue
        for c in r.checks:
            msg = None if c.passed else f"{c.name}: {c.value:.6g} vs limit {c.limit:.6g}"
            cases.append((cname, c.name, r.wall_s / max(1, len(r.checks)), "failure" if msg else None, msg))
    suite = ET.Element("testsuite", name=campaign.name, tests=str(len(cases)),
                       failures=str(sum(c[3] == "failure" for c in cases)),
                       errors=str(sum(c[3] == "error" for c in cases)),
                       skipped=str(sum(c[3] == "skipped" for c in cases)),
                       time=f"{sum(r.wall_s for r in results):.3f}")
    for cname, name, t, kind, msg in cases:
        tc = ET.SubElement(suite, "testcase", classname=cname, name=name, time=f"{t:.4f}")
        if kind:
            ET.SubElement(tc, kind, message=msg or "").text = msg
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
