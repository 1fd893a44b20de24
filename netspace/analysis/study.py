"""The RegNet paper's observations, checked against a study's trials.

Input: the trials DataFrame of several sweeps (``sweep`` names the design
space). Each check returns an :class:`Observation`: the paper's claim, the
evidence measured here (n per side, the effect with a 95% interval, the
p-value and the smallest effect this n detects at 80% power; see
:mod:`netspace.analysis.evidence`), and a verdict that is never stronger than
the data:

- ``agrees``: the data show what the paper reports. For "one space is
  better": a significant KS test (p < 0.05, exact at small n) in the paper's
  direction. For "a restriction costs nothing": either the restricted space
  is significantly better, or an equivalence test passes (the upper 95%
  bootstrap bound of KS D is inside the margin, :data:`D_MARGIN`); a
  non-significant test alone is no evidence of no loss. For a rank
  correlation: a significant permutation p (exact for up to 8 models) in
  the claimed direction. For "b = 1 is best": b = 1 significantly better
  than each other b, in the RegNet space (Section 3.3 samples b with
  RegNet widths), not pooled over AnyNetX_B-E;
- ``same direction``: the effect points the paper's way but is not
  significant, at an n that could have detected some effect;
- ``inconclusive``: the data cannot tell (too few models to detect any
  effect, an interval too wide for the equivalence margin, or a bootstrap
  range as wide as the sampled range);
- ``disagrees``: the data significantly show the opposite.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from netspace.analysis._checks import AnalysisError
from netspace.analysis.bootstrap import best_range
from netspace.analysis.compare import KSResult, ks_test
from netspace.analysis.evidence import ALPHA, D_MARGIN, Evidence, compare_errors, describe, rank_correlation
from netspace.analysis.frame import finished
from netspace.analysis.regnet_fit import fit_regnet

AGREES, SAME_DIRECTION, INCONCLUSIVE, DISAGREES = "agrees", "same direction", "inconclusive", "disagrees"
MIN_MODELS = 3  # fewer finished models than this in a space: no test at all


@dataclass(frozen=True)
class Observation:
    claim: str  # what the paper reports
    evidence: str  # what this data shows
    verdict: str
    stats: Evidence | None = field(default=None, compare=False)
    alpha: float | None = None  # the threshold p was held to (Holm-corrected in a study)

    def to_dict(self) -> dict[str, str]:
        return {"claim": self.claim, "evidence": self.evidence, "verdict": self.verdict}

    def summary(self) -> dict[str, Any]:
        """The claim as ``summary.json`` holds it: claim, verdict, n, effect, ci, p, detectable_effect."""
        ev = self.stats
        out: dict[str, Any] = {"claim": self.claim, "verdict": self.verdict, "evidence": self.evidence}
        out.update({"test": None, "n": None, "effect_name": None, "effect": None, "ci": None, "p": None,
                    "detectable_effect": None} if ev is None else {
            "test": ev.test, "n": ev.n, "effect_name": ev.effect_name, "effect": ev.effect,
            "ci": None if ev.ci is None else list(ev.ci), "p": ev.p, "detectable_effect": ev.detectable_effect})
        if ev is not None and ev.p is not None:
            out["alpha"] = ALPHA if self.alpha is None else self.alpha
        if ev is not None and ev.extra:
            out["details"] = ev.extra
        return out


# (previous space, next space, the paper's claim, kind): "free" claims say the
# restriction costs nothing, "better" claims say the next space is better.
REFINEMENTS = (
    ("AnyNetX_A", "AnyNetX_B", "sharing the bottleneck ratio across stages costs nothing (AnyNetX_B)", "free"),
    ("AnyNetX_B", "AnyNetX_C", "sharing the group width across stages costs nothing (AnyNetX_C)", "free"),
    ("AnyNetX_C", "AnyNetX_D", "widths that increase stage by stage give better models (AnyNetX_D)", "better"),
    ("AnyNetX_D", "AnyNetX_E", "depths that increase stage by stage give better models (AnyNetX_E)", "better"),
    ("AnyNetX_E", "RegNet", "the quantized linear RegNet space is at least as good as AnyNetX_E (Figure 9)", "free"),
    ("RegNet", "RegNetX", "RegNetX's restrictions (b = 1, 12 <= d <= 28, wm >= 2, params/acts limits) give "
                          "better models than RegNet (Figure 9)", "better"),
    ("AnyNetX_E", "RegNetX", "the quantized linear RegNetX space is at least as good as AnyNetX_E", "free"),
    ("RegNetX", "RegNetY", "adding Squeeze-and-Excitation (RegNetY) gives better models", "better"),
)


def _done(df: pd.DataFrame, space: str) -> pd.DataFrame:
    """The space's finished trials; empty (not an error) when it has none."""
    try:
        return finished(df, space)
    except AnalysisError:
        return df.iloc[0:0]


def _errors(df: pd.DataFrame, space: str) -> np.ndarray:
    return _done(df, space)["error"].to_numpy(float)


def _too_few(ev: Evidence) -> bool:
    """No effect, however large, is detectable at this n (e.g. 3 models per side: exact KS p >= 0.1)."""
    return ev.detectable_effect is not None and ev.detectable_effect >= 1.0


def two_space_verdict(ev: Evidence, after: str, kind: str, alpha: float = ALPHA) -> tuple[str, str]:
    """(verdict, note) of a KS comparison for a "free" or "better" claim about the space ``after``."""
    significant = ev.p is not None and ev.p < alpha
    after_better = ev.extra["better"] == after
    if significant:
        return (AGREES if after_better else DISAGREES), ""
    if _too_few(ev):
        return INCONCLUSIVE, "; too few models for any difference to be significant"
    if kind == "free":
        if ev.extra["equivalent"]:
            return AGREES, f"; equivalent: the upper 95% bound of D, {ev.extra['d_upper_95']:.2f}, is within the " \
                           f"margin {ev.extra['margin']:.2f}"
        return INCONCLUSIVE, (f"; not significant, but the upper 95% bound of D, {ev.extra['d_upper_95']:.2f}, "
                              f"exceeds the equivalence margin {ev.extra['margin']:.2f}: a loss is not ruled out")
    return (SAME_DIRECTION if after_better else INCONCLUSIVE), ""


def refinement(df: pd.DataFrame, before: str, after: str, claim: str, kind: str, *, margin: float = D_MARGIN,
               seed: int = 0, alpha: float = ALPHA) -> tuple[Observation, KSResult | None]:
    """KS comparison of two consecutive spaces and the verdict on the paper's claim."""
    a, b = _errors(df, before), _errors(df, after)
    if min(a.size, b.size) < MIN_MODELS:
        return Observation(claim, f"{before}: {a.size}, {after}: {b.size} finished models; need {MIN_MODELS} each",
                           INCONCLUSIVE), None
    ev = compare_errors(a, b, names=(before, after), margin=margin, seed=seed)
    verdict, note = two_space_verdict(ev, after, kind, alpha)
    better = f"{ev.extra['better']} has more good models; " if ev.effect else ""
    return Observation(claim, better + describe(ev) + note, verdict, ev), ks_test(a, b, names=(before, after))


MIN_MODELS_RANGE = 12  # the bootstrap keeps the best of a quarter of the models: with fewer than 3, no "best"


def _range_observation(claim: str, label: str, errors: np.ndarray, values: np.ndarray, paper_value: float,
                       *, samples: int, seed: int, unit: str = "") -> Observation:
    """The paper's value inside the bootstrap range of the best models' parameter (Section 3.1, pycls)."""
    ok = np.isfinite(values) & np.isfinite(errors)
    errors, values = errors[ok], values[ok]
    if errors.size < MIN_MODELS_RANGE:
        return Observation(claim, f"{errors.size} finished models with {label}; need {MIN_MODELS_RANGE} (the "
                                  "bootstrap keeps the best of a quarter of them)", INCONCLUSIVE)
    lo, med, hi = best_range(errors, values, samples=samples, seed=seed)
    ev = Evidence("bootstrap best range", {"models": int(errors.size)}, float(med), label, (float(lo), float(hi)),
                  None, None, {"paper_value": paper_value, "sampled": [float(values.min()), float(values.max())]})
    span = float(values.max() - values.min())
    evidence = (f"bootstrap range of {label} of the best models: {lo:.3g}-{hi:.3g}{unit} (median {med:.3g}{unit}), "
                f"sampled {values.min():.3g}-{values.max():.3g}{unit}, {errors.size} models")
    if span > 0 and (hi - lo) > 0.5 * span:
        return Observation(claim, evidence + "; the range covers most of what was sampled", INCONCLUSIVE, ev)
    verdict = AGREES if lo <= paper_value <= hi else DISAGREES
    return Observation(claim, evidence, verdict, ev)


def bottleneck_observation(df: pd.DataFrame, space: str = "RegNet", *, samples: int = 2500,
                           seed: int = 0, alpha: float = ALPHA) -> Observation:
    """b = 1 is best (Section 3.3), tested where b is sampled with RegNet widths: the RegNet space.

    b = 1 must be significantly better (KS, p < 0.05) than each other
    sampled b for *agrees* (an intersection-union test: no multiplicity
    correction needed); any b significantly better than b = 1 *disagrees*.
    The evidence shown is that of the weakest comparison.
    """
    claim = f"a bottleneck ratio of 1 (no bottleneck) is best (tested in {space}, where b is sampled)"
    part = _done(df, space)
    if part.empty or "bottleneck_ratio" not in part.columns:
        return Observation(claim, f"no finished {space} models with a sampled bottleneck ratio", INCONCLUSIVE)
    errors = part["error"].to_numpy(float)
    b = pd.to_numeric(part["bottleneck_ratio"], errors="coerce").to_numpy(float)
    counts = {float(v): int((b == v).sum()) for v in np.unique(b[np.isfinite(b)])}
    medians = ", ".join(f"b={v:g}: {np.median(errors[b == v]):.2f}% (n={c})" for v, c in counts.items())
    lo, med, hi = best_range(errors, np.where(np.isfinite(b), b, 0.0), samples=samples, seed=seed)
    head = f"median error by b in {space}: {medians}; bootstrap-best b {lo:g}-{hi:g} (median {med:g})"
    others = [v for v in counts if v != 1.0]
    if counts.get(1.0, 0) < MIN_MODELS or not others or any(counts[v] < MIN_MODELS for v in others):
        return Observation(claim, head + f"; need {MIN_MODELS} models for b = 1 and each other b", INCONCLUSIVE)
    tests = {v: compare_errors(errors[b == 1.0], errors[b == v], names=("b=1", f"b={v:g}"), seed=seed)
             for v in others}
    weakest = max(tests.values(), key=lambda ev: (ev.p if ev.extra["better"] == "b=1" else 2.0))
    won = [ev.p < alpha and ev.extra["better"] == "b=1" for ev in tests.values()]
    lost = [ev.p < alpha and ev.extra["better"] != "b=1" for ev in tests.values()]
    lowest = all(ev.extra["median_a"] <= ev.extra["median_b"] for ev in tests.values())
    if any(lost):
        verdict = DISAGREES
        weakest = next(ev for ev, l in zip(tests.values(), lost) if l)
    elif all(won):
        verdict = AGREES
    elif any(_too_few(ev) for ev in tests.values()):
        verdict = INCONCLUSIVE
    else:
        verdict = SAME_DIRECTION if lowest else INCONCLUSIVE
    return Observation(claim, f"{head}; weakest comparison: {describe(weakest)}", verdict, weakest)


def efit_observation(df: pd.DataFrame, space: str = "AnyNetX_E", top: int = 10, *, seed: int = 0,
                     alpha: float = ALPHA) -> tuple[Observation, pd.DataFrame]:
    """Good AnyNetX_E models are close to quantized linear (Section 3.3): lower error goes with lower e_fit."""
    claim = f"the widths of good {space} models are well described by the quantized linear rule (low e_fit)"
    done = _done(df, space)
    if done.empty or "block_widths" not in done.columns or len(done) < MIN_MODELS:
        return Observation(claim, f"{len(done)} finished {space} models; need {MIN_MODELS}", INCONCLUSIVE), pd.DataFrame()
    rows = []
    for _, row in done.sort_values("error", kind="stable").iterrows():
        fit = fit_regnet(row["block_widths"])
        rows.append({"sweep": space, "trial": row["trial"], "error": float(row["error"]), **fit.to_row()})
    fits = pd.DataFrame(rows)
    k = max(1, min(top, len(fits) // 2))
    good, rest = fits["fit_e"].head(k).median(), fits["fit_e"].iloc[k:].median()
    # The claim is directional (lower e_fit, lower error): one-sided permutation p, exact up to 8 models.
    ev = rank_correlation(fits["fit_e"], fits["error"], alternative="greater", seed=seed)
    if ev.effect is not None and ev.effect < 0:
        ev = rank_correlation(fits["fit_e"], fits["error"], alternative="less", seed=seed)
    evidence = (f"median e_fit of the best {k}: {good:.3f}, of the rest: {rest:.3f}; Spearman(e_fit, error): "
                f"{describe(ev)}")
    if ev.effect is None:
        verdict = INCONCLUSIVE
    elif ev.p < alpha:
        verdict = AGREES if ev.effect > 0 else DISAGREES
    elif _too_few(ev):
        verdict = INCONCLUSIVE
        evidence += "; too few models for any correlation to be significant"
    else:
        verdict = SAME_DIRECTION if ev.effect > 0 else INCONCLUSIVE
    return Observation(claim, evidence, verdict, ev), fits.head(top)


def holm_thresholds(pvalues: Sequence[float | None], alpha: float = ALPHA) -> list[float]:
    """Per test, the threshold its raw p must fall below under Holm's step-down procedure.

    The study checks a family of claims at once; without a correction one
    of eight null comparisons reaches p < 0.05 about a third of the time.
    Tests without a p (None) get ``alpha`` (they are not in the family).
    """
    ranked = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    out = [alpha] * len(pvalues)
    m, open_ = len(ranked), True
    for j, (p, i) in enumerate(ranked):
        threshold = alpha / (m - j)
        out[i] = threshold if open_ else 0.0
        open_ = open_ and p < threshold
    return out


def study_observations(df: pd.DataFrame, *, samples: int = 2500, seed: int = 0
                       ) -> tuple[list[Observation], list[KSResult], pd.DataFrame]:
    """Every check of the study: (observations, the KS results of the refinement steps, e_fit table).

    Significance is decided with Holm's correction over every claim that
    has a p-value (the refinement steps, b = 1, e_fit), at family-wise
    alpha 0.05; each claim's summary records the threshold it was held to.
    """
    present = set(df["sweep"])
    checks = []  # (alpha -> (observation, extra)), evaluated once for p and once for the verdict
    for before, after, claim, kind in REFINEMENTS:
        if before in present and after in present:
            checks.append(lambda a, x=(before, after, claim, kind): refinement(df, *x, seed=seed, alpha=a))
    if "RegNet" in present:
        checks.append(lambda a: (bottleneck_observation(df, "RegNet", samples=samples, seed=seed, alpha=a), None))
    if "AnyNetX_E" in present:
        checks.append(lambda a: efit_observation(df, seed=seed, alpha=a))
    first = [check(ALPHA) for check in checks]
    thresholds = holm_thresholds([obs.stats.p if obs.stats is not None else None for obs, _ in first])
    final = [check(t) if t != ALPHA else done for check, t, done in zip(checks, thresholds, first)]
    observations, steps = [], []
    fits = pd.DataFrame()
    for (obs, other), t in zip(final, thresholds):
        if obs.stats is not None and obs.stats.p is not None:
            obs = dataclasses.replace(obs, alpha=t)
        observations.append(obs)
        if isinstance(other, KSResult):
            steps.append(other)
        elif isinstance(other, pd.DataFrame):
            fits = other
    for space in ("RegNetX", "RegNet"):
        if space in present:
            part = _done(df, space)
            if "wm" in part.columns:
                e = part["error"].to_numpy(float)
                observations.append(_range_observation(
                    "good RegNet models have a width multiplier wm near 2.5", f"wm in {space}", e,
                    pd.to_numeric(part["wm"], errors="coerce").to_numpy(float), 2.5, samples=samples, seed=seed))
                observations.append(_range_observation(
                    "good RegNet models are about 20 blocks deep", f"depth in {space}", e,
                    pd.to_numeric(part["depth"], errors="coerce").to_numpy(float), 20, samples=samples, seed=seed,
                    unit=" blocks"))
            break
    return observations, steps, fits


def observations_table(observations: Sequence[Observation]) -> pd.DataFrame:
    return pd.DataFrame([o.to_dict() for o in observations], columns=["claim", "evidence", "verdict"])


def study_summary(df: pd.DataFrame, observations: Sequence[Observation], spaces: Sequence[str], *,
                  preset: str | None = None, recipe: dict[str, Any] | None = None,
                  proxy_fidelity: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``OUT/summary.json`` holds: every claim with its numbers, the spaces, proxy fidelity, recipe, preset."""
    rows = []
    for space in spaces:
        e = _errors(df, space)
        rows.append({"space": space, "n": int(e.size), "median_error": float(np.median(e)) if e.size else None})
    fidelity = proxy_fidelity or {"kendall_tau": None, "kendall_tau_ci": None, "spearman_rho": None,
                                  "spearman_rho_ci": None, "n": 0,
                                  "p": None, "verdict": None,
                                  "note": "not measured: the fidelity stage is off (--fidelity 0), so this study "
                                          "retrained no subset with a longer schedule"}
    return {"claims": [o.summary() for o in observations], "spaces": rows, "proxy_fidelity": fidelity,
            "recipe": recipe or {}, "preset": preset, "alpha": ALPHA, "equivalence_margin_d": D_MARGIN}
