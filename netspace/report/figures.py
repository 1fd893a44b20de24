"""The report's plots. Each function returns (figure, the plotted data as a DataFrame)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, MaxNLocator

from netspace.analysis import Panel, RegNetFit, edf
from netspace.report.style import (
    COMPLEXITY_LABELS, ERROR_LABEL, color, legend_label, log_x, new_axes, parameter_axis, text, top_legend,
)

CROWDED = 4  # more sweeps than this on one parameter get one small axis each


def edf_plot(groups: dict[str, pd.DataFrame], weights: dict[str, np.ndarray] | None = None,
             normalize: str | None = None):
    """Error EDFs of all sweeps on one axis (the RegNet paper's main comparison plot)."""
    fig, (ax,) = new_axes(6.4, 4.2)
    rows = []
    for i, (name, part) in enumerate(groups.items()):
        err = part["error"].to_numpy(float)
        w = None if not weights else weights[name]
        if w is not None:
            err, w = err[w > 0], w[w > 0]
        x, F = edf(err, w)
        ax.step(np.concatenate([[x[0]], x]), np.concatenate([[0.0], F]), where="post", color=color(i), lw=2,
                label=legend_label(name, err))
        rows += [{"sweep": name, "error": a, "cumulative_fraction": b} for a, b in zip(x, F)]
    ax.set_xlabel(ERROR_LABEL if not normalize else f"{ERROR_LABEL} | {normalize}-normalized")
    ax.set_ylabel("cumulative prob. (fraction of models)")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right", fontsize=8)
    return fig, pd.DataFrame(rows)


def _band(ax, band, c) -> None:
    if band is not None and np.all(np.isfinite(band)):
        lo, med, hi = band
        ax.axvspan(lo, hi, color=c, alpha=0.12, lw=0)
        ax.axvline(med, color=c, ls="--", lw=1.2)


def parameter_plot(groups: dict[str, pd.DataFrame], panel: Panel, ranges: dict[str, tuple[float, float, float]]):
    """Error vs one design parameter (``panel``: its column in each sweep that samples it), with each sweep's
    bootstrap best range as a shaded band and its median as a dashed line (RegNet paper sec. 3.1).

    Only the panel's sweeps are drawn and listed; up to :data:`CROWDED` share one
    axis, more get one small axis each (same axes), so no sweep hides another.
    """
    names = [n for n in groups if n in panel.columns]
    colors = {n: color(i) for i, n in enumerate(groups)}  # a sweep's colour is the same in every figure
    data = {n: (pd.to_numeric(groups[n][panel.columns[n]], errors="coerce").to_numpy(float),
                groups[n]["error"].to_numpy(float)) for n in names}
    every = np.concatenate([v for v, _ in data.values()]) if data else np.array([])
    small = len(names) > CROWDED
    if small:
        fig, axes = new_axes(3.2, 2.6, panels=len(names), sharex=True, sharey=True)
    else:
        fig, (ax,) = new_axes(5.0, 3.6)
        axes = [ax] * len(names)
    rows = []
    for ax, name in zip(axes, names):
        v, err = data[name]
        ok = np.isfinite(v)
        ax.scatter(v[ok], err[ok], s=12, alpha=0.55, color=colors[name], label=legend_label(name, err[ok]))
        _band(ax, ranges.get(name), colors[name])
        rows += [{"sweep": name, "parameter": panel.key, "column": panel.columns[name], "value": a, "error": b}
                 for a, b in zip(v[ok], err[ok])]
        if small:
            ax.set_title(legend_label(name, err[ok]), fontsize=8)
    for ax in (axes if small else axes[:1]):
        parameter_axis(ax, panel.scale, every)
    if small:
        fig.supxlabel(panel.label, fontsize=10)
        fig.supylabel(ERROR_LABEL, fontsize=10)
    elif axes:
        axes[0].set_xlabel(panel.label)
        axes[0].set_ylabel(ERROR_LABEL)
        top_legend(fig, axes[0])
    return fig, pd.DataFrame(rows, columns=["sweep", "parameter", "column", "value", "error"])


def complexity_plot(groups: dict[str, pd.DataFrame], metrics: list[str]):
    """Error vs flops / params / acts on log axes, one panel each."""
    fig, axes = new_axes(4.4, 3.6, ncols=len(metrics))
    rows = []
    for ax, metric in zip(axes, metrics):
        for i, (name, part) in enumerate(groups.items()):
            v = pd.to_numeric(part[metric], errors="coerce").to_numpy(float) / 1e6
            err = part["error"].to_numpy(float)
            ok = np.isfinite(v) & (v > 0)
            ax.scatter(v[ok], err[ok], s=12, alpha=0.55, color=color(i), label=legend_label(name, err[ok]) if ok.any() else text(name))
            rows += [{"sweep": name, "metric": metric, "value_millions": a, "error": b} for a, b in zip(v[ok], err[ok])]
        log_x(ax)
        ax.set_xlabel(COMPLEXITY_LABELS[metric])
        ax.set_ylabel(ERROR_LABEL)
    top_legend(fig, axes[0], ncol=min(4, len(groups)))
    return fig, pd.DataFrame(rows)


def trends_plot(table: pd.DataFrame, by: str, panels: list[Panel], sweeps: list[str]):
    """Each parameter's best range (median, 2.5-97.5% band as a bar) in each sweep that samples it, against the
    sweep's median ``by`` (the RegNet paper's sec. 5.1 trends); panels wrapped, at most 4 a row."""
    fig, axes = new_axes(3.4, 2.9, panels=len(panels))
    colors = {n: color(i) for i, n in enumerate(sweeps)}
    for ax, panel in zip(axes, panels):
        t = table[table["parameter"] == panel.key].sort_values(by, kind="stable")
        x = t[by].to_numpy(float) / 1e6
        ax.plot(x, t["median"], "-", color="#999999", lw=1, zorder=1)
        for xi, r in zip(x, t.itertuples(index=False)):
            ax.errorbar([xi], [r.median], yerr=[[r.median - r.low], [r.high - r.median]], fmt="o", ms=5, capsize=3,
                        color=colors.get(r.sweep, color(0)), label=text(r.sweep), zorder=2)
        log_x(ax)
        parameter_axis(ax, panel.scale, np.concatenate([t["low"], t["high"]]), which="y")
        ax.set_xlabel(f"sweep median {COMPLEXITY_LABELS.get(by, by)}", fontsize=8)
        ax.set_ylabel(f"best {panel.label}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
    return fig, table


def widths_plot(top: pd.DataFrame, fits: pd.DataFrame | None = None):
    """Per-block widths of the best models (solid) and their quantized linear RegNet fits (dashed), log width axis."""
    fig, (ax,) = new_axes(6.4, 4.2)
    rows = []
    for i, (_, row) in enumerate(top.iterrows()):
        w = np.asarray(row["block_widths"], dtype=float)
        label = f"{text(row['sweep'])} #{row['trial']} ({row['error']:.2f}%)"
        ax.plot(np.arange(w.size), w, "-", color=color(i), lw=2, label=label)
        rows += [{"sweep": row["sweep"], "trial": row["trial"], "block": j, "width": x, "kind": "observed"}
                 for j, x in enumerate(w)]
        if fits is not None:
            f = fits[(fits["sweep"] == row["sweep"]) & (fits["trial"] == row["trial"])]
            if len(f):
                fw = RegNetFit.from_row(f.iloc[0]).widths()
                ax.plot(np.arange(len(fw)), fw, "--", color=color(i), lw=1.2)
                rows += [{"sweep": row["sweep"], "trial": row["trial"], "block": j, "width": x, "kind": "fit"}
                         for j, x in enumerate(fw)]
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(int(v))[0] in "25" else ""))
    ax.set_xlabel("block index j")
    ax.set_ylabel("block width w_j (channels)")
    ax.legend(fontsize=7, title="solid: model, dashed: RegNet fit" if fits is not None else None, title_fontsize=7)
    return fig, pd.DataFrame(rows)


def curves_plot(top: pd.DataFrame, split: str | None = "test"):
    """Error per epoch (on ``split``) of the best models."""
    fig, (ax,) = new_axes(6.4, 4.2)
    rows = []
    for i, (_, row) in enumerate(top.iterrows()):
        c = np.asarray(row["curve"], dtype=float)
        ax.plot(np.arange(1, c.size + 1), c, "-", color=color(i), lw=1.6, marker="o" if c.size <= 20 else None,
                ms=5, label=f"{text(row['sweep'])} #{row['trial']} (final {row['error']:.2f}%)")
        rows += [{"sweep": row["sweep"], "trial": row["trial"], "epoch": j + 1, "error": e} for j, e in enumerate(c)]
    longest = max([len(c) for c in top["curve"]] + [1])
    ax.set_xlim(0.5, longest + 0.5)  # one or two epochs still get a readable axis
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{split} {ERROR_LABEL}" if split else ERROR_LABEL)
    ax.legend(fontsize=7)
    return fig, pd.DataFrame(rows)


def efit_plot(fits: pd.DataFrame):
    """e_fit against error of the fitted top models (the RegNet paper's Fig. 8, bottom)."""
    fig, (ax,) = new_axes()
    for i, (name, part) in enumerate(fits.groupby("sweep", sort=False)):
        ax.scatter(part["fit_e"], part["error"], s=18, color=color(i), label=f"{text(name)} (n={len(part)})")
    ax.set_xlabel("fit_e = e_fit (mean |log ratio| of widths to RegNet fit)")
    ax.set_ylabel(ERROR_LABEL)
    ax.legend(fontsize=8)
    return fig, fits


def reward_plot(df: pd.DataFrame):
    """Reward of every told trial in the order it was asked, with each search's running best (search stores)."""
    fig, (ax,) = new_axes(6.4, 4.2)
    rows = []
    for i, (name, part) in enumerate(df.groupby("sweep", sort=False)):
        part = part.sort_values("trial")
        r = pd.to_numeric(part["reward"], errors="coerce")
        ok = np.isfinite(r.to_numpy(float))
        trial, reward = part["trial"].to_numpy()[ok], r.to_numpy(float)[ok]
        if not reward.size:
            continue
        best = np.maximum.accumulate(reward)
        ax.scatter(trial, reward, s=10, alpha=0.5, color=color(i))
        ax.plot(trial, best, "-", color=color(i), lw=1.8, label=f"{text(name)} (best {best[-1]:.4f})")
        rows += [{"sweep": name, "trial": int(a), "reward": b, "best_so_far": c} for a, b, c in zip(trial, reward, best)]
    ax.set_xlabel("trial (order asked)")
    ax.set_ylabel("reward (dots) and best so far (line)")
    ax.legend(fontsize=8)
    return fig, pd.DataFrame(rows)


def pareto_front(cost: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both cost and error (lower is better), by cost."""
    order = np.lexsort((error, cost))
    front, best = [], np.inf
    for j in order:
        if error[j] < best:
            front.append(j)
            best = error[j]
    return np.asarray(front, dtype=int)


def pareto_plot(groups: dict[str, pd.DataFrame], cost: str):
    """Error against ``cost`` (latency_ms or flops) of finished trials, each sweep's Pareto front as a step line."""
    fig, (ax,) = new_axes(6.4, 4.2)
    rows = []
    scale = 1e6 if cost in COMPLEXITY_LABELS else 1.0
    for i, (name, part) in enumerate(groups.items()):
        if cost not in part.columns:
            continue
        c = pd.to_numeric(part[cost], errors="coerce").to_numpy(float) / scale
        err = part["error"].to_numpy(float)
        ok = np.isfinite(c) & np.isfinite(err) & (c > 0)
        c, err, trials = c[ok], err[ok], part["trial"].to_numpy()[ok]
        if not c.size:
            continue
        front = pareto_front(c, err)
        ax.scatter(c, err, s=12, alpha=0.45, color=color(i), label=legend_label(name, err))
        ax.step(c[front], err[front], where="post", color=color(i), lw=1.8)
        on = set(front.tolist())
        rows += [{"sweep": name, "trial": int(t), cost: a * scale, "error": b, "pareto": j in on}
                 for j, (t, a, b) in enumerate(zip(trials, c, err))]
    log_x(ax)
    ax.set_xlabel("latency (ms, batch 1)" if cost == "latency_ms" else COMPLEXITY_LABELS.get(cost, cost))
    ax.set_ylabel(ERROR_LABEL)
    top_legend(fig, ax)
    return fig, pd.DataFrame(rows)


def fidelity_plot(pairs: pd.DataFrame, short_epochs: int | None = None, long_epochs: int | None = None):
    """Each retrained model's error under the short schedule against its error under the longer one, by space."""
    fig, (ax,) = new_axes(5.4, 4.2)
    done = pairs[pd.to_numeric(pairs["long_error"], errors="coerce").notna()]
    for i, (name, part) in enumerate(done.groupby("space", sort=False)):
        ax.scatter(part["short_error"], part["long_error"], s=26, color=color(i),
                   label=f"{text(name)} (n={len(part)})")
    if len(done):
        lo = float(min(done["short_error"].min(), done["long_error"].min()))
        hi = float(max(done["short_error"].max(), done["long_error"].max()))
        ax.plot([lo, hi], [lo, hi], ls=":", color="#888888", lw=1, label="same error")
    short = f"{short_epochs} epochs" if short_epochs else "short schedule"
    long = f"{long_epochs} epochs" if long_epochs else "longer schedule"
    ax.set_xlabel(f"{ERROR_LABEL}, {short}")
    ax.set_ylabel(f"{ERROR_LABEL}, {long}")
    ax.legend(fontsize=7)
    return fig, done.reset_index(drop=True)
