"""Sweep stores -> one pandas DataFrame, the input of ``netspace.analysis``.

One row per trial: ``sweep`` (the directory name), ``trial``, ``status``,
``error``/``best_error`` (percent), ``flops``/``params``/``acts``, the sampled
parameters as columns (lists become per-stage columns ``name1..nameK``),
a per-stage summary (``depth_s1``.., ``width_s1``..), ``block_widths``,
``curve`` (per-epoch error), ``spec`` (the spec as a dict) and ``wall_seconds``;
where ``netspace latency DIR`` measured the trials, the latest figures as
``latency_ms`` (median), ``latency_p10_ms``, ``latency_p90_ms``,
``latency_predicted_ms`` (lookup table) and the setting ``latency_device``,
``latency_batch``, ``latency_resolution``, ``latency_threads``, ``latency_mode``.
A search directory adds ``reward`` and the ``latency_ms`` its mnas reward measured.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from netspace.errors import NetspaceError
from netspace.run.store import Store


def _row(sweep: str, store: Store, t) -> dict[str, Any]:
    row: dict[str, Any] = {"sweep": sweep, "trial": t.trial, "status": t.status}
    for k, v in t.params.items():
        if isinstance(v, list):
            row.update({f"{k}{i}": x for i, x in enumerate(v, 1)})
        elif not isinstance(v, dict):
            row[k] = v
    stages = t.spec.get("stages", [])
    for i, st in enumerate(stages, 1):
        row[f"depth_s{i}"], row[f"width_s{i}"] = st["depth"], st["width"]
    row["block_widths"] = [st["width"] for st in stages for _ in range(st["depth"])]
    metrics = store.metrics(t.trial)
    row["curve"] = [m.get("test_error", m.get("val_error")) for m in metrics]
    row["spec"] = t.spec
    row.update(error=t.error, best_error=t.best_error, flops=t.flops, params=t.num_params, acts=t.acts,
               epochs=t.epochs, wall_seconds=t.wall_seconds, images_per_second=t.images_per_second)
    return row


def _latest_latency(store: Store) -> dict[int, dict[str, Any]]:
    """Per trial, the latest latency figures stored by ``netspace latency DIR`` as ``latency_*`` columns."""
    out: dict[int, dict[str, Any]] = {}
    for r in store.latency():  # oldest first: later measurements win
        out[r["trial"]] = {
            "latency_ms": r["median_ms"], "latency_p10_ms": r["p10_ms"], "latency_p90_ms": r["p90_ms"],
            "latency_predicted_ms": r["predicted_ms"], "latency_device": r["device"],
            "latency_batch": r["batch"], "latency_resolution": r["resolution"],
            "latency_threads": r["threads"] or None, "latency_mode": r["mode"],
        }
    return out


def load(dirs: str | os.PathLike | Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Every trial of one or more sweep directories."""
    if isinstance(dirs, (str, os.PathLike)):
        dirs = [dirs]
    rows = []
    for d in dirs:
        path = Path(d)
        if not (path / "sweep.sqlite").exists():
            raise NetspaceError(f"{path}: no sweep store (sweep.sqlite); give a directory made by 'netspace sweep'")
        with Store(path) as store:
            trials = store.trials()
            if not trials:
                raise NetspaceError(f"{path}: the sweep has no trials yet")
            name = path.resolve().name
            latency = _latest_latency(store)
            search = {i: {"reward": r["reward"], "latency_ms": r["latency_ms"]}  # search stores (netspace search)
                      for i, r in store.search_rows().items()}
            rows += [{**_row(name, store, t), **search.get(t.trial, {}), **latency.get(t.trial, {})} for t in trials]
    return pd.DataFrame(rows)
