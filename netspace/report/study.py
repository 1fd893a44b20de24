"""The study page: the paper's progression AnyNetX_A -> ... -> RegNetY on the user's data.

One self-contained HTML file (and ``summary.json`` beside it, the same
claims as numbers: :func:`netspace.analysis.study.study_summary`): what the study found (each of the paper's
observations with the evidence measured here and a verdict), the EDF
progression with a KS test per refinement step, the best-range plots of the
RegNet parameters, the RegNet fit of the best AnyNetX_E models and the best
models found with their specs. The full per-space analysis (every parameter,
trends, curves) is the ordinary sweep report, written beside it.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np
import pandas as pd

from netspace.analysis import Panel, best_ranges, comparison_table, finished_by_sweep
from netspace.analysis.evidence import ALPHA, D_MARGIN
from netspace.analysis.study import AGREES, DISAGREES, observations_table, study_observations, study_summary
from netspace.analysis.fidelity import proxy_fidelity
from netspace.files import write_atomic
from netspace.report import figures
from netspace.report.fidelity import fidelity_html
from netspace.schema import label
from netspace.report.output import Plot, save_plot
from netspace.report.page import esc, figure, page, paragraph, section, table

TOP = 5
_VERDICT_CSS = (
    "table.obs td{text-align:left;vertical-align:top}td.v-agrees{background:#e3f4e1}td.v-disagrees{background:#fbe3e1}td.v-same-direction{background:#f4f4dc}"
    "td.v-inconclusive{background:#eee}details pre{font-size:11px;max-height:320px;overflow:auto;background:#f7f7f7;"
    "padding:6px}"
)


def _observations_html(obs: pd.DataFrame) -> str:
    rows = "".join(
        f"<tr><td>{esc(r.claim)}</td><td>{esc(r.evidence)}</td>"
        f"<td class=\"v-{esc(r.verdict.replace(' ', '-'))}\">{esc(r.verdict)}</td></tr>"
        for r in obs.itertuples(index=False)
    )
    return ("<table class=\"obs\"><thead><tr><th>the paper reports</th><th>measured here</th><th>verdict</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _stage_summary(spec: dict[str, Any]) -> str:
    stages = spec.get("stages", []) if isinstance(spec, dict) else []
    return " | ".join(f"d{st['depth']} w{st['width']}" + (f" g{st['group_width']}" if st.get("group_width") else "")
                      + (f" b{st['bottleneck_ratio']:g}" if st.get("bottleneck_ratio", 1) != 1 else "")
                      for st in stages)


def headline(observations: pd.DataFrame) -> str:
    """One sentence: how many of the paper's observations this data reproduces."""
    n = len(observations)
    agree = int((observations["verdict"] == AGREES).sum())
    disagree = int((observations["verdict"] == DISAGREES).sum())
    rest = n - agree - disagree
    return (f"Of the paper's {n} observations checked here, {agree} agree with this data, {disagree} disagree, and "
            f"{rest} point the same way without significance or are inconclusive at this sample size.")


def _plain_json(value: Any) -> Any:
    """Plain JSON data: numpy numbers as Python ones, NaN and infinities as null (strict JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_json(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def write_summary(summary: dict[str, Any], path: str | os.PathLike) -> str:
    """``summary.json``, written atomically (temp file, rename)."""
    return write_atomic(path, json.dumps(_plain_json(summary), indent=1, allow_nan=False) + "\n")


def write_study_report(df: pd.DataFrame, out_html: str | os.PathLike, *, spaces: Sequence[str],
                       settings: dict[str, Any] | None = None, analysis_page: str | None = None,
                       samples: int = 2500, seed: int = 0, preset: str | None = None,
                       recipe: dict[str, Any] | None = None, fidelity_pairs: pd.DataFrame | None = None,
                       fidelity_epochs: tuple[int, int] | None = None) -> str:
    """Write the study page (plots beside it in ``<page>_plots/``) and ``summary.json`` beside it; returns the
    page's path.

    ``fidelity_pairs`` (one row per retrained model: ``space``, ``trial``,
    ``short_error``, ``long_error``; :func:`netspace.study.fidelity_pairs`)
    with ``fidelity_epochs`` (short, long) give the proxy-fidelity section and
    ``summary.json``'s ``proxy_fidelity``; None: the stage was off.
    """
    out_html = os.fspath(out_html)
    page_dir = os.path.dirname(os.path.abspath(out_html))
    plot_dir = os.path.join(page_dir, os.path.splitext(os.path.basename(out_html))[0] + "_plots")
    groups_all = finished_by_sweep(df, skip_empty=True)
    groups = {s: groups_all[s] for s in spaces if s in groups_all}
    plots: list[Plot] = []

    def keep(fig_data, name: str, title: str) -> str:
        plot = save_plot(*fig_data, plot_dir, name, title)
        plots.append(plot)
        return figure(plot, page_dir)

    observations, steps, fits = study_observations(df, samples=samples, seed=seed)
    obs = observations_table(observations)
    body: list[str] = []
    if settings:
        body.append(paragraph("Settings: " + ", ".join(f"{k} {v}" for k, v in settings.items()), "note"))
    counts = df.groupby("sweep")["status"].value_counts().unstack(fill_value=0)
    counts = counts.reindex([s for s in spaces if s in counts.index]).reset_index()
    body.append(paragraph("Errors are final top-1 test errors (%) of the finished models; every space is sampled "
                          "with the same complexity window, number of models and schedule.", "note"))
    how = (f"Each claim shows n per side, the effect (KS D, or a rank correlation) with its 95% bootstrap "
           f"interval, the p-value (exact KS and permutation tests at small n) and the smallest effect this n "
           f"detects with 80% power at p < {ALPHA:g}. A claim that a restriction costs nothing agrees only when the "
           f"restricted space is significantly better or an equivalence test passes (the upper 95% bound of D at "
           f"most {D_MARGIN:g}); a non-significant difference alone is inconclusive. The numbers are also in "
           "summary.json beside this page.")
    body.append(section("What this study found", paragraph(headline(obs)), paragraph(how, "note"),
                        _observations_html(obs)))

    parts = [keep(figures.edf_plot(groups), "edf_progression", "Error EDFs, AnyNetX_A to RegNetY")]
    if steps:
        parts.append("<ul class=\"ks\">" + "".join(f"<li>{esc(r.name_a)} → {esc(r.name_b)}: {esc(r.sentence())}</li>"
                                                   for r in steps) + "</ul>")
        parts.append(table(comparison_table(steps).drop(columns=["summary"])))
    body.append(section("EDF progression", *parts, "<h3>Trials per space</h3>", table(counts)))
    fid = None
    if fidelity_pairs is not None:
        short, long = fidelity_epochs or (None, None)
        fid = proxy_fidelity(fidelity_pairs, short_epochs=short, long_epochs=long, spaces=spaces, seed=seed)
        body.append(fidelity_html(fidelity_pairs, fid, keep))

    regnet = next((s for s in ("RegNetX", "RegNet") if s in groups), None)
    if regnet is not None:
        part = groups[regnet]
        cols = [c for c in ("wm", "depth", "w0", "wa", "group_width") if c in part.columns]
        ranges = best_ranges(part, cols, samples=samples, seed=seed)
        figs = [keep(figures.parameter_plot({regnet: part}, Panel(c, {regnet: c}), {regnet: tuple(
            ranges.loc[ranges["parameter"] == c, ["low", "median", "high"]].iloc[0])}), f"{regnet}_{c}",
            f"{regnet}: error vs {label(c)}") for c in cols[:2]]
        body.append(section(f"Best ranges of the {regnet} parameters",
                            paragraph("Bands: 2.5-97.5 percentile of the parameter of the best model among 25% of "
                                      f"the models drawn with replacement, {samples} times.", "note"),
                            '<div class="grid">' + "".join(figs) + "</div>", table(ranges)))

    if not fits.empty:
        body.append(section("RegNet fit of the best AnyNetX_E models",
                            paragraph("Quantized linear fit of each model's per-block widths: fit_e (the paper's "
                                      "e_fit) is the mean |log(w_j / ŵ_j)| over blocks; fit_depth, fit_w0, "
                                      "fit_wa, fit_wm are the fitted RegNet parameters.", "note"),
                            table(fits.drop(columns=["sweep"]).round(4)),
                            keep(figures.efit_plot(fits), "efit_anynetx_e", "e_fit vs error, best AnyNetX_E models")))

    if groups:
        done = pd.concat(groups.values(), ignore_index=True).sort_values("error", kind="stable").head(TOP)
        shown = pd.DataFrame({
            "space": done["sweep"], "trial": done["trial"], "error %": done["error"],
            "flops M": done["flops"] / 1e6, "params M": done["params"] / 1e6, "acts M": done["acts"] / 1e6,
            "stages": [_stage_summary(s) for s in done.get("spec", [None] * len(done))],
        })
        specs = "".join(
            f"<details><summary>{esc(r.sweep)} trial {esc(r.trial)} spec</summary><pre>"
            f"{esc(json.dumps(r.spec, indent=1))}</pre></details>"
            for r in done.itertuples(index=False) if isinstance(getattr(r, "spec", None), dict))
        body.append(section("Best models found", table(shown.round(3)), specs))
    if analysis_page:
        rel = os.path.relpath(os.path.abspath(analysis_page), page_dir).replace(os.sep, "/")
        body.append(paragraph(f"Full per-space analysis (every parameter, complexity, trends, curves): {rel}", "note")
                    .replace(esc(rel), f'<a href="{esc(rel)}">{esc(rel)}</a>'))

    write_summary(study_summary(df, observations, spaces, preset=preset, recipe=recipe, proxy_fidelity=fid),
                  os.path.join(page_dir, "summary.json"))
    html = page("netspace design-space study", body).replace("</style>", _VERDICT_CSS + "</style>", 1)
    os.makedirs(page_dir, exist_ok=True)
    return write_atomic(out_html, html)
