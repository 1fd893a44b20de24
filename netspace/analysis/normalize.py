"""Complexity-normalized EDF weights (Radosavovic et al. 2019, "On Network Design Spaces", sec. 4).

Two design spaces sampled under the same recipe can still differ in how their
models spread over complexity, and error falls with complexity, so a raw EDF
comparison rewards the space with bigger models. The NDS paper removes this by
weighting each model so that the complexity distribution of every space
becomes the same: complexity is cut into bins, each bin receives the same total
weight 1/k, split evenly among the models that fall in it
(``w_i = 1 / (k * count[bin(i)])``, the ``compute_norm_ws`` of its notebooks).

Our choice, documented: the common target is uniform over the bins (as in the
paper), the bins are log-spaced (flops and params of sampled networks span
orders of magnitude, and the paper plots them on log axes), and they cover only
the complexity range every compared sweep reaches; models outside it get weight
zero, as the paper drops models outside its flops/params window.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from netspace.analysis._checks import AnalysisError, as_values


def normalized_weights(complexity: Any, bins: Any, target: Sequence[float] | None = None) -> np.ndarray:
    """Weights summing to 1 whose histogram over ``bins`` equals ``target`` (default: uniform).

    ``bins`` are k+1 increasing edges; bins are half-open [a, b) except the last,
    which includes its right edge (numpy's histogram convention). Models outside
    the edges get weight 0. A bin with positive target and no models cannot be
    equalized and raises an AnalysisError.
    """
    c = as_values(complexity, "complexity")
    edges = as_values(bins, "bins")
    if edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise AnalysisError(f"bins: expected at least 2 strictly increasing edges, got {edges.tolist()}")
    k = edges.size - 1
    if target is None:
        t = np.full(k, 1.0 / k)
    else:
        t = as_values(target, "target")
        if t.size != k or np.any(t < 0) or not t.sum() > 0:
            raise AnalysisError(f"target: expected {k} non-negative bin probabilities with a positive sum")
        t = t / t.sum()
    counts, _ = np.histogram(c, bins=edges)
    empty = np.flatnonzero((counts == 0) & (t > 0))
    if empty.size:
        b = int(empty[0])
        raise AnalysisError(
            f"complexity bin {b} [{edges[b]:.4g}, {edges[b + 1]:.4g}] has no models ({empty.size} of {k} bins empty); "
            "use fewer bins or a narrower range"
        )
    inside = (c >= edges[0]) & (c <= edges[-1])
    idx = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, k - 1)
    w = np.zeros(c.size)
    w[inside] = t[idx[inside]] / counts[idx[inside]]
    return w


def common_log_bins(groups: Sequence[Any], max_bins: int = 20, min_per_bin: int = 1) -> np.ndarray:
    """Log-spaced edges over the complexity range all groups share, as many bins as every group can fill.

    Tries ``max_bins`` bins and fewer until each group has at least
    ``min_per_bin`` models in every bin.
    """
    arrays = [as_values(g, f"complexity of group {i}") for i, g in enumerate(groups)]
    if not arrays:
        raise AnalysisError("common_log_bins: expected at least one group of complexity values")
    if any(np.any(a <= 0) for a in arrays):
        raise AnalysisError("common_log_bins: complexity must be positive for log-spaced bins")
    lo = max(float(a.min()) for a in arrays)
    hi = min(float(a.max()) for a in arrays)
    if not hi > lo:
        raise AnalysisError(
            f"the compared sweeps share no complexity range (overlap [{lo:.4g}, {hi:.4g}]); compare them without normalizing"
        )
    for k in range(int(max_bins), 0, -1):
        edges = np.geomspace(lo, hi, k + 1)
        if all(np.histogram(a, bins=edges)[0].min() >= min_per_bin for a in arrays):
            return edges
    raise AnalysisError("no binning of the shared complexity range gives every sweep a model in every bin")
