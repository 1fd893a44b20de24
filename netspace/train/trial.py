"""One trial: a spec trained with a :class:`TrialConfig` (the call ``netspace train`` and every sweep trial make)."""

from __future__ import annotations

from typing import Any

from netspace.train.config import TrialConfig
from netspace.train.loop import train
from netspace.train.result import TrainResult


def train_trial(spec: Any, trial: TrialConfig, *, out_dir: str | None = None, data: Any = None,
                **options: Any) -> TrainResult:
    """Train ``spec`` on ``trial``'s data with its schedule; ``data`` reuses data already loaded with
    ``trial.data_settings()`` (a sweep worker keeps one per process). ``options`` go to :func:`train`."""
    if data is None:
        from netspace.data import load_data

        data = load_data(**trial.data_settings())
    return train(spec, data, trial.schedule, out_dir=out_dir, **options)
