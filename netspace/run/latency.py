"""Measuring the latency of every trial of a sweep or search directory, into its store.

Each trial's spec is built and timed with :func:`netspace.latency.measure`
(and, given a :class:`~netspace.latency.LatencyTable`, predicted by it); the
figures go into the store's ``latency`` table one trial per transaction, so
an interrupted run keeps what it measured, and rerunning it skips trials
already measured at the same setting.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

import torch

from netspace.latency import LatencyTable, check_device, measure, prediction_error
from netspace.run.store import Store, StoreError
from netspace.spec import NetSpec, for_input, spec_from_dict


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
    with Store(directory) as store:
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
