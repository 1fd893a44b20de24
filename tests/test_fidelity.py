"""The fidelity stage's statistics and choice on inputs with a known answer (fast: no training here; the
real retraining, its resume and summary.json are checked by the tiny study in tests/test_study.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from netspace.analysis.fidelity import (
    CONSISTENT, INCONCLUSIVE, REVERSED, choose_subset, proxy_fidelity, space_order, subset_size,
)
from netspace.errors import NetspaceError
from netspace.study import FidelityConfig, StudyConfig, plan_samples, samples_for


def _pairs(short, long, spaces=None) -> pd.DataFrame:
    spaces = spaces or ["A"] * len(short)
    return pd.DataFrame({"space": spaces, "trial": range(len(short)), "short_error": short, "long_error": long})


# -- statistics -----------------------------------------------------------------
def test_perfect_ranking_of_three_is_not_evidence():
    # One-sided (the short ranking agrees with the long one): of the 3! orderings only the observed one
    # reaches rho = 1 (and tau = 1), so the exact p is 1/6 for both; two-sided it would be 1/3.
    fid = proxy_fidelity(_pairs([10.0, 20.0, 30.0], [5.0, 9.0, 14.0]), short_epochs=1, long_epochs=4)
    assert fid["n"] == 3 and fid["spearman_rho"] == 1.0 and fid["kendall_tau"] == 1.0
    assert fid["p"] == pytest.approx(1 / 6) and fid["kendall_p"] == pytest.approx(1 / 6)
    assert fid["verdict"] == INCONCLUSIVE
    assert "cannot show" in fid["sentence"] and "n = 3" in fid["sentence"] and "more often than chance" not in fid["sentence"]
    assert "1-epoch vs 4-epoch" in fid["sentence"]


def test_exact_p_of_a_perfect_ranking_is_one_over_n_factorial():
    x = np.arange(6.0)
    fid = proxy_fidelity(_pairs(x, x * 0.5 + 1))
    assert fid["p"] == pytest.approx(1 / math.factorial(6)) and fid["kendall_p"] == pytest.approx(1 / 720)
    assert fid["verdict"] == CONSISTENT and fid["kendall_tau_ci"] == [1.0, 1.0]
    assert "bootstrap interval is narrower than the truth" in fid["sentence"]  # n < 10 is said


def test_reversed_and_independent_populations():
    x = np.arange(12.0)
    rev = proxy_fidelity(_pairs(x, 30 - x))
    assert rev["kendall_tau"] == -1.0 and rev["spearman_rho"] == -1.0 and rev["p"] == pytest.approx(1.0)
    assert rev["verdict"] == REVERSED and "reverses" in rev["sentence"]
    rng = np.random.default_rng(3)
    ind = proxy_fidelity(_pairs(rng.normal(20, 2, 80), rng.normal(15, 2, 80)), seed=1)
    lo, hi = ind["kendall_tau_ci"]
    assert lo < 0 < hi and ind["spearman_rho_ci"][0] < 0 < ind["spearman_rho_ci"][1]
    assert abs(ind["kendall_tau"]) < 0.15 and ind["p"] > 0.05 and ind["verdict"] == INCONCLUSIVE
    assert "the ranking holds" not in ind["sentence"] and "includes 0" in ind["sentence"]
    # a strong, noisy relation at n = 40: consistent, the interval clear of 0
    s = rng.normal(20, 2, 40)
    strong = proxy_fidelity(_pairs(s, s - 4 + rng.normal(0, 0.5, 40)))
    assert strong["verdict"] == CONSISTENT and strong["kendall_tau_ci"][0] > 0 and strong["p"] < 0.01


def test_intervals_are_seeded():
    rng = np.random.default_rng(9)
    s = rng.normal(20, 2, 30)
    pairs = _pairs(s, s + rng.normal(0, 2, 30))
    a, b, c = (proxy_fidelity(pairs, seed=k) for k in (5, 5, 6))
    assert a["kendall_tau_ci"] == b["kendall_tau_ci"] and a["spearman_rho_ci"] == b["spearman_rho_ci"]
    assert a["kendall_tau"] == c["kendall_tau"] and a["kendall_tau_ci"] != c["kendall_tau_ci"]


def test_too_few_models_and_unfinished_long_runs():
    fid = proxy_fidelity(_pairs([10.0, 12.0, 11.0], [8.0, None, 9.0]))
    assert fid["n"] == 2 and fid["kendall_tau"] is None and fid["verdict"] == INCONCLUSIVE
    assert "too few" in fid["sentence"]


def test_space_order_per_pair():
    # A better than B under both schedules; C better than A in short, worse in long.
    pairs = _pairs([10, 11, 20, 21, 9, 9.5], [5, 6, 10, 11, 8, 8.5], ["A", "A", "B", "B", "C", "C"])
    rows = {(r["a"], r["b"]): r for r in space_order(pairs)}
    ab, ac = rows[("A", "B")], rows[("A", "C")]
    assert ab["median_order_holds"] and ab["edf_order_holds"] and ab["n_a"] == ab["n_b"] == 2
    assert ab["short_median_difference"] == pytest.approx(10.0) and ab["long_edf_better"] == "A"
    assert not ac["median_order_holds"] and not ac["edf_order_holds"]
    assert ac["short_edf_better"] == "C" and ac["long_edf_better"] == "A"
    fid = proxy_fidelity(pairs)
    assert fid["space_pairs"] == 3 and fid["median_order_holds"] == 2
    assert "2 of 3 pairs of spaces" in fid["sentence"] and "A 2, B 2, C 2" in fid["sentence"]


# -- the stratified choice ------------------------------------------------------
def test_subset_size_rule():
    assert subset_size(24, 8, 0.1, 8) == 8  # the tiny study: the minimum
    assert subset_size(4000, 8, 0.1, 8) == 400  # the paper's scale: 10%
    assert subset_size(5, 2, 0.1, 8) == 5  # fewer trained than the minimum: all
    assert subset_size(30, 2, 0.5, 0) == 15
    assert subset_size(20, 8, 0.0, 3) == 8  # at least one per space
    assert subset_size(0, 8, 0.1, 8) == 0


def test_choice_is_deterministic_covers_every_space_and_spans_the_error_range():
    rng = np.random.default_rng(0)
    sizes = {"A": 100, "B": 50, "C": 10, "D": 3}
    errors = {s: {i: float(rng.normal(20, 2)) for i in range(n)} for s, n in sizes.items()}
    chosen = choose_subset(errors, fraction=0.1, min_models=8, seed=0)
    assert chosen == choose_subset(errors, fraction=0.1, min_models=8, seed=0)  # a rerun picks the same
    assert chosen != choose_subset(errors, fraction=0.1, min_models=8, seed=1)
    assert set(chosen) == set(sizes) and all(chosen.values())
    assert sum(map(len, chosen.values())) == subset_size(163, 4, 0.1, 8) == 17
    assert len(chosen["A"]) > len(chosen["B"]) > len(chosen["C"]) >= len(chosen["D"]) >= 1  # proportional
    # within a space, one model from each error-quantile bin: the picks' ranks fall in distinct bins
    order = sorted(errors["A"], key=errors["A"].get)
    k = len(chosen["A"])
    bins = {next(b for b, part in enumerate(np.array_split(np.array(order), k)) if t in part) for t in chosen["A"]}
    assert len(bins) == k
    # failed or diverged models (no error) are never chosen
    errors["D"] = {0: None, 1: float("nan"), 2: 19.0}
    assert choose_subset(errors, fraction=0.1, min_models=8, seed=0)["D"] == [2]


# -- settings and the time plan ---------------------------------------------------
def test_fidelity_settings_and_refusals():
    f = FidelityConfig()
    assert (f.enabled, f.fraction, f.min_models, f.epochs_factor) == (True, 0.1, 8, 4.0)
    assert f.long_epochs(10) == 40 and f.long_epochs(1) == 4 and FidelityConfig(epochs_factor=1.5).long_epochs(1) == 2
    assert StudyConfig(preset="tiny", fidelity={"enabled": 0}).to_dict()["fidelity"] == {"enabled": False}
    assert StudyConfig(preset="tiny").to_dict()["fidelity"]["epochs_factor"] == 4.0
    for kwargs, needle in [({"fraction": 2}, "--fidelity-fraction"), ({"min_models": -1}, "--fidelity-min"),
                           ({"epochs_factor": 1}, "--fidelity-epochs-factor"), ({"enabled": 2}, "--fidelity takes"),
                           ({"fraction": 0, "min_models": 0}, "--fidelity 0")]:
        with pytest.raises(NetspaceError, match=needle):
            FidelityConfig(**kwargs)
    with pytest.raises(NetspaceError, match="unknown key"):
        StudyConfig(preset="tiny", fidelity={"share": 0.2})


def test_time_plan_budgets_the_retraining():
    off = plan_samples(3600, 30.0, 2, 8, FidelityConfig(enabled=False), 10)
    assert off["samples"] == samples_for(3600, 30.0, 2, 8) == 30 and off["fidelity_seconds"] == 0
    on = plan_samples(3600, 30.0, 2, 8, FidelityConfig(), 10)
    n, k = on["samples"], on["fidelity_models"]
    assert k == subset_size(8 * n, 8, 0.1, 8) and on["fidelity_epochs"] == 40
    assert on["sweep_seconds"] + on["fidelity_seconds"] <= 3600  # the plan fits the budget...
    nxt = 8 * (n + 1) * 30 / 2 + subset_size(8 * (n + 1), 8, 0.1, 8) * 4 * 30 / 2
    assert nxt > 3600  # ...and one more model per space would not
    assert on["fidelity_share"] == pytest.approx(on["fidelity_seconds"] / 3600) and 0 < on["fidelity_share"] < 1


# -- the report section and summary.json ----------------------------------------
def test_study_page_and_summary_carry_the_fidelity_numbers(tmp_path):
    import json

    from netspace.analysis.demo import demo_trials
    from netspace.report.study import write_study_report

    df = demo_trials(n=12, seed=0)
    spaces = list(dict.fromkeys(df["sweep"]))
    rows = []
    for space in spaces:
        part = df[(df["sweep"] == space) & (df["status"] == "done")].head(3)
        rows += [{"space": space, "trial": int(t), "short_error": float(e), "long_error": float(e) - 3.0,
                  "long_status": "done"} for t, e in zip(part["trial"], part["error"])]
    pairs = pd.DataFrame(rows)
    page = write_study_report(df, tmp_path / "report.html", spaces=spaces, samples=100, fidelity_pairs=pairs,
                              fidelity_epochs=(2, 8))
    fid = json.loads((tmp_path / "summary.json").read_text())["proxy_fidelity"]
    assert fid["n"] == len(pairs) and fid["kendall_tau"] == pytest.approx(1.0) and fid["spearman_rho"] == 1.0
    assert fid["p"] < 0.05 and fid["verdict"] == CONSISTENT and fid["long_epochs"] == 8
    assert "more often than chance" in fid["sentence"]
    html = open(page).read()
    assert "How far the short schedule can be trusted" in html and "2-epoch vs 8-epoch errors of" in html
    assert (tmp_path / "report_plots" / "proxy_fidelity.csv").exists()
    # the same section through the sweep report's registry: present when given the pairs, absent otherwise
    from netspace.report import SECTIONS
    from netspace.report.sections import Context

    kept: list[str] = []
    ctx = Context(df=df, groups={}, done_all=df, params=[], split=None, normalize=None, samples=100, seed=0,
                  keep=lambda fig_data, name, title: kept.append(name) or name, fidelity=(pairs, (2, 8)))
    html = SECTIONS["proxy_fidelity"](ctx)
    assert "How far the short schedule can be trusted" in html and kept == ["proxy_fidelity"]
    ctx.fidelity = None
    assert SECTIONS["proxy_fidelity"](ctx) is None
