"""The empirical bootstrap of the best models' parameter range (RegNet paper, sec. 3.1; pycls ``get_filters``).

Repeat B times: draw 25% of the models with replacement, keep the one with the
lowest error, record its parameter values. The 2.5/50/97.5 percentiles of the
recorded values are the range where good models lie (the bands in the paper's
error-vs-parameter plots). Vectorized: all B draws are one integer matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from netspace.analysis._checks import AnalysisError, as_values

PERCENTILES = (2.5, 50.0, 97.5)
_CHUNK = 4_000_000  # draws per chunk, bounding memory to ~32 MB of indices


def bootstrap_best(errors: Any, *, samples: int = 2500, fraction: float = 0.25, seed: int = 0) -> np.ndarray:
    """Indices (length ``samples``) of the best model in each bootstrap draw."""
    e = as_values(errors, "errors")
    if not (isinstance(samples, (int, np.integer)) and samples >= 1):
        raise AnalysisError(f"samples: expected a positive integer, got {samples!r}")
    if not 0 < fraction <= 1:
        raise AnalysisError(f"fraction: expected a value in (0, 1], got {fraction!r}")
    n = e.size
    m = max(1, int(n * fraction))  # pycls: max(1, int(n * sample))
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK // m)
    out = np.empty(samples, dtype=np.int64)
    for start in range(0, samples, rows):  # a loop over memory chunks, not over draws
        b = min(rows, samples - start)
        draws = rng.integers(0, n, size=(b, m))
        out[start:start + b] = draws[np.arange(b), np.argmin(e[draws], axis=1)]
    return out


def best_range(errors: Any, values: Any, *, samples: int = 2500, fraction: float = 0.25, seed: int = 0,
               percentiles: tuple[float, float, float] = PERCENTILES) -> tuple[float, float, float]:
    """(low, median, high) percentiles of the parameter value of the bootstrap-best model."""
    e = as_values(errors, "errors")
    v = as_values(values, "values")
    if v.size != e.size:
        raise AnalysisError(f"values: expected {e.size} values (one per error), got {v.size}")
    best = bootstrap_best(e, samples=samples, fraction=fraction, seed=seed)
    lo, med, hi = np.percentile(v[best], percentiles)
    return float(lo), float(med), float(hi)


def best_ranges(df: pd.DataFrame, columns: list[str], *, samples: int = 2500, fraction: float = 0.25,
                seed: int = 0, percentiles: tuple[float, float, float] = PERCENTILES) -> pd.DataFrame:
    """Best ranges of several columns of one sweep's finished trials, from the same bootstrap draws."""
    best = bootstrap_best(df["error"].to_numpy(float), samples=samples, fraction=fraction, seed=seed)
    rows = []
    for col in columns:
        v = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
        picked = v[best]
        picked = picked[np.isfinite(picked)]
        lo, med, hi = np.percentile(picked, percentiles) if picked.size else (np.nan,) * 3
        rows.append({"parameter": col, "low": float(lo), "median": float(med), "high": float(hi)})
    return pd.DataFrame(rows, columns=["parameter", "low", "median", "high"])
