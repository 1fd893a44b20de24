"""The trials DataFrame: one row per trial, in the columns of ``netspace.schema``.

``sweep`` (str), ``trial`` (int), ``status`` (``schema.STATUSES``), ``error``
(final error on ``eval_split``, percent), ``best_error``, ``flops``,
``params``, ``acts``, optional list columns ``block_widths`` and ``curve``;
each column's role (design parameter, complexity, measurement, fit, ...)
is told by its name (``schema.role``), and analysis plots error only against
design parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from netspace.analysis._checks import AnalysisError, require_frame
from netspace.schema import COMPLEXITY, STATUSES, columns_with_role

__all__ = ["COMPLEXITY", "STATUSES", "finished", "parameter_columns", "splits", "sweeps"]


def finished(df: pd.DataFrame, sweep: str | None = None) -> pd.DataFrame:
    """Done trials with a finite error, of one sweep or all; an AnalysisError if there are none."""
    require_frame(df, ("sweep", "status", "error"))
    rows = df if sweep is None else df[df["sweep"] == sweep]
    if sweep is not None and rows.empty:
        raise AnalysisError(f"sweep {sweep!r} is not in the DataFrame; it has {', '.join(map(str, sweeps(df)))}")
    errors = pd.to_numeric(rows["error"], errors="coerce")
    done = rows[(rows["status"] == "done") & np.isfinite(errors)]
    if done.empty:
        where = f"sweep {sweep!r}" if sweep is not None else "the DataFrame"
        counts = rows["status"].value_counts().to_dict()
        raise AnalysisError(
            f"{where} has no finished trials (statuses: {counts}); wait for trials to finish or resume the sweep"
        )
    return done


def sweeps(df: pd.DataFrame) -> list[str]:
    """Sweep names in order of first appearance."""
    require_frame(df, ("sweep",))
    return list(dict.fromkeys(df["sweep"].astype(str)))


def parameter_columns(df: pd.DataFrame) -> list[str]:
    """The design parameters (``schema.role`` "design") that are numeric and vary across trials.

    Measurements (errors, images/s, latency), complexity, per-stage structure
    and fitted values are never among them, whatever their values.
    """
    require_frame(df, ())
    out = []
    for col in columns_with_role(df.columns, "design"):
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            continue
        if df[col].dropna().nunique() > 1:
            out.append(col)
    return out


def splits(df: pd.DataFrame) -> dict[str, str | None]:
    """Per sweep, the split its errors are measured on (``eval_split``; None where not recorded)."""
    require_frame(df, ("sweep",))
    if "eval_split" not in df.columns:
        return dict.fromkeys(sweeps(df))
    out = {}
    for name in sweeps(df):
        values = df.loc[df["sweep"].astype(str) == name, "eval_split"].dropna().astype(str).unique()
        out[name] = "/".join(sorted(values)) or None
    return out
