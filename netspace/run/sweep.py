"""A sweep: sample N networks from a design space inside a complexity window,
train each briefly, and keep every result in the sweep's store.

The driver samples once (seeded), writes all trials as ``pending`` together
with the settings in one transaction, then hands trials to an executor and
records each result as it arrives. Rerunning the same call on the same
directory continues: finished trials are never retrained, and trials that
were running restart from their last epoch checkpoint (``DIR/trials/NNNN``).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netspace.errors import NetspaceError
from netspace.run.executors import make_executor
from netspace.run.lock import DriverLock
from netspace.run.store import Store


@dataclass(frozen=True)
class SweepConfig:
    """Everything that defines a sweep's results (stored; a rerun must match)."""

    space: str
    samples: int
    epochs: int
    data: str = "fashion-mnist"
    flops: str | None = None
    params: str | None = None
    acts: str | None = None
    seed: int = 0
    variant: str | None = None
    data_dir: str | None = None
    batch_size: int = 128
    lr: float = 0.2
    limit_train: int | None = None
    limit_test: int | None = None
    val_fraction: float = 0.0
    eval_split: str = "test"
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise NetspaceError(f"sweep: --samples must be >= 1, got {self.samples}")
        if self.epochs < 1:
            raise NetspaceError(f"sweep: --epochs must be >= 1, got {self.epochs}")
        if self.eval_split == "val" and self.val_fraction <= 0:
            raise NetspaceError("sweep: evaluating on 'val' needs --val-fraction > 0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def data_settings(self) -> dict[str, Any]:
        return {"name": self.data, "data_dir": self.data_dir, "val_fraction": self.val_fraction,
                "seed": self.seed, "limit_train": self.limit_train, "limit_test": self.limit_test}

    def schedule_dict(self) -> dict[str, Any]:
        from netspace.train import Schedule

        s = Schedule(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, precision=self.precision,
                     eval_split=self.eval_split, seed=self.seed)
        return s.to_dict()


def _initialize(store: Store, config: SweepConfig, log) -> None:
    """Sample the trials and store them with the settings, all in one transaction."""
    from netspace.data import load_data
    from netspace.spaces import get_space

    info = load_data(**config.data_settings(), num_workers=0).info
    space = get_space(config.space, resolution=info.resolution, in_channels=info.in_channels,
                      num_classes=info.num_classes, variant=config.variant)
    result = space.sample(config.samples, seed=config.seed, flops=config.flops, params=config.params,
                          acts=config.acts)
    log(f"sampled {len(result)} {space.name} models from {result.candidates:,} candidates "
        f"(acceptance {100 * result.acceptance_rate:.2f}%)")
    rows = [(i, s.params, s.spec.to_dict(), s.complexity) for i, s in enumerate(result.samples)]
    store.initialize({"config": config.to_dict(), "space": space.describe(), "created": time.time()}, rows)


def _set_aside(out: Path) -> Path:
    """Move an existing sweep out of the way (nothing written is ever deleted)."""
    old = out / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
    old.mkdir()
    for name in ("sweep.sqlite", "sweep.sqlite-wal", "sweep.sqlite-shm", "trials"):
        if (out / name).exists():
            (out / name).rename(old / name)
    return old


def run_sweep(config: SweepConfig, out_dir: str | Path, *, workers: int | None = None, executor: str = "local",
              address: str | None = None, force_new: bool = False, log=None) -> dict[str, int]:
    """Run (or continue) the sweep in ``out_dir``; returns the trial counts by status."""
    out = Path(out_dir)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    with DriverLock(out):
        store = Store(out, create=True)
        try:
            stored = store.settings().get("config")
            if stored is not None and stored != config.to_dict():
                if not force_new:
                    diff = sorted(k for k in set(stored) | set(config.to_dict())
                                  if stored.get(k) != config.to_dict().get(k))
                    raise NetspaceError(
                        f"{out} holds a sweep with other settings ({', '.join(diff)}); rerun with the same "
                        "settings to continue, use another --out, or add --force-new to start over "
                        "(the old sweep is kept in a previous-* folder)")
                store.close()
                log(f"previous sweep moved to {_set_aside(out)}")
                store, stored = Store(out, create=True), None
            if stored is None:
                _initialize(store, config, log)
            _drive(store, config, out, make_executor(executor, workers, address), log)
            return store.counts()
        finally:
            store.close()


def _drive(store: Store, config: SweepConfig, out: Path, executor, log) -> None:
    total = len(store.trials())
    todo = store.trials(("pending", "running"))
    if not todo:
        log(f"sweep complete: {total} trials")
        return
    log(f"{len(todo)} of {total} trials to train ({executor.workers or 'auto'} workers)")
    schedule, data = config.schedule_dict(), config.data_settings()
    jobs = [{"trial": t.trial, "spec": t.spec, "schedule": schedule, "data": data,
             "out_dir": str(out / "trials" / f"{t.trial:04d}")} for t in todo]
    start, finished = time.time(), 0
    best = min((t.error for t in store.trials("done") if t.error is not None), default=None)
    for job, result in executor.run(jobs, on_start=lambda j: store.mark_running(j["trial"])):
        metrics = result.pop("metrics", [])
        store.record_result(job["trial"], result, metrics)
        finished += 1
        err = result.get("test_error")
        if result["status"] == "done" and err is not None:
            best = err if best is None else min(best, err)
        eta = (time.time() - start) / finished * (len(jobs) - finished)
        shown = f"{err:.2f}%" if err is not None else result.get("message", "")
        best_txt = f"{best:.2f}%" if best is not None else "-"
        log(f"[{total - len(jobs) + finished}/{total}] trial {job['trial']}: {result['status']} {shown} | "
            f"best {best_txt} | ETA {_duration(eta)}")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def sweep_status(out_dir: str | Path) -> dict[str, Any]:
    """Counts by status, the best trial so far, and an ETA from the mean trial time."""
    with Store(out_dir) as store:
        trials = store.trials()
        counts = store.counts()
        config = store.settings().get("config", {})
    finished = [t for t in trials if t.status in ("done", "diverged", "failed")]
    done = [t for t in trials if t.status == "done" and t.error is not None]
    best = min(done, key=lambda t: t.error) if done else None
    times = [t.wall_seconds for t in finished if t.wall_seconds]
    remaining = counts["pending"] + counts["running"]
    eta = (sum(times) / len(times)) * remaining if times else None
    return {"space": config.get("space"), "total": len(trials), "counts": counts,
            "best": None if best is None else {"trial": best.trial, "error": best.error, "flops": best.flops},
            "eta_seconds_one_worker": eta}


def export_rows(out_dir: str | Path) -> list[dict[str, Any]]:
    """One flat row per trial: params, complexity, errors, status, timings."""
    rows = []
    with Store(out_dir) as store:
        space = store.settings().get("config", {}).get("space")
        for t in store.trials():
            row: dict[str, Any] = {"trial": t.trial, "space": space, "status": t.status}
            for k, v in t.params.items():
                row[k] = json.dumps(v) if isinstance(v, (list, dict)) else v
            row.update(flops=t.flops, params=t.num_params, acts=t.acts, error=t.error, best_error=t.best_error,
                       epochs=t.epochs, wall_seconds=t.wall_seconds, images_per_second=t.images_per_second,
                       message=t.message)
            rows.append(row)
    return rows
