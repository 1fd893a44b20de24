"""Shared look of the report's plots: Agg backend, colours, units of complexity axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display: the report is written to disk

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

# Detectron / NDS notebook colours, so plots look like the papers'.
COLORS = ["#0072bd", "#d95319", "#edb120", "#7e2f8e", "#77ac30", "#4dbeee", "#a2142f", "#555555"]

# Complexity columns plotted in millions on log axes, as pycls and the papers do.
COMPLEXITY_LABELS = {"flops": "flops (M multiply-adds)", "params": "params (M)", "acts": "activations (M)"}
ERROR_LABEL = "top-1 error (%)"


def log_x(ax) -> None:
    """Log x axis labelled at 1, 2, 5 x 10^k in plain numbers (readable even within one decade)."""
    ax.set_xscale("log")
    lo, hi = ax.dataLim.intervalx
    decades = np.log10(hi / lo) if lo > 0 and hi > lo else 1.0
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades < 2.5 else (1.0,)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def top_legend(fig, ax) -> None:
    """One legend above the panels, so long sweep names never cover the data."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=1, fontsize=8, frameon=False)


def color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def new_axes(width: float = 5.0, height: float = 3.6, ncols: int = 1):
    """A figure with ``ncols`` axes, grid on, sized in inches for a 110 dpi PNG."""
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.grid(alpha=0.35)
    return fig, list(axes.ravel())


def legend_label(name: str, errors: np.ndarray) -> str:
    """``name (n=.., min=.., mean=..)`` for a legend entry."""
    return f"{text(name)} (n={errors.size}, min={np.min(errors):.2f}, mean={np.mean(errors):.2f})"


def text(name: object) -> str:
    """A store-provided name safe for matplotlib: no mathtext ($), not hidden from legends (leading _)."""
    out = str(name)
    out = out if len(out) <= 40 else out[:39] + "…"
    out = out.replace("$", r"\$")
    return "\u200b" + out if out.startswith("_") else out
