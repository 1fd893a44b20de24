"""The training engine: learning, resume after kill/SIGTERM, divergence, determinism, DDP, CLI errors."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from inprocess import run_main

from netspace import zoo
from netspace.data import load_data
from netspace.spec import NetSpec, Stage, Stem
from netspace.train import Schedule, TrainError, TrainResult, lr_at, train

REPO = Path(__file__).resolve().parents[1]
FMNIST = Path("/usr/share/datasets/fashion-mnist")
needs_fmnist = pytest.mark.skipif(not (FMNIST / "train-images-idx3-ubyte.gz").exists(),
                                  reason="Fashion-MNIST files absent (Debian package dataset-fashion-mnist)")

# A network small enough that a subprocess epoch takes about a second.
TINY = NetSpec(stem=Stem(kind="simple", width=8, stride=1),
               stages=(Stage(block="res_basic", depth=1, width=16, stride=1),
                       Stage(block="res_basic", depth=1, width=32, stride=2)),
               num_classes=10, in_channels=1, resolution=28, name="tiny")


def tiny_json(tmp_path: Path) -> str:
    path = tmp_path / "tiny.json"
    path.write_text(TINY.to_json())
    return str(path)


def cli(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netspace.cli", *args], cwd=REPO, capture_output=True,
                          text=True, env=env or _env(), timeout=300, **kw)


def _env(threads: int = 2) -> dict:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def small_fmnist(n_train: int = 1000, n_test: int = 300, **kw):
    return load_data("fashion-mnist", limit_train=n_train, limit_test=n_test, **kw)


# -- schedule -------------------------------------------------------------------
def test_lr_warmup_then_cosine():
    s = Schedule(epochs=4, lr=0.4, warmup_epochs=1, warmup_factor=0.1)
    steps = 10
    lrs = [lr_at(s, t, steps) for t in range(40)]
    assert lrs[0] == pytest.approx(0.04)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11]))        # warmup rises
    assert max(lrs) == pytest.approx(lrs[10], rel=1e-9)            # peak right after warmup
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))          # cosine falls
    assert lrs[-1] < 0.01 * s.lr
    assert lr_at(s, 40, steps) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"lr": -1.0}, {"precision": "fp8"}, {"eval_split": "train"},
                                 {"label_smoothing": 1.0}, {"warmup_epochs": 5, "epochs": 2}])
def test_schedule_rejects_bad_values(bad):
    with pytest.raises(TrainError):
        Schedule(**bad)


# -- learning -------------------------------------------------------------------
@needs_fmnist
def test_short_fashion_mnist_training_learns(tmp_path):
    data = load_data("fashion-mnist", limit_train=3000, limit_test=1000)
    spec = zoo.resolve("ResNet-20")
    result = train(spec, data, Schedule(epochs=2, batch_size=64), out_dir=tmp_path, progress=False)
    assert result.status == "done" and result.epochs == 2
    # Input size and classes flowed from the data into the spec.
    assert (result.spec.in_channels, result.spec.resolution, result.spec.num_classes) == (1, 28, 10)
    m = metrics(tmp_path)
    assert [r["epoch"] for r in m] == [1, 2]
    assert m[1]["train_loss"] < m[0]["train_loss"]
    assert m[1]["test_error"] < m[0]["test_error"] or m[1]["test_error"] < 30
    # chance is 90%; zero-initialised residual branches (the default) start slower on ResNet-20: about 42%
    # after these 2 epochs, against about 26% without (README, netspace sweep)
    assert result.test_error < 50.0
    stored = json.loads((tmp_path / "result.json").read_text())
    assert stored["status"] == "done" and stored["test_error"] == result.test_error
    assert stored["complexity"]["params"] == sum(p.numel() for p in result.model.parameters())
    assert stored["spec"]["in_channels"] == 1 and stored["epochs"] == 2
    assert set(m[0]) >= {"epoch", "train_loss", "train_error", "test_error", "lr", "seconds",
                         "images_per_second"}


# -- determinism, checkpoints ------------------------------------------------------
@needs_fmnist
def test_same_seed_same_weights_and_error():
    data = small_fmnist()
    runs = [train(TINY, data, Schedule(epochs=2), progress=False) for _ in range(2)]
    assert runs[0].error == runs[1].error
    a, b = runs[0].model.state_dict(), runs[1].model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = train(TINY, data, Schedule(epochs=2, seed=1), progress=False)
    assert not all(torch.equal(a[k], other.model.state_dict()[k]) for k in a)


@needs_fmnist
def test_checkpoint_is_atomic_and_loads_weights_only(tmp_path):
    data = small_fmnist()
    train(TINY, data, Schedule(epochs=1, ema_decay=0.9), out_dir=tmp_path, progress=False)
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ck["epoch"] == 1 and ck["step_in_epoch"] == 0
    assert ck["settings"]["schedule"]["ema_decay"] == 0.9 and ck["ema"] is not None
    assert isinstance(ck["model"]["stem.0.weight"], torch.Tensor)
    # (and the run's writer lock, which the kernel released when the run ended)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".train.lock", "checkpoint.pt", "metrics.jsonl", "result.json"]


@needs_fmnist
def test_rerun_of_finished_run_reports_it(tmp_path):
    data = small_fmnist()
    first = train(TINY, data, Schedule(epochs=1), out_dir=tmp_path, progress=False)
    mtime = (tmp_path / "result.json").stat().st_mtime_ns
    again = train(TINY, data, Schedule(epochs=1), out_dir=tmp_path, progress=False)
    assert again.status == "done" and again.error == first.error and again.model is None
    assert (tmp_path / "result.json").stat().st_mtime_ns == mtime
    with pytest.raises(TrainError, match="no checkpoint"):
        train(TINY, data, Schedule(epochs=1), out_dir=tmp_path / "fresh", resume=True, progress=False)


@needs_fmnist
def test_incompatible_resume_names_the_key(tmp_path):
    data = small_fmnist()
    train(TINY, data, Schedule(epochs=1), out_dir=tmp_path, progress=False)
    with pytest.raises(TrainError, match=r"schedule\.lr: 0\.2 -> 0\.05"):
        train(TINY, data, Schedule(epochs=1, lr=0.05), out_dir=tmp_path, progress=False)
    wider = TINY.replace(stages=(TINY.stages[0], Stage(block="res_basic", depth=1, width=48, stride=2)))
    with pytest.raises(TrainError, match=r"spec\.stages\[1\]\.width"):
        train(wider, data, Schedule(epochs=1), out_dir=tmp_path, progress=False)
    with pytest.raises(TrainError, match=r"data\.train_size"):
        train(TINY, small_fmnist(n_train=900), Schedule(epochs=1), out_dir=tmp_path, progress=False)


@needs_fmnist
def test_eval_on_validation_split(tmp_path):
    data = load_data("fashion-mnist", limit_train=1000, limit_test=200, val_fraction=0.2)
    result = train(TINY, data, Schedule(epochs=1, eval_split="val"), out_dir=tmp_path, progress=False)
    assert result.test_error is None and 0 <= result.val_error <= 100
    stored = json.loads((tmp_path / "result.json").read_text())
    assert "test_error" not in stored and stored["val_error"] == result.val_error
    assert "val_error" in metrics(tmp_path)[0] and "test_error" not in metrics(tmp_path)[0]
    with pytest.raises(TrainError, match="val_fraction"):
        train(TINY, small_fmnist(), Schedule(epochs=1, eval_split="val"), progress=False)


# -- divergence --------------------------------------------------------------------
@needs_fmnist
def test_divergence_is_a_result(tmp_path):
    data = small_fmnist()
    schedule = Schedule(epochs=2, lr=1e30, warmup_epochs=0, precision="fp32")
    result = train(TINY, data, schedule, out_dir=tmp_path, progress=False)
    assert result.status == "diverged"
    assert result.error == 100.0 and result.test_error == 100.0
    stored = json.loads((tmp_path / "result.json").read_text())
    assert stored["status"] == "diverged" and stored["test_error"] == 100.0
    # The weights were never stepped with a non-finite loss.
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
    # The CLI treats it as a result: exit 0 with a message.
    out2 = tmp_path / "cli"
    p = cli("train", tiny_json(tmp_path), "--data", "fashion-mnist", "--limit-train", "500", "--limit-test",
            "100", "--epochs", "1", "--lr", "1e30", "--precision", "fp32", "--out", str(out2), "--quiet")
    assert p.returncode == 0, p.stderr
    assert "diverged" in p.stdout
    assert json.loads((out2 / "result.json").read_text())["status"] == "diverged"


# -- kill and resume through the CLI -------------------------------------------------
def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"training exited early with {proc.returncode}: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out waiting for the training subprocess")
        time.sleep(0.05)


def _checkpoint_epoch(out: Path) -> int:
    try:
        return torch.load(out / "checkpoint.pt", weights_only=True)["epoch"]
    except (FileNotFoundError, EOFError, RuntimeError):
        return 0


def _train_args(tmp_path: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    return ["train", tiny_json(tmp_path), "--data", "fashion-mnist", "--limit-train", "3000", "--limit-test",
            "300", "--epochs", str(epochs), "--batch-size", "64", "--out", str(out), "--quiet", *extra]


def _popen(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "netspace.cli", *args], cwd=REPO, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@needs_fmnist
@pytest.mark.slow
def test_sigkill_then_rerun_finishes_with_exact_epochs(tmp_path):
    out = tmp_path / "run"
    args = _train_args(tmp_path, out, 3)
    proc = _popen(args)
    _wait_for(lambda: _checkpoint_epoch(out) >= 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    p = cli(*args)
    assert p.returncode == 0, p.stderr
    m = metrics(out)
    assert [r["epoch"] for r in m] == [1, 2, 3]
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "done" and result["epochs"] == 3
    # The resumed run ends exactly where an uninterrupted one does.
    ref = tmp_path / "ref"
    assert cli(*_train_args(tmp_path, ref, 3)).returncode == 0
    assert json.loads((ref / "result.json").read_text())["test_error"] == result["test_error"]
    assert [r["train_loss"] for r in metrics(ref)] == [r["train_loss"] for r in m]


@needs_fmnist
@pytest.mark.slow
def test_sigterm_checkpoints_mid_epoch_and_resume_is_exact(tmp_path):
    out = tmp_path / "run"
    # epochs long enough (94 steps, about 3.5 s here) that the signal, 0.2 s into epoch 2, lands inside it
    args = _train_args(tmp_path, out, 2, "--ema-decay", "0.99", "--limit-train", "6000")
    proc = _popen(args)
    _wait_for(lambda: _checkpoint_epoch(out) >= 1, proc)
    time.sleep(0.2)  # into epoch 2
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    last = stderr.strip().splitlines()[-1]
    assert "SIGTERM" in last and "resume" in last
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ck["epoch"] == 1 and not (out / "result.json").exists()
    p = cli(*args)
    assert p.returncode == 0, p.stderr
    assert [r["epoch"] for r in metrics(out)] == [1, 2]
    ref = tmp_path / "ref"
    assert cli(*_train_args(tmp_path, ref, 2, "--ema-decay", "0.99", "--limit-train", "6000")).returncode == 0
    a = torch.load(out / "checkpoint.pt", weights_only=True)
    b = torch.load(ref / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert all(torch.equal(a["ema"]["module"][k], b["ema"]["module"][k]) for k in a["ema"]["module"])


# -- DDP ---------------------------------------------------------------------------
@needs_fmnist
@pytest.mark.slow
def test_torchrun_two_processes_matches_single_process(tmp_path):
    common = ["train", tiny_json(tmp_path), "--data", "fashion-mnist", "--limit-train", "2048",
              "--limit-test", "500", "--epochs", "2", "--batch-size", "64", "--precision", "fp32", "--quiet"]
    env = _env(threads=1)
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "netspace.cli", *common, "--out", str(tmp_path / "ddp")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    assert ddp.stdout.count("done:") == 1  # only rank 0 reports
    single = cli(*common, "--out", str(tmp_path / "one"), env=env)
    assert single.returncode == 0, single.stderr
    rd = json.loads((tmp_path / "ddp" / "result.json").read_text())
    rs = json.loads((tmp_path / "one" / "result.json").read_text())
    assert rd["world_size"] == 2 and rs["world_size"] == 1
    md, ms = metrics(tmp_path / "ddp"), metrics(tmp_path / "one")
    assert [r["epoch"] for r in md] == [1, 2]
    # Same global batch, same data order and lr schedule. Not bitwise: each
    # rank normalizes BN over its half batch and draws its own augmentation.
    for d, s in zip(md, ms):
        assert d["lr"] == pytest.approx(s["lr"])
        assert abs(d["train_loss"] - s["train_loss"]) < 0.1
    assert abs(rd["test_error"] - rs["test_error"]) < 8.0
    assert rd["test_error"] < 70.0


# -- CLI errors ---------------------------------------------------------------------
def _one_line_error(p: subprocess.CompletedProcess, needle: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr and needle in lines[0]


@pytest.mark.parametrize("args, needle", [
    (["NoSuchNet", "--data", "fashion-mnist"], "NoSuchNet"),
    (["ResNet-20", "--data", "cifar10", "--data-dir", "/nonexistent/cifar"], "/nonexistent/cifar"),
    (["ResNet-20", "--data", "fashion-mnist", "--epochs", "0"], "epochs"),
    (["ResNet-20", "--data", "fashion-mnist", "--epochs", "ten"], "--epochs"),
    (["ResNet-20", "--data", "nosuchdata"], "nosuchdata"),
])
def test_cli_errors_exit_2_with_one_line(tmp_path, args, needle):
    _one_line_error(run_main("train", *args, "--out", str(tmp_path / "o")), needle)


@needs_fmnist
def test_cli_incompatible_resume_exits_2(tmp_path):
    out = str(tmp_path / "o")
    base = ["train", tiny_json(tmp_path), "--data", "fashion-mnist", "--limit-train", "500", "--limit-test", "100",
            "--out", out, "--quiet"]
    assert cli(*base, "--epochs", "1").returncode == 0
    _one_line_error(cli(*base, "--epochs", "2"), "schedule.epochs")
    p = cli(*base, "--epochs", "1")  # the same command again: reported, not retrained
    assert p.returncode == 0 and "done" in p.stdout


def test_result_round_trips_through_json():
    r = TrainResult(status="done", epochs=1, error=12.5, best_error=11.0, eval_split="test", wall_seconds=1.0,
                    metrics=[], complexity={"flops": 1, "params": 2, "acts": 3}, spec=TINY, schedule=Schedule())
    back = TrainResult.from_json(json.loads(json.dumps(r.to_json())), [], None)
    assert back.spec == TINY and back.schedule == Schedule() and back.test_error == 12.5
    assert not math.isnan(back.best_error)


def test_result_records_the_chosen_precision_and_why(tmp_path, capsys):
    """auto resolves on this CPU (never to an emulated dtype); the choice and its reason are printed and kept."""
    from netspace.models.cpu import cpu_info

    data = load_data("synthetic", synthetic_shape=(1, 28, 28), synthetic_classes=10, synthetic_size=(64, 32))
    result = train(TINY, data, Schedule(epochs=1, batch_size=32), out_dir=tmp_path, progress=True,
                   handle_signals=False)
    stored = json.loads((tmp_path / "result.json").read_text())
    expected = "bf16" if cpu_info().native_bf16 else "fp32"
    assert result.precision == stored["precision"] == expected
    assert stored["layout"] == "channels_last"
    assert "auto:" in stored["precision_reason"] and cpu_info().model in stored["device"]
    printed = capsys.readouterr()
    assert (printed.out + printed.err).count("precision: auto:") == 1
    again = TrainResult.from_json(stored, result.metrics, tmp_path)
    assert again.layout == "channels_last" and again.precision_reason == stored["precision_reason"]
    tuning = stored["tuning"]
    assert tuning["enabled"] and tuning["measured"] + tuning["reused"] > 0 and tuning["seconds"] >= 0
