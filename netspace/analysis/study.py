"""The RegNet paper's observations, checked against a study's trials.

Input: the trials DataFrame of several sweeps (``sweep`` names the design
space). Each check returns an :class:`Observation`: the paper's claim, the
evidence measured here, and a verdict:

- ``agrees``: the data show what the paper reports (significant where the
  claim is that one space is better; no significant loss where the claim is
  that a restriction costs nothing; the bootstrap range is informative and
  contains the paper's value);
- ``same direction``: the effect points the paper's way but is not
  significant at this sample size;
- ``inconclusive``: the data cannot tell (too few finished models, or a
  bootstrap range as wide as the sampled range);
- ``disagrees``: the data show the opposite.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from netspace.analysis._checks import AnalysisError
from netspace.analysis.bootstrap import best_range
from netspace.analysis.compare import KSResult, format_p, ks_test
from netspace.analysis.frame import finished
from netspace.analysis.regnet_fit import fit_regnet

AGREES, SAME_DIRECTION, INCONCLUSIVE, DISAGREES = "agrees", "same direction", "inconclusive", "disagrees"
MIN_MODELS = 3  # fewer finished models than this in a space: no verdict
MIN_MODELS_NO_LOSS = 10  # "costs nothing" needs this many per space: with fewer, no KS test is significant


@dataclass(frozen=True)
class Observation:
    claim: str  # what the paper reports
    evidence: str  # what this data shows
    verdict: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


# (previous space, next space, the paper's claim, kind): "free" claims say the
# restriction costs nothing, "better" claims say the next space is better.
REFINEMENTS = (
    ("AnyNetX_A", "AnyNetX_B", "sharing the bottleneck ratio across stages costs nothing (AnyNetX_B)", "free"),
    ("AnyNetX_B", "AnyNetX_C", "sharing the group width across stages costs nothing (AnyNetX_C)", "free"),
    ("AnyNetX_C", "AnyNetX_D", "widths that increase stage by stage give better models (AnyNetX_D)", "better"),
    ("AnyNetX_D", "AnyNetX_E", "depths that increase stage by stage give better models (AnyNetX_E)", "better"),
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


def refinement(df: pd.DataFrame, before: str, after: str, claim: str, kind: str) -> tuple[Observation, KSResult | None]:
    """KS comparison of two consecutive spaces and the verdict on the paper's claim."""
    a, b = _errors(df, before), _errors(df, after)
    if min(a.size, b.size) < MIN_MODELS:
        return Observation(claim, f"{before}: {a.size}, {after}: {b.size} finished models; need {MIN_MODELS} each",
                           INCONCLUSIVE), None
    r = ks_test(a, b, names=(before, after))
    medians = f"median error {before} {np.median(a):.2f}%, {after} {np.median(b):.2f}%"
    evidence = f"{r.sentence()} ({medians})"
    after_better = r.better == after
    if kind == "free":
        if r.significant:
            verdict = AGREES if after_better else DISAGREES
        elif min(a.size, b.size) >= MIN_MODELS_NO_LOSS:
            verdict = AGREES  # no significant loss with enough models to see one
        else:
            verdict = INCONCLUSIVE
            evidence += f"; too few models ({min(a.size, b.size)}) to call no difference"
    elif r.significant:
        verdict = AGREES if after_better else DISAGREES
    else:
        verdict = SAME_DIRECTION if after_better else INCONCLUSIVE
    return Observation(claim, evidence, verdict), r


def _range_observation(claim: str, label: str, errors: np.ndarray, values: np.ndarray, paper_value: float,
                       *, samples: int, seed: int, unit: str = "") -> Observation:
    ok = np.isfinite(values) & np.isfinite(errors)
    errors, values = errors[ok], values[ok]
    if errors.size < MIN_MODELS:
        return Observation(claim, f"{errors.size} finished models with {label}; need {MIN_MODELS}", INCONCLUSIVE)
    lo, med, hi = best_range(errors, values, samples=samples, seed=seed)
    span = float(values.max() - values.min())
    evidence = (f"bootstrap range of {label} of the best models: {lo:.3g}-{hi:.3g}{unit} (median {med:.3g}{unit}), "
                f"sampled {values.min():.3g}-{values.max():.3g}{unit}, {errors.size} models")
    if span > 0 and (hi - lo) > 0.5 * span:
        return Observation(claim, evidence + "; the range covers most of what was sampled", INCONCLUSIVE)
    verdict = AGREES if lo <= paper_value <= hi else DISAGREES
    return Observation(claim, evidence, verdict)


def bottleneck_observation(df: pd.DataFrame, spaces: Sequence[str], *, samples: int = 2500,
                           seed: int = 0) -> Observation:
    """b = 1 is best: the bootstrap-best shared bottleneck ratio over the AnyNetX spaces that share b."""
    claim = "a bottleneck ratio of 1 (no bottleneck) is best"
    parts = [_done(df, s) for s in spaces]
    parts = [p for p in parts if not p.empty and "bottleneck_ratios1" in p.columns]
    if not parts:
        return Observation(claim, "no finished AnyNetX_B-E models", INCONCLUSIVE)
    pool = pd.concat(parts, ignore_index=True)
    errors, b = pool["error"].to_numpy(float), pd.to_numeric(pool["bottleneck_ratios1"], errors="coerce").to_numpy(float)
    if errors.size < MIN_MODELS:
        return Observation(claim, f"{errors.size} finished models; need {MIN_MODELS}", INCONCLUSIVE)
    means = pool.assign(b=b).groupby("b")["error"].agg(["median", "count"])
    by_b = ", ".join(f"b={k:g}: {row['median']:.2f}% (n={int(row['count'])})" for k, row in means.iterrows())
    lo, med, hi = best_range(errors, b, samples=samples, seed=seed)
    evidence = (f"median error by shared b over {', '.join(s for s in spaces if s in set(df['sweep']))}: {by_b}; "
                f"bootstrap-best b: {lo:g}-{hi:g} (median {med:g})")
    if not (b == 1.0).any():
        return Observation(claim, evidence + "; no model with b = 1 fell in the window", INCONCLUSIVE)
    best_b = float(means["median"].idxmin())
    if lo == hi == 1.0 or (med == 1.0 and best_b == 1.0):
        verdict = AGREES
    elif best_b == 1.0 or med == 1.0:
        verdict = SAME_DIRECTION
    elif lo <= 1.0 <= hi:
        verdict = INCONCLUSIVE
    else:
        verdict = DISAGREES
    return Observation(claim, evidence, verdict)


def efit_observation(df: pd.DataFrame, space: str = "AnyNetX_E", top: int = 10) -> tuple[Observation, pd.DataFrame]:
    """Good AnyNetX_E models are close to quantized linear: lower error goes with lower e_fit."""
    claim = f"the widths of good {space} models are well described by the quantized linear rule (low e_fit)"
    done = _done(df, space)
    if done.empty or "block_widths" not in done.columns or len(done) < MIN_MODELS:
        return Observation(claim, f"{len(done)} finished {space} models; need {MIN_MODELS}", INCONCLUSIVE), pd.DataFrame()
    rows = []
    for _, row in done.sort_values("error", kind="stable").iterrows():
        fit = fit_regnet(row["block_widths"])
        rows.append({"sweep": space, "trial": row["trial"], "error": float(row["error"]), **fit.to_dict()})
    fits = pd.DataFrame(rows)
    if fits["e_fit"].nunique() > 1 and fits["error"].nunique() > 1:
        rho, p = stats.spearmanr(fits["error"], fits["e_fit"])
    else:
        rho, p = float("nan"), float("nan")
    k = max(1, min(top, len(fits) // 2))
    good, rest = fits["e_fit"].head(k).median(), fits["e_fit"].iloc[k:].median()
    evidence = (f"median e_fit of the best {k}: {good:.3f}, of the rest: {rest:.3f}; Spearman(error, e_fit) = "
                f"{rho:.2f} ({format_p(p)}) over {len(fits)} models")
    if not np.isfinite(rho):
        verdict = INCONCLUSIVE
    elif rho > 0 and p < 0.05:
        verdict = AGREES
    elif rho > 0 or good < rest:
        verdict = SAME_DIRECTION
    elif rho < 0 and p < 0.05:
        verdict = DISAGREES
    else:
        verdict = INCONCLUSIVE
    return Observation(claim, evidence, verdict), fits.head(top)


def study_observations(df: pd.DataFrame, *, samples: int = 2500, seed: int = 0
                       ) -> tuple[list[Observation], list[KSResult], pd.DataFrame]:
    """Every check of the study: (observations, the KS results of the refinement steps, e_fit table)."""
    observations, steps = [], []
    present = set(df["sweep"])
    for before, after, claim, kind in REFINEMENTS:
        if before in present and after in present:
            obs, r = refinement(df, before, after, claim, kind)
            observations.append(obs)
            if r is not None:
                steps.append(r)
    anynet_shared_b = [s for s in ("AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E") if s in present]
    if anynet_shared_b:
        observations.append(bottleneck_observation(df, anynet_shared_b, samples=samples, seed=seed))
    fits = pd.DataFrame()
    if "AnyNetX_E" in present:
        obs, fits = efit_observation(df)
        observations.append(obs)
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
