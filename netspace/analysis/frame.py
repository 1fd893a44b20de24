"""The trials DataFrame: one row per trial, columns by convention.

``sweep`` (str), ``trial`` (int), ``status`` (done|diverged|failed|pending|running),
``error`` (final test error, percent), ``best_error``, ``flops``, ``params``,
``acts``, ``wall_seconds``, optional list columns ``block_widths`` and
``curve``; every other numeric column is a sampled parameter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from netspace.analysis._checks import AnalysisError, require_frame

STATUSES = ("done", "diverged", "failed", "pending", "running")
COMPLEXITY = ("flops", "params", "acts")
RESERVED = frozenset(
    {"sweep", "trial", "status", "error", "best_error", "block_widths", "curve", "wall_seconds", "seed", "spec",
     *COMPLEXITY}
)
# Measured latency (``netspace latency DIR``): a result, not a sampled parameter.
LATENCY = ("latency_ms", "latency_p10_ms", "latency_p90_ms", "latency_predicted_ms", "latency_batch",
           "latency_resolution", "latency_threads")
RESERVED = RESERVED | frozenset(LATENCY)
# A search's reward (``netspace search``): a result too.
RESERVED = RESERVED | {"reward"}


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
    """Numeric columns that vary across trials and are not reserved (the sampled parameters)."""
    require_frame(df, ())
    out = []
    for col in df.columns:
        if col in RESERVED or not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            continue
        if df[col].dropna().nunique() > 1:
            out.append(str(col))
    return out
