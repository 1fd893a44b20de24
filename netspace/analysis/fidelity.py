"""How far the short schedule can be trusted: the study's models retrained with a longer schedule.

The RegNet paper compares design spaces by models trained for 10 epochs
(Section 3.1) and relies on that short schedule ranking models and spaces as
a long one would (its Section 3.1 and Appendix reason from 10-epoch
results). A study measures this on its own data: a stratified subset of its
trained models is trained again with a schedule several times longer
(:func:`choose_subset`, driven by :mod:`netspace.study`), and
:func:`proxy_fidelity` compares the two errors of each model:

- the rank correlation of short and long errors over the retrained models:
  Kendall's tau and Spearman's rho, each with a 95% bootstrap percentile
  interval over the models (seeded) and a one-sided permutation p-value
  (the alternative: the short ranking agrees with the long one, i.e. a
  positive correlation), exact (every ordering) up to 8 models: a perfect
  ranking of 3 models has p = 1/6, so no ranking of 3 models is evidence;
- for each pair of spaces with retrained models, whether the order of their
  median errors, and the direction of their EDF difference (which space has
  more good models, the sign of the larger one-sided KS distance), is the
  same under both schedules, each pair with its n per space.

The verdict is never stronger than the data (:func:`verdict`): "consistent"
only when the permutation p is below alpha and the interval of tau excludes
0; "reversed" only when significant the other way; otherwise "inconclusive",
with the interval stated.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from netspace.analysis._checks import AnalysisError
from netspace.analysis.evidence import ALPHA, RESAMPLES, _ks_d, format_p, rank_correlation

CONSISTENT, INCONCLUSIVE, REVERSED = "consistent", "inconclusive", "reversed"
MIN_MODELS = 3  # fewer retrained models: no rank correlation at all
SMALL_N = 10  # below this, a bootstrap interval is too narrow to trust; the exact p is the test
PAIR_COLUMNS = ("space", "trial", "short_error", "long_error")


def subset_size(trained: int, spaces: int, fraction: float, min_models: int) -> int:
    """How many of ``trained`` models are retrained: at least ``min_models`` and ``fraction`` of them
    (rounded up), at least one per space, at most all of them."""
    if trained <= 0:
        return 0
    return min(trained, max(min_models, math.ceil(fraction * trained - 1e-9), spaces))


def _allocate(sizes: Mapping[str, int], k: int) -> dict[str, int]:
    """``k`` picks over spaces in proportion to their models (largest remainder), at least one each, at
    most each space's models; ties broken by the spaces' order."""
    names = [s for s in sizes if sizes[s] > 0]
    total = sum(sizes[s] for s in names)
    picks = {s: 1 for s in names}
    left = k - len(names)
    if left <= 0:
        return picks
    quota = {s: (sizes[s] - 1) * left / max(total - len(names), 1) for s in names}
    for s in names:
        picks[s] += min(sizes[s] - 1, int(quota[s]))
    left = k - sum(picks.values())
    while left > 0:
        room = [s for s in names if picks[s] < sizes[s]]
        if not room:
            break
        # the largest remaining quota first; a stable sort keeps the spaces' order for ties
        best = max(room, key=lambda s: quota[s] - (picks[s] - 1))
        picks[best] += 1
        left -= 1
    return picks


def choose_subset(errors: Mapping[str, Mapping[int, float]], *, fraction: float, min_models: int,
                  seed: int) -> dict[str, list[int]]:
    """The trials to retrain, per space: stratified over the spaces and over the error range in each.

    ``errors`` maps each space to its trained models (trial -> short-schedule
    error). The size is :func:`subset_size`; each space gets picks in
    proportion to its models (at least one); within a space the models,
    sorted by error, are cut into as many contiguous quantile bins as it
    has picks, and one model is drawn from each bin with a generator seeded
    by ``seed`` and the space's position, so the same inputs always give the
    same choice. Returns sorted trial numbers per space.
    """
    clean = {s: {int(t): float(e) for t, e in errs.items() if e is not None and np.isfinite(e)}
             for s, errs in errors.items()}
    sizes = {s: len(v) for s, v in clean.items()}
    k = subset_size(sum(sizes.values()), sum(1 for v in sizes.values() if v), fraction, min_models)
    picks = _allocate(sizes, k) if k else {}
    out: dict[str, list[int]] = {}
    for position, (space, errs) in enumerate(clean.items()):
        m = picks.get(space, 0)
        if not m:
            continue
        ordered = sorted(errs, key=lambda t: (errs[t], t))
        rng = np.random.default_rng([seed, position])
        out[space] = sorted(int(b[rng.integers(0, len(b))]) for b in np.array_split(np.array(ordered), m))
    return out


def _pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise AnalysisError(f"proxy fidelity: the pairs need column(s) {', '.join(missing)}; "
                            f"expected {', '.join(PAIR_COLUMNS)}")
    out = pairs.copy()
    for c in ("short_error", "long_error"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out[np.isfinite(out["short_error"]) & np.isfinite(out["long_error"])].reset_index(drop=True)


def verdict(rho_p: float | None, tau: float | None, tau_ci: Sequence[float] | None, *,
            alpha: float = ALPHA) -> str:
    """consistent / reversed / inconclusive: significant (p < alpha) and the interval of tau clear of 0."""
    if tau is None or rho_p is None or tau_ci is None:
        return INCONCLUSIVE
    if rho_p < alpha and tau_ci[0] > 0:
        return CONSISTENT
    if tau_ci[1] < 0 and 1 - rho_p < alpha:  # a one-sided p of the other direction is about 1 - p
        return REVERSED
    return INCONCLUSIVE


def space_order(pairs: pd.DataFrame, spaces: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Per pair of spaces with retrained models: the median difference and EDF direction under both schedules."""
    pairs = _pairs(pairs)
    present = [s for s in (spaces or pd.unique(pairs["space"])) if (pairs["space"] == s).any()]
    rows = []
    for a, b in combinations(present, 2):
        pa, pb = pairs[pairs["space"] == a], pairs[pairs["space"] == b]
        row: dict[str, Any] = {"a": a, "b": b, "n_a": int(len(pa)), "n_b": int(len(pb))}
        for which in ("short", "long"):
            ea, eb = pa[f"{which}_error"].to_numpy(float), pb[f"{which}_error"].to_numpy(float)
            _, plus, minus = _ks_d(ea, eb)  # plus: a's EDF above b's, a has more good models
            row[f"{which}_median_difference"] = float(np.median(eb) - np.median(ea))  # b - a: > 0, a better
            row[f"{which}_edf_better"] = a if plus > minus else b if minus > plus else None
        ds, dl = row["short_median_difference"], row["long_median_difference"]
        row["median_order_holds"] = bool(np.sign(ds) == np.sign(dl) and ds != 0)
        row["edf_order_holds"] = bool(row["short_edf_better"] is not None
                                      and row["short_edf_better"] == row["long_edf_better"])
        rows.append(row)
    return rows


def proxy_fidelity(pairs: pd.DataFrame, *, short_epochs: int | None = None, long_epochs: int | None = None,
                   spaces: Sequence[str] | None = None, resamples: int = RESAMPLES, seed: int = 0,
                   alpha: float = ALPHA) -> dict[str, Any]:
    """The ``proxy_fidelity`` block of ``summary.json`` from one row per retrained model.

    ``pairs`` has columns ``space``, ``trial``, ``short_error``, ``long_error``
    (models whose long run did not finish are left out). ``p`` is the
    one-sided exact (up to 8 models) or Monte Carlo permutation p-value of
    Spearman's rho, the alternative being a positive correlation.
    """
    pairs = _pairs(pairs)
    n = int(len(pairs))
    order = space_order(pairs, spaces)
    out: dict[str, Any] = {
        "n": n, "short_epochs": short_epochs, "long_epochs": long_epochs,
        "kendall_tau": None, "kendall_tau_ci": None, "kendall_p": None,
        "spearman_rho": None, "spearman_rho_ci": None, "p": None,
        "test": "permutation test of Spearman's rho, one-sided (the short ranking agrees with the long one)",
        "alpha": alpha, "per_space": {}, "space_order": order,
        "median_order_holds": sum(r["median_order_holds"] for r in order),
        "edf_order_holds": sum(r["edf_order_holds"] for r in order), "space_pairs": len(order),
    }
    for space, part in pairs.groupby("space", sort=False):
        out["per_space"][str(space)] = {"n": int(len(part)), "median_short_error": float(part["short_error"].median()),
                                        "median_long_error": float(part["long_error"].median())}
    if n >= MIN_MODELS:
        ev = rank_correlation(pairs["short_error"], pairs["long_error"], alternative="greater",
                              resamples=resamples, seed=seed)
        if ev.effect is not None:
            out.update(spearman_rho=ev.effect, spearman_rho_ci=list(ev.ci) if ev.ci else None, p=ev.p,
                       kendall_tau=ev.extra["kendall_tau"], kendall_tau_ci=ev.extra["kendall_tau_ci"],
                       kendall_p=ev.extra["kendall_p"], p_method=ev.extra["p_method"],
                       detectable_rho=ev.detectable_effect)
    out["verdict"] = verdict(out["p"], out["kendall_tau"], out["kendall_tau_ci"], alpha=alpha)
    out["sentence"] = sentence(out)
    return out


def sentence(fid: Mapping[str, Any]) -> str:
    """What the numbers say, in words a reader can weigh: n, tau and rho with intervals, p, the verdict."""
    n = fid.get("n") or 0
    sched = (f"{fid['short_epochs']}-epoch vs {fid['long_epochs']}-epoch" if fid.get("short_epochs") and
             fid.get("long_epochs") else "short vs long")
    if fid.get("kendall_tau") is None:
        return (f"{n} model(s) retrained with the longer schedule: too few (or too uniform) for a rank correlation "
                f"(need {MIN_MODELS} with distinct errors), so this study cannot say how far the short schedule "
                "ranks models as a longer one would.")
    lo, hi = fid["kendall_tau_ci"] or (float("nan"), float("nan"))
    rlo, rhi = fid["spearman_rho_ci"] or (float("nan"), float("nan"))
    text = (f"{sched} errors of {n} retrained models: Kendall's tau = {fid['kendall_tau']:.2f} [95% CI {lo:.2f}, "
            f"{hi:.2f}], Spearman's rho = {fid['spearman_rho']:.2f} [95% CI {rlo:.2f}, {rhi:.2f}], one-sided "
            f"permutation {format_p(fid['p'])}.")
    v = fid.get("verdict", INCONCLUSIVE)
    if v == CONSISTENT:
        text += (f" The short schedule orders these models like the longer one more often than chance would "
                 f"(p < {fid.get('alpha', ALPHA):g}, tau's interval above 0): a pair of models is ordered the same "
                 f"way by both with probability about {(1 + fid['kendall_tau']) / 2:.2f} (interval "
                 f"{(1 + lo) / 2:.2f}-{(1 + hi) / 2:.2f}).")
    elif v == REVERSED:
        text += " The longer schedule significantly reverses the short schedule's order of these models."
    else:
        text += (f" The interval of tau includes 0 or p >= {fid.get('alpha', ALPHA):g}: at n = {n} the data cannot "
                 f"show that the short schedule ranks models as the longer one does (tau anywhere from {lo:.2f} "
                 f"to {hi:.2f} fits).")
    if n < SMALL_N:
        text += (f" At n = {n} a bootstrap interval is narrower than the truth (few distinct resamples); the exact "
                 "p-value is the test.")
    pairs = fid.get("space_pairs") or 0
    if pairs:
        per = fid.get("per_space") or {}
        ns = ", ".join(f"{s} {v['n']}" for s, v in per.items())
        text += (f" Order of the spaces' median errors: the same under both schedules for {fid['median_order_holds']} "
                 f"of {pairs} pairs of spaces; EDF order (which space has more good models): {fid['edf_order_holds']} "
                 f"of {pairs} (retrained models per space: {ns}; with so few per space, each pair is an "
                 "observation, not a test).")
    return text
