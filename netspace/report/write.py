"""``write_report``: the self-contained HTML report of one or more sweeps."""

from __future__ import annotations

import os
from typing import Sequence

import pandas as pd

from netspace.analysis import AnalysisError, finished_by_sweep, parameter_columns, summarize
from netspace.analysis.frame import splits
from netspace.files import output_path, write_atomic
from netspace.report.output import Plot, save_plot
from netspace.report.page import figure, page, paragraph, section, table
from netspace.report.sections import SECTIONS, Context


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
                 samples: int = 2500, seed: int = 0,
                 fidelity: tuple[pd.DataFrame, tuple[int, int]] | None = None) -> str:
    """Write the report page (and every plot as PNG/SVG/CSV beside it); returns the page's path.

    ``normalize`` ("flops" or "params") weights the EDFs and KS tests so the
    sweeps' complexity distributions match (see netspace.analysis.normalize);
    ``metrics`` are the columns to plot error against (default: every design
    parameter that varies; ``netspace.schema`` tells a column's role by its name); ``fidelity``: a study's
    retrained models (``netspace.study.fidelity_pairs`` and the two schedules' epochs) for their section.
    """
    if normalize not in (None, "flops", "params"):
        raise AnalysisError(f"normalize: expected None, 'flops' or 'params', got {normalize!r}")
    out_html = output_path(out_html, "report", "report.html")
    summary = summarize(df)  # validates the frame
    groups = finished_by_sweep(df, skip_empty=True)
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

    ctx = Context(df=df, groups=groups, done_all=done_all, params=params, split=split, normalize=normalize,
                  samples=samples, seed=seed, keep=keep, fidelity=fidelity)
    for name in SECTIONS:  # registration order is page order (netspace/report/__init__.py)
        html = SECTIONS[name](ctx)
        if html:
            body.append(html)

    return write_atomic(out_html, page(title, body))  # a killed run never leaves half a page
