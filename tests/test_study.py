"""The design-space study: the tiny preset end to end on Fashion-MNIST, its report,
resume after SIGKILL, settings checks, and the paper's observations on data
with a known answer."""

from __future__ import annotations

import io
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netspace.analysis.study import (
    AGREES, DISAGREES, INCONCLUSIVE, SAME_DIRECTION, bottleneck_observation, efit_observation, refinement,
    study_observations,
)
from netspace.cli import main
from netspace.errors import NetspaceError
from netspace.run.driver import Progress, interleave
from netspace.run.store import Store
from netspace.spaces.regnet import quantized_widths
from netspace.study import PRESETS, STUDY_SPACES, StudyConfig, run_study

FMNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
needs_fmnist = pytest.mark.skipif(not FMNIST.exists(), reason="Fashion-MNIST files not installed (scripts/setup.sh)")


def _quiet(_msg: str) -> None:
    pass


def _done_counts(out) -> dict[str, int]:
    counts = {}
    for space in STUDY_SPACES:
        db = out / space / "sweep.sqlite"
        if not db.exists():
            continue
        with sqlite3.connect(db) as con:
            try:
                counts[space] = con.execute("SELECT COUNT(*) FROM trials WHERE status='done'").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    return counts


# The fidelity stage at the tiny scale: 8 of the 24 models (one per space) retrained with 2 epochs instead of 1
# (a factor of 2 rather than the default 4 keeps the test short; the stage is the same).
TINY_FIDELITY = {"epochs_factor": 2}


@needs_fmnist
def test_tiny_study_end_to_end_writes_the_report(tmp_path):
    out = tmp_path / "study"
    config = StudyConfig(preset="tiny", fidelity=TINY_FIDELITY)
    result = run_study(config, out, log=_quiet)
    n = PRESETS["tiny"].samples
    assert result["counts"] == {s: {"pending": 0, "running": 0, "done": n, "diverged": 0, "failed": 0}
                                for s in STUDY_SPACES}
    # the fidelity stage: one model per space (8 = max(8, 10% of 24)), retrained through the driver
    assert result["fidelity"] == {s: {"pending": 0, "running": 0, "done": 1, "diverged": 0, "failed": 0}
                                  for s in STUDY_SPACES}
    source_of = {}
    for space in STUDY_SPACES:
        with Store(out / "fidelity" / space) as long, Store(out / space) as short:
            (t,) = long.trials()
            (source,) = long.settings()["config"]["retrain"]["trials"]
            source_of[space] = source
            assert t.spec == short.trials()[source].spec and t.epochs == 2
            assert [m["epoch"] for m in long.metrics(t.trial)] == [1, 2]
            assert long.settings()["config"]["trial"]["schedule"]["epochs"] == 2
    for space in STUDY_SPACES:
        with Store(out / space) as store:
            trials = store.trials()
            assert len(trials) == n and all(t.status == "done" for t in trials)
            assert all(0 <= t.error <= 100 for t in trials)
            assert store.settings()["config"]["space"] == space
            assert store.settings()["config"]["window"]["flops"] == PRESETS["tiny"].flops
            lo, hi = 2e6, 4e6
            assert all(lo <= t.flops <= hi for t in trials)  # the same window for every space
    html = (out / "report.html").read_text()
    for space in STUDY_SPACES:
        assert space in html
    # every refinement step of the progression is compared with a KS test and a sentence
    for a, b in zip(STUDY_SPACES, STUDY_SPACES[1:]):
        assert re.search(rf"{a} → {b}: .*D = \d\.\d\d", html), (a, b)
    assert "What this study found" in html and "Best models found" in html
    assert "RegNet fit of the best AnyNetX_E models" in html
    assert html.count("<details>") == 5  # the specs of the best five models
    assert (out / "report_plots" / "edf_progression.png").stat().st_size > 1000
    assert (out / "analysis.html").exists()
    assert json.loads((out / "study.json").read_text())["preset"] == "tiny"
    # 3 models per space carry no claim: nothing may be reported as agreement, and the numbers say why.
    summary = json.loads((out / "summary.json").read_text())
    assert summary["preset"] == "tiny" and summary["recipe"]["schedule"]["epochs"] == PRESETS["tiny"].epochs
    assert [s["space"] for s in summary["spaces"]] == list(STUDY_SPACES)
    assert summary["claims"] and all(c["verdict"] != AGREES for c in summary["claims"])
    assert "agrees</td>" not in html
    # proxy fidelity: the numbers, and a verdict no stronger than they are
    fid = summary["proxy_fidelity"]
    assert fid["n"] == 8 and (fid["short_epochs"], fid["long_epochs"]) == (1, 2)
    assert -1 <= fid["kendall_tau"] <= 1 and -1 <= fid["spearman_rho"] <= 1 and 0 < fid["p"] <= 1
    assert len(fid["kendall_tau_ci"]) == 2 and fid["kendall_tau_ci"][0] <= fid["kendall_tau"] <= fid["kendall_tau_ci"][1]
    assert fid["p_method"] == "exact permutation" and fid["space_pairs"] == 28 == len(fid["space_order"])
    assert set(fid["per_space"]) == set(STUDY_SPACES)
    if fid["verdict"] == "consistent":
        assert fid["p"] < 0.05 and fid["kendall_tau_ci"][0] > 0
    else:
        assert "cannot show" in fid["sentence"] or "reverses" in fid["sentence"]
    assert "How far the short schedule can be trusted" in html and "of 28 pairs of spaces" in html
    assert (out / "report_plots" / "proxy_fidelity.png").stat().st_size > 1000
    assert "How far the short schedule can be trusted" in (out / "analysis.html").read_text()
    # a rerun trains nothing and rewrites the report
    stores = [*STUDY_SPACES, *(f"fidelity/{s}" for s in STUDY_SPACES)]
    stamps = {s: [t.wall_seconds for t in Store(out / s).trials()] for s in stores}
    before = (out / "report.html").stat().st_mtime_ns
    time.sleep(0.05)
    again = run_study(config, out, log=_quiet)
    assert again["counts"] == result["counts"] and again["fidelity"] == result["fidelity"]
    assert {s: [t.wall_seconds for t in Store(out / s).trials()] for s in stores} == stamps
    assert (out / "report.html").stat().st_mtime_ns > before
    # Killed while retraining: a trial the driver had started is 'running' with no result and no finished
    # run directory. The rerun retrains that one model only, and the same one.
    with sqlite3.connect(out / "fidelity" / "RegNetY" / "sweep.sqlite") as con:
        con.execute("UPDATE trials SET status='running', error=NULL, best_error=NULL, epochs=NULL, "
                    "wall_seconds=NULL WHERE trial=0")
        con.execute("DELETE FROM metrics WHERE trial=0")
    shutil.rmtree(out / "fidelity" / "RegNetY" / "trials" / "0000")
    lines: list[str] = []
    resumed = run_study(config, out, report=False, log=lines.append)
    assert resumed["fidelity"] == result["fidelity"]
    assert any("1 of 8 trials to train" in line for line in lines), lines
    after = {s: [t.wall_seconds for t in Store(out / s).trials()] for s in stores}
    assert {s: v for s, v in after.items() if s != "fidelity/RegNetY"} == \
        {s: v for s, v in stamps.items() if s != "fidelity/RegNetY"}
    assert after["fidelity/RegNetY"][0] and after["fidelity/RegNetY"] != stamps["fidelity/RegNetY"]
    with Store(out / "fidelity" / "RegNetY") as store:
        assert store.settings()["config"]["retrain"]["trials"] == [source_of["RegNetY"]]  # the same model


@needs_fmnist
def test_killed_study_resumes_and_trains_each_trial_once(tmp_path):
    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "netspace.cli", "study", "--preset", "tiny", "--spaces", "AnyNetX_A,RegNetX",
           "--samples", "4", "--fidelity", "0", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and sum(_done_counts(out).values()) < 2:
        time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = _done_counts(out)
    assert 2 <= sum(done_before.values()) <= 8
    errors_before = {s: {t.trial: t.error for t in Store(out / s).trials("done")} for s in done_before}
    assert not (out / "report.html").exists()  # the report comes when every trial has finished
    time.sleep(1.0)  # workers die with the driver
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr
    for space in ("AnyNetX_A", "RegNetX"):
        with Store(out / space) as store:
            trials = store.trials()
            assert [t.status for t in trials] == ["done"] * 4
            for t in trials:
                assert [m["epoch"] for m in store.metrics(t.trial)] == [1]
            for i, err in errors_before.get(space, {}).items():
                assert trials[i].error == err  # finished trials were not retrained
    assert (out / "report.html").exists()
    assert run.stdout.strip().splitlines()[-1].endswith("report.html")


@needs_fmnist
def test_changed_settings_refused_unless_force_new(tmp_path):
    out = tmp_path / "study"
    off = {"enabled": False}
    cfg = StudyConfig(preset="tiny", spaces=("RegNetX",), samples=2, fidelity=off)
    run_study(cfg, out, log=_quiet)
    with pytest.raises(NetspaceError, match=r"other settings \(samples: 2 -> 3\).*--force-new"):
        run_study(StudyConfig(preset="tiny", spaces=("RegNetX",), samples=3, fidelity=off), out, log=_quiet)
    with pytest.raises(NetspaceError, match=r"other settings \(fidelity.enabled: False -> True"):
        run_study(StudyConfig(preset="tiny", spaces=("RegNetX",), samples=2), out, log=_quiet)
    with Store(out / "RegNetX") as store:
        assert len(store.trials("done")) == 2  # nothing lost
    assert json.loads((out / "summary.json").read_text())["proxy_fidelity"]["n"] == 0  # off: said so
    assert not (out / "fidelity").exists()
    run_study(StudyConfig(preset="tiny", spaces=("RegNetX",), samples=3, fidelity=off), out, force_new=True,
              report=False, log=_quiet)
    previous = list(out.glob("previous-*"))
    assert len(previous) == 1 and (previous[0] / "RegNetX" / "sweep.sqlite").exists()
    with Store(out / "RegNetX") as store:
        assert len(store.trials("done")) == 3
    # --force-new starts over with the same settings too (it used to resume silently)
    lines: list[str] = []
    for _ in range(2):  # samples 3 -> 1, then the same settings again
        run_study(StudyConfig(preset="tiny", spaces=("RegNetX",), samples=1, fidelity=off), out, force_new=True,
                  report=False, log=lines.append)
    assert sum(line.startswith("previous study moved to") for line in lines) == 2
    assert len(list(out.glob("previous-*"))) == 3
    with Store(out / "RegNetX") as store:
        assert len(store.trials("done")) == 1

@needs_fmnist
def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    for argv, needle in [
        (["study", "--spaces", "AnyNetX_Z", "--out", str(tmp_path / "a")], "unknown space(s) AnyNetX_Z"),
        (["study", "--samples", "0", "--out", str(tmp_path / "b")], "--samples must be an integer >= 1"),
        (["study", "--preset", "tiny", "--flops", "5M:1M", "--out", str(tmp_path / "c")], "5M:1M"),
        (["study", "--preset", "tiny", "--data", "nope", "--out", str(tmp_path / "d")], "nope"),
        (["study", "--preset", "tiny", "--fidelity-fraction", "2", "--out", str(tmp_path / "e")],
         "--fidelity-fraction must be between 0 and 1"),
    ]:
        with pytest.raises(SystemExit) as e:
            raise SystemExit(main(argv))
        assert e.value.code == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, (argv, err)
    with pytest.raises(SystemExit) as e:
        main(["study", "--preset", "huge"])
    assert e.value.code == 2


# -- the observations on data with a known answer ------------------------------
def _frame(errors: dict[str, np.ndarray], **columns) -> pd.DataFrame:
    rows = []
    for space, errs in errors.items():
        for i, e in enumerate(errs):
            row = {"sweep": space, "trial": i, "status": "done", "error": float(e)}
            for name, values in columns.get(space, {}).items():
                row[name] = values[i]
            rows.append(row)
    return pd.DataFrame(rows)


def test_refinement_verdicts():
    rng = np.random.default_rng(0)
    base = rng.normal(20, 1, 40)
    better = base - 3
    df = _frame({"A": base, "B": better})
    obs, r = refinement(df, "A", "B", "B is better", "better")
    assert obs.verdict == AGREES and r.better == "B" and r.significant
    obs, _ = refinement(df, "B", "A", "A is better", "better")
    assert obs.verdict == DISAGREES
    obs, _ = refinement(df, "B", "A", "sharing costs nothing", "free")
    assert obs.verdict == DISAGREES  # the restricted space is significantly worse
    # Equal populations: a non-significant KS test at n = 40 is no evidence of no loss...
    same = _frame({"A": rng.normal(20, 1, 40), "B": rng.normal(20, 1, 40)})
    obs, r = refinement(same, "A", "B", "sharing costs nothing", "free")
    assert obs.verdict == INCONCLUSIVE and not r.significant and "a loss is not ruled out" in obs.evidence
    # ...while at n = 600 the equivalence test passes.
    big = _frame({"A": rng.normal(20, 1, 600), "B": rng.normal(20, 1, 600)})
    obs, _ = refinement(big, "A", "B", "sharing costs nothing", "free")
    assert obs.verdict == AGREES and "equivalent" in obs.evidence
    few = _frame({"A": base[:3], "B": base[3:6] - 5})
    obs, _ = refinement(few, "A", "B", "B is better", "better")
    assert obs.verdict == INCONCLUSIVE and "too few" in obs.evidence  # exact KS p >= 0.1 at 3 vs 3
    slight = _frame({"A": base[:12], "B": base[:12] - 0.3})
    obs, r = refinement(slight, "A", "B", "B is better", "better")
    assert not r.significant and obs.verdict == SAME_DIRECTION
    obs, r = refinement(_frame({"A": base[:2], "B": base[:2]}), "A", "B", "x", "free")
    assert obs.verdict == INCONCLUSIVE and r is None


def test_bottleneck_and_efit_observations():
    rng = np.random.default_rng(1)
    b = np.array([1.0, 2.0, 4.0] * 20)
    err = 20 + 2 * np.log2(b) + rng.normal(0, 0.3, b.size)
    df = _frame({"RegNet": err}, RegNet={"bottleneck_ratio": b})
    assert bottleneck_observation(df).verdict == AGREES
    df = _frame({"RegNet": 30 - err}, RegNet={"bottleneck_ratio": b})
    assert bottleneck_observation(df).verdict == DISAGREES
    df = _frame({"RegNet": err[b > 1]}, RegNet={"bottleneck_ratio": b[b > 1]})
    obs = bottleneck_observation(df)
    assert obs.verdict == INCONCLUSIVE and "b = 1" in obs.evidence
    # Pooled AnyNetX spaces are not where the claim is tested.
    df = _frame({"AnyNetX_B": err}, AnyNetX_B={"bottleneck_ratios1": b})
    assert bottleneck_observation(df).verdict == INCONCLUSIVE
    # the better a model, the closer its widths to a quantized linear rule
    linear, _ = quantized_widths(10, 16, 12.0, 2.0)  # an exact RegNet: e_fit 0
    widths = []
    for k in range(20):
        noise = np.exp(rng.normal(0, 0.03 * k, len(linear)))
        widths.append([int(max(8, round(w * n / 8) * 8)) for w, n in zip(linear, noise)])
    df = _frame({"AnyNetX_E": np.arange(20.0) + 10}, AnyNetX_E={"block_widths": widths})
    obs, fits = efit_observation(df)
    assert obs.verdict == AGREES and len(fits) == 10
    assert fits["fit_e"].iloc[0] < 0.01  # the best model is exactly quantized linear
    # A perfect ranking of 3 models is not significant (exact one-sided p = 1/6).
    df = _frame({"AnyNetX_E": np.arange(3.0) + 10}, AnyNetX_E={"block_widths": widths[:3]})
    obs, _ = efit_observation(df)
    assert obs.verdict == INCONCLUSIVE and obs.stats.p == pytest.approx(1 / 6)


def test_study_observations_cover_every_claim():
    rng = np.random.default_rng(2)
    errors = {s: rng.normal(20 - i * 0.5, 1, 12) for i, s in enumerate(STUDY_SPACES)}
    cols = {s: {"bottleneck_ratios1": [1.0, 2.0, 4.0] * 4} for s in STUDY_SPACES[1:5]}
    cols["AnyNetX_E"]["block_widths"] = [[16, 24, 40, 64, 104]] * 12
    cols["RegNet"] = {"bottleneck_ratio": [1.0, 2.0, 4.0] * 4, "wm": rng.uniform(1.5, 3, 12),
                      "depth": rng.integers(1, 64, 12)}
    cols["RegNetX"] = {"wm": rng.uniform(2, 3, 12), "depth": rng.integers(12, 29, 12)}
    observations, steps, fits = study_observations(_frame(errors, **cols), samples=200)
    assert len(steps) == 8 and len(observations) == 12
    assert {o.verdict for o in observations} <= {AGREES, SAME_DIRECTION, INCONCLUSIVE, DISAGREES}
    for o in observations:
        d = o.summary()
        assert set(d) >= {"claim", "verdict", "n", "effect", "ci", "p", "detectable_effect"}
        json.dumps(d)


# -- progress and the driver's interleaving -----------------------------------
def test_interleave_round_robin():
    assert interleave([[1, 2, 3], ["a"], [10, 20]]) == [1, "a", 10, 2, 20, 3]
    assert interleave([]) == []


def test_sweep_progress_line_and_terminal_bar():
    lines: list[str] = []
    stream = io.StringIO()
    p = Progress(total=4, done=1, best=None, log=lines.append, stream=stream, tty=False)
    p.finished("trial 1", {"status": "done", "error": 12.5})
    p.finished("trial 2", {"status": "failed", "message": "boom"})
    assert lines[0].startswith("[2/4] trial 1: done 12.50% | best 12.50% | ETA ")
    assert lines[1].startswith("[3/4] trial 2: failed boom | best 12.50%")
    assert stream.getvalue() == ""  # no escape codes off a terminal
    tty = io.StringIO()
    p = Progress(total=2, done=0, best=None, log=lambda m: None, stream=tty, tty=True)
    p.draw()
    p.finished("trial 0", {"status": "done", "error": 30.0})
    p.close()
    text = tty.getvalue()
    assert "\r[" in text and "1/2 trials done | best 30.00%" in text and text.endswith("\r\x1b[K")


def _study_frame(n: int, seed: int, gap: float) -> pd.DataFrame:
    """A study's trials with a known answer: every space ``gap`` points better than the one before it."""
    rng = np.random.default_rng(seed)
    errors = {s: rng.normal(30 - gap * i, 1, n) for i, s in enumerate(STUDY_SPACES)}
    linear, _ = quantized_widths(10, 16, 12.0, 2.0)
    cols = {s: {"flops": [3e6] * n, "params": [1e5] * n, "acts": [1e5] * n, "spec": [{"stages": []}] * n}
            for s in STUDY_SPACES}
    cols["AnyNetX_E"]["block_widths"] = [linear] * n
    cols["RegNet"].update(bottleneck_ratio=[1.0, 2.0, 4.0] * (n // 3) + [1.0] * (n % 3),
                          wm=rng.uniform(1.5, 3, n), depth=rng.integers(1, 64, n))
    cols["RegNetX"].update(wm=rng.uniform(2, 3, n), depth=rng.integers(12, 29, n))
    return _frame(errors, **cols)


@pytest.mark.parametrize("n, gap", [(3, 10.0), (16, 0.0)])
def test_small_n_report_never_agrees_and_writes_summary(tmp_path, n, gap):
    from netspace.report.study import write_study_report

    # 3 models per space with huge gaps: exact tests cannot reach p < 0.05; 16 with no difference: no
    # equivalence test can pass. Either way nothing may be called agreement.
    df = _study_frame(n, seed=n, gap=gap)
    page = write_study_report(df, tmp_path / "report.html", spaces=STUDY_SPACES, samples=200, preset="tiny",
                              recipe={"schedule": {"epochs": 1}})
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["preset"] == "tiny" and summary["recipe"] == {"schedule": {"epochs": 1}}
    assert [s["space"] for s in summary["spaces"]] == list(STUDY_SPACES)
    assert all(s["n"] == n and s["median_error"] is not None for s in summary["spaces"])
    assert set(summary["proxy_fidelity"]) >= {"kendall_tau", "spearman_rho", "n"}
    verdicts = [c["verdict"] for c in summary["claims"]]
    assert AGREES not in verdicts and len(verdicts) >= 10
    for c in summary["claims"]:
        assert set(c) >= {"claim", "verdict", "n", "effect", "ci", "p", "detectable_effect"}
        if c["test"] == "KS" and "b=1" not in c["n"]:
            assert sum(c["n"].values()) == 2 * n and 0 <= c["p"] <= 1 and c["detectable_effect"] > 0
    html = Path(page).read_text()
    assert "agrees</td>" not in html and "detects" in html


def test_large_n_known_answers_agree(tmp_path):
    df = _study_frame(150, seed=1, gap=2.0)  # each space clearly better than the one before
    observations, _, _ = study_observations(df, samples=200)
    by_claim = {o.claim: o for o in observations}
    better = [o for c, o in by_claim.items() if "better models" in c]
    assert better and all(o.verdict == AGREES for o in better)
    free = [o for c, o in by_claim.items() if "costs nothing" in c or "at least as good" in c]
    assert free and all(o.verdict == AGREES for o in free)  # significantly better is at least as good


def test_holm_thresholds():
    from netspace.analysis.study import holm_thresholds

    # Sorted 0.01 < 0.02 < 0.04: thresholds 0.05/3, 0.05/2, 0.05/1, each met.
    assert holm_thresholds([0.04, 0.01, None, 0.02]) == pytest.approx([0.05, 0.05 / 3, 0.05, 0.025])
    # Once one fails, every larger p is held to 0 (not significant).
    assert holm_thresholds([0.03, 0.03, 0.001]) == pytest.approx([0.025, 0.0, 0.05 / 3])


def test_summary_json_is_strict_json(tmp_path):
    from netspace.report.study import write_summary

    path = write_summary({"a": np.float64("nan"), "b": [np.int64(3), np.bool_(True), float("inf")], "c": None},
                         tmp_path / "summary.json")
    assert json.loads(Path(path).read_text()) == {"a": None, "b": [3, True, None], "c": None}
