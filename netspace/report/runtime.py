"""The runtime-model page: which complexity measure predicts measured latency (self-contained HTML).

:func:`runtime_report` is the one call behind ``netspace runtime-fit``: fit
the runtime models on a frame of measured models and write the page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from netspace.analysis.runtime_fit import RUNTIME_MODELS, fit_runtime_models
from netspace.files import output_path, write_atomic
from netspace.report.output import Plot, save_plot
from netspace.report.page import figure, page, paragraph, section, table
from netspace.report.style import COMPLEXITY_LABELS, color, log_x, new_axes


def time_vs_complexity_plot(preds: pd.DataFrame, target: str):
    """Measured time against flops, params and acts (log axes), one panel each."""
    fig, axes = new_axes(4.2, 3.4, ncols=3)
    rows = []
    y = preds[target].to_numpy(float)
    for ax, metric in zip(axes, ("flops", "params", "acts")):
        x = preds[metric].to_numpy(float) / 1e6
        ok = x > 0
        ax.scatter(x[ok], y[ok], s=12, alpha=0.6, color=color(0))
        log_x(ax)
        ax.set_yscale("log")
        ax.set_xlabel(COMPLEXITY_LABELS[metric])
        ax.set_ylabel(f"measured {target}")
        rows += [{"metric": metric, "value_millions": a, target: b} for a, b in zip(x[ok], y[ok])]
    return fig, pd.DataFrame(rows)


def predicted_vs_measured_plot(preds: pd.DataFrame, table_: pd.DataFrame, target: str):
    """Held-out prediction of each runtime model against the measured time, with the y = x line."""
    names = [m for m in table_["model"] if f"pred_{m}" in preds.columns]
    fig, axes = new_axes(3.4, 3.4, ncols=len(names))
    y = preds[target].to_numpy(float)
    lo, hi = float(np.min(y)), float(np.max(y))
    rows = []
    for i, (ax, name) in enumerate(zip(axes, names)):
        yhat = preds[f"pred_{name}"].to_numpy(float)
        r = table_[table_["model"] == name].iloc[0]
        ax.scatter(y, yhat, s=12, alpha=0.6, color=color(i))
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_title(f"{RUNTIME_MODELS[name]}\nR²={r['r2']:.3f}  ρ={r['spearman']:.3f}", fontsize=9)
        ax.set_xlabel(f"measured {target}")
        ax.set_ylabel("held-out prediction")
        rows += [{"model": name, target: a, "predicted": b} for a, b in zip(y, yhat)]
    return fig, pd.DataFrame(rows)


def write_runtime_report(table_: pd.DataFrame, preds: pd.DataFrame, out_html: str | os.PathLike, *,
                         target: str = "latency_ms", setting: str = "",
                         title: str = "netspace runtime models") -> str:
    """Write the page (plots also as PNG/SVG/CSV beside it, the tables as CSV); returns its path."""
    out_html = output_path(out_html, "runtime-fit", "runtime.html")
    page_dir = os.path.dirname(os.path.abspath(out_html))
    plot_dir = os.path.join(page_dir, os.path.splitext(os.path.basename(out_html))[0] + "_plots")
    plots: list[Plot] = []

    def keep(fig_data, name: str, title_: str) -> str:
        plot = save_plot(*fig_data, plot_dir, name, title_)
        plots.append(plot)
        return figure(plot, page_dir)

    shown = table_.copy()
    for c in ("r2", "spearman", "mean_rel_error"):
        shown[c] = shown[c].astype(float).round(4)
    body = [
        paragraph(f"{len(preds)} models with a measured {target}{' (' + setting + ')' if setting else ''}. "
                  "Each model is fitted by least squares; R², Spearman ρ and mean relative error are of "
                  "held-out predictions (k-fold cross-validation), the coefficients of a fit on all models.",
                  "note"),
        section("Runtime models", table(shown)),
        section("Measured time vs complexity",
                keep(time_vs_complexity_plot(preds, target), "time_vs_complexity",
                     f"Measured {target} against flops, params, acts")),
        section("Held-out predictions",
                keep(predicted_vs_measured_plot(preds, table_, target), "predicted_vs_measured",
                     "Held-out prediction of each runtime model against the measured time")),
    ]
    os.makedirs(plot_dir, exist_ok=True)
    table_.to_csv(os.path.join(plot_dir, "runtime_models.csv"), index=False)
    preds.to_csv(os.path.join(plot_dir, "predictions.csv"), index=False)
    return write_atomic(out_html, page(title, body))


_SETTING_COLUMNS = ("latency_device", "latency_batch", "latency_threads", "latency_mode")


@dataclass(frozen=True)
class RuntimeReport:
    """The fitted runtime models (``table``: one row per model, held-out scores and coefficients), the held-out
    ``predictions`` per measured model, the measurement ``setting`` in words and the page's ``path``."""

    table: pd.DataFrame
    predictions: pd.DataFrame
    setting: str
    path: str


def measurement_setting(df: pd.DataFrame, target: str) -> str:
    """The latency settings of the rows with a measured ``target`` ("device cpu, batch 1, ..."); "" if unknown."""
    if "latency_device" not in df.columns or target not in df.columns:
        return ""
    d = df.dropna(subset=[target])
    return ", ".join(f"{k.removeprefix('latency_')} {', '.join(map(str, d[k].dropna().unique()))}"
                     for k in _SETTING_COLUMNS if k in d and d[k].notna().any())


def runtime_report(df: pd.DataFrame, out_html: str | os.PathLike, *, target: str = "latency_ms", folds: int = 5,
                   seed: int = 0) -> RuntimeReport:
    """Fit every runtime model on ``df`` (:func:`~netspace.analysis.fit_runtime_models`) and write the page."""
    output_path(out_html, "runtime-fit", "runtime.html")  # before the fit, not after it
    table_, preds = fit_runtime_models(df, target=target, folds=folds, seed=seed)
    setting = measurement_setting(df, target)
    path = write_runtime_report(table_, preds, out_html, target=target, setting=setting)
    return RuntimeReport(table=table_, predictions=preds, setting=setting, path=path)
