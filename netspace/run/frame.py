"""Sweep stores -> one pandas DataFrame, the input of ``netspace.analysis``.

One row per trial: ``sweep`` (the directory name), ``trial``, ``status``,
``error``/``best_error`` (percent), ``flops``/``params``/``acts``, the sampled
parameters as columns (lists become per-stage columns ``name1..nameK``),
a per-stage summary (``depth_s1``.., ``width_s1``..), ``block_widths``,
``curve`` (per-epoch error) and ``wall_seconds``.
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
    row.update(error=t.error, best_error=t.best_error, flops=t.flops, params=t.num_params, acts=t.acts,
               epochs=t.epochs, wall_seconds=t.wall_seconds, images_per_second=t.images_per_second)
    return row


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
            rows += [_row(name, store, t) for t in trials]
    return pd.DataFrame(rows)
