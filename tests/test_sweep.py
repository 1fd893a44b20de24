"""Sweeps: a real tiny sweep on Fashion-MNIST (local and Ray), store contents, resume after SIGKILL,
failed trials, settings changes, two drivers, status and export."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netspace.errors import NetspaceError
from netspace.run import Store, export_rows, run_sweep, sweep_config, sweep_status
from netspace.run.lock import DriverLock

FMNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
needs_fmnist = pytest.mark.skipif(not FMNIST.exists(), reason="Fashion-MNIST files not installed")

TINY = dict(space="RegNetX", samples=3, epochs=1, flops="3M:12M", limit_train=512, limit_test=256,
            batch_size=64, precision="fp32")


def _quiet(_msg: str) -> None:
    pass


@needs_fmnist
def test_local_sweep_trains_and_stores_every_trial(tmp_path):
    counts = run_sweep(sweep_config(**TINY), tmp_path, workers=2, log=_quiet)
    assert counts["done"] == 3 and counts["pending"] == counts["running"] == 0
    with Store(tmp_path) as store:
        trials = store.trials()
        assert store.settings()["config"]["space"] == "RegNetX"
        for t in trials:
            assert 3e6 <= t.flops <= 12e6
            assert 0 < t.error < 100 and t.best_error <= t.error and t.epochs == 1
            assert t.wall_seconds > 0 and t.images_per_second > 0
            assert t.spec["stages"] and {"depth", "w0", "wa", "wm"} <= set(t.params)
            assert [m["epoch"] for m in store.metrics(t.trial)] == [1]
    rows = export_rows(tmp_path)
    assert len(rows) == 3 and all(r["status"] == "done" for r in rows)
    st = sweep_status(tmp_path)
    assert st["best"]["error"] == min(r["error"] for r in rows)
    # The sweep reads into the analysis frame and the report.
    from netspace.cli import main
    from netspace.run.frame import load

    df = load(tmp_path)
    assert list(df["trial"]) == [0, 1, 2] and (df["status"] == "done").all()
    assert all(len(c) == 1 for c in df["curve"]) and all(sum(1 for _ in w) >= 12 for w in df["block_widths"])
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "report.html")]) == 0
    html = (tmp_path / "report.html").read_text()
    assert tmp_path.name in html and "<img" in html
    # Rerunning the finished sweep trains nothing.
    before = os.path.getmtime(tmp_path / "trials" / "0000" / "result.json")
    run_sweep(sweep_config(**TINY), tmp_path, workers=2, log=_quiet)
    assert os.path.getmtime(tmp_path / "trials" / "0000" / "result.json") == before


@needs_fmnist
def test_changed_settings_refused_unless_force_new(tmp_path):
    run_sweep(sweep_config(**{**TINY, "samples": 1}), tmp_path, workers=1, log=_quiet)
    with pytest.raises(NetspaceError, match=r"other settings \(trial\.schedule\.lr: 0\.2 -> 0\.1\).*--force-new"):
        run_sweep(sweep_config(**{**TINY, "samples": 1, "lr": 0.1}), tmp_path, workers=1, log=_quiet)
    counts = run_sweep(sweep_config(**{**TINY, "samples": 1, "lr": 0.1}), tmp_path, workers=1, force_new=True,
                       log=_quiet)
    assert counts["done"] == 1
    kept = list(tmp_path.glob("previous-*/sweep.sqlite"))
    assert len(kept) == 1 and len(Store(kept[0]).trials()) == 1


def test_second_driver_refused(tmp_path):
    with DriverLock(tmp_path):
        with pytest.raises(NetspaceError, match="another sweep driver is running"):
            with DriverLock(tmp_path):
                pass


def test_failed_and_diverged_trials_are_recorded(tmp_path):
    with Store(tmp_path, create=True) as store:
        store.add_trials([(0, {"a": 1}, {"stages": []}, {"flops": 1, "params": 2, "acts": 3}),
                                                      (1, {"a": 2}, {"stages": []}, {"flops": 1, "params": 2, "acts": 3})])
        store.record_result(0, {"status": "failed", "message": "RuntimeError: boom"}, [])
        store.record_result(1, {"status": "diverged", "error": 100.0, "epochs": 1}, [{"epoch": 1, "train_loss": None}])
        assert store.counts()["failed"] == 1 and store.counts()["diverged"] == 1
        assert store.trials("failed")[0].message == "RuntimeError: boom"
        assert store.trials("diverged")[0].error == 100.0


@needs_fmnist
def test_failed_trial_does_not_stop_the_sweep(tmp_path):
    from netspace.run.worker import run_trial

    bad = run_trial({"trial": 0, "spec": {"stem": {}, "stages": []}, "schedule": {}, "data": {"name": "fashion-mnist"},
                     "out_dir": str(tmp_path / "t")})
    assert bad["status"] == "failed" and "at least one stage" in bad["message"]


@needs_fmnist
@pytest.mark.slow
def test_sigkill_driver_then_resume_trains_each_trial_once(tmp_path):
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "netspace.cli", "sweep", "RegNetX", "--samples", "4", "--flops", "3M:12M",
           "--epochs", "2", "--limit-train", "768", "--limit-test", "256", "--batch-size", "64",
           "--precision", "fp32", "--workers", "2", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline:
        time.sleep(0.5)
        db = out / "sweep.sqlite"
        if db.exists():
            with sqlite3.connect(db) as con:
                try:
                    n_done = con.execute("SELECT COUNT(*) FROM trials WHERE status='done'").fetchone()[0]
                except sqlite3.OperationalError:
                    continue
            if n_done >= 1:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(out) as store:
        done_before = {t.trial: t.error for t in store.trials("done")}
    assert 1 <= len(done_before) < 4 or len(done_before) == 4
    result_mtimes = {i: (out / "trials" / f"{i:04d}" / "result.json").stat().st_mtime for i in done_before}
    time.sleep(1.0)  # workers die with the driver
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=400)
    with Store(out) as store:
        trials = store.trials()
        assert [t.status for t in trials] == ["done"] * 4
        for t in trials:
            assert [m["epoch"] for m in store.metrics(t.trial)] == [1, 2]
        for i, err in done_before.items():
            assert trials[i].error == err
    for i, mtime in result_mtimes.items():  # finished trials were not retrained
        assert (out / "trials" / f"{i:04d}" / "result.json").stat().st_mtime == mtime


def test_cli_export_json_and_status(tmp_path):
    with Store(tmp_path, create=True) as store:
        store.add_trials(settings={"config": {"space": "RegNetX"}}, rows=[(0, {"depth": 13, "w0": 24}, {"stages": []}, {"flops": 10, "params": 20, "acts": 30})])
        store.record_result(0, {"status": "done", "error": 12.5, "best_error": 12.0, "epochs": 2,
                                "wall_seconds": 3.0}, [])
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "sweep", "export", str(tmp_path), "--format", "json"],
                          capture_output=True, text=True, check=True)
    rows = json.loads(proc.stdout)
    assert rows == [{"sweep": tmp_path.name, "trial": 0, "space": "RegNetX", "status": "done", "eval_split": None,
                     "depth": 13, "w0": 24, "flops": 10, "params": 20, "acts": 30, "error": 12.5, "best_error": 12.0,
                     "epochs": 2, "wall_seconds": 3.0, "images_per_second": None, "curve": "[]",
                     "block_widths": "[]", "message": None}]
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "sweep", "status", str(tmp_path)],
                          capture_output=True, text=True, check=True)
    assert "done 1" in proc.stdout and "error 12.50%" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "sweep", "status", str(tmp_path / "none")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "no sweep store" in proc.stderr and "Traceback" not in proc.stderr


def test_export_csv_and_parquet_round_trip(tmp_path):
    import pandas as pd

    from netspace.cli import main

    with Store(tmp_path, create=True) as store:
        store.add_trials(settings={"config": {"space": "AnyNetX_A"}}, rows=[(i, {"depths": [1, 2, 3, 4], "widths": [8, 16, 24, 32]}, {"stages": []},
                           {"flops": 10 + i, "params": 20, "acts": 30}) for i in range(3)])
        store.record_result(1, {"status": "done", "error": 7.25, "epochs": 1, "wall_seconds": 2.0}, [])
    assert main(["sweep", "export", str(tmp_path), "--format", "csv", "--out", str(tmp_path / "t.csv")]) == 0
    csv = pd.read_csv(tmp_path / "t.csv")
    assert list(csv["trial"]) == [0, 1, 2] and list(csv["flops"]) == [10, 11, 12]
    assert csv.loc[1, "error"] == 7.25 and list(csv["status"]) == ["pending", "done", "pending"]
    assert csv.loc[0, ["depth1", "depth2", "depth3", "depth4"]].tolist() == [1, 2, 3, 4]  # as analysis reads them
    assert csv.loc[1, "curve"] == "[]"  # list results stay one JSON cell
    pytest.importorskip("pyarrow")  # installed by scripts/setup.sh (the parquet extra)
    assert main(["sweep", "export", str(tmp_path), "--format", "parquet", "--out", str(tmp_path / "t.parquet")]) == 0
    pq = pd.read_parquet(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(pq.reset_index(drop=True), pd.DataFrame(export_rows(tmp_path)),
                                  check_dtype=False)


@needs_fmnist
@pytest.mark.slow
def test_ray_executor_real_local_cluster(tmp_path):
    pytest.importorskip("ray")
    counts = run_sweep(sweep_config(**{**TINY, "samples": 2}), tmp_path, workers=2, executor="ray", log=_quiet)
    assert counts["done"] == 2
    import ray

    ray.shutdown()


def test_analyze_errors(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "analyze", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "no sweep store" in proc.stderr and "Traceback" not in proc.stderr
    Store(tmp_path, create=True).close()
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "analyze", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "holds no sweep settings" in proc.stderr and "Traceback" not in proc.stderr
