"""Scaling: EfficientNet rounding rules, the compound grid, the family, RegNet trend scaling, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from netspace import zoo
from netspace.cli import main
from netspace.complexity import complexity
from netspace.errors import NetspaceError
from netspace.scaling import (
    ScalingError, base_spec, compound_grid, compound_scale, fit_regnet_trend, regnet_for_flops, scale_family,
    scale_spec, scaled_resolution,
)
from netspace.spec import NetSpec, Stage, Stem
from netspace.train import Schedule

# EfficientNet's published (width, depth, resolution, dropout) of B1..B7
PUBLISHED = {1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3), 3: (1.2, 1.4, 300, 0.3), 4: (1.4, 1.8, 380, 0.4),
             5: (1.6, 2.2, 456, 0.4), 6: (1.8, 2.6, 528, 0.5), 7: (2.0, 3.1, 600, 0.5)}


@pytest.mark.parametrize("k", sorted(PUBLISHED))
def test_efficientnet_b1_to_b7_from_b0(k):
    w, d, r, drop = PUBLISHED[k]
    scaled = scale_spec(zoo.get("EfficientNet-B0"), width_mult=w, depth_mult=d, resolution=r, dropout=drop)
    expected = zoo.get(f"EfficientNet-B{k}")
    assert scaled == expected
    assert complexity(scaled) == complexity(expected)


def test_rounding_rules():
    b0 = zoo.get("EfficientNet-B0")
    assert scale_spec(b0) == b0
    b4 = scale_spec(b0, width_mult=1.4, depth_mult=1.8)
    assert b4.widths == [24, 32, 56, 112, 160, 272, 448]  # nearest multiple of 8, never below 90%
    assert b4.depths == [2, 4, 4, 6, 6, 8, 2]  # ceil(d * 1.8)
    assert (b4.stem.width, b4.head_width) == (48, 1792)
    assert all(w % 8 == 0 for w in b4.widths)


def test_grouped_bottlenecks_stay_compatible():
    spec = scale_spec(zoo.get("RegNetX-3.2GF"), width_mult=1.3, depth_mult=1.2)
    for st in spec.stages:
        assert st.bottleneck_width % st.group_width == 0
    assert spec.depths == [math.ceil(d * 1.2) for d in zoo.get("RegNetX-3.2GF").depths]


@pytest.mark.parametrize("budget, step", [(2.0, 0.1), (2.0, 0.05), (3.0, 0.1), (1.5, 0.05)])
def test_grid_satisfies_the_constraint(budget, step):
    grid = compound_grid(budget, step)
    assert len(grid) >= 4 and len(set(grid)) == len(grid)
    for alpha, beta, gamma in grid:
        assert alpha >= 1 and beta >= 1 and gamma >= 1
        assert alpha * beta ** 2 * gamma ** 2 == pytest.approx(budget, rel=1e-3)
    assert (budget, 1.0, 1.0) in [(round(a, 3), b, g) for a, b, g in grid]  # depth only
    # every beta, gamma of the grid that leaves alpha >= 1 is there
    betas = sorted({b for _, b, _ in grid})
    assert betas == pytest.approx([1 + i * step for i in range(len(betas))])


def test_efficientnet_factors_are_near_the_grid():
    # EfficientNet's alpha=1.2, beta=1.1, gamma=1.15 satisfies the constraint to 4%
    grid = compound_grid(2.0, 0.05)
    assert any(b == 1.1 and g == 1.15 and abs(a - 1.2) < 0.06 for a, b, g in grid)


def test_family_scales_by_powers():
    base = zoo.get("EfficientNet-B0")
    fam = scale_family(base, 1.2, 1.1, 1.15, [1, 2, 3])
    for phi, spec in enumerate(fam, 1):
        assert spec.resolution == round(224 * 1.15 ** phi)
        assert spec.depths == [math.ceil(d * 1.2 ** phi) for d in base.depths]
    flops = [complexity(s)["flops"] for s in [base, *fam]]
    ratios = np.array(flops[1:]) / np.array(flops[:-1])
    assert np.all(ratios > 1.5) and np.all(ratios < 2.8)  # about 2x per phi, off by the rounding rules
    assert scaled_resolution(28, 1.15, 4) == 32 and scaled_resolution(224, 1.0) == 224


@pytest.mark.parametrize("call, message", [
    (lambda: compound_grid(1.0), "budget must be a flops multiplier > 1"),
    (lambda: compound_grid(0.5), "budget must be a flops multiplier > 1"),
    (lambda: compound_grid(float("nan")), "budget must be a flops multiplier > 1"),
    (lambda: compound_grid(2.0, step=0), "step must be in"),
    (lambda: scale_spec(zoo.get("ResNet-20"), width_mult=0), "width_mult must be a positive number"),
    (lambda: scale_spec(zoo.get("ResNet-20"), depth_mult=-1.0), "depth_mult must be a positive number"),
    (lambda: compound_scale(zoo.get("ResNet-20"), "fashion-mnist", phi=0), "phi must be an integer >= 1"),
    (lambda: compound_scale(zoo.get("ResNet-20"), "fashion-mnist", budget=1.0), "budget must be"),
])
def test_bad_budgets_and_multipliers(call, message):
    with pytest.raises(ScalingError, match=message) as e:
        call()
    assert isinstance(e.value, NetspaceError) and "\n" not in str(e.value)


# -- RegNet trend ------------------------------------------------------------
def synthetic_sweep(seed: int = 0) -> pd.DataFrame:
    """Good models follow known power laws of flops; the rest are random and worse."""
    rng = np.random.default_rng(seed)
    flops = np.geomspace(2e8, 4e9, 24)
    good = pd.DataFrame({"flops": flops, "depth": 20 * (flops / 1e9) ** 0.05, "w0": 60 * (flops / 1e9) ** 0.4,
                         "wa": 30 * (flops / 1e9) ** 0.3, "wm": np.full(24, 2.5),
                         "group_width": 24 * (flops / 1e9) ** 0.5, "error": 20.0})
    bad = pd.DataFrame({"flops": rng.choice(flops, 72), "depth": rng.uniform(12, 28, 72),
                        "w0": rng.uniform(8, 200, 72), "wa": rng.uniform(8, 200, 72), "wm": rng.uniform(2, 3, 72),
                        "group_width": rng.uniform(1, 64, 72), "error": rng.uniform(30, 60, 72)})
    df = pd.concat([good, bad], ignore_index=True)
    return df.assign(status="done", sweep="rx", bottleneck_ratio=1.0, se_ratio=0.0)


def test_trend_recovers_known_power_laws():
    trend = fit_regnet_trend(synthetic_sweep(), top_fraction=0.15, bins=3)
    slopes = {k: b for k, (_, b) in trend.coefficients.items()}
    assert slopes == pytest.approx({"depth": 0.05, "w0": 0.4, "wa": 0.3, "wm": 0.0, "group_width": 0.5}, abs=1e-9)
    at_1gf = trend.predict(1e9)
    assert at_1gf == pytest.approx({"depth": 20, "w0": 60, "wa": 30, "wm": 2.5, "group_width": 24}, rel=1e-9)


def test_regnet_for_flops_hits_the_target_near_the_trend():
    trend = fit_regnet_trend(synthetic_sweep(), top_fraction=0.15)
    for target in (4e8, 1.6e9):
        params, spec = regnet_for_flops(trend, target, tolerance=0.05)
        assert abs(complexity(spec)["flops"] / target - 1) <= 0.05
        hat = trend.predict(target)
        assert abs(params.depth - hat["depth"]) <= 2.5 and params.wm == pytest.approx(2.5, abs=1e-3)
    # small images: the spec is adapted and its own flops hit the target
    params, spec = regnet_for_flops(trend, 2e7, resolution=28, in_channels=1, num_classes=10)
    assert (spec.resolution, spec.in_channels, spec.stem.stride) == (28, 1, 1)
    assert abs(complexity(spec)["flops"] / 2e7 - 1) <= 0.05


def test_trend_needs_regnet_columns_and_finished_trials():
    with pytest.raises(ScalingError, match="no column"):
        fit_regnet_trend(pd.DataFrame({"flops": [1.0], "error": [1.0], "status": ["done"]}))
    with pytest.raises(ScalingError, match="at least 4 finished"):
        fit_regnet_trend(synthetic_sweep().head(3))
    with pytest.raises(ScalingError, match="target flops must be a positive number"):
        regnet_for_flops(fit_regnet_trend(synthetic_sweep()), -1.0)


# -- compound scaling on Fashion-MNIST ---------------------------------------
TINY = NetSpec(stem=Stem("simple", 16, 1), num_classes=10, in_channels=1, resolution=28, name="tiny",
               stages=(Stage("res_basic", 1, 16, 2), Stage("res_basic", 1, 32, 2)))


def test_compound_scale_end_to_end(tmp_path):
    result = compound_scale(TINY, "fashion-mnist", phi=2, step=0.4, limit_train=128, limit_test=64,
                            schedule=Schedule(epochs=1, batch_size=32, lr=0.1), out_dir=tmp_path,
                            log=lambda m: None)
    grid = result.grid
    assert len(grid) == len(compound_grid(2.0, 0.4)) == 3
    assert np.allclose(grid["product"], 2.0, rtol=1e-3)
    assert grid["error"].between(0, 100).all()
    best = grid.sort_values(["error", "flops"], kind="stable").iloc[0]
    assert (result.alpha, result.beta, result.gamma) == (best["alpha"], best["beta"], best["gamma"])
    fam = result.family
    assert fam["phi"].tolist() == [0, 1, 2] and fam["flops"].is_monotonic_increasing
    # phi = 1 is the winning grid candidate, trained once
    assert fam.loc[1, "flops"] == best["flops"] and fam.loc[1, "error"] == best["error"]
    expected = scale_family(TINY, result.alpha, result.beta, result.gamma, [1, 2])
    assert result.specs[1:] == expected
    saved = json.loads((tmp_path / "family.json").read_text())
    assert [NetSpec.from_dict(m["spec"]) for m in saved["models"]] == result.specs
    assert [m["depth"] for m in saved["models"]] == fam["depth"].tolist()
    assert (tmp_path / "grid.csv").exists() and (tmp_path / "family.csv").exists()


def test_base_spec_sources(tmp_path):
    assert base_spec("EfficientNet-B0") == zoo.get("EfficientNet-B0")
    path = tmp_path / "m.json"
    path.write_text(TINY.to_json())
    assert base_spec(str(path)) == TINY
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScalingError, match="must hold a sweep or search"):
        base_spec(str(tmp_path / "empty"))


@pytest.mark.parametrize("args, message", [
    (["--budget", "1"], "budget must be a flops multiplier > 1"),
    (["--phi", "0"], "phi must be an integer >= 1"),
    (["--device", "tpu"], "device"),
    (["--tolerance", "1.5"], "tolerance must be a fraction of the budget in [0, 1), got 1.5"),
])
def test_cli_scale_errors_exit_2(tmp_path, capsys, args, message):
    base = ["scale", "ResNet-20", "--data", "fashion-mnist", "--out", str(tmp_path / "s"), "--limit-train", "128",
            "--limit-test", "64", "--step", "0.4"]
    if "--phi" not in args:
        base += ["--phi", "1"]
    assert main(base + args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_scale_with_regnet_comparison(tmp_path, capsys):
    from netspace.run.store import Store
    from netspace.spaces import RegNetParams, regnet_spec
    from netspace.spec import for_input

    sweep = synthetic_sweep().head(24)  # the good models: exact power laws
    rows, results = [], []
    for i, r in sweep.iterrows():
        p = RegNetParams(depth=int(round(r["depth"])), w0=max(8, int(round(r["w0"] / 8)) * 8), wa=float(r["wa"]),
                         wm=float(r["wm"]), group_width=8)
        spec = for_input(regnet_spec(p), in_channels=1, resolution=28, num_classes=10)
        params = {"depth": p.depth, "w0": p.w0, "wa": p.wa, "wm": p.wm, "group_width": p.group_width,
                  "bottleneck_ratio": 1.0, "se_ratio": 0.0}
        rows.append((i, params, spec.to_dict(), complexity(spec)))
        results.append((i, 10.0 + 0.01 * i))
    with Store(tmp_path / "rx", create=True) as store:
        store.add_trials(settings={"config": {"space": "RegNetX"}}, rows=rows)
        for i, err in results:
            store.record_result(i, {"status": "done", "error": err}, [])
    out = tmp_path / "scaled"
    assert main(["scale", str(path_of(TINY, tmp_path)), "--data", "fashion-mnist", "--phi", "2", "--out", str(out),
                 "--step", "0.5", "--limit-train", "128", "--limit-test", "64", "--batch-size", "64",
                 "--regnet-sweep", str(tmp_path / "rx"), "--no-train-family"]) == 0
    text = capsys.readouterr().out
    assert "alpha 2.000 (depth), beta 1.00 (width), gamma 1.00" in text  # the only candidate at step 0.5
    saved = json.loads((out / "family.json").read_text())
    fams = [m["family"] for m in saved["models"]]
    assert fams == ["compound"] * 3 + ["regnet"] * 3
    for k in range(3):
        compound, regnet = saved["models"][k], saved["models"][3 + k]
        assert abs(regnet["flops"] / compound["flops"] - 1) <= 0.25  # same budget, RegNet-style
        assert NetSpec.from_dict(regnet["spec"]).stages[0].block == "res_bottleneck"


def path_of(spec: NetSpec, tmp_path) -> str:
    path = tmp_path / "base.json"
    path.write_text(spec.to_json())
    return str(path)
