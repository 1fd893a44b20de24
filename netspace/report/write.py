"""``write_report``: the self-contained HTML report of one or more sweeps."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd

from netspace.analysis import (
    AnalysisError, best_ranges, compare_sweeps, comparison_table, complexity_weights, correlations,
    finished_by_sweep, fit_top_models, parameter_columns, summarize, trends,
)
from netspace.analysis.frame import COMPLEXITY, splits
from netspace.report import figures
from netspace.report.output import Plot, save_plot
from netspace.report.page import esc, figure, page, paragraph, section, table

TOP_MODELS = 5  # models shown in the curve and width plots
FIT_MODELS = 10  # top models per sweep given a RegNet fit


def _has_lists(part: pd.DataFrame, column: str) -> bool:
    return column in part.columns and part[column].map(lambda v: isinstance(v, (list, tuple)) and len(v) > 0).any()


def _split_words(df: pd.DataFrame) -> tuple[str, str | None]:
    """Which split the errors are on, as words for the page, and the one split of all sweeps (else None)."""
    by_split: dict[str | None, list[str]] = {}
    for name, split in splits(df).items():
        by_split.setdefault(split, []).append(name)
    if len(by_split) == 1:
        (split,) = by_split
        return (f"on the {split} split" if split else "on a split the data does not record"), split
    return "on " + "; ".join(f"the {split or 'unrecorded'} split ({', '.join(names)})"
                             for split, names in by_split.items()), None


def write_report(df: pd.DataFrame, out_html: str | os.PathLike, *, normalize: str | None = None,
                 metrics: Sequence[str] | None = None, title: str = "netspace sweep report",
                 samples: int = 2500, seed: int = 0) -> str:
    """Write the report page (and every plot as PNG/SVG/CSV beside it); returns the page's path.

    ``normalize`` ("flops" or "params") weights the EDFs and KS tests so the
    sweeps' complexity distributions match (see netspace.analysis.normalize);
    ``metrics`` are the columns to plot error against (default: every design
    parameter that varies; ``netspace.schema`` tells a column's role by its name).
    """
    if normalize not in (None, "flops", "params"):
        raise AnalysisError(f"normalize: expected None, 'flops' or 'params', got {normalize!r}")
    summary = summarize(df)  # validates the frame
    groups = finished_by_sweep(df, skip_empty=True)
    out_html = os.fspath(out_html)
    page_dir = os.path.dirname(os.path.abspath(out_html))
    plot_dir = os.path.join(page_dir, os.path.splitext(os.path.basename(out_html))[0] + "_plots")
    done_all = pd.concat(groups.values(), ignore_index=True)
    params = list(metrics) if metrics is not None else parameter_columns(done_all)
    unknown = [p for p in params if p not in df.columns]
    if unknown:
        raise AnalysisError(f"metrics: no column(s) {', '.join(unknown)} in the trials; "
                            f"parameter columns are {', '.join(parameter_columns(done_all)) or 'none'}")
    plots: list[Plot] = []

    def keep(fig_data, name: str, title: str) -> str:
        plot = save_plot(*fig_data, plot_dir, name, title)
        plots.append(plot)
        return figure(plot, page_dir)

    where, split = _split_words(df)
    body = [paragraph(f"{len(df)} trials in {summary.shape[0]} sweep(s); errors are final top-1 errors (%) {where}, "
                      "of finished trials.", "note")]
    empty = [s for s in summary["sweep"] if s not in groups]
    if empty:
        body.append(paragraph(f"No finished trials yet in: {', '.join(empty)} (left out of the plots).", "note"))
    body.append(section("Summary", table(summary)))

    # EDFs and comparisons
    weights = complexity_weights(groups, normalize) if normalize and len(groups) > 1 else None
    edf_html = keep(figures.edf_plot(groups, weights, normalize), "edf", "Error EDF of each sweep")
    parts = [edf_html]
    if weights is not None:
        parts.append(paragraph(f"EDFs are {normalize}-normalized: each sweep's models are weighted so that its "
                               f"{normalize} histogram over shared log-spaced bins is uniform (NDS paper, sec. 4); "
                               "models outside the shared range get no weight.", "note"))
    if len(groups) > 1:
        results = compare_sweeps(df, normalize, skip_empty=True)
        parts.append("<ul class=\"ks\">" + "".join(f"<li>{esc(r.sentence())}</li>" for r in results) + "</ul>")
        parts.append(table(comparison_table(results).drop(columns=["summary"])))
    body.append(section("Error distributions (EDF) and KS comparisons", *parts))

    # error vs complexity and parameters
    cx = [m for m in COMPLEXITY if m in done_all.columns and np.isfinite(pd.to_numeric(done_all[m], errors="coerce")).any()]
    if cx:
        body.append(section("Error vs complexity", keep(figures.complexity_plot(groups, cx), "error_vs_complexity",
                                                        "Error vs " + ", ".join(cx) + " (log axes)")))
    if "reward" in df.columns and pd.to_numeric(df["reward"], errors="coerce").notna().any():
        # search stores: reward over time, and the error-vs-cost Pareto front
        has_latency = "latency_ms" in done_all.columns and pd.to_numeric(done_all["latency_ms"], errors="coerce").notna().any()
        cost = "latency_ms" if has_latency else "flops"
        body.append(section(
            "Search: reward over time and Pareto front",
            paragraph(f"Reward of each trial in the order the strategy asked for it, with the best so far; error vs "
                      f"{'measured batch-1 latency' if has_latency else 'flops'} of finished trials, with the "
                      "Pareto front (no other model has both lower error and lower cost).", "note"),
            keep(figures.reward_plot(df[df["reward"].notna()]), "reward_over_time", "Reward over time"),
            keep(figures.pareto_plot(groups, cost), f"pareto_error_vs_{cost}", f"Error vs {cost}: Pareto front"),
        ))
    ranges = {name: best_ranges(part, [p for p in params if p in part.columns], samples=samples, seed=seed)
              for name, part in groups.items()}
    figs = []
    for p in params:
        r = {name: tuple(t.loc[t["parameter"] == p, ["low", "median", "high"]].iloc[0])
             for name, t in ranges.items() if (t["parameter"] == p).any()}
        figs.append(keep(figures.parameter_plot(groups, p, r), f"error_vs_{p}", f"Error vs {p}"))
    if figs:
        band = pd.concat([t.assign(sweep=name) for name, t in ranges.items()], ignore_index=True)
        band = band[["sweep", "parameter", "low", "median", "high"]]
        body.append(section(
            "Error vs parameters",
            paragraph(f"Bands: 2.5–97.5 percentile of the parameter of the best model among 25% of the models drawn "
                      f"with replacement, {samples} times (RegNet paper, sec. 3.1).", "note"),
            '<div class="grid">' + "".join(figs) + "</div>", table(band),
            "<h3>Spearman rank correlation of error with each parameter</h3>",
            table(correlations(df, params + [c for c in cx if c not in params]).dropna(subset=["spearman"])),
        ))
    if len(groups) > 1 and params and "flops" in cx:
        t = trends(df, params, by="flops", samples=samples, seed=seed)
        body.append(section("Trends across sweeps", keep(figures.trends_plot(t, "flops", params), "trends",
                                                        "Best ranges against sweep flops"), table(t)))

    # best models: RegNet fits, curves, widths
    best = done_all.sort_values("error", kind="stable").head(TOP_MODELS)
    if _has_lists(done_all, "block_widths"):
        fits = pd.concat([fit_top_models(part, name, FIT_MODELS) for name, part in groups.items()
                          if _has_lists(part, "block_widths")], ignore_index=True)
        efit = fits.groupby("sweep", sort=False)["fit_e"].describe()[["count", "min", "50%", "max"]].reset_index()
        body.append(section(
            "RegNet fit of the top models",
            paragraph("Quantized linear fit (RegNet paper, sec. 3.3): grid search over w0 (multiples of 8), wa, wm "
                      "minimizing fit_e (the paper's e_fit) = mean |log(w_j / ŵ_j)| over blocks; fit_w0, fit_wa, "
                      "fit_wm: the fitted values (not the sampled w0, wa, wm); fit_linear_w0/fit_linear_wa: "
                      "least-squares fit u_j = w0 + wa·j of the widths.", "note"),
            table(fits.round(4)), "<h3>fit_e distribution per sweep</h3>", table(efit),
            keep(figures.efit_plot(fits), "efit", "fit_e vs error of the top models"),
        ))
        shown = best[best["block_widths"].map(lambda v: isinstance(v, (list, tuple)) and len(v) > 0)]
        body.append(section("Per-block widths of the best models",
                            keep(figures.widths_plot(shown, fits), "block_widths",
                                 "Per-block widths of the best models with their RegNet fits")))
    if _has_lists(done_all, "curve"):
        shown = best[best["curve"].map(lambda v: isinstance(v, (list, tuple)) and len(v) > 0)]
        body.append(section("Training curves of the best models",
                            keep(figures.curves_plot(shown, split), "curves",
                                 f"{(split or 'eval').capitalize()} error per epoch of the best models")))

    os.makedirs(page_dir, exist_ok=True)
    tmp = out_html + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page(title, body))
    os.replace(tmp, out_html)  # atomic: a killed run never leaves half a page
    return out_html
