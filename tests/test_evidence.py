"""The statistics behind the study's verdicts, on populations with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from netspace.analysis.evidence import (
    compare_errors, describe, detectable_ks_d, detectable_rho, ks_pvalue, rank_correlation,
)


def test_ks_effect_and_exact_p_match_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 16), rng.normal(0.8, 1, 16)
    ev = compare_errors(a, b, names=("A", "B"), resamples=500)
    ref = stats.ks_2samp(a, b, method="exact")
    assert ev.effect == pytest.approx(ref.statistic) and ev.p == pytest.approx(ref.pvalue)
    assert ev.n == {"A": 16, "B": 16} and ev.extra["better"] == "A"  # A has the lower errors
    assert ev.ci[0] <= ev.effect <= ev.ci[1] + 1e-12
    lo, hi = ev.extra["median_difference_ci"]
    assert lo < ev.extra["median_difference"] < hi
    assert "detects KS D >=" in describe(ev)


def test_three_against_three_can_never_be_significant():
    ev = compare_errors([1.0, 2.0, 3.0], [10.0, 11.0, 12.0])
    assert ev.effect == 1.0 and ev.p == pytest.approx(0.1)  # 2 / C(6, 3): the smallest exact p
    assert ev.detectable_effect == 1.0


def test_detectable_d_has_the_stated_power():
    for n in (16, 60):
        d = detectable_ks_d(n, n)
        delta = 2 * stats.norm.ppf((1 + d) / 2)  # the normal shift with population KS distance d
        rng = np.random.default_rng(n + 7)
        hits = [ks_pvalue(rng.normal(0, 1, n), rng.normal(delta, 1, n)) < 0.05 for _ in range(400)]
        assert 0.7 < np.mean(hits) < 0.9, (n, d, np.mean(hits))
    assert detectable_ks_d(16, 16) > detectable_ks_d(100, 100) > detectable_ks_d(500, 500)


def test_equivalence_needs_enough_models():
    rng = np.random.default_rng(1)
    small = compare_errors(rng.normal(0, 1, 16), rng.normal(0, 1, 16))
    assert not small.extra["equivalent"] and small.extra["d_upper_95"] > 0.2
    big = compare_errors(rng.normal(0, 1, 800), rng.normal(0, 1, 800), resamples=500)
    assert big.extra["equivalent"] and big.extra["d_upper_95"] <= 0.2
    shifted = compare_errors(rng.normal(0, 1, 800), rng.normal(0.6, 1, 800), resamples=500)
    assert not shifted.extra["equivalent"]  # a real difference is never called equivalent


def test_median_difference_interval_covers_the_truth():
    rng = np.random.default_rng(2)
    covered = 0
    for _ in range(40):
        ev = compare_errors(rng.normal(0, 1, 50), rng.normal(0.5, 1, 50), resamples=400)
        lo, hi = ev.extra["median_difference_ci"]
        covered += lo <= 0.5 <= hi
    assert covered >= 34  # nominal 95%


def test_rank_correlation_exact_p_at_small_n():
    ev = rank_correlation([1, 2, 3], [10, 20, 30])
    assert ev.effect == pytest.approx(1.0) and ev.p == pytest.approx(1 / 6)  # 1 of 3! orderings
    assert ev.extra["p_method"] == "exact permutation" and ev.detectable_effect == 1.0
    ev = rank_correlation([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    assert ev.p == pytest.approx(1 / math.factorial(5))
    down = rank_correlation([1, 2, 3, 4, 5], [5, 4, 3, 2, 1], alternative="less")
    assert down.effect == pytest.approx(-1.0) and down.p == pytest.approx(1 / 120)
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    noisy = rank_correlation(x, x + rng.normal(0, 2, 40))
    assert noisy.extra["p_method"].endswith("random permutations") and noisy.ci[0] < noisy.effect < noisy.ci[1]
    assert rank_correlation([1, 1, 1], [1, 2, 3]).effect is None


def test_detectable_rho_shrinks_with_n():
    assert detectable_rho(3) == 1.0
    assert 0.55 < detectable_rho(20) < 0.6 and detectable_rho(100) < 0.3
