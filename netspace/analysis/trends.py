"""Trends across sweeps and rank correlations of error with parameters and complexity."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from netspace.analysis._checks import AnalysisError
from netspace.analysis.bootstrap import best_ranges
from netspace.analysis.frame import COMPLEXITY, finished, parameter_columns, sweeps


def trends(df: pd.DataFrame, columns: list[str] | None = None, *, by: str = "flops", samples: int = 2500,
           seed: int = 0) -> pd.DataFrame:
    """Best-range bands of each parameter per sweep, ordered by the sweeps' median ``by`` (e.g. flops).

    The paper's scaling study (sec. 5.1) runs one sweep per flop regime and
    tracks how the good ranges of d, w0, wa, wm, g, b move; this is that table.
    """
    columns = parameter_columns(finished(df)) if columns is None else list(columns)
    rows = []
    for name in sweeps(df):
        try:
            done = finished(df, name)
        except AnalysisError:
            continue
        level = float(pd.to_numeric(done[by], errors="coerce").median()) if by in done else np.nan
        cols = [c for c in columns if c in done.columns]
        ranges = best_ranges(done, cols, samples=samples, seed=seed)
        ranges.insert(0, by, level)
        ranges.insert(0, "sweep", name)
        rows.append(ranges)
    if not rows:
        raise AnalysisError("trends: no sweep has finished trials")
    return pd.concat(rows, ignore_index=True).sort_values([by, "sweep", "parameter"], kind="stable",
                                                          ignore_index=True)


def correlations(df: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Spearman rank correlation of error with each parameter and with flops/params/acts, per sweep."""
    rows = []
    for name in sweeps(df):
        try:
            done = finished(df, name)
        except AnalysisError:
            continue
        cols = parameter_columns(done) if columns is None else list(columns)
        cols = cols + [c for c in COMPLEXITY if c in done.columns and c not in cols]
        err = done["error"].to_numpy(float)
        for col in cols:
            v = pd.to_numeric(done[col], errors="coerce").to_numpy(float)
            ok = np.isfinite(v)
            if ok.sum() < 3 or np.unique(v[ok]).size < 2:
                rho, p = np.nan, np.nan
            else:
                res = stats.spearmanr(v[ok], err[ok])
                rho, p = float(res.statistic), float(res.pvalue)
            rows.append({"sweep": name, "parameter": col, "spearman": rho, "p": p, "n": int(ok.sum())})
    if not rows:
        raise AnalysisError("correlations: no sweep has finished trials")
    return pd.DataFrame(rows, columns=["sweep", "parameter", "spearman", "p", "n"])
