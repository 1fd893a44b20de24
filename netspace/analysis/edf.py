"""Error empirical distribution functions (EDFs).

The RegNet paper (eq. 1) compares design spaces by F(e) = (1/n) sum_i 1[e_i < e],
the fraction of models with error below e. With weights w_i summing to 1 the
fraction becomes sum_i w_i 1[e_i < e] (the normalized EDF of the NDS paper).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netspace.analysis._checks import as_values, as_weights


def edf(errors: Any, weights: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Step data of the error EDF: sorted distinct errors x and F[k] = fraction of models with error <= x[k].

    F is a step function rising at each x[k]; ``F[k]`` is its value just after
    the step (F(e) for x[k] < e <= x[k+1]), so ``plt.step(x, F, where="post")``
    draws it. Use :func:`edf_at` for F at arbitrary points.
    """
    e = as_values(errors, "errors")
    w = np.full(e.size, 1.0 / e.size) if weights is None else as_weights(weights, e.size)
    order = np.argsort(e, kind="stable")
    e, w = e[order], w[order]
    x, counts = np.unique(e, return_counts=True)
    cum = np.cumsum(w)
    ends = np.cumsum(counts) - 1  # last sorted index of each distinct error
    F = cum[ends]
    F[-1] = 1.0  # exact despite rounding in the cumulative sum
    return x, F


def edf_at(errors: Any, points: Any, weights: Any = None) -> np.ndarray:
    """F(p) = (weighted) fraction of models with error strictly below each point p."""
    e = as_values(errors, "errors")
    p = np.atleast_1d(np.asarray(points, dtype=float))
    w = np.full(e.size, 1.0 / e.size) if weights is None else as_weights(weights, e.size)
    order = np.argsort(e, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(w[order])])
    return cum[np.searchsorted(e[order], p, side="left")]
