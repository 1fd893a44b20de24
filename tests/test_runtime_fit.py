"""Runtime models: each fit recovers a known answer on synthetic data; held-out scores; the page and the CLI."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from netspace.analysis import AnalysisError, RuntimeModel, fit_runtime_models
from netspace.analysis.runtime_fit import scores
from netspace.cli import main
from netspace.report.runtime import write_runtime_report


def population(n: int = 80, seed: int = 0) -> pd.DataFrame:
    """Independent flops, params and acts, so each runtime law is identifiable."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"flops": rng.uniform(1e8, 4e9, n), "params": rng.uniform(1e6, 4e7, n),
                         "acts": rng.uniform(1e6, 3e7, n)})


LAWS = {
    "flops": lambda d: 2.0 + 5e-9 * d["flops"],
    "params": lambda d: 1.0 + 3e-7 * d["params"],
    "acts": lambda d: 0.5 + 1e-6 * d["acts"],
    "sqrt_flops+acts": lambda d: 0.3 + 2e-4 * np.sqrt(d["flops"]) + 4e-7 * d["acts"],
    "flops+sqrt_flops": lambda d: 0.2 + 3e-9 * d["flops"] + 1e-4 * np.sqrt(d["flops"]),
}
COEF = {"flops": (2.0, 5e-9), "params": (1.0, 3e-7), "acts": (0.5, 1e-6), "sqrt_flops+acts": (0.3, 2e-4, 4e-7),
        "flops+sqrt_flops": (0.2, 3e-9, 1e-4)}
TWO_TERM = ["sqrt_flops+acts", "flops+sqrt_flops"]


@pytest.mark.parametrize("law", list(LAWS))
def test_each_fit_recovers_its_law_and_wins_on_held_out_models(law):
    df = population()
    df["latency_ms"] = LAWS[law](df)
    table, preds = fit_runtime_models(df, folds=5)
    row = table.set_index("model").loc[law]
    coef = [row["c0"], row["c1"], row["c2"]][:len(COEF[law])]
    np.testing.assert_allclose(coef, COEF[law], rtol=1e-6)
    assert row["r2"] > 0.999999 and row["spearman"] == pytest.approx(1.0) and row["mean_rel_error"] < 1e-6
    # the other single-variable laws do not explain it (the combined model is close to the flops and acts laws)
    others = table[~table["model"].isin([law, *TWO_TERM]) & ~((law == "flops+sqrt_flops") & (table["model"] == "flops"))]
    if law not in TWO_TERM:
        assert (others["r2"] < 0.5).all(), table
    assert len(preds) == len(df) and f"pred_{law}" in preds


def test_noisy_acts_law_ranks_acts_above_flops():
    df = population(120, seed=1)
    rng = np.random.default_rng(2)
    df["latency_ms"] = (0.5 + 1e-6 * df["acts"]) * rng.lognormal(0.0, 0.05, len(df))
    table = fit_runtime_models(df)[0].set_index("model")
    assert table.loc["acts", "r2"] > 0.9 > table.loc["flops", "r2"]
    assert table.loc["acts", "spearman"] > table.loc["flops", "spearman"]
    assert table.loc["acts", "mean_rel_error"] < 0.1 < table.loc["flops", "mean_rel_error"]


def test_held_out_predictions_never_see_their_model():
    # one outlier: a fit that saw it would predict it better than a held-out fit can
    df = population(30)
    df["latency_ms"] = 1.0 + 1e-6 * df["acts"]
    df.loc[0, "latency_ms"] = 100.0
    _, preds = fit_runtime_models(df, folds=30)  # leave-one-out
    full = RuntimeModel("acts").fit(df["flops"], df["params"], df["acts"], df["latency_ms"])
    in_sample = full.predict(df["flops"], df["params"], df["acts"])[0]
    assert abs(preds["pred_acts"].iloc[0] - 100.0) > abs(in_sample - 100.0)


def test_scores_by_hand():
    s = scores([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 5.0])
    assert s["r2"] == pytest.approx(1 - 1 / 5)
    assert s["spearman"] == pytest.approx(1.0)
    assert s["mean_rel_error"] == pytest.approx(0.25 / 4)


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"flops": [1.0] * 8, "params": [1.0] * 8, "acts": [1.0] * 8}), "missing column.*latency_ms"),
    (pd.DataFrame({"flops": [1.0, 2.0], "params": [1.0, 2.0], "acts": [1.0, 2.0], "latency_ms": [1.0, 2.0]}),
     "needs at least 5 models"),
    ("not a frame", "expected a pandas DataFrame"),
])
def test_bad_input(frame, message):
    with pytest.raises(AnalysisError, match=message):
        fit_runtime_models(frame)
    with pytest.raises(AnalysisError, match="unknown runtime model"):
        RuntimeModel("latency")


def test_page_and_cli_on_a_csv(tmp_path, capsys):
    df = population(40)
    df["latency_ms"] = LAWS["acts"](df)
    csv = tmp_path / "measured.csv"
    df.to_csv(csv, index=False)
    out = tmp_path / "runtime.html"
    assert main(["runtime-fit", str(csv), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    acts_line = next(line for line in text.splitlines() if "c1 acts" in line)
    assert acts_line.split()[-3] == "1.000"  # held-out R^2
    html = out.read_text()
    assert "Runtime models" in html and html.count("data:image/png;base64,") == 2
    assert not re.search(r'<img[^>]+src="(?!data:)', html)  # self-contained
    assert (tmp_path / "runtime_plots" / "runtime_models.csv").exists()
    assert main(["runtime-fit", str(csv), "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in rows} == {"flops", "params", "acts", "sqrt_flops+acts", "flops+sqrt_flops"}


def test_cli_runtime_fit_without_measurements_exits_2(tmp_path, capsys):
    csv = tmp_path / "x.csv"
    population(10).to_csv(csv, index=False)
    assert main(["runtime-fit", str(csv), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "netspace latency DIR" in err and err.count("\n") == 1


def test_write_runtime_report_returns_the_page(tmp_path):
    df = population(20)
    df["latency_ms"] = LAWS["flops"](df)
    table, preds = fit_runtime_models(df)
    path = write_runtime_report(table, preds, tmp_path / "page.html", setting="cpu, batch 1")
    assert path.endswith("page.html") and "cpu, batch 1" in open(path).read()
