"""The report section "How far the short schedule can be trusted": short vs long errors of retrained models.

Shown in the study page and, through the section registry
(``netspace/report/__init__.py``), in any sweep report given the pairs.
"""

from __future__ import annotations

from typing import Any, Callable

import pandas as pd

from netspace.analysis.fidelity import proxy_fidelity
from netspace.report import figures
from netspace.report.page import paragraph, section, table

TITLE = "How far the short schedule can be trusted"


def fidelity_html(pairs: pd.DataFrame, fid: dict[str, Any], keep: Callable[..., str]) -> str:
    """The section: what was retrained, the scatter by space, the sentence with the numbers, the pair table."""
    short, long = fid.get("short_epochs"), fid.get("long_epochs")
    how = (f"After the sweeps, {len(pairs)} of the trained models, stratified over the spaces and over the error "
           f"range within each, were trained again from scratch with {long or 'more'} epochs instead of "
           f"{short or 'the short schedule'} (the same recipe otherwise). Kendall's tau and Spearman's rho compare "
           "the two errors of each model; the intervals are 95% bootstrap percentile intervals over the models, "
           "the p-value a one-sided permutation test (exact up to 8 models) of a positive correlation.")
    parts = [paragraph(how, "note"), paragraph(fid["sentence"])]
    if fid.get("n"):
        parts.append(keep(figures.fidelity_plot(pairs, short, long), "proxy_fidelity",
                          "Error per model: short schedule vs longer schedule, by space"))
    order = pd.DataFrame(fid.get("space_order") or [])
    if not order.empty:
        parts.append("<h3>Order of the spaces under both schedules (retrained models only)</h3>")
        parts.append(paragraph("median difference = median error of b minus that of a (positive: a is better); "
                               "EDF better: the space whose error EDF lies further above the other's.", "note"))
        parts.append(table(order.round(3)))
    unfinished = pairs[pairs["long_status"] != "done"] if "long_status" in pairs.columns else pairs.iloc[0:0]
    if len(unfinished):
        parts.append(paragraph(f"{len(unfinished)} retrained model(s) did not finish the longer schedule "
                               "(diverged, failed or pending) and are left out.", "note"))
    return section(TITLE, *parts)


def proxy_fidelity_section(ctx) -> str | None:
    """The registered section: present when the report is given the pairs (``write_report(fidelity=...)``)."""
    if ctx.fidelity is None:
        return None
    pairs, (short, long) = ctx.fidelity
    fid = proxy_fidelity(pairs, short_epochs=short, long_epochs=long, spaces=list(ctx.groups) or None,
                         seed=ctx.seed)
    return fidelity_html(pairs, fid, ctx.keep)
