"""Evidence that says what the data can carry: effects with intervals, exact p-values, detectable effects.

The RegNet paper compares design spaces by their error EDFs (Section 3,
"Design space comparison": the KS statistic D) and reads trends as rank
correlations. Each function here returns, besides the effect, what a
reviewer needs to weigh it:

- :func:`compare_errors`: two samples of errors. KS D (two-sided,
  ``scipy.stats.ks_2samp`` with its exact distribution at small n) and its
  bootstrap interval; the difference of medians (b - a) with its bootstrap
  interval and a permutation p-value; the smallest population D that a KS
  test at this n would detect with 80% power (simulated under a normal
  location shift); and an equivalence test for "no difference": the upper
  bound of the one-sided 95% bootstrap interval of D must lie inside a
  stated margin (:data:`D_MARGIN`). Bootstrapped D is biased upwards, so
  the test is conservative: with 16 models per space it cannot pass.
- :func:`rank_correlation`: Spearman's rho with an exact permutation p-value
  when n! is small (all orderings) and a Monte Carlo one otherwise,
  one-sided in the claimed direction (a perfect ranking of 3 models has
  p = 1/6), Kendall's tau beside it with its own permutation p, bootstrap
  percentile intervals of both, and the smallest
  rho detectable at 80% power (Fisher's z with the Spearman variance
  1.06 / (n - 3)).

Everything is seeded, so a report is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.8
D_MARGIN = 0.2  # "no difference": the EDFs are never more than 20 percentage points apart (upper bound of D)
RESAMPLES = 2000
EXACT_PERMUTATIONS = 40320  # 8!: rank tests enumerate every ordering up to this many


@dataclass(frozen=True)
class Evidence:
    """One statistical comparison, as plain numbers (``None`` where a figure does not apply)."""

    test: str
    n: dict[str, int]
    effect: float | None  # the headline effect (KS D, rho, ...); its name is ``effect_name``
    effect_name: str
    ci: tuple[float, float] | None  # 95% interval of the effect
    p: float | None
    detectable_effect: float | None  # smallest effect this n detects with 80% power at alpha 0.05
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci"] = None if self.ci is None else [float(self.ci[0]), float(self.ci[1])]
        return d


def _ks_d(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(D, D+, D-) with D+ = sup(F_a - F_b): how far a's EDF rises above b's (a has more low errors)."""
    pts = np.concatenate([a, b])
    fa = np.searchsorted(np.sort(a), pts, side="right") / a.size
    fb = np.searchsorted(np.sort(b), pts, side="right") / b.size
    diff = fa - fb
    plus, minus = float(max(diff.max(), 0.0)), float(max((-diff).max(), 0.0))
    return max(plus, minus), plus, minus


def _ks_d_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """KS D of each row pair of (R, n_a) and (R, n_b) samples, vectorized."""
    na, nb = a.shape[1], b.shape[1]
    both = np.concatenate([a, b], axis=1)
    order = np.argsort(both, axis=1, kind="stable")
    steps = np.where(order < na, 1.0 / na, -1.0 / nb)
    walk = np.cumsum(steps, axis=1)
    vals = np.take_along_axis(both, order, axis=1)
    # Only the last of a run of ties is a point of the EDFs.
    last = np.ones_like(walk, dtype=bool)
    last[:, :-1] = vals[:, 1:] != vals[:, :-1]
    return np.abs(np.where(last, walk, 0.0)).max(axis=1)


def ks_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided KS p-value, exact where scipy can compute it (small n), asymptotic otherwise."""
    method = "exact" if a.size * b.size <= 250_000 else "asymp"
    return float(stats.ks_2samp(a, b, method=method).pvalue)


@lru_cache(maxsize=256)
def detectable_ks_d(n_a: int, n_b: int, *, alpha: float = ALPHA, power: float = POWER, reps: int = 400,
                    seed: int = 0) -> float:
    """The smallest population KS distance a KS test at (n_a, n_b) detects with ``power`` at ``alpha``.

    Simulated for two normal samples a shift delta apart (population
    D = 2 Phi(delta / 2) - 1), by bisection on delta; the test's critical
    D is that of the exact null distribution (simulated with the same
    draws). Returns 1.0 when no effect is detectable (tiny n).
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((reps, n_a))
    y = rng.standard_normal((reps, n_b))
    null = _ks_d_rows(x, y)
    crit = float(np.quantile(null, 1 - alpha))
    # D takes discrete values; reject when D exceeds what the null reaches in more than alpha of the draws.
    if np.mean(null >= crit - 1e-12) > alpha:
        crit += 1e-9
    lo, hi = 0.0, 12.0
    if np.mean(_ks_d_rows(x, y + hi) >= crit) < power:
        return 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if np.mean(_ks_d_rows(x, y + mid) >= crit) >= power:
            hi = mid
        else:
            lo = mid
    return float(2 * stats.norm.cdf(hi / 2) - 1)


def compare_errors(a: Any, b: Any, *, names: tuple[str, str] = ("a", "b"), margin: float = D_MARGIN,
                   resamples: int = RESAMPLES, seed: int = 0) -> Evidence:
    """KS D, median difference (b - a), their intervals, p-values, detectable D and an equivalence test."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = {names[0]: int(a.size), names[1]: int(b.size)}
    d, plus, minus = _ks_d(a, b)
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, a.size, (resamples, a.size))
    ib = rng.integers(0, b.size, (resamples, b.size))
    boot_d = _ks_d_rows(a[ia], b[ib])
    boot_med = np.median(b[ib], axis=1) - np.median(a[ia], axis=1)
    med_diff = float(np.median(b) - np.median(a))
    perm = stats.permutation_test((a, b), lambda x, y, axis: np.median(y, axis=axis) - np.median(x, axis=axis),
                                  n_resamples=resamples, random_state=seed, vectorized=True)
    d_upper = float(np.quantile(boot_d, 0.95))
    extra = {
        "better": names[0] if plus >= minus else names[1],
        "median_a": float(np.median(a)), "median_b": float(np.median(b)),
        "median_difference": med_diff,
        "median_difference_ci": [float(np.quantile(boot_med, 0.025)), float(np.quantile(boot_med, 0.975))],
        "median_difference_p": float(perm.pvalue),
        "d_upper_95": d_upper, "margin": margin, "equivalent": bool(d_upper <= margin),
    }
    return Evidence("KS", n, float(d), "KS D",
                    (float(np.quantile(boot_d, 0.025)), float(np.quantile(boot_d, 0.975))),
                    ks_pvalue(a, b), detectable_ks_d(int(a.size), int(b.size)), extra)


def detectable_rho(n: int, *, alpha: float = ALPHA, power: float = POWER) -> float:
    """Smallest Spearman rho a one-sided test at n detects with ``power`` (Fisher z, variance 1.06/(n-3))."""
    if n <= 3:
        return 1.0
    z = (stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)) * math.sqrt(1.06 / (n - 3))
    return float(min(1.0, math.tanh(z)))


def _spearman(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's rho along ``axis`` (Pearson's r of average ranks), vectorized; NaN where a side is constant."""
    ru = stats.rankdata(u, axis=axis)
    rv = stats.rankdata(v, axis=axis)
    ru = ru - ru.mean(axis=axis, keepdims=True)
    rv = rv - rv.mean(axis=axis, keepdims=True)
    den = np.sqrt((ru * ru).sum(axis=axis) * (rv * rv).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ru * rv).sum(axis=axis) / den


def _kendall(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
    """Kendall's tau-b along ``axis`` (the last one), vectorized over the other axes; NaN where a side is constant.

    tau-b = (concordant - discordant) / sqrt((pairs - ties in u) (pairs - ties in v)), which handles the
    ties a bootstrap resample makes by drawing one model twice. Rows are taken in chunks so that a few
    hundred models times thousands of resamples stay within a modest amount of memory.
    """
    u, v = np.broadcast_arrays(np.moveaxis(np.asarray(u, dtype=float), axis, -1),
                               np.moveaxis(np.asarray(v, dtype=float), axis, -1))
    shape, n = u.shape[:-1], u.shape[-1]
    u2, v2 = u.reshape(-1, n), v.reshape(-1, n)
    i, j = np.triu_indices(n, 1)
    out = np.empty(u2.shape[0])
    step = max(1, 4_000_000 // max(i.size, 1))
    for start in range(0, u2.shape[0], step):
        su = np.sign(u2[start:start + step, j] - u2[start:start + step, i])
        sv = np.sign(v2[start:start + step, j] - v2[start:start + step, i])
        den = np.sqrt(np.count_nonzero(su, axis=1) * np.count_nonzero(sv, axis=1).astype(float))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + step] = (su * sv).sum(axis=1) / den
    return out.reshape(shape)


def _percentile_ci(boot: np.ndarray) -> tuple[float, float] | None:
    boot = boot[np.isfinite(boot)]
    return (float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))) if boot.size else None


def rank_correlation(x: Any, y: Any, *, alternative: str = "greater", resamples: int = RESAMPLES,
                     seed: int = 0) -> Evidence:
    """Spearman's rho of (x, y) with a permutation p in the claimed direction, Kendall's tau, intervals.

    Both coefficients get a 95% bootstrap percentile interval over the models (the same seeded
    resamples) and a permutation p in the direction ``alternative``: exact (every ordering) up to
    8 models, :data:`RESAMPLES` random orderings above. ``extra`` holds Kendall's tau, its interval
    (``kendall_tau_ci``) and its p (``kendall_p``).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = int(x.size)
    if n < 3 or np.unique(x).size < 2 or np.unique(y).size < 2:
        return Evidence("Spearman", {"models": n}, None, "Spearman rho", None, None, detectable_rho(n))
    rho = float(_spearman(x, y))
    exact = math.factorial(n) <= EXACT_PERMUTATIONS

    def permutation_p(statistic) -> float:
        # Only y is permuted against the fixed x: the n! orderings (passing both samples would
        # enumerate (n!)^2 pairings, each ordering counted n! times).
        return float(stats.permutation_test((y,), lambda yy, axis=-1: statistic(x, yy, axis=axis),
                                            permutation_type="pairings", alternative=alternative,
                                            n_resamples=math.inf if exact else resamples, random_state=seed,
                                            vectorized=True).pvalue)

    tau = float(_kendall(x, y))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (resamples, n))
    ci = _percentile_ci(_spearman(x[idx], y[idx], axis=1))
    tau_ci = _percentile_ci(_kendall(x[idx], y[idx], axis=1))
    extra = {"kendall_tau": tau, "kendall_tau_ci": None if tau_ci is None else list(tau_ci),
             "kendall_p": permutation_p(_kendall),
             "p_method": "exact permutation" if exact else f"{resamples} random permutations",
             "alternative": alternative}
    return Evidence("Spearman", {"models": n}, rho, "Spearman rho", ci, permutation_p(_spearman), detectable_rho(n),
                    extra)


def format_p(p: float | None) -> str:
    if p is None or not np.isfinite(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def describe(ev: Evidence) -> str:
    """A sentence: effect [CI], p, n, and what this n could detect."""
    n = ", ".join(f"{k} {v}" for k, v in ev.n.items())
    if ev.effect is None:
        return f"{ev.effect_name} undefined (n: {n})"
    ci = f" [95% CI {ev.ci[0]:.2f}, {ev.ci[1]:.2f}]" if ev.ci else ""
    text = f"{ev.effect_name} = {ev.effect:.2f}{ci}, {format_p(ev.p)} (n: {n})"
    if ev.test == "KS":
        lo, hi = ev.extra["median_difference_ci"]
        text += (f"; median error {ev.extra['median_a']:.2f}% vs {ev.extra['median_b']:.2f}%, difference "
                 f"{ev.extra['median_difference']:+.2f} [{lo:+.2f}, {hi:+.2f}] (permutation "
                 f"{format_p(ev.extra['median_difference_p'])})")
    if ev.detectable_effect is not None:
        text += f"; this n detects {ev.effect_name} >= {ev.detectable_effect:.2f} at 80% power"
    return text
