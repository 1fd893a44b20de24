"""Measuring the latency of every trial of a sweep or search directory, into its store.

Each trial's spec is built and timed with :func:`netspace.latency.measure`
(and, given a :class:`~netspace.latency.LatencyTable`, predicted by it); the
figures go into the store's ``latency`` table one trial per transaction, so
an interrupted run keeps what it measured, and rerunning it skips trials
already measured at the same setting. The directory's driver lock is held
while measuring, so a sweep, search or study cannot write the store at the
same time (nor time its trials on a busy machine). :func:`latency_report` is the one call
behind ``netspace latency``: one model, or every trial of a directory.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import torch

from netspace import zoo
from netspace.errors import NetspaceError
from netspace.latency import LatencyTable, check_device, measure, prediction_error
from netspace.run.lock import DriverLock
from netspace.run.store import STORE_NAME, Store, StoreError
from netspace.spec import NetSpec, Spec, for_input, spec_from_dict


def measure_trials(directory: str | os.PathLike, *, batch: int = 1, resolution: int | None = None,
                   device: str = "cpu", threads: int | None = None, mode: str = "inference",
                   warmup: int = 5, max_seconds: float = 5.0, table: LatencyTable | None = None,
                   force: bool = False, log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Time every trial's model in ``directory`` and store the figures; returns one row per trial.

    ``resolution`` None times each model at its spec's resolution. Trials
    already measured at this setting are skipped (their stored row is
    returned) unless ``force``.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    dev = check_device(device)
    if table is not None and (table.batch, table.mode) != (batch, mode):
        raise StoreError(f"the lookup table was measured at batch {table.batch}, mode {table.mode}; "
                         f"use a table made with batch {batch}, mode {mode}")
    used_threads = (threads or torch.get_num_threads()) if dev.type == "cpu" else 0
    out = []
    # the store's one writer: refused while a sweep, search or study (or another latency run) writes it
    with DriverLock(directory), Store(directory) as store:
        trials = store.trials()
        if not trials:
            raise StoreError(f"{directory}: the store has no trials yet; run the sweep or search first")
        done = {(r["trial"], r["device"], r["batch"], r["resolution"], r["threads"], r["mode"]): r
                for r in store.latency()}
        for k, t in enumerate(trials, 1):
            spec = spec_from_dict(t.spec)
            res = resolution or spec.resolution
            key = (t.trial, str(dev), batch, res, used_threads, mode)
            if key in done and not force:
                out.append(done[key])
                continue
            r = measure(spec, batch=batch, resolution=res, device=str(dev), threads=threads, mode=mode,
                        warmup=warmup, max_seconds=max_seconds)
            figures = {**r.to_dict(), "threads": used_threads, "stable": int(r.stable)}
            if table is not None and isinstance(spec, NetSpec):  # the table knows stage blocks, not cells
                adapted = spec if res == spec.resolution else for_input(
                    spec, in_channels=spec.in_channels, resolution=res, num_classes=spec.num_classes)
                figures["predicted_ms"] = table.predict(adapted)
            store.record_latency([(t.trial, figures)])
            row = {"trial": t.trial, **{k2: figures.get(k2) for k2 in
                                        ("device", "batch", "resolution", "threads", "mode", "median_ms", "p10_ms",
                                         "p90_ms", "images_per_second", "repeats", "stable", "predicted_ms")}}
            out.append(row)
            pred = f", lookup {row['predicted_ms']:.3f} ms" if row["predicted_ms"] is not None else ""
            log(f"[{k}/{len(trials)}] trial {t.trial}: {r.median_ms:.3f} ms (p10 {r.p10_ms:.3f}, "
                f"p90 {r.p90_ms:.3f}){pred}")
    return out


def lookup_summary(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Lookup-table prediction error over measured rows that have a prediction; None if none has."""
    pairs = [(r["median_ms"], r["predicted_ms"]) for r in rows if r.get("predicted_ms") is not None]
    if not pairs:
        return None
    measured, predicted = zip(*pairs)
    return prediction_error(measured, predicted)


@dataclass(frozen=True)
class LatencyReport:
    """What ``netspace latency`` measured.

    For one model: ``result`` (``LatencyResult.to_dict()``, plus ``predicted_ms``
    and ``lookup_rel_error`` with a lookup table). For a sweep or search
    directory: ``trials`` (one row per trial, as stored) and ``lookup`` (the
    table's prediction error over them, or None). ``lookup_blocks`` is the
    number of blocks in the lookup table, if one was given.
    """

    name: str
    result: dict[str, Any] | None = None
    trials: list[dict[str, Any]] | None = None
    lookup: dict[str, Any] | None = None
    lookup_blocks: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A directory's ``{"trials", "lookup"}``, or one model's ``{"name", **result}``."""
        if self.trials is not None:
            return {"trials": self.trials, "lookup": self.lookup}
        return {"name": self.name, **(self.result or {})}


def latency_report(model: str | os.PathLike | Spec, *, batch: int = 1, resolution: int | None = None,
                   channels: int | None = None, device: str = "cpu", threads: int | None = None,
                   mode: str = "inference", warmup: int = 5, max_seconds: float | None = None,
                   lookup: str | os.PathLike | None = None, force: bool = False) -> LatencyReport:
    """Time one model (a zoo name, RegNet parameters, a spec JSON file or a spec) or every trial of a sweep or
    search directory (into its store; see :func:`measure_trials`).

    ``max_seconds`` None is 10 s for a model, 5 s per trial of a directory.
    ``lookup`` names a per-block :class:`~netspace.latency.LatencyTable` file
    (created or extended, and saved): the model's latency is also predicted
    as the sum of its blocks.
    """
    path = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
    table = None
    if lookup is not None:
        settings = {"batch": batch, "device": device, "threads": threads, "mode": mode}
        table = LatencyTable.load(lookup, **settings) if os.path.exists(lookup) else LatencyTable(**settings)
    if path is not None and os.path.exists(os.path.join(path, STORE_NAME)):
        rows = measure_trials(path, batch=batch, resolution=resolution, device=device, threads=threads, mode=mode,
                              warmup=warmup, max_seconds=5.0 if max_seconds is None else max_seconds, table=table,
                              force=force)
        if table is not None:
            table.save(lookup)
        return LatencyReport(name=path, trials=rows, lookup=lookup_summary(rows),
                             lookup_blocks=None if table is None else len(table))
    if channels is not None and channels < 1:
        raise NetspaceError(f"--channels must be a positive integer, got {channels}")
    spec = zoo.resolve(path) if path is not None else model
    result = measure(spec, batch=batch, resolution=resolution, in_channels=channels, device=device, threads=threads,
                     mode=mode, warmup=warmup, max_seconds=10.0 if max_seconds is None else max_seconds)
    out = result.to_dict()
    if table is not None:
        adapted = spec
        if (result.resolution, result.in_channels) != (spec.resolution, spec.in_channels):
            adapted = for_input(spec, in_channels=result.in_channels, resolution=result.resolution,
                                num_classes=spec.num_classes)
        out["predicted_ms"] = table.predict(adapted)
        out["lookup_rel_error"] = out["predicted_ms"] / result.median_ms - 1.0
        table.save(lookup)
    return LatencyReport(name=spec.name or path or "", result=out,
                         lookup_blocks=None if table is None else len(table))
