"""A sweep: sample N networks from a design space inside a complexity window,
train each briefly, and keep every result in the sweep's store.

The driver samples once (seeded), writes all trials as ``pending`` together
with the settings in one transaction, then hands trials to an executor and
records each result as it arrives. Rerunning the same call on the same
directory continues: finished trials are never retrained, and trials that
were running restart from their last epoch checkpoint (``DIR/trials/NNNN``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

from netspace.errors import NetspaceError
from netspace.run.config import SweepConfig, comparable_val_limit, upgrade
from netspace.run.driver import Run, drive
from netspace.run.executors import make_executor
from netspace.run.lock import DriverLock
from netspace.run.store import Store
from netspace.search.propose import SpaceSampler
from netspace.train.settings import differences


def _set_aside(out: Path) -> Path:
    """Move an existing sweep out of the way (nothing written is ever deleted)."""
    old = out / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
    old.mkdir()
    for name in ("sweep.sqlite", "sweep.sqlite-wal", "sweep.sqlite-shm", "trials"):
        if (out / name).exists():
            (out / name).rename(old / name)
    return old


def space_of(config: SweepConfig | Any, log=None):
    """The design space a sweep or search samples, in the frame of its data (resolution, channels, classes);
    how the data chose its resolution, where it did, is said through ``log`` (stderr by default)."""
    from netspace.data import load_data
    from netspace.spaces import get_space

    info = load_data(**config.trial.data_settings(), num_workers=0).info
    if info.note:
        (log or (lambda msg: print(msg, file=sys.stderr, flush=True)))(info.note)
    return get_space(config.space, resolution=info.resolution, in_channels=info.in_channels,
                     num_classes=info.num_classes, variant=config.variant)


def _resolved_resolution(stored: dict[str, Any], config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both configs with an unset ``trial.data.resolution`` (the data's own size) replaced by that size, where
    only one of them sets it: a run stored at 224 px and rerun without --resolution on 224 px images matches."""
    from netspace.data import load_data
    from netspace.train.config import TrialConfig

    def resolution(d: dict[str, Any]) -> Any:
        return ((d.get("trial") or {}).get("data") or {}).get("resolution")

    if (resolution(stored) is None) == (resolution(config) is None):
        return stored, config
    unset = config if resolution(config) is None else stored
    try:
        trial = TrialConfig.from_dict(unset["trial"])
    except NetspaceError:
        return stored, config  # the settings differ in a way the comparison names anyway
    native = load_data(**trial.data_settings(), num_workers=0).info.resolution

    def fill(d: dict[str, Any]) -> dict[str, Any]:
        if resolution(d) is not None:
            return d
        return {**d, "trial": {**d["trial"], "data": {**d["trial"]["data"], "resolution": native}}}

    return fill(stored), fill(config)


def open_checked(out: Path, config: dict[str, Any], *, force_new: bool = False, log=None, what: str = "sweep",
                 ignore: tuple[str, ...] = (),
                 also: Callable[[dict[str, Any]], list[str]] | None = None) -> tuple[Store, bool]:
    """The store in ``out`` and whether it is new (holds no config yet).

    A stored config that differs from ``config`` (keys in ``ignore`` aside) is
    refused naming each differing setting. ``force_new`` moves any stored
    run (same settings or not) to a ``previous-*`` folder and opens a new store. ``also``
    maps the stored settings to further differences (e.g. a space whose
    definition changed under the same name). Shared by sweeps, searches and
    the sweeps of a study.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    store = Store(out, create=True)
    try:
        settings = store.settings()
        stored = settings.get("config")
        if stored is not None:
            stored, config = _resolved_resolution(upgrade(stored, what), config)
        diff = [] if stored is None else [
            d for d in differences(comparable_val_limit(stored), comparable_val_limit(config))
            if d.split(":", 1)[0] not in ignore]
        if stored is not None and also is not None:
            diff += also(settings)
        if diff or (force_new and stored is not None):
            if not force_new:
                raise NetspaceError(
                    f"{out} holds a {what} with other settings ({'; '.join(diff)}); rerun with the same "
                    "settings to continue, use another --out, or add --force-new to start over "
                    f"(the old {what} is kept in a previous-* folder)")
            store.close()
            log(f"previous {what} moved to {_set_aside(out)}")
            store, stored = Store(out, create=True), None
        return store, stored is None
    except BaseException:
        store.close()
        raise


def sweep_run(config: SweepConfig, out: Path, *, force_new: bool = False, log=None, name: str | None = None) -> Run:
    """The sweep in ``out`` as a :class:`Run` of the driver: its store opened (and checked against
    ``config``), its space's sampler as the proposer. The caller holds the driver lock and closes the store."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    store, new = open_checked(out, config.to_dict(), force_new=force_new, log=log, ignore=("samples",))
    try:
        asked = len(store.trials())
        if not new and config.samples < asked:
            raise NetspaceError(f"sweep: --samples {config.samples} is below the {asked} models {out} already "
                                f"holds; give --samples {asked} or more to continue it")
        space = space_of(config, log)
        sampler = SpaceSampler(space, seed=config.seed, window=config.window.to_dict())
        run = Run(name or config.space, store, out, sampler, budget=config.samples, batch=config.samples,
                  trial=config.trial, log=log,
                  first_settings={"config": config.to_dict(), "kind": "sweep", "space": space.describe(),
                                  "created": time.time()})
        if new:
            run.ask_round()  # the whole sample, with the settings, in one transaction
            log(f"sampled {config.samples} {space.name} models from {sampler.candidates:,} candidates "
                f"(acceptance {100 * sampler.acceptance:.2f}%)")
        elif config.samples > asked:
            # A larger --samples extends the sweep with the next draws of the same sampler: the sweep holds
            # exactly what a sweep of that many models would have drawn.
            store.put_settings({"config": config.to_dict()})
            run.ask_round()
            log(f"extended from {asked} to {config.samples} {space.name} models")
        return run
    except BaseException:
        store.close()
        raise


def run_sweep(config: SweepConfig, out_dir: str | Path, *, workers: int | None = None, executor: str = "local",
              address: str | None = None, force_new: bool = False, log=None) -> dict[str, int]:
    """Run (or continue) the sweep in ``out_dir``; returns the trial counts by status."""
    out = Path(out_dir)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    ex = make_executor(executor, workers, address)  # validates before anything is written
    with DriverLock(out):
        run = sweep_run(config, out, force_new=force_new, log=log)
        try:
            drive([run], ex, log)
            return run.store.counts()
        finally:
            run.store.close()


def sweep_status(out_dir: str | Path) -> dict[str, Any]:
    """Counts by status, the best trial so far, and an ETA from the mean trial time."""
    with Store(out_dir) as store:
        trials = store.trials()
        counts = store.counts()
        config = upgrade(store.settings().get("config") or {"space": None})
    finished = [t for t in trials if t.status in ("done", "diverged", "failed")]
    done = [t for t in trials if t.status == "done" and t.error is not None]
    best = min(done, key=lambda t: t.error) if done else None
    times = [t.wall_seconds for t in finished if t.wall_seconds]
    remaining = counts["pending"] + counts["running"]
    eta = (sum(times) / len(times)) * remaining if times else None
    return {"space": config.get("space"), "total": len(trials), "counts": counts,
            "best": None if best is None else {"trial": best.trial, "error": best.error, "flops": best.flops},
            "eta_seconds_one_worker": eta}
