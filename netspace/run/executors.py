"""Executors run trials somewhere and hand their results back to the driver.

An executor takes job dicts (JSON-able: spec, schedule, data settings, trial
directory) and yields ``(job, result)`` pairs as trials finish, keeping at
most ``workers`` in flight. It knows nothing of what a trial does: it calls
``netspace.run.worker.run_trial``.

- ``LocalExecutor``: worker processes on this machine. Each worker sets its own
  thread count so the cores are used and not oversubscribed (2 cores: 2
  workers x 1 thread). Workers die with the driver (Linux PR_SET_PDEATHSIG),
  so a killed driver leaves no orphan training into the sweep directory.
- ``RayExecutor``: each trial is a Ray task with ``num_cpus`` (and ``num_gpus``)
  resources, on a local Ray started for you or an existing cluster.

A worker that dies under a trial (killed, out of memory, its node lost) is a
fault of the machine, whichever executor ran it: the trial comes back as
``RETRY``, the driver leaves it pending, and the next invocation trains it
from its last checkpoint. Neither executor retries it within the run: a
fault that persists (the kernel's OOM killer, a full disk) would strike
again, and a retry the store does not see would leave no trace of it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import multiprocessing
import os
import signal
from typing import Any, Callable, Iterator

from netspace.errors import NetspaceError
from netspace.run.worker import RETRY, run_trial

Job = dict[str, Any]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def plan_workers(workers: int | None, cores: int | None = None) -> tuple[int, int]:
    """(workers, threads per worker) that fill the cores without oversubscribing them."""
    cores = cores or available_cores()
    if workers is None:
        workers = cores
    if workers < 1:
        raise NetspaceError(f"--workers must be >= 1, got {workers}")
    return workers, max(1, cores // workers)


def _init_worker(threads: int) -> None:
    # Die with the driver rather than keep training into a directory a resumed driver now owns.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C
    import torch

    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)


class LocalExecutor:
    local = True  # its workers run on this machine (the driver readies the CPU kernels for them)

    def __init__(self, workers: int | None = None) -> None:
        self.workers, self.threads = plan_workers(workers)
        self._keep = False
        self._pool: cf.ProcessPoolExecutor | None = None

    @contextlib.contextmanager
    def keep_alive(self) -> Iterator["LocalExecutor"]:
        """Reuse one pool of worker processes across ``run`` calls (a search runs one round per call)."""
        self._keep = True
        try:
            yield self
        finally:
            self._keep = False
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _new_pool(self, ctx) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker, initargs=(self.threads,))

    def run(self, jobs: list[Job], on_start: Callable[[Job], None]) -> Iterator[tuple[Job, dict]]:
        if not jobs:
            return
        ctx = multiprocessing.get_context("spawn")
        pending = list(jobs)
        pool = self._pool or self._new_pool(ctx)
        self._pool = None
        try:
            running: dict[cf.Future, Job] = {}
            while pending or running:
                if getattr(pool, "_broken", False):
                    # A worker died and took the pool with it (its other trials come back as RETRY below);
                    # the trials not yet started get a fresh pool.
                    pool.shutdown(wait=False)
                    pool = self._new_pool(ctx)
                while pending and len(running) < self.workers:
                    job = pending.pop(0)
                    on_start(job)
                    running[pool.submit(run_trial, job)] = job
                done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    job = running.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as e:  # a worker process died (OOM kill, signal): the machine's fault
                        result = {"status": RETRY, "message": f"worker died: {type(e).__name__}: {e}"}
                    yield job, result
        except BaseException:
            # Interrupted: stop the workers now; their trials resume from checkpoints on rerun.
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        if self._keep and not getattr(pool, "_broken", False):
            self._pool = pool
        else:
            pool.shutdown(wait=True)


class RayExecutor:
    def __init__(self, workers: int | None = None, *, address: str | None = None,
                 cpus_per_trial: int = 1, gpus_per_trial: float = 0.0) -> None:
        try:
            import ray
        except ImportError:
            raise NetspaceError("the ray executor needs Ray: pip install 'netspace[ray]' (or pip install ray)") from None
        self.ray = ray
        self.address = address
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        self.workers = workers
        self.threads = cpus_per_trial

    def _connect(self) -> None:
        if self.ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self.address:
            kwargs["address"] = self.address
        else:
            kwargs["num_cpus"] = available_cores()
        try:
            self.ray.init(**kwargs)
        except ConnectionError as e:
            raise NetspaceError(f"cannot connect to Ray at {self.address!r}: {e}") from None

    def run(self, jobs: list[Job], on_start: Callable[[Job], None]) -> Iterator[tuple[Job, dict]]:
        if not jobs:
            return
        self._connect()
        ray = self.ray
        # max_retries=0: a lost worker or node comes back to the driver as RETRY (see the module docstring).
        task = ray.remote(num_cpus=self.cpus_per_trial, num_gpus=self.gpus_per_trial, max_retries=0)(_ray_trial)
        limit = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // self.cpus_per_trial))
        pending = list(jobs)
        running: dict[Any, Job] = {}
        while pending or running:
            while pending and len(running) < limit:
                job = pending.pop(0)
                on_start(job)
                ref = task.options(name=ray_task_name(job)).remote(absolute_paths(job), self.cpus_per_trial,
                                                                   os.getcwd())
                running[ref] = job
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                job = running.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as e:  # noqa: BLE001 (run_trial returns every fault of the model as a result)
                    result = ray_fault(e)
                yield job, result


def absolute_paths(job: Job) -> Job:
    """The job with its trial directory absolute, as the driver's working directory resolves it: a Ray
    worker runs in a directory of Ray's, on this node or another. (The data settings stay as stored, since
    a trial's checkpoint records them; the worker resolves them from the driver's directory.)"""
    return {**job, "out_dir": os.path.abspath(job["out_dir"])}


def ray_task_name(job: Job) -> str:
    """The Ray task's name (Ray's dashboard and the worker's process title show it): run and trial."""
    return f"{job['entry']}/trial-{job['trial']:04d}"


def ray_fault(exc: BaseException) -> dict[str, Any]:
    """The result of a Ray task that returned nothing.

    ``run_trial`` hands every failure of the model back as a result, so an
    exception from Ray is the cluster's: a worker killed or out of memory, a
    node lost, a node that cannot import netspace or torch (``RayTaskError``
    raised before the trial began). The trial stays pending for a rerun.
    """
    cause = getattr(exc, "cause", None)  # RayTaskError: what the task raised
    shown = cause if isinstance(cause, BaseException) else exc
    first = (str(shown).strip().splitlines() or [""])[0][:300]
    return {"status": RETRY, "message": f"ray worker lost: {type(shown).__name__}: {first}"}


def _ray_trial(job: Job, threads: int, cwd: str) -> dict:
    import torch

    torch.set_num_threads(threads)
    if os.path.isdir(cwd):  # a relative --data-dir resolves as where the command ran (shared mounts)
        os.chdir(cwd)
    return run_trial(job)


def make_executor(kind: str, workers: int | None = None, address: str | None = None):
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers, address=address)
    raise NetspaceError(f"unknown executor {kind!r}; choose local or ray")
