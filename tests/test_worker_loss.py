"""A worker process killed under a trial, on either executor (local processes; a real local Ray cluster),
training real Fashion-MNIST trials: the trial stays pending (a fault of the machine, not a result), the run
goes on with the trials not yet started, and the next invocation trains the lost trial once more from its
last epoch checkpoint, leaving the finished trials untouched."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from netspace.run import Store, sweep_config
from netspace.run.driver import drive
from netspace.run.executors import LocalExecutor, RayExecutor, absolute_paths, ray_fault, ray_task_name
from netspace.run.sweep import sweep_run
from netspace.run.worker import RETRY

FMNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
needs_fmnist = pytest.mark.skipif(not FMNIST.exists(), reason="Fashion-MNIST files not installed")
needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray not installed (the ray extra)")


@pytest.fixture
def ray_cluster():
    """A Ray of this test's own: 2 CPUs, its files in a temp dir of its own, shut down even on failure."""
    import ray

    temp_dir = tempfile.mkdtemp(prefix="nsray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    try:
        ray.init(num_cpus=2, _temp_dir=temp_dir, include_dashboard=False, log_to_driver=False)
        yield temp_dir
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process this user can see."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmd = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            ppid = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out.append((int(entry.name), ppid, cmd))
    return out


def _ray_worker(task_name: str, temp_dir: str) -> Callable[[], list[int]]:
    """The Ray worker running ``task_name`` (Ray titles a worker ``ray::<task name>`` while it runs a task),
    looked for only among the workers of the raylet that keeps its files in ``temp_dir``."""

    def find() -> list[int]:
        procs = _processes()
        raylets = {pid for pid, _, cmd in procs if cmd.split(" ", 1)[0].endswith("/raylet") and temp_dir in cmd}
        return [pid for pid, ppid, cmd in procs if ppid in raylets and cmd.split(" ", 1)[0] == f"ray::{task_name}"]

    return find


def _local_worker() -> list[int]:
    """The worker processes of this process's pool (one worker: the one running the trial)."""
    return [pid for pid, ppid, cmd in _processes() if ppid == os.getpid() and "spawn_main" in cmd]


def _kill_after(checkpoint: Path, find: Callable[[], list[int]], killed: list[int]) -> None:
    """SIGKILL the worker ``find`` names once ``checkpoint`` (written by temp file + rename) exists."""
    deadline = time.monotonic() + 300
    while not checkpoint.exists():
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)
    for pid in find():
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)


def _finished_state(out: Path, store: Store, trial: int) -> tuple:
    result = out / "trials" / f"{trial:04d}" / "result.json"
    return (next(t for t in store.trials() if t.trial == trial), store.metrics(trial), result.read_bytes(),
            result.stat().st_mtime_ns)


@needs_ray
def test_ray_errors_are_faults_of_the_machine():
    import ray

    crashed = ray.exceptions.WorkerCrashedError()
    assert ray_fault(crashed)["status"] == RETRY
    assert ray_fault(crashed)["message"].startswith("ray worker lost: WorkerCrashedError: The worker died")
    # raised before run_trial began (a node without torch): the node's fault, named by its cause
    raised = ray.exceptions.RayTaskError("_ray_trial", "Traceback ...", ModuleNotFoundError("No module named 'torch'"))
    assert ray_fault(raised) == {"status": RETRY,
                                 "message": "ray worker lost: ModuleNotFoundError: No module named 'torch'"}
    assert ray_task_name({"entry": "RegNetX", "trial": 7}) == "RegNetX/trial-0007"


def test_ray_jobs_carry_absolute_trial_directories(tmp_path, monkeypatch):
    # a Ray worker runs in a directory of Ray's: the trial directory is resolved where the driver runs
    monkeypatch.chdir(tmp_path)
    job = {"trial": 0, "out_dir": "runs/x/trials/0000", "data": {"name": "imagefolder", "data_dir": "imgs"}}
    sent = absolute_paths(job)
    assert sent["out_dir"] == str(tmp_path / "runs/x/trials/0000")
    assert sent["data"] == job["data"]  # as stored (a checkpoint records it); the worker resolves it from here
    assert job["out_dir"] == "runs/x/trials/0000"  # the driver's own job is unchanged


@pytest.mark.slow
@needs_fmnist
@pytest.mark.parametrize("kind", ["local", pytest.param("ray", marks=needs_ray)])
def test_killed_worker_leaves_its_trial_pending_and_the_rerun_trains_it_once(kind, tmp_path, request):
    out = tmp_path / "sweep"
    config = sweep_config("RegNetX", 2, flops="1M:6M", epochs=2, batch_size=32, limit_train=256, limit_test=64,
                          precision="fp32")
    target, other = 0, 1  # one worker: trial 0, killed in its second epoch, then trial 1
    logs: list[str] = []
    run = sweep_run(config, out, log=logs.append)
    if kind == "ray":
        executor = RayExecutor(1)
        find = _ray_worker(ray_task_name({"entry": run.name, "trial": target}), request.getfixturevalue("ray_cluster"))
    else:
        executor, find = LocalExecutor(1), _local_worker
        executor.threads = 1  # the other core is the driver's and the killer's (2 threads crawl on a busy machine)
    trial_dir = out / "trials" / f"{target:04d}"
    killed: list[int] = []
    killer = threading.Thread(target=_kill_after, args=(trial_dir / "checkpoint.pt", find, killed), daemon=True)
    killer.start()
    try:
        drive([run], executor, logs.append, tty=False)
        killer.join(timeout=5)
        assert len(killed) == 1, f"expected to kill the one worker of trial {target}, killed {killed}"
        by_trial = {t.trial: t for t in run.store.trials()}
        assert by_trial[target].status == "pending"
        assert by_trial[target].message.startswith("ray worker lost: " if kind == "ray" else "worker died: ")
        assert by_trial[other].status == "done" and by_trial[other].epochs == 2  # the run went on
        assert any("1 trial(s) stopped by a fault of the machine" in line for line in logs)
        assert not (trial_dir / "result.json").exists()
        epoch1 = json.loads((trial_dir / "metrics.jsonl").read_text().splitlines()[0])
        finished = _finished_state(out, run.store, other)
    finally:
        run.store.close()

    # The next invocation trains the pending trial, and only it, from its epoch-1 checkpoint.
    logs.clear()
    run = sweep_run(config, out, log=logs.append)
    try:
        drive([run], executor, logs.append, tty=False)
        trained = [line for line in logs if line.startswith("[")]  # one line per trial finished in this run
        assert len(trained) == 1 and f"trial {target}: done" in trained[0], trained
        assert run.store.counts()["done"] == 2
        again = next(t for t in run.store.trials() if t.trial == target)
        assert again.epochs == 2 and again.message is None
        metrics = run.store.metrics(target)
        assert [m["epoch"] for m in metrics] == [1, 2]
        assert metrics[0] == epoch1  # epoch 1 as measured before the kill: resumed, not trained again
        assert _finished_state(out, run.store, other) == finished  # the finished trial untouched, row and files
    finally:
        run.store.close()
