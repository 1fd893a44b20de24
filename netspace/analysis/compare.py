"""Comparing design spaces by their error EDFs: the two-sample Kolmogorov-Smirnov test.

The RegNet paper compares spaces with D = sup_e |F1(e) - F2(e)|. Unweighted,
this is exactly ``scipy.stats.ks_2samp`` (which we call, so p-values match).
With normalized-EDF weights the samples are no longer i.i.d. draws of equal
mass; we compute D on the weighted EDFs and take the asymptotic Kolmogorov
p-value of ks_2samp (the Kolmogorov distribution for n = n1 n2 / (n1 + n2))
with Kish's effective sample sizes n_eff = (sum w)^2 / sum w^2 in place of the
counts; with equal weights it is ks_2samp(method="asymp") exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from netspace.analysis._checks import as_values, as_weights
from netspace.analysis.edf import edf_at

SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class KSResult:
    """D = sup |F_a - F_b|, its p-value, and which EDF lies above (more models with low error)."""

    name_a: str
    name_b: str
    statistic: float
    pvalue: float
    d_plus: float  # sup (F_a - F_b): how far a's EDF rises above b's
    d_minus: float  # sup (F_b - F_a)
    n_a: float
    n_b: float

    @property
    def better(self) -> str:
        """The space whose EDF lies further above the other's: more good models."""
        return self.name_a if self.d_plus >= self.d_minus else self.name_b

    @property
    def worse(self) -> str:
        return self.name_b if self.better == self.name_a else self.name_a

    @property
    def significant(self) -> bool:
        return self.pvalue < SIGNIFICANCE

    def sentence(self) -> str:
        """E.g. "RegNetX is better than AnyNetX_A: D = 0.31, p < 0.001"."""
        stat = f"D = {self.statistic:.2f}, {format_p(self.pvalue)}"
        if self.significant:
            return f"{self.better} is better than {self.worse}: {stat}"
        return f"{self.name_a} and {self.name_b} are not distinguishable at p < {SIGNIFICANCE:g}: {stat}"


def format_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _sup_differences(a: np.ndarray, b: np.ndarray, wa: np.ndarray | None, wb: np.ndarray | None) -> tuple[float, float]:
    # The EDFs are step functions that change only at sample points, so the
    # suprema are attained just after one of them: evaluate F(x+) = F(<= x).
    pts = np.unique(np.concatenate([a, b]))
    after = np.nextafter(pts, np.inf)
    diff = edf_at(a, after, wa) - edf_at(b, after, wb)
    return float(max(diff.max(), 0.0)), float(max((-diff).max(), 0.0))


def ks_test(errors_a: Any, errors_b: Any, weights_a: Any = None, weights_b: Any = None,
            names: tuple[str, str] = ("a", "b")) -> KSResult:
    """Two-sample KS test of two error samples, optionally with normalized-EDF weights."""
    a = as_values(errors_a, f"errors of {names[0]}")
    b = as_values(errors_b, f"errors of {names[1]}")
    wa = None if weights_a is None else as_weights(weights_a, a.size, f"weights of {names[0]}")
    wb = None if weights_b is None else as_weights(weights_b, b.size, f"weights of {names[1]}")
    d_plus, d_minus = _sup_differences(a, b, wa, wb)
    if wa is None and wb is None:
        res = stats.ks_2samp(a, b)
        statistic, pvalue, n_a, n_b = float(res.statistic), float(res.pvalue), float(a.size), float(b.size)
    else:
        n_a = float(a.size) if wa is None else 1.0 / float(np.sum(wa**2))
        n_b = float(b.size) if wb is None else 1.0 / float(np.sum(wb**2))
        statistic = max(d_plus, d_minus)
        en = max(1, int(np.round(n_a * n_b / (n_a + n_b))))
        pvalue = float(np.clip(stats.kstwo.sf(statistic, en), 0.0, 1.0))  # as ks_2samp(method="asymp")
    return KSResult(names[0], names[1], statistic, pvalue, d_plus, d_minus, n_a, n_b)


def compare_all(groups: dict[str, Any], weights: dict[str, Any] | None = None) -> list[KSResult]:
    """KS tests of every pair of named error samples, in the order given."""
    weights = weights or {}
    return [
        ks_test(groups[x], groups[y], weights.get(x), weights.get(y), names=(x, y))
        for x, y in combinations(groups, 2)
    ]


def comparison_table(results: list[KSResult]) -> pd.DataFrame:
    """One row per pair: names, D, p, the better space and the sentence."""
    return pd.DataFrame(
        [
            {"a": r.name_a, "b": r.name_b, "D": r.statistic, "p": r.pvalue, "better": r.better,
             "significant": r.significant, "summary": r.sentence()}
            for r in results
        ],
        columns=["a", "b", "D", "p", "better", "significant", "summary"],
    )
