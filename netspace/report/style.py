"""Shared look of the report's plots: Agg backend, colours, units of complexity axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display: the report is written to disk

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator  # noqa: E402

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


def log2_axis(ax, values, which: str = "x") -> None:
    """Log-2 axis labelled at the powers of two the data spans, as integers (1 2 4 8 16 32; the RegNet paper's
    axes of b, g and w0): a discrete parameter's values sit on ticks, evenly spaced."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=2)
    lo, hi = np.floor(np.log2(v.min())), np.ceil(np.log2(v.max()))
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    step = max(1, int(np.ceil((hi - lo + 1) / 8)))  # at most about 8 labels
    axis.set_major_locator(FixedLocator(2.0 ** np.arange(lo, hi + 1, step)))
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    axis.set_minor_locator(NullLocator())
    (ax.set_xlim if which == "x" else ax.set_ylim)(2.0 ** (lo - 0.25), 2.0 ** (hi + 0.25))


def parameter_axis(ax, axis_scale: str, values, which: str = "x") -> None:
    """The axis of a design parameter: log 2 where ``netspace.schema.scale`` says so, else linear."""
    if axis_scale == "log2":
        log2_axis(ax, values, which)


def top_legend(fig, ax, ncol: int = 1) -> None:
    """One legend above the panels, so long sweep names never cover the data; ``ncol`` entries a row."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside upper center", ncol=min(ncol, len(handles)), fontsize=8,
                   frameon=False)


def color(i: int) -> str:
    return COLORS[i % len(COLORS)]


MAX_COLUMNS = 4  # panels a row: a figure of 4 stays under MAX_WIDTH_PX at the report's dpi
MAX_WIDTH_PX = 1600


def new_axes(width: float = 5.0, height: float = 3.6, ncols: int = 1, *, panels: int | None = None,
             sharex: bool = False, sharey: bool = False):
    """A figure of axes (each ``width`` x ``height`` inches), grid on, sized for a 110 dpi PNG.

    ``ncols`` axes in one row; or ``panels`` axes wrapped into rows of at most
    :data:`MAX_COLUMNS`, the unused cells of the last row removed.
    """
    n = ncols if panels is None else panels
    cols = ncols if panels is None else min(MAX_COLUMNS, max(1, panels))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained",
                             sharex=sharex, sharey=sharey)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.remove()
    for ax in flat[:n]:
        ax.grid(alpha=0.35)
        if sharex:  # every axis keeps its tick labels: one above a removed cell has none below it
            ax.tick_params(labelbottom=True)
    return fig, flat[:n]


def legend_label(name: str, errors: np.ndarray) -> str:
    """``name (n=.., min=.., mean=..)`` for a legend entry."""
    return f"{text(name)} (n={errors.size}, min={np.min(errors):.2f}, mean={np.mean(errors):.2f})"


def text(name: object) -> str:
    """A store-provided name safe for matplotlib: no mathtext ($), not hidden from legends (leading _)."""
    out = str(name)
    out = out if len(out) <= 40 else out[:39] + "…"
    out = out.replace("$", r"\$")
    return "\u200b" + out if out.startswith("_") else out
