"""Per-sweep views of a trials DataFrame: errors of finished trials and their normalized-EDF weights."""

from __future__ import annotations

import numpy as np
import pandas as pd

from netspace.analysis._checks import AnalysisError
from netspace.analysis.compare import KSResult, compare_all
from netspace.analysis.frame import COMPLEXITY, finished, sweeps
from netspace.analysis.normalize import common_log_bins, normalized_weights


def finished_by_sweep(df: pd.DataFrame, *, skip_empty: bool = False) -> dict[str, pd.DataFrame]:
    """Finished trials of each sweep; a sweep with none raises unless ``skip_empty``."""
    out = {}
    for name in sweeps(df):
        try:
            out[name] = finished(df, name)
        except AnalysisError:
            if not skip_empty:
                raise
    if not out:
        raise AnalysisError("no sweep has finished trials; wait for trials to finish or resume the sweeps")
    return out


def complexity_weights(groups: dict[str, pd.DataFrame], by: str, max_bins: int = 20) -> dict[str, np.ndarray]:
    """Normalized-EDF weights per sweep over log bins of ``by`` shared by all sweeps (see normalize.py)."""
    if by not in COMPLEXITY:
        raise AnalysisError(f"normalize: expected one of {', '.join(COMPLEXITY)}, got {by!r}")
    values = {}
    for name, part in groups.items():
        if by not in part.columns:
            raise AnalysisError(f"normalize by {by}: sweep {name!r} has no {by} column")
        v = pd.to_numeric(part[by], errors="coerce").to_numpy(float)
        if not np.all(np.isfinite(v)):
            raise AnalysisError(f"normalize by {by}: sweep {name!r} has trials without {by}; record complexity")
        values[name] = v
    edges = common_log_bins(list(values.values()), max_bins=max_bins)
    return {name: normalized_weights(v, edges) for name, v in values.items()}


def compare_sweeps(df: pd.DataFrame, normalize: str | None = None, *, skip_empty: bool = False) -> list[KSResult]:
    """Pairwise KS comparisons of the sweeps' error EDFs, optionally complexity-normalized."""
    groups = finished_by_sweep(df, skip_empty=skip_empty)
    if len(groups) < 2:
        raise AnalysisError("compare_sweeps: expected at least two sweeps with finished trials")
    weights = complexity_weights(groups, normalize) if normalize else {}
    errors = {name: part["error"].to_numpy(float) for name, part in groups.items()}
    if weights:  # models outside the shared complexity range carry no weight: drop them
        keep = {name: w > 0 for name, w in weights.items()}
        errors = {name: e[keep[name]] for name, e in errors.items()}
        weights = {name: w[keep[name]] for name, w in weights.items()}
    return compare_all(errors, weights)
