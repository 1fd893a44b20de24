"""The sections of the sweep report: one function per section, registered in ``netspace/report/__init__.py``.

A section takes the :class:`Context` of the report (the trials, the finished
trials per sweep, the design parameters, and ``keep`` to save a figure with
its data) and returns its HTML, or None when the data has nothing for it.
Adding a figure to the report is a function in a new module plus one
``SECTIONS.register`` line; the registration order is the page order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np
import pandas as pd

from netspace import schema
from netspace.analysis import (
    Panel, compare_sweeps, comparison_table, complexity_weights, correlations, fit_top_models, panel_ranges,
    parameter_panels,
)
from netspace.analysis.frame import COMPLEXITY
from netspace.errors import NetspaceError
from netspace.registry import Registry
from netspace.report import figures
from netspace.report.page import esc, paragraph, section, table

TOP_MODELS = 5  # models shown in the curve and width plots
FIT_MODELS = 10  # top models per sweep given a RegNet fit


class ReportError(NetspaceError):
    """A report section was asked for that does not exist."""


@dataclass
class Context:
    """What every section reads: all trials, the finished ones per sweep, the parameters to plot."""

    df: pd.DataFrame
    groups: dict[str, pd.DataFrame]
    done_all: pd.DataFrame
    params: list[str]
    split: str | None
    normalize: str | None
    samples: int
    seed: int
    keep: Callable[..., str]  # keep(figure_and_data, file name, title) -> the figure's HTML
    # A study's retrained models: (pairs of short and long errors, (short epochs, long epochs)), else None.
    fidelity: tuple[pd.DataFrame, tuple[int, int]] | None = None

    @cached_property
    def complexity(self) -> list[str]:
        """The complexity columns with values."""
        return [m for m in COMPLEXITY if m in self.done_all.columns
                and np.isfinite(pd.to_numeric(self.done_all[m], errors="coerce")).any()]

    @cached_property
    def panels(self) -> list[Panel]:
        """One panel per design parameter, with the sweeps that sample it (``netspace.analysis.panels``)."""
        return parameter_panels(self.groups, self.params)

    @cached_property
    def ranges(self) -> pd.DataFrame:
        """Bootstrap best range of every panel's parameter in each of its sweeps, with the sweep's median flops."""
        return panel_ranges(self.groups, self.panels, samples=self.samples, seed=self.seed)

    @cached_property
    def best(self) -> pd.DataFrame:
        return self.done_all.sort_values("error", kind="stable").head(TOP_MODELS)

    @cached_property
    def fits(self) -> pd.DataFrame | None:
        """RegNet fits of each sweep's top models, where the trials have per-block widths."""
        if not has_lists(self.done_all, "block_widths"):
            return None
        return pd.concat([fit_top_models(part, name, FIT_MODELS) for name, part in self.groups.items()
                          if has_lists(part, "block_widths")], ignore_index=True)


SECTIONS: Registry[Callable[[Context], str | None]] = Registry("report section", ReportError)


def has_lists(part: pd.DataFrame, column: str) -> bool:
    return column in part.columns and part[column].map(lambda v: isinstance(v, (list, tuple)) and len(v) > 0).any()


def edf_comparisons(ctx: Context) -> str:
    weights = complexity_weights(ctx.groups, ctx.normalize) if ctx.normalize and len(ctx.groups) > 1 else None
    parts = [ctx.keep(figures.edf_plot(ctx.groups, weights, ctx.normalize), "edf", "Error EDF of each sweep")]
    if weights is not None:
        parts.append(paragraph(f"EDFs are {ctx.normalize}-normalized: each sweep's models are weighted so that its "
                               f"{ctx.normalize} histogram over shared log-spaced bins is uniform (NDS paper, "
                               "sec. 4); models outside the shared range get no weight.", "note"))
    if len(ctx.groups) > 1:
        results = compare_sweeps(ctx.df, ctx.normalize, skip_empty=True)
        parts.append("<ul class=\"ks\">" + "".join(f"<li>{esc(r.sentence())}</li>" for r in results) + "</ul>")
        parts.append(table(comparison_table(results).drop(columns=["summary"])))
    return section("Error distributions (EDF) and KS comparisons", *parts)


def error_vs_complexity(ctx: Context) -> str | None:
    cx = ctx.complexity
    if not cx:
        return None
    return section("Error vs complexity", ctx.keep(figures.complexity_plot(ctx.groups, cx), "error_vs_complexity",
                                                   "Error vs " + ", ".join(cx) + " (log axes)"))


def search_progress(ctx: Context) -> str | None:
    """Search stores: reward over time, and the error-vs-cost Pareto front."""
    df, done_all = ctx.df, ctx.done_all
    if "reward" not in df.columns or not pd.to_numeric(df["reward"], errors="coerce").notna().any():
        return None
    has_latency = "latency_ms" in done_all.columns and pd.to_numeric(done_all["latency_ms"], errors="coerce").notna().any()
    cost = "latency_ms" if has_latency else "flops"
    return section(
        "Search: reward over time and Pareto front",
        paragraph(f"Reward of each trial in the order the strategy asked for it, with the best so far; error vs "
                  f"{'measured batch-1 latency' if has_latency else 'flops'} of finished trials, with the "
                  "Pareto front (no other model has both lower error and lower cost).", "note"),
        ctx.keep(figures.reward_plot(df[df["reward"].notna()]), "reward_over_time", "Reward over time"),
        ctx.keep(figures.pareto_plot(ctx.groups, cost), f"pareto_error_vs_{cost}", f"Error vs {cost}: Pareto front"),
    )


def error_vs_parameters(ctx: Context) -> str | None:
    panels, band = ctx.panels, ctx.ranges
    figs = []
    for panel in panels:
        mine = band[band["parameter"] == panel.key]
        r = {row.sweep: (row.low, row.median, row.high) for row in mine.itertuples(index=False)}
        figs.append(ctx.keep(figures.parameter_plot(ctx.groups, panel, r), f"error_vs_{panel.key}",
                             f"Error vs {panel.label}"))
    if not figs:
        return None
    shown = band.assign(parameter=band["parameter"].map(lambda k: schema.label(k)))
    cx = ctx.complexity
    return section(
        "Error vs parameters",
        paragraph(f"One plot per design parameter, with the sweeps that sample it (a per-stage parameter equal "
                  f"in all stages of every model of a sweep is that sweep's network-wide one). Bands: 2.5–97.5 "
                  f"percentile of the parameter of the best model among 25% of the models drawn with replacement, "
                  f"{ctx.samples} times; dashed: its median (RegNet paper, sec. 3.1).", "note"),
        '<div class="grid">' + "".join(figs) + "</div>",
        table(shown[["sweep", "parameter", "column", "low", "median", "high"]]),
        "<h3>Spearman rank correlation of error with each parameter</h3>",
        table(correlations(ctx.df, ctx.params + [c for c in cx if c not in ctx.params]).dropna(subset=["spearman"])),
    )


# the least ratio of the largest to the smallest sweep median flops for which the trends are plotted: the
# complexity regimes the RegNet paper compares are 2x apart (200MF, 400MF, 800MF, ...; sec. 5.1)
TREND_SPREAD = 2.0


def trends_across_sweeps(ctx: Context) -> str | None:
    if len(ctx.groups) < 2 or not ctx.panels or "flops" not in ctx.complexity:
        return None
    t = ctx.ranges
    lo, hi = t["flops"].min(), t["flops"].max()
    if hi >= TREND_SPREAD * lo:
        return section("Trends across sweeps",
                       paragraph("Each parameter's best range (dot: median, bar: 2.5–97.5%) in each sweep that "
                                 "samples it, against the sweep's median flops (RegNet paper, sec. 5.1).", "note"),
                       ctx.keep(figures.trends_plot(t, "flops", ctx.panels, list(ctx.groups)), "trends",
                                "Best ranges against sweep flops"), table(t))
    # Sweeps in one complexity window (a study's spaces) have no flops axis to plot a trend along;
    # drawing one panel per parameter would cost more than the rest of the page.
    return section("Trends across sweeps",
                   paragraph(f"Each parameter's best range in each sweep that samples it. Not plotted: the sweeps' "
                             f"median flops span only {hi / lo:.2f}x ({lo / 1e6:.1f}M to {hi / 1e6:.1f}M); a trend "
                             f"needs sweeps at different complexities (at least {TREND_SPREAD:g}x apart; the RegNet "
                             f"paper's sec. 5.1 spans 200MF to 32GF).", "note"), table(t))


def regnet_fit(ctx: Context) -> str | None:
    fits = ctx.fits
    if fits is None:
        return None
    efit = fits.groupby("sweep", sort=False)["fit_e"].describe()[["count", "min", "50%", "max"]].reset_index()
    return section(
        "RegNet fit of the top models",
        paragraph("Quantized linear fit (RegNet paper, sec. 3.3): grid search over w0 (multiples of 8), wa, wm "
                  "minimizing fit_e (the paper's e_fit) = mean |log(w_j / ŵ_j)| over blocks; fit_w0, fit_wa, "
                  "fit_wm: the fitted values (not the sampled w0, wa, wm); fit_linear_w0/fit_linear_wa: "
                  "least-squares fit u_j = w0 + wa·j of the widths.", "note"),
        table(fits.round(4)), "<h3>fit_e distribution per sweep</h3>", table(efit),
        ctx.keep(figures.efit_plot(fits), "efit", "fit_e vs error of the top models"),
    )


def block_widths(ctx: Context) -> str | None:
    fits = ctx.fits
    if fits is None:
        return None
    shown = ctx.best[ctx.best["block_widths"].map(lambda v: isinstance(v, (list, tuple)) and len(v) > 0)]
    return section("Per-block widths of the best models",
                   ctx.keep(figures.widths_plot(shown, fits), "block_widths",
                            "Per-block widths of the best models with their RegNet fits"))


def training_curves(ctx: Context) -> str | None:
    if not has_lists(ctx.done_all, "curve"):
        return None
    shown = ctx.best[ctx.best["curve"].map(lambda v: isinstance(v, (list, tuple)) and len(v) > 0)]
    return section("Training curves of the best models",
                   ctx.keep(figures.curves_plot(shown, ctx.split), "curves",
                            f"{(ctx.split or 'eval').capitalize()} error per epoch of the best models"))
