"""Analysis layer: numbers checked against hand computations, scipy and known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import netspace.analysis as an
from netspace import zoo
from netspace.analysis.demo import demo_trials
from netspace.errors import NetspaceError
from netspace.spaces.regnet import quantized_widths

ZOO = [(f"{fam}-{k}", p) for fam, table in (("RegNetX", zoo._REGNETX), ("RegNetY", zoo._REGNETY))
       for k, p in table.items()]


# -- EDF ---------------------------------------------------------------------------------------------

def test_edf_hand_computed():
    x, F = an.edf([3.0, 1.0, 2.0, 2.0])
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(F, [0.25, 0.75, 1.0])
    # F(e) counts errors strictly below e
    np.testing.assert_allclose(an.edf_at([3.0, 1.0, 2.0, 2.0], [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 9.0]),
                               [0.0, 0.0, 0.25, 0.25, 0.75, 0.75, 1.0])


def test_weighted_edf():
    x, F = an.edf([1.0, 2.0, 3.0], weights=[2.0, 1.0, 1.0])  # normalized to 0.5, 0.25, 0.25
    np.testing.assert_allclose(F, [0.5, 0.75, 1.0])
    np.testing.assert_allclose(an.edf_at([1.0, 2.0, 3.0], [2.0, 3.5], weights=[0, 1, 3]), [0.0, 1.0])


@pytest.mark.parametrize("bad, match", [([], "at least one"), ([1.0, np.nan], "NaN"), ([[1, 2]], "1-D")])
def test_edf_rejects_bad_input(bad, match):
    with pytest.raises(NetspaceError, match=match):
        an.edf(bad)


def test_edf_rejects_bad_weights():
    with pytest.raises(NetspaceError, match="expected 2 weights"):
        an.edf([1.0, 2.0], weights=[1.0])
    with pytest.raises(NetspaceError, match="non-negative"):
        an.edf([1.0, 2.0], weights=[1.0, -1.0])


# -- normalized EDF ----------------------------------------------------------------------------------

def test_normalized_weights_equalize_histogram():
    rng = np.random.default_rng(1)
    flops = np.concatenate([rng.uniform(1e8, 2e8, 90), rng.uniform(2e8, 4e8, 10)])  # skewed to small models
    edges = np.geomspace(1e8, 4e8, 5)
    w = an.normalized_weights(flops, edges)
    assert w.sum() == pytest.approx(1.0)
    mass, _ = np.histogram(flops, bins=edges, weights=w)
    np.testing.assert_allclose(mass, 0.25)
    # within a bin every model weighs the same: 1 / (k * count)
    counts, _ = np.histogram(flops, bins=edges)
    idx = np.searchsorted(edges, flops, side="right") - 1
    np.testing.assert_allclose(w, 1 / (4 * counts[np.clip(idx, 0, 3)]))


def test_normalized_weights_target_and_outside_range():
    c = np.array([1.0, 1.5, 3.0, 3.5, 3.9, 10.0])
    w = an.normalized_weights(c, [1.0, 2.0, 4.0], target=[1, 3])
    assert w[-1] == 0.0  # outside the bins
    np.testing.assert_allclose(w, [0.125, 0.125, 0.25, 0.25, 0.25, 0.0])
    with pytest.raises(NetspaceError, match="has no models"):
        an.normalized_weights([1.0, 1.1], [1.0, 2.0, 4.0])


def test_common_bins_make_two_sweeps_match():
    rng = np.random.default_rng(2)
    a = np.exp(rng.uniform(np.log(1e8), np.log(1e9), 300))
    b = np.exp(rng.normal(np.log(6e8), 0.4, 300))  # different shape, different range
    edges = an.common_log_bins([a, b], max_bins=8)
    assert edges[0] == pytest.approx(max(a.min(), b.min())) and edges[-1] == pytest.approx(min(a.max(), b.max()))
    ha = np.histogram(a, edges, weights=an.normalized_weights(a, edges))[0]
    hb = np.histogram(b, edges, weights=an.normalized_weights(b, edges))[0]
    np.testing.assert_allclose(ha, hb)


# -- KS ----------------------------------------------------------------------------------------------

def test_ks_matches_scipy_and_names_the_better_space():
    rng = np.random.default_rng(3)
    good, bad = rng.normal(10, 1, 120), rng.normal(11, 1, 80)
    r = an.ks_test(good, bad, names=("RegNetX", "AnyNetX_A"))
    ref = stats.ks_2samp(good, bad)
    assert r.statistic == pytest.approx(ref.statistic) and r.pvalue == pytest.approx(ref.pvalue)
    assert max(r.d_plus, r.d_minus) == pytest.approx(ref.statistic)
    assert r.better == "RegNetX"
    assert r.sentence() == f"RegNetX is better than AnyNetX_A: D = {ref.statistic:.2f}, p < 0.001"
    flipped = an.ks_test(bad, good, names=("AnyNetX_A", "RegNetX"))
    assert flipped.better == "RegNetX"


def test_ks_with_ties_and_not_significant():
    a, b = [1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 3.0, 4.0]
    r = an.ks_test(a, b, names=("A", "B"))
    assert r.statistic == pytest.approx(stats.ks_2samp(a, b).statistic) == pytest.approx(0.5)
    assert "not distinguishable" in r.sentence()


def test_weighted_ks_equal_weights_is_the_asymptotic_unweighted_test():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 200), rng.normal(0.3, 1, 150)
    r = an.ks_test(a, b, np.ones(200), np.ones(150))
    ref = stats.ks_2samp(a, b, method="asymp")
    assert r.statistic == pytest.approx(ref.statistic)
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-6)
    assert r.n_a == pytest.approx(200) and r.n_b == pytest.approx(150)


# -- bootstrap ---------------------------------------------------------------------------------------

def test_bootstrap_best_range_finds_the_good_region():
    # error is lowest near x = 0.7; the best of 25% of the models lands there
    x = np.linspace(0, 1, 401)
    err = 10 + 40 * (x - 0.7) ** 2
    lo, med, hi = an.best_range(err, x, samples=2500, seed=0)
    assert lo <= 0.7 <= hi
    assert med == pytest.approx(0.7, abs=0.005)
    assert 0.68 < lo and hi < 0.72  # with 100 draws per sample the best is within a few grid steps
    # seeded and deterministic; the fraction is the pycls one (max(1, int(n * 0.25)))
    assert an.best_range(err, x, seed=0) == (lo, med, hi)
    idx = an.bootstrap_best(err, samples=7, fraction=1 / 401, seed=5)  # one draw each: uniform picks
    assert idx.shape == (7,) and idx.dtype.kind == "i"


def test_bootstrap_fraction_one_model_picks_the_argmin_often():
    err = np.array([5.0, 1.0, 9.0, 7.0])
    best = an.bootstrap_best(err, samples=20000, fraction=1.0, seed=1)  # 4 draws with replacement
    # P(best is model 1) = 1 - (3/4)^4
    assert np.mean(best == 1) == pytest.approx(1 - 0.75**4, abs=0.01)


def test_bootstrap_draws_are_the_one_at_a_time_definition():
    # each row of the vectorized draw is one bootstrap sample: the best of m models drawn with replacement
    # (its speed against a loop over draws is benchmarks/analysis_speed.py's, not a test's)
    from netspace.analysis.bootstrap import bootstrap_best

    rng = np.random.default_rng(0)
    err = rng.uniform(5, 20, 203)
    best = bootstrap_best(err, samples=300, seed=4)
    m = int(203 * 0.25)
    again = np.random.default_rng(4).integers(0, 203, size=(300, m))
    assert best.tolist() == [int(row[np.argmin(err[row])]) for row in again]


# -- RegNet fit --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, p", ZOO, ids=[n for n, _ in ZOO])
def test_fit_recovers_regnet_params(name, p):
    d, w0, wa, wm, _ = p
    widths, _ = quantized_widths(d, w0, wa, wm)
    fit = an.fit_regnet(widths)
    assert fit.d == d and fit.w0 == w0
    assert fit.e_fit == 0.0 and fit.widths() == widths
    # wa, wm are pinned only to the intervals that give the same quantized widths
    assert fit.wm == pytest.approx(wm, rel=0.01)
    assert fit.wa == pytest.approx(wa, rel=0.1)
    assert fit.linear_wa > 0


@pytest.mark.parametrize("name", [n for n, _ in ZOO])
def test_fit_zoo_block_widths_near_zero(name):
    # zoo widths are adjusted for group compatibility, so they are near, not on, the quantized line
    widths = zoo.get(name).block_widths()
    fit = an.fit_regnet(widths)
    assert fit.d == len(widths)
    assert fit.e_fit < 0.08
    assert fit.e_fit == pytest.approx(np.mean(np.abs(np.log(np.array(widths) / fit.widths()))))


def test_fit_noisy_widths_beats_a_brute_force_grid():
    widths = [32, 32, 64, 72, 72, 160, 168, 168, 168, 400, 400]  # not a RegNet
    fit = an.fit_regnet(widths)
    j = np.arange(len(widths))
    best = np.inf
    for w0 in range(8, 80, 8):
        for wa in np.linspace(1, 80, 60):
            for wm in np.linspace(1.5, 3.5, 41):
                q, _ = quantized_widths(len(widths), w0, float(wa), float(wm))
                best = min(best, np.mean(np.abs(np.log(np.array(widths) / q))))
    assert fit.e_fit <= best + 1e-9
    assert fit.linear_wa == pytest.approx(np.polyfit(j, widths, 1)[0])


def test_fit_fifty_random_width_profiles():
    # arbitrary increasing widths (not RegNets): every fit is finite, with a w0 on the grid (multiples of 8)
    # and wm > 1 (its speed is benchmarks/analysis_speed.py's)
    rng = np.random.default_rng(0)
    models = [np.sort(rng.integers(2, 60, rng.integers(8, 25))) * 8 for _ in range(50)]
    fits = [an.fit_regnet(m) for m in models]
    assert all(np.isfinite(f.e_fit) and f.e_fit >= 0 and f.w0 % 8 == 0 and f.wm > 1 for f in fits)


def test_fit_top_models_of_a_sweep():
    df = demo_trials(n=30)
    fits = an.fit_top_models(df, "RegNetX", top=10)
    assert len(fits) == 10 and fits["error"].is_monotonic_increasing
    # fitted values have names of their own: never the sampled w0, wa, wm of the same rows
    assert {"fit_w0", "fit_wa", "fit_wm", "fit_depth", "fit_e"} <= set(fits.columns)
    assert not {"w0", "wa", "wm", "d", "e_fit"} & set(fits.columns)
    # a model whose widths follow the quantized linear rule exactly (no group-width adjustment) fits exactly
    rows = df[df["sweep"] == "RegNetX"].set_index("trial").loc[fits["trial"]]
    exact = [list(r.block_widths) == quantized_widths(r.depth, r.w0, r.wa, r.wm)[0] for r in rows.itertuples()]
    assert any(exact) and (fits.loc[exact, "fit_e"] == 0).all()
    assert (fits["fit_e"] < 0.1).all()


# -- DataFrame-level -----------------------------------------------------------------------------------

def test_summarize_counts_and_errors():
    df = pd.DataFrame({
        "sweep": ["a", "a", "a", "a", "b"], "trial": [0, 1, 2, 3, 0],
        "status": ["done", "done", "diverged", "failed", "pending"],
        "error": [10.0, 20.0, np.nan, np.nan, np.nan],
    })
    s = an.summarize(df).set_index("sweep")
    assert s.loc["a", ["n", "done", "diverged", "failed"]].tolist() == [4, 2, 1, 1]
    assert s.loc["a", ["best", "mean", "median"]].tolist() == [10.0, 15.0, 15.0]
    assert s.loc["b", "pending"] == 1 and np.isnan(s.loc["b", "best"])


def test_clear_errors_for_empty_and_unfinished():
    with pytest.raises(NetspaceError, match="empty"):
        an.summarize(pd.DataFrame(columns=["sweep", "status", "error"]))
    with pytest.raises(NetspaceError, match="missing column"):
        an.summarize(pd.DataFrame({"sweep": ["a"]}))
    df = pd.DataFrame({"sweep": ["a", "b"], "trial": [0, 0], "status": ["done", "running"], "error": [5.0, np.nan]})
    with pytest.raises(NetspaceError, match="sweep 'b' has no finished trials"):
        an.finished(df, "b")
    with pytest.raises(NetspaceError, match="no finished trials"):
        an.compare_sweeps(df)


def test_compare_sweeps_and_normalized():
    df = demo_trials(n=60)
    (r,) = an.compare_sweeps(df)
    a = df[(df.sweep == "RegNetX") & (df.status == "done")]["error"]
    b = df[(df.sweep == "AnyNetX_A") & (df.status == "done")]["error"]
    assert r.statistic == pytest.approx(stats.ks_2samp(a, b).statistic)
    assert r.better == "RegNetX"
    (rn,) = an.compare_sweeps(df, normalize="flops")
    assert 0 < rn.statistic <= 1 and rn.n_a < len(a)  # weighting lowers the effective sample size


def test_correlations_and_trends():
    df = demo_trials(n=60)
    c = an.correlations(df).set_index(["sweep", "parameter"])
    expect = stats.spearmanr(*df[(df.sweep == "RegNetX") & (df.status == "done")][["flops", "error"]].T.values)
    assert c.loc[("RegNetX", "flops"), "spearman"] == pytest.approx(expect.statistic)
    assert c.loc[("RegNetX", "flops"), "spearman"] < -0.8  # demo error falls with flops
    t = an.trends(df, ["wm", "depth"], samples=500)
    assert set(t["parameter"]) == {"wm", "depth"}
    assert (t["low"] <= t["median"]).all() and (t["median"] <= t["high"]).all()
    assert t["flops"].is_monotonic_increasing


def test_parameter_columns():
    df = demo_trials(n=10)
    # RegNetX's bottleneck_ratio and se_ratio are constant; measurements, complexity and per-stage
    # structure vary but are not design parameters
    assert an.parameter_columns(df) == ["depth", "group_width", "w0", "wa", "wm"]
    assert df["images_per_second"].nunique() > 1 and df["epochs"].nunique() > 1
    df["fit_wa"], df["latency_ms"], df["pred_flops"] = df["wa"] * 1.01, df["flops"] / 1e6, 1.0 * df.index
    assert an.parameter_columns(df) == ["depth", "group_width", "w0", "wa", "wm"]


# -- readers -----------------------------------------------------------------------------------------

def _pycls_job(i, err_curve, *, max_ep=3, stderr="", model="regnet"):
    cfg = {"MODEL": {"TYPE": model}, "OPTIM": {"BASE_LR": 0.1, "WEIGHT_DECAY": 5e-5, "MAX_EPOCH": max_ep}}
    if model == "regnet":
        cfg["REGNET"] = {"DEPTH": 13, "W0": 24, "WA": 36.44, "WM": 2.49, "GROUP_W": 8, "BOT_MUL": 1.0,
                         "SE_ON": False}
    else:
        cfg["ANYNET"] = {"DEPTHS": [1, 2], "WIDTHS": [32, 64], "GROUP_WS": [8, 8], "BOT_MULS": [1.0, 1.0]}
    n = len(err_curve)
    return {
        "cfg": cfg,
        "complexity": {"flops": 200_000_000 + i, "params": 2_700_000, "acts": 2_200_000, "h": 1, "w": 1},
        "train_epoch": {"epoch": [f"{e + 1}/{max_ep}" for e in range(n)], "epoch_ind": list(range(1, n + 1)),
                        "epoch_max": [max_ep] * n, "loss": [2.0] * n, "time_epoch": [10.0] * n,
                        "top1_err": [50.0] * n},
        "test_epoch": {"epoch": [f"{e + 1}/{max_ep}" for e in range(n)], "epoch_ind": list(range(1, n + 1)),
                       "epoch_max": [max_ep] * n, "top1_err": err_curve, "min_top1_err": [min(map(float, err_curve[: k + 1])) for k in range(n)],
                       "time_epoch": [1.0] * n},
        "log_file": f"/sweeps/regnetx_sweep/logs/{i:05d}/stdout.log",
        "err_file": f"/sweeps/regnetx_sweep/logs/{i:05d}/stderr.log",
        "err": stderr,
    }


def test_read_pycls_sweep(tmp_path):
    jobs = [_pycls_job(0, [60.0, 40.0, 35.5]), _pycls_job(1, [70.0, 50.0]),
            _pycls_job(2, [60.0, "NaN"], stderr="ERROR: Got NaN losses"), _pycls_job(3, [80.0], stderr="Traceback"),
            _pycls_job(4, [55.0, 41.0, 42.0], model="anynet")]
    folder = tmp_path / "regnetx_sweep"
    folder.mkdir()
    path = folder / "sweep.json"
    path.write_text(json.dumps(jobs))
    df = an.read_pycls_sweep(path)
    assert df["sweep"].unique().tolist() == ["regnetx_sweep"]
    assert df["status"].tolist() == ["done", "running", "diverged", "failed", "done"]
    r = df.iloc[0]
    assert (r["error"], r["best_error"], r["flops"], r["params"], r["acts"]) == (35.5, 35.5, 2e8, 2.7e6, 2.2e6)
    assert (r["depth"], r["w0"], r["wa"], r["wm"], r["group_width"], r["bottleneck_ratio"]) == (13, 24, 36.44, 2.49,
                                                                                                8, 1.0)
    assert r["block_widths"] == zoo.get("RegNetX-200MF").block_widths()
    assert r["curve"] == [60.0, 40.0, 35.5] and r["wall_seconds"] == 33.0 and r["name"] == "00000"
    a = df.iloc[4]
    assert (a["depth1"], a["depth2"], a["width1"], a["width2"], a["depth"]) == (1, 2, 32, 64, 3)
    assert (a["group_width1"], a["bottleneck_ratio2"]) == (8, 1.0)
    assert a["block_widths"] == [32, 64, 64] and a["best_error"] == 41.0 and a["error"] == 42.0
    assert an.summarize(df).iloc[0][["done", "diverged", "failed", "running"]].tolist() == [2, 1, 1, 1]


def test_read_nds(tmp_path):
    def rec(i, curve, net, max_ep=3):
        return {"job_id": f"job{i}", "rng_seed": i, "flops": 1e8 + i, "params": 1e6, "net": net,
                "optim": {"base_lr": 0.1, "wd": 5e-4, "max_ep": max_ep},
                "train_ep_loss": [1.0] * len(curve), "train_ep_top1": [30.0] * len(curve),
                "test_ep_top1": curve, "min_test_top1": min(curve), "iter_time": 0.1, "act_mem": 1, "exp_mem": 1}
    resnext = {"block_type": "res_bottleneck_block", "ds": [1, 2, 3], "ws": [16, 32, 64], "ss": [1, 2, 2],
               "bot_muls": [0.25, 0.25, 0.25], "num_gs": [2, 2, 4]}
    path = tmp_path / "ResNeXt-A.json"
    path.write_text(json.dumps([rec(0, [20.0, 12.0, 9.5], resnext), rec(1, [20.0, 8.0, 8.5], resnext),
                                rec(2, [20.0, float("nan")], resnext)]))  # Python's json writes NaN
    df = an.read_nds(path)
    assert df["sweep"].unique().tolist() == ["ResNeXt-A"]
    assert df["status"].tolist() == ["done", "done", "diverged"]
    # The error is NDS's minimum test error by default, the last epoch's on request.
    assert df["error"].tolist()[:2] == [9.5, 8.0] and df["best_error"].tolist()[:2] == [9.5, 8.0]
    assert an.read_nds(path, error="last")["error"].tolist()[:2] == [9.5, 8.5]
    r = df.iloc[0]
    assert (r["depth"], r["depth3"], r["width2"], r["lr"], r["wd"]) == (6, 3, 32, 0.1, 5e-4)
    # num_gs is a number of groups; the channels per group follow from the bottleneck width w * bot_mul.
    assert (r["groups1"], r["groups3"], r["bottleneck_ratio1"]) == (2, 4, 4.0)
    assert (r["group_width1"], r["group_width2"], r["group_width3"]) == (2, 4, 4)  # 4/2, 8/2, 16/4
    assert r["block_widths"] == [16, 32, 32, 64, 64, 64]
    cells = tmp_path / "DARTS.json"
    net = {"genotype": {"normal": [], "normal_concat": [], "reduce": [], "reduce_concat": []}, "width": 16,
           "depth": 8, "aux": False}
    cells.write_text(json.dumps({"top": [rec(0, [9.0, 6.0, 5.5], net)], "mid": [rec(1, [9.0, 7.0, 6.5], net)]}))
    d2 = an.read_nds(cells)
    assert len(d2) == 2 and d2["width"].tolist() == [16, 16] and d2["block_widths"].isna().all()


@pytest.mark.parametrize("content, match", [
    (None, "no such file"), ("", "is empty"), ("{not json", "not valid JSON"), ("[]", "holds no"),
    ('{"a": 1}', "expected a list"),
])
def test_readers_reject_unreadable_files(tmp_path, content, match):
    path = tmp_path / "sweep.json"
    if content is not None:
        path.write_text(content)
    for reader in (an.read_pycls_sweep, an.read_nds):
        with pytest.raises(NetspaceError, match=match):
            reader(path)
    with pytest.raises(NetspaceError, match="directory"):
        an.read_nds(tmp_path)


def test_one_panel_per_design_parameter_with_the_sweeps_that_sample_it():
    from netspace.analysis import panel_ranges, parameter_panels

    df = demo_trials(n=10, seed=4, sweeps=("A", "B", "X"), spaces=("AnyNetX_A", "AnyNetX_B", "RegNetX"), epochs=2)
    groups = an.finished_by_sweep(df, skip_empty=True)
    panels = {p.key: p for p in parameter_panels(groups, an.parameter_columns(df))}
    # AnyNetX_B's b is one per network (stored per stage, equal in every model): it joins RegNet's b panel;
    # RegNetX fixes b = 1, so it is not in it; AnyNetX_A's free per-stage b has panels of its own
    assert panels["bottleneck_ratio"].columns == {"B": "bottleneck_ratio1"}
    assert [panels[f"bottleneck_ratio{i}"].columns for i in (1, 2)] == [{"A": "bottleneck_ratio1"},
                                                                        {"A": "bottleneck_ratio2"}]
    assert panels["depth1"].columns == {"A": "depth1", "B": "depth1"} and panels["wm"].columns == {"X": "wm"}
    assert panels["group_width1"].columns == {"A": "group_width1", "B": "group_width1"}
    assert not any(k.startswith(("depth_s", "width_s", "se_ratio")) for k in panels)  # built or fixed: no panel
    keys = list(panels)
    assert keys.index("wm") < keys.index("bottleneck_ratio") < keys.index("depth1") < keys.index("depth2")
    assert panels["bottleneck_ratio1"].label == "bottleneck ratio, stage 1" and panels["depth"].scale == "linear"
    ranges = panel_ranges(groups, list(panels.values()), samples=100)
    b = ranges[ranges["parameter"] == "bottleneck_ratio"]
    assert b["sweep"].tolist() == ["B"] and b["column"].tolist() == ["bottleneck_ratio1"]
    assert set(b[["low", "median", "high"]].iloc[0]) <= {1.0, 2.0, 4.0}
    direct = an.best_ranges(groups["B"], ["bottleneck_ratio1"], samples=100)
    assert b["median"].iloc[0] == direct["median"].iloc[0]
