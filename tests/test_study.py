"""The design-space study: the tiny preset end to end on Fashion-MNIST, its report,
resume after SIGKILL, settings checks, and the paper's observations on data
with a known answer."""

from __future__ import annotations

import io
import json
import re
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
from netspace.run.drive import SweepProgress, interleave
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


@needs_fmnist
def test_tiny_study_end_to_end_writes_the_report(tmp_path):
    out = tmp_path / "study"
    result = run_study(StudyConfig(preset="tiny"), out, log=_quiet)
    n = PRESETS["tiny"].samples
    assert result["counts"] == {s: {"pending": 0, "running": 0, "done": n, "diverged": 0, "failed": 0}
                                for s in STUDY_SPACES}
    for space in STUDY_SPACES:
        with Store(out / space) as store:
            trials = store.trials()
            assert len(trials) == n and all(t.status == "done" for t in trials)
            assert all(0 <= t.error <= 100 for t in trials)
            assert store.settings()["config"]["space"] == space
            assert store.settings()["config"]["flops"] == PRESETS["tiny"].flops
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
    # a rerun trains nothing and rewrites the report
    stamps = {s: [t.wall_seconds for t in Store(out / s).trials()] for s in STUDY_SPACES}
    before = (out / "report.html").stat().st_mtime_ns
    time.sleep(0.05)
    again = run_study(StudyConfig(preset="tiny"), out, log=_quiet)
    assert again["counts"] == result["counts"]
    assert {s: [t.wall_seconds for t in Store(out / s).trials()] for s in STUDY_SPACES} == stamps
    assert (out / "report.html").stat().st_mtime_ns > before


@needs_fmnist
def test_killed_study_resumes_and_trains_each_trial_once(tmp_path):
    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "netspace.cli", "study", "--preset", "tiny", "--spaces", "AnyNetX_A,RegNetX",
           "--samples", "4", "--out", str(out)]
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
    cfg = StudyConfig(preset="tiny", spaces=("RegNetX",), samples=2)
    run_study(cfg, out, log=_quiet)
    with pytest.raises(NetspaceError, match=r"other settings \(samples\).*--force-new"):
        run_study(StudyConfig(preset="tiny", spaces=("RegNetX",), samples=3), out, log=_quiet)
    with Store(out / "RegNetX") as store:
        assert len(store.trials("done")) == 2  # nothing lost
    run_study(StudyConfig(preset="tiny", spaces=("RegNetX",), samples=3), out, force_new=True, log=_quiet)
    previous = list(out.glob("previous-*"))
    assert len(previous) == 1 and (previous[0] / "RegNetX" / "sweep.sqlite").exists()
    with Store(out / "RegNetX") as store:
        assert len(store.trials("done")) == 3


@needs_fmnist
def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    for argv, needle in [
        (["study", "--spaces", "AnyNetX_Z", "--out", str(tmp_path / "a")], "unknown space(s) AnyNetX_Z"),
        (["study", "--samples", "0", "--out", str(tmp_path / "b")], "--samples must be >= 1"),
        (["study", "--preset", "tiny", "--flops", "5M:1M", "--out", str(tmp_path / "c")], "5M:1M"),
        (["study", "--preset", "tiny", "--data", "nope", "--out", str(tmp_path / "d")], "nope"),
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
    same = _frame({"A": rng.normal(20, 1, 40), "B": rng.normal(20, 1, 40)})
    obs, r = refinement(same, "A", "B", "sharing costs nothing", "free")
    assert obs.verdict == AGREES and not r.significant
    obs, _ = refinement(df, "B", "A", "sharing costs nothing", "free")
    assert obs.verdict == DISAGREES  # the restricted space is significantly worse
    few = _frame({"A": base[:5], "B": base[5:10]})
    obs, _ = refinement(few, "A", "B", "sharing costs nothing", "free")
    assert obs.verdict == INCONCLUSIVE and "too few" in obs.evidence
    slight = _frame({"A": base[:6], "B": base[:6] - 0.3})
    obs, r = refinement(slight, "A", "B", "B is better", "better")
    assert not r.significant and obs.verdict == SAME_DIRECTION
    obs, r = refinement(_frame({"A": base[:2], "B": base[:2]}), "A", "B", "x", "free")
    assert obs.verdict == INCONCLUSIVE and r is None


def test_bottleneck_and_efit_observations():
    rng = np.random.default_rng(1)
    b = np.array([1.0, 2.0, 4.0] * 20)
    err = 20 + 2 * np.log2(b) + rng.normal(0, 0.3, b.size)
    df = _frame({"AnyNetX_B": err}, AnyNetX_B={"bottleneck_ratios1": b})
    assert bottleneck_observation(df, ["AnyNetX_B"]).verdict == AGREES
    df = _frame({"AnyNetX_B": 30 - err}, AnyNetX_B={"bottleneck_ratios1": b})
    assert bottleneck_observation(df, ["AnyNetX_B"]).verdict == DISAGREES
    df = _frame({"AnyNetX_B": err[b > 1]}, AnyNetX_B={"bottleneck_ratios1": b[b > 1]})
    obs = bottleneck_observation(df, ["AnyNetX_B"])
    assert obs.verdict == INCONCLUSIVE and "no model with b = 1" in obs.evidence
    # the better a model, the closer its widths to a quantized linear rule
    linear, _ = quantized_widths(10, 16, 12.0, 2.0)  # an exact RegNet: e_fit 0
    widths = []
    for k in range(20):
        noise = np.exp(rng.normal(0, 0.03 * k, len(linear)))
        widths.append([int(max(8, round(w * n / 8) * 8)) for w, n in zip(linear, noise)])
    df = _frame({"AnyNetX_E": np.arange(20.0) + 10}, AnyNetX_E={"block_widths": widths})
    obs, fits = efit_observation(df)
    assert obs.verdict == AGREES and len(fits) == 10
    assert fits["e_fit"].iloc[0] < 0.01  # the best model is exactly quantized linear


def test_study_observations_cover_every_claim():
    rng = np.random.default_rng(2)
    errors = {s: rng.normal(20 - i * 0.5, 1, 12) for i, s in enumerate(STUDY_SPACES)}
    cols = {s: {"bottleneck_ratios1": [1.0, 2.0, 4.0] * 4} for s in STUDY_SPACES[1:5]}
    cols["AnyNetX_E"]["block_widths"] = [[16, 24, 40, 64, 104]] * 12
    cols["RegNetX"] = {"wm": rng.uniform(2, 3, 12), "depth": rng.integers(12, 29, 12)}
    observations, steps, fits = study_observations(_frame(errors, **cols), samples=200)
    assert len(steps) == 6 and len(observations) == 10
    assert {o.verdict for o in observations} <= {AGREES, SAME_DIRECTION, INCONCLUSIVE, DISAGREES}


# -- progress and the driver's interleaving -----------------------------------
def test_interleave_round_robin():
    assert interleave([[1, 2, 3], ["a"], [10, 20]]) == [1, "a", 10, 2, 20, 3]
    assert interleave([]) == []


def test_sweep_progress_line_and_terminal_bar():
    lines: list[str] = []
    stream = io.StringIO()
    p = SweepProgress(total=4, done=1, best=None, log=lines.append, stream=stream, tty=False)
    p.finished("trial 1", {"status": "done", "test_error": 12.5})
    p.finished("trial 2", {"status": "failed", "message": "boom"})
    assert lines[0].startswith("[2/4] trial 1: done 12.50% | best 12.50% | ETA ")
    assert lines[1].startswith("[3/4] trial 2: failed boom | best 12.50%")
    assert stream.getvalue() == ""  # no escape codes off a terminal
    tty = io.StringIO()
    p = SweepProgress(total=2, done=0, best=None, log=lambda m: None, stream=tty, tty=True)
    p.draw()
    p.finished("trial 0", {"status": "done", "test_error": 30.0})
    p.close()
    text = tty.getvalue()
    assert "\r[" in text and "1/2 trials done | best 30.00%" in text and text.endswith("\r\x1b[K")
