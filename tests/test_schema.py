"""The trial-row schema: column roles, one row function for export, analysis and demo data, input labels,
and a real tiny sweep whose report plots error only against design parameters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import netspace.analysis as an
from netspace import schema
from netspace.analysis.demo import demo_trials
from netspace.cli import main
from netspace.errors import NetspaceError
from netspace.run import Store, export_rows, run_sweep, sweep_config, sweep_labels, trial_rows
from netspace.run.frame import load

FMNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
needs_fmnist = pytest.mark.skipif(not FMNIST.exists(), reason="Fashion-MNIST files not installed")
MEASURED = ("error", "best_error", "curve", "epochs", "wall_seconds", "images_per_second", "reward", "latency_ms",
            "latency_p10_ms", "latency_batch", "latency_threads")


# -- roles ---------------------------------------------------------------------------------------------

def test_every_column_has_one_role_and_measurements_are_never_design():
    assert {c.role for c in schema.COLUMNS} <= set(schema.ROLES)
    for name in MEASURED + ("latency_anything_new",):
        assert schema.role(name) == "measured", name
    for name in ("fit_w0", "fit_wa", "fit_wm", "fit_e", "pred_flops", "latency_predicted_ms"):
        assert schema.role(name) == "fitted", name
    assert [schema.role(n) for n in ("flops", "params", "acts")] == ["complexity"] * 3
    assert [schema.role(n) for n in ("depth_s1", "width_s4", "block_widths", "spec")] == ["structure"] * 4
    assert [schema.role(n) for n in ("sweep", "trial", "status", "eval_split", "message")] == ["id"] * 5
    assert [schema.role(n) for n in ("depth", "w0", "wa", "wm", "group_width", "depths1")] == ["design"] * 6
    assert set(schema.FIT_COLUMNS.values()) == {n for n in schema.FIT_COLUMNS.values() if schema.role(n) == "fitted"}
    assert schema.STATUSES == ("pending", "running", "done", "diverged", "failed")
    assert set(schema.STATUS_MEANINGS) == set(schema.STATUSES)


def _trial(**over):
    t = {"trial": 0, "params": {"depth": 3, "widths": [8, 16]}, "spec": {"stages": [{"depth": 1, "width": 8},
                                                                                    {"depth": 2, "width": 16}]},
         "flops": 10, "num_params": 20, "acts": 30, "status": "done", "error": 12.5, "best_error": 12.0,
         "epochs": 2, "wall_seconds": 3.0, "images_per_second": 40.0, "message": None}
    return {**t, **over}


def test_trial_row_columns_and_split():
    metrics = [{"epoch": 1, "val_error": 20.0, "error": 99.0}, {"epoch": 2, "val_error": 12.5}]
    row = schema.trial_row("s", {"space": "X", "eval_split": "val"}, _trial(), metrics)
    assert row["eval_split"] == "val" and row["curve"] == [20.0, 12.5]  # the curve is on the evaluated split
    assert (row["depth"], row["width1"], row["width2"]) == (3, 8, 16)  # per stage, under the singular name
    assert (row["depth_s2"], row["width_s2"], row["block_widths"]) == (2, 16, [8, 16, 16])
    assert (row["flops"], row["params"], row["acts"]) == (10, 20, 30)
    assert schema.columns_with_role(row, "design") == ["depth", "width1", "width2"]
    # the concurrently redesigned nested config names its split too
    nested = {"space": "X", "trial": {"schedule": {"eval_split": "test"}, "data": {}}}
    assert schema.eval_split(nested) == "test" and schema.eval_split({}) is None
    assert schema.trial_row("s", nested, _trial(), [{"epoch": 1, "error": 7.0}])["curve"] == [7.0]


def test_trial_row_refuses_bad_status_and_parameters_named_like_results():
    with pytest.raises(NetspaceError, match="unknown status 'lost'"):
        schema.trial_row("s", {}, _trial(status="lost"))
    with pytest.raises(NetspaceError, match="images_per_second have the name of a measured column"):
        schema.trial_row("s", {}, _trial(params={"depth": 3, "images_per_second": 5}))
    with pytest.raises(NetspaceError, match="fit_wa have the name of a fitted column"):
        schema.trial_row("s", {}, _trial(params={"fit_wa": 5.0}))


def _store(directory: Path, n: int = 2, space: str = "RegNetX", split: str = "test") -> Path:
    with Store(directory, create=True) as store:
        store.add_trials(settings={"config": {"space": space, "eval_split": split}}, rows=[(i, {"depth": 10 + i, "w0": 24}, {"stages": [{"depth": 1, "width": 8}]},
                           {"flops": 10 + i, "params": 20, "acts": 30}) for i in range(n)])
        for i in range(n):
            store.record_result(i, {"status": "done", "error": 12.5 - i, "best_error": 12.0 - i,
                                    "epochs": 1, "wall_seconds": 3.0 + i, "images_per_second": 50.0 + i},
                                [{"epoch": 1, f"{split}_error": 12.5 - i}])
    return directory


def _stageless(columns) -> list[str]:
    return [c for c in columns if not re.fullmatch(r"(depth|width)_s\d+", c)]


def test_demo_rows_are_store_rows(tmp_path):
    real = pd.DataFrame(trial_rows(_store(tmp_path / "RegNetX")))
    demo = demo_trials(n=5)
    # one row function: every column that is not a design parameter is the same, in the same order
    assert ([c for c in _stageless(demo.columns) if schema.role(c) != "design"]
            == [c for c in _stageless(real.columns) if schema.role(c) != "design"])
    assert schema.columns_with_role(demo.columns, "design") == ["bottleneck_ratio", "depth", "group_width",
                                                                "se_ratio", "w0", "wa", "wm"]


# -- labels --------------------------------------------------------------------------------------------

def test_inputs_get_unique_labels(tmp_path):
    a, b = _store(tmp_path / "study" / "RegNetX"), _store(tmp_path / "other" / "RegNetX", n=3)
    c = _store(tmp_path / "AnyNetX_A", space="AnyNetX_A")
    assert list(sweep_labels([a, b, c])) == ["study/RegNetX", "other/RegNetX", "AnyNetX_A"]
    assert list(sweep_labels([f"x={a}", b])) == ["x", "RegNetX"]
    assert list(sweep_labels([f"RegNetX={c}", b])) == ["RegNetX", "other/RegNetX"]  # a label is never shared
    df = load([a, b])
    assert df.groupby("sweep", sort=False).size().to_dict() == {"study/RegNetX": 2, "other/RegNetX": 3}
    with pytest.raises(NetspaceError, match="two inputs are labelled 'x'"):
        sweep_labels([f"x={a}", f"x={b}"])
    with pytest.raises(NetspaceError, match="given twice"):
        sweep_labels([a, a])


def test_cli_analyze_labels_and_refuses_a_shared_label(tmp_path, capsys):
    a, b = _store(tmp_path / "study" / "RegNetX"), _store(tmp_path / "other" / "RegNetX", split="val")
    out = tmp_path / "r.html"
    assert main(["analyze", str(a), f"mine={b}", "--out", str(out), "--metrics", "depth"]) == 0
    text = out.read_text()
    assert "<td>RegNetX</td>" in text and "<td>mine</td>" in text
    assert "the test split (RegNetX); the val split (mine)" in text  # the page names the split of its errors
    capsys.readouterr()
    assert main(["analyze", f"x={a}", f"x={b}", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "two inputs are labelled 'x'" in err


# -- a real tiny sweep ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("schema") / "RegNetX"
    config = sweep_config(space="RegNetX", samples=3, epochs=1, flops="3M:6M", limit_train=256, limit_test=128,
                         val_fraction=0.01, eval_split="val", batch_size=64, precision="fp32")
    with pytest.MonkeyPatch.context() as mp:
        # the claim here is about columns, not speed: PyTorch's layers, no autotuning, no kernel build
        mp.setenv("NETSPACE_TUNE", "0")
        mp.setenv("NETSPACE_FUSED", "0")
        counts = run_sweep(config, out, workers=1, log=lambda _m: None)
    assert counts["done"] == 3
    return out


@needs_fmnist
def test_real_sweep_plots_only_design_parameters(swept):
    df = load(swept)
    with Store(swept) as store:
        sampled = set(store.trials()[0].params)
    done = an.finished(df)
    assert done["images_per_second"].nunique() == 3 and done["wall_seconds"].nunique() == 3  # they do vary
    plotted = an.parameter_columns(done)
    assert plotted and set(plotted) <= sampled
    out = swept.parent / "report.html"
    assert main(["analyze", f"rx={swept}", "--out", str(out)]) == 0
    text = out.read_text()
    figures = {p.stem for p in (swept.parent / "report_plots").glob("error_vs_*.csv")}
    assert {f"error_vs_{p}" for p in plotted} <= figures
    shown = {f.removeprefix("error_vs_") for f in figures} - {"complexity"}
    assert shown == set(plotted)
    for m in [c for c in df.columns if schema.role(c) in ("measured", "fitted", "structure")]:
        assert f"<td>{m}</td>" not in text, m  # no band, best-range or correlation row for a result
    assert "<td>rx</td>" in text and "errors are final top-1 errors (%) on the val split" in text
    assert (df["eval_split"] == "val").all() and all(c == [e] for c, e in zip(df["curve"], df["error"]))


@needs_fmnist
def test_real_sweep_export_rows_agree_with_analysis_rows(swept):
    frame = trial_rows(swept)
    exported = export_rows(swept)
    assert len(frame) == len(exported) == 3
    for a, e in zip(frame, exported):
        assert set(e) == set(a) - {"spec"}
        decoded = {k: json.loads(v) if k in ("curve", "block_widths") else v for k, v in e.items()}
        assert decoded == {k: v for k, v in a.items() if k != "spec"}
    loaded = load(swept)
    assert list(loaded.columns) == list(frame[0]) and loaded["sweep"].tolist() == [swept.name] * 3
    # the analysis tests' demo data has exactly the columns of this real RegNetX sweep
    assert _stageless(demo_trials(n=3).columns) == _stageless(loaded.columns)


def test_one_name_and_label_per_design_parameter():
    # an earlier export's per-stage names read as today's; every other name is left alone
    assert [schema.canonical(n) for n in ("depths3", "group_widths1", "bottleneck_ratios2", "se_ratios4")] == [
        "depth3", "group_width1", "bottleneck_ratio2", "se_ratio4"]
    assert [schema.canonical(n) for n in ("depth3", "w0", "wm", "depth_s1", "flops", "d1", "lrs2")] == [
        "depth3", "w0", "wm", "depth_s1", "flops", "d1", "lrs2"]
    assert schema.parameter_of("depths3") == schema.parameter_of("depth3") == ("depth", 3)
    assert schema.parameter_of("wm") == ("wm", None) and schema.parameter_of("lr") == ("lr", None)
    assert schema.label("bottleneck_ratio1") == "bottleneck ratio, stage 1"
    assert schema.label("group_widths2") == "group width, stage 2"
    assert schema.label("depth3") == "depth, stage 3" and schema.label("depth") == "depth d"
    assert [schema.label(n) for n in ("wm", "w0", "wa", "bottleneck_ratio", "group_width")] == [
        "width multiplier w_m", "initial width w_0", "slope w_a", "bottleneck ratio b", "group width g"]
    assert schema.label("depth_s2") == "depth, stage 2 (as built)" and schema.label("nope7x") == "nope7x"
    # discrete and log-uniform parameters on log-2 axes; RegNet's uniform depth and w_m linear
    assert [schema.scale(n) for n in ("bottleneck_ratio", "group_width2", "w0", "wa", "depth1")] == ["log2"] * 5
    assert [schema.scale(n) for n in ("depth", "wm", "se_ratio", "unknown")] == ["linear"] * 4
    row = schema.trial_row("s", {}, _trial(params={"depths": [1, 2], "bottleneck_ratios": [1.0, 2.0]}))
    assert schema.columns_with_role(row, "design") == ["bottleneck_ratio1", "bottleneck_ratio2", "depth1", "depth2"]


def test_an_old_export_reads_with_todays_names(tmp_path):
    pd.DataFrame({"trial": [0, 1], "status": ["done", "done"], "error": [5.0, 6.0], "depths1": [1, 2],
                  "bottleneck_ratios1": [1.0, 4.0]}).to_csv(tmp_path / "old.csv", index=False)
    df = load([f"old={tmp_path / 'old.csv'}"])
    assert list(df.columns) == ["sweep", "trial", "status", "error", "depth1", "bottleneck_ratio1"]
    assert df["depth1"].tolist() == [1, 2] and set(df["sweep"]) == {"old"}
