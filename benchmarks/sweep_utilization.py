"""Sweep utilization: is a sweep on K cores as fast as its trials run back to back, divided by K?

Baseline (same run): the 16 trials of a small RegNetX sweep, each trained
alone in this process with one thread, timed one by one. Then the same 16
trials as a real sweep (local executor, one worker per core, one thread each)
into a fresh directory. The sweep's overheads (worker start-up, data loading
per worker, store writes, the idle tail when fewer trials than workers are
left) show as the ratio

    sweep wall / (sum of single-trial times / K)

Target: <= 1.15 on 2 cores. The trials are 2 epochs on 2,048 images, about
4 s each alone: a worker's start-up (spawning, importing torch, loading the
data: about 1.7 s) is a fixed cost, so the ratio depends on trial length
(1 epoch, ~2 s trials since the CPU kernels: about 1.2).

    python benchmarks/sweep_utilization.py [--trials 16] [--epochs 2] [--limit-train 2048]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import torch

from netspace.run import SweepConfig, run_sweep
from netspace.run.executors import plan_workers
from netspace.run.store import Store
from netspace.run.worker import run_trial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--flops", default="4M:8M")
    parser.add_argument("--limit-train", type=int, default=2048)
    parser.add_argument("--limit-test", type=int, default=512)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    workers, threads = plan_workers(args.workers)
    config = SweepConfig(space="RegNetX", samples=args.trials, epochs=args.epochs, flops=args.flops,
                         limit_train=args.limit_train, limit_test=args.limit_test)
    with tempfile.TemporaryDirectory() as tmp:
        # the trials, sampled and stored exactly as the sweep does it (a 0-trial warm start of the same store)
        seq_dir, sweep_dir = Path(tmp) / "sequential", Path(tmp) / "sweep"
        from netspace.run.sweep import _initialize

        with Store(seq_dir, create=True) as store:
            _initialize(store, config, lambda m: None)
            trials = store.trials()
        torch.set_num_threads(threads)
        singles = []
        for t in trials:
            job = {"trial": t.trial, "spec": t.spec, "schedule": config.schedule_dict(),
                   "data": config.data_settings(), "out_dir": str(seq_dir / "trials" / f"{t.trial:04d}")}
            if t.trial == 0:  # load the data once outside the timings, as a sweep worker keeps it
                run_trial({**job, "out_dir": str(seq_dir / "warmup")})
            start = time.perf_counter()
            result = run_trial(job)
            singles.append(time.perf_counter() - start)
            assert result["status"] == "done", result
        start, epoch_start = time.perf_counter(), time.time()
        counts = run_sweep(config, sweep_dir, workers=workers, log=lambda m: None)
        wall = time.perf_counter() - start
        assert counts["done"] == len(trials), counts
        with sqlite3.connect(sweep_dir / "sweep.sqlite") as db:
            times = db.execute("SELECT started, finished FROM trials WHERE status = 'done'").fetchall()
        first_start = min(a for a, _ in times) - epoch_start
        last_finish = max(b for _, b in times) - epoch_start
        in_workers = sum(b - a for a, b in times)
    ideal = sum(singles) / workers
    print(f"trials: {len(trials)} RegNetX models in {args.flops}, {args.epochs} epoch(s) on {args.limit_train} images")
    print(f"single-trial times ({threads} thread): sum {sum(singles):.1f} s, mean {sum(singles) / len(singles):.2f} s")
    print(f"sweep: {workers} workers x {threads} thread(s): wall {wall:.1f} s")
    print(f"ideal (sum / {workers}): {ideal:.1f} s")
    print(f"where the rest goes: first trial started {first_start:.1f} s in (sampling, worker start-up, data); "
          f"trials took {in_workers:.1f} s in the workers against {sum(singles):.1f} s alone; "
          f"{wall - last_finish:.1f} s after the last trial (report, shutdown)")
    print(f"sweep wall / ideal: {wall / ideal:.3f} (target <= 1.15)")


if __name__ == "__main__":
    main()
