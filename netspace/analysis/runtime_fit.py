"""Which complexity measure predicts runtime: the RegNet paper's section on complexity and speed.

The paper reports that on GPUs a model's activations predict its runtime
better than its flops, and that ``t ~ c0 + c1 sqrt(flops) + c2 acts`` fits
best. We fit five linear models by least squares,

    flops:              t = c0 + c1 * flops
    params:             t = c0 + c1 * params
    acts:               t = c0 + c1 * acts
    sqrt_flops+acts:    t = c0 + c1 * sqrt(flops) + c2 * acts
    flops+sqrt_flops:   t = c0 + c1 * flops + c2 * sqrt(flops)

The last is the paper's two-term form with flops in place of acts: it tests
whether the acts term carries anything that a curved function of flops
alone does not (on a CPU, where flops and acts both track latency, the
answer may differ from the paper's GPU).

and score each on held-out models: k-fold cross-validation, so every model's
prediction comes from a fit that never saw it. Scores: R^2 of the held-out
predictions, Spearman rank correlation between predicted and measured
times, and mean relative error |t_hat - t| / t.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from netspace.analysis._checks import AnalysisError, as_values

# name -> formula; the features of each are built by _features.
RUNTIME_MODELS: dict[str, str] = {
    "flops": "t ~ c0 + c1 flops",
    "params": "t ~ c0 + c1 params",
    "acts": "t ~ c0 + c1 acts",
    "sqrt_flops+acts": "t ~ c0 + c1 sqrt(flops) + c2 acts",
    "flops+sqrt_flops": "t ~ c0 + c1 flops + c2 sqrt(flops)",
}


def _features(name: str, flops: np.ndarray, params: np.ndarray, acts: np.ndarray) -> np.ndarray:
    ones = np.ones_like(flops)
    if name == "flops":
        return np.column_stack([ones, flops])
    if name == "params":
        return np.column_stack([ones, params])
    if name == "acts":
        return np.column_stack([ones, acts])
    if name == "sqrt_flops+acts":
        return np.column_stack([ones, np.sqrt(flops), acts])
    if name == "flops+sqrt_flops":
        return np.column_stack([ones, flops, np.sqrt(flops)])
    raise AnalysisError(f"unknown runtime model {name!r}; choose one of {', '.join(RUNTIME_MODELS)}")


@dataclass
class RuntimeModel:
    """One linear runtime model, scikit-learn style: ``fit(flops, params, acts, t)``, then ``predict``.

    ``coef_`` holds (c0, c1[, c2]) in the order of the formula. Features are
    scaled to unit maximum inside the solve, so coefficients of very
    different magnitudes (flops ~1e9, acts ~1e6) are found accurately.
    """

    name: str
    coef_: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.name not in RUNTIME_MODELS:
            raise AnalysisError(f"unknown runtime model {self.name!r}; choose one of {', '.join(RUNTIME_MODELS)}")

    @property
    def formula(self) -> str:
        return RUNTIME_MODELS[self.name]

    def fit(self, flops: Any, params: Any, acts: Any, t: Any) -> "RuntimeModel":
        f, p, a, y = _arrays(flops, params, acts, t)
        x = _features(self.name, f, p, a)
        if len(y) < x.shape[1]:
            raise AnalysisError(f"runtime model {self.name}: needs at least {x.shape[1]} models, got {len(y)}")
        scale = np.max(np.abs(x), axis=0)
        scale[scale == 0] = 1.0
        coef, *_ = np.linalg.lstsq(x / scale, y, rcond=None)
        self.coef_ = coef / scale
        return self

    def predict(self, flops: Any, params: Any, acts: Any) -> np.ndarray:
        if self.coef_ is None:
            raise AnalysisError(f"runtime model {self.name}: call fit before predict")
        f, p, a, _ = _arrays(flops, params, acts, None)
        return _features(self.name, f, p, a) @ self.coef_


def _arrays(flops: Any, params: Any, acts: Any, t: Any) -> tuple[np.ndarray, ...]:
    f, p, a = as_values(flops, "flops"), as_values(params, "params"), as_values(acts, "acts")
    y = as_values(t, "t") if t is not None else np.zeros_like(f)
    if not (f.size == p.size == a.size == y.size):
        raise AnalysisError(f"flops, params, acts and t must have one value per model; got lengths "
                            f"{f.size}, {p.size}, {a.size}, {y.size}")
    if np.any(f < 0) or np.any(p < 0) or np.any(a < 0):
        raise AnalysisError("flops, params and acts must be >= 0")
    return f, p, a, y


def scores(t: Any, predicted: Any) -> dict[str, float]:
    """R^2, Spearman rank correlation and mean relative error of ``predicted`` against measured ``t``."""
    y, yhat = as_values(t, "t"), as_values(predicted, "predicted")
    if y.size != yhat.size:
        raise AnalysisError(f"t and predicted must have the same length, got {y.size} and {yhat.size}")
    if np.any(y <= 0):
        raise AnalysisError("t: measured times must be > 0")
    total = np.sum((y - y.mean()) ** 2)
    r2 = 1.0 - np.sum((y - yhat) ** 2) / total if total > 0 else np.nan
    rho = float(stats.spearmanr(y, yhat).statistic) if y.size > 2 and np.ptp(yhat) > 0 else np.nan
    return {"r2": float(r2), "spearman": rho, "mean_rel_error": float(np.mean(np.abs(yhat - y) / y))}


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def fit_runtime_models(df: pd.DataFrame, *, target: str = "latency_ms", folds: int = 5, seed: int = 0,
                       models: tuple[str, ...] = tuple(RUNTIME_MODELS)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit each runtime model on a population with measured times; score it on held-out models.

    ``df`` needs ``flops``, ``params``, ``acts`` and the ``target`` column
    (rows where it is missing are dropped). Returns ``(table, predictions)``:
    the table has one row per model (``model``, ``formula``, ``r2``,
    ``spearman``, ``mean_rel_error`` on held-out predictions, ``n``, and the
    coefficients ``c0``, ``c1``, ``c2`` of a fit on all rows); predictions
    has per population row the measured time and each model's held-out
    prediction (columns ``pred_<model>``).
    """
    if not isinstance(df, pd.DataFrame):
        raise AnalysisError(f"runtime fit: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in ("flops", "params", "acts", target) if c not in df.columns]
    if missing:
        hint = "; measure the models first with 'netspace latency DIR'" if target in missing else ""
        raise AnalysisError(f"runtime fit: missing column(s) {', '.join(missing)}{hint}")
    data = df[["flops", "params", "acts", target]].apply(pd.to_numeric, errors="coerce")
    keep = data.notna().all(axis=1).to_numpy()
    data = data[keep]
    n = len(data)
    if not isinstance(folds, int) or folds < 2:
        raise AnalysisError(f"runtime fit: folds must be an integer >= 2, got {folds!r}")
    if n < max(folds, 4):
        raise AnalysisError(f"runtime fit: needs at least {max(folds, 4)} models with a measured {target}, "
                            f"got {n}; measure more models or lower folds")
    f, p, a, y = (data[c].to_numpy(float) for c in ("flops", "params", "acts", target))
    if np.any(y <= 0):
        raise AnalysisError(f"runtime fit: {target} must be > 0 for every model")
    preds = pd.DataFrame({"flops": f, "params": p, "acts": a, target: y})
    for extra in ("sweep", "trial", "name"):
        if extra in df.columns:
            preds.insert(0, extra, df.loc[keep, extra].to_numpy())
    rows = []
    for name in models:
        held_out = np.empty(n)
        for test in _folds(n, folds, seed):
            train = np.setdiff1d(np.arange(n), test)
            m = RuntimeModel(name).fit(f[train], p[train], a[train], y[train])
            held_out[test] = m.predict(f[test], p[test], a[test])
        preds[f"pred_{name}"] = held_out
        full = RuntimeModel(name).fit(f, p, a, y)
        coef = list(full.coef_) + [np.nan] * (3 - len(full.coef_))
        rows.append({"model": name, "formula": RUNTIME_MODELS[name], **scores(y, held_out), "n": n,
                     "c0": coef[0], "c1": coef[1], "c2": coef[2]})
    return pd.DataFrame(rows), preds
