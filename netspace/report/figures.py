"""The report's plots. Each function returns (figure, the plotted data as a DataFrame)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from netspace.analysis import RegNetFit, edf
from netspace.report.style import COMPLEXITY_LABELS, ERROR_LABEL, color, legend_label, log_x, new_axes, text, top_legend


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


def parameter_plot(groups: dict[str, pd.DataFrame], parameter: str, ranges: dict[str, tuple[float, float, float]]):
    """Error vs one parameter, with each sweep's bootstrap best range as a shaded band and its median as a line."""
    fig, (ax,) = new_axes()
    rows = []
    for i, (name, part) in enumerate(groups.items()):
        v = pd.to_numeric(part[parameter], errors="coerce").to_numpy(float)
        err = part["error"].to_numpy(float)
        ok = np.isfinite(v)
        ax.scatter(v[ok], err[ok], s=12, alpha=0.55, color=color(i), label=legend_label(name, err[ok]) if ok.any() else text(name))
        if name in ranges and np.all(np.isfinite(ranges[name])):
            lo, med, hi = ranges[name]
            ax.axvspan(lo, hi, color=color(i), alpha=0.12, lw=0)
            ax.axvline(med, color=color(i), ls="--", lw=1.2)
        rows += [{"sweep": name, parameter: a, "error": b} for a, b in zip(v[ok], err[ok])]
    ax.set_xlabel(f"{parameter}  (band: 95% range of the best model, dashed: median)")
    ax.set_ylabel(ERROR_LABEL)
    top_legend(fig, ax)
    return fig, pd.DataFrame(rows)


def complexity_plot(groups: dict[str, pd.DataFrame], metrics: list[str]):
    """Error vs flops / params / acts on log axes, one panel each."""
    fig, axes = new_axes(4.6, 3.6, ncols=len(metrics))
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
    top_legend(fig, axes[0])
    return fig, pd.DataFrame(rows)


def trends_plot(table: pd.DataFrame, by: str, parameters: list[str]):
    """Median and 95% band of each parameter's best range against the sweeps' median complexity."""
    fig, axes = new_axes(3.4, 3.0, ncols=len(parameters))
    for ax, p in zip(axes, parameters):
        t = table[table["parameter"] == p].sort_values(by)
        x = t[by].to_numpy(float) / 1e6
        ax.fill_between(x, t["low"], t["high"], color=color(0), alpha=0.2, lw=0)
        ax.plot(x, t["median"], "o-", color=color(0))
        log_x(ax)
        ax.set_xlabel(f"sweep median {COMPLEXITY_LABELS.get(by, by)}")
        ax.set_ylabel(f"best {p}")
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
        ax.plot(np.arange(1, c.size + 1), c, "-", color=color(i), lw=1.6,
                label=f"{text(row['sweep'])} #{row['trial']} (final {row['error']:.2f}%)")
        rows += [{"sweep": row["sweep"], "trial": row["trial"], "epoch": j + 1, "error": e} for j, e in enumerate(c)]
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
