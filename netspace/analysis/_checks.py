"""Validation at the analysis boundary: plain arrays and DataFrames in, clear errors out."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from netspace.errors import NetspaceError


class AnalysisError(NetspaceError, ValueError):
    """Input to an analysis function is empty, malformed or has no usable trials."""


def as_values(values: Any, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """A finite 1-D float array, or an AnalysisError saying what was expected."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise AnalysisError(f"{name}: expected a 1-D sequence of numbers, got {type(values).__name__}") from None
    if arr.ndim != 1:
        raise AnalysisError(f"{name}: expected a 1-D sequence of numbers, got an array of shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise AnalysisError(f"{name}: expected at least one value, got none")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise AnalysisError(f"{name}: expected finite numbers, got {bad} NaN/inf value(s); drop unfinished trials first")
    return arr


def as_weights(weights: Any, n: int, name: str = "weights") -> np.ndarray:
    """Non-negative weights of length n with a positive sum, normalized to sum to 1."""
    w = as_values(weights, name)
    if w.size != n:
        raise AnalysisError(f"{name}: expected {n} weights (one per value), got {w.size}")
    if np.any(w < 0):
        raise AnalysisError(f"{name}: expected non-negative weights, got a minimum of {w.min():g}")
    total = w.sum()
    if not total > 0:
        raise AnalysisError(f"{name}: expected weights with a positive sum, got all zeros")
    return w / total


def require_frame(df: Any, columns: Iterable[str], what: str = "trials") -> pd.DataFrame:
    """A non-empty DataFrame holding ``columns``."""
    if not isinstance(df, pd.DataFrame):
        raise AnalysisError(f"{what}: expected a pandas DataFrame, got {type(df).__name__}")
    if df.empty:
        raise AnalysisError(f"{what}: the DataFrame is empty; run a sweep or read a sweep file first")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise AnalysisError(
            f"{what}: missing column(s) {', '.join(missing)}; the DataFrame has {', '.join(map(str, df.columns))}"
        )
    return df
