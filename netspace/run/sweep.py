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
from netspace.run.drive import Entry, drive
from netspace.run.executors import make_executor
from netspace.run.lock import DriverLock
from netspace.run.settings import TrialSettings
from netspace.run.store import Store


@dataclass(frozen=True)
class SweepConfig(TrialSettings):
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
    # Short schedules need the residual branches to start as identities: with
    # the last BN of each branch at zero, deep or narrow models that otherwise
    # blow up in their first epoch (error 80-90% after 2 epochs) train normally.
    zero_init_last_bn: bool = True

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise NetspaceError(f"sweep: --samples must be >= 1, got {self.samples}")
        if self.epochs < 1:
            raise NetspaceError(f"sweep: --epochs must be >= 1, got {self.epochs}")
        if self.eval_split == "val" and self.val_fraction <= 0:
            raise NetspaceError("sweep: evaluating on 'val' needs --val-fraction > 0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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


def open_sweep(config: SweepConfig, out: Path, *, force_new: bool = False, log=None) -> Store:
    """The store of the sweep in ``out``: created and sampled if new, checked against ``config`` if not.

    Different stored settings are refused unless ``force_new``, which moves the
    old sweep to a ``previous-*`` folder first. The caller holds the driver lock.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    store, new = open_checked(out, config.to_dict(), force_new=force_new, log=log)
    try:
        if new:
            _initialize(store, config, log)
        return store
    except BaseException:
        store.close()
        raise


def open_checked(out: Path, config: dict[str, Any], *, force_new: bool = False, log=None, what: str = "sweep",
                 ignore: tuple[str, ...] = ()) -> tuple[Store, bool]:
    """The store in ``out`` and whether it is new (holds no config yet).

    A stored config that differs from ``config`` (keys in ``ignore`` aside) is
    refused naming the keys, unless ``force_new``, which moves the old run to
    a ``previous-*`` folder and opens a new store. Shared by sweeps and searches.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    store = Store(out, create=True)
    try:
        stored = store.settings().get("config")
        diff = [] if stored is None else sorted(
            k for k in set(stored) | set(config) if k not in ignore and stored.get(k) != config.get(k))
        if diff:
            if not force_new:
                raise NetspaceError(
                    f"{out} holds a {what} with other settings ({', '.join(diff)}); rerun with the same "
                    "settings to continue, use another --out, or add --force-new to start over "
                    f"(the old {what} is kept in a previous-* folder)")
            store.close()
            log(f"previous {what} moved to {_set_aside(out)}")
            store, stored = Store(out, create=True), None
        return store, stored is None
    except BaseException:
        store.close()
        raise


def run_sweep(config: SweepConfig, out_dir: str | Path, *, workers: int | None = None, executor: str = "local",
              address: str | None = None, force_new: bool = False, log=None) -> dict[str, int]:
    """Run (or continue) the sweep in ``out_dir``; returns the trial counts by status."""
    out = Path(out_dir)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    with DriverLock(out):
        store = open_sweep(config, out, force_new=force_new, log=log)
        try:
            _drive(store, config, out, make_executor(executor, workers, address), log)
            return store.counts()
        finally:
            store.close()


def _drive(store: Store, config: SweepConfig, out: Path, executor, log) -> None:
    drive([Entry(config.space, store, config.schedule_dict(), config.data_settings(), out)], executor, log)


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
