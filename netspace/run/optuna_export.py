"""Sweeps as Optuna studies: ``sweep export DIR... --format optuna --out FILE.db``.

One study per sweep (or search) directory in an Optuna RDB storage
(``sqlite:///FILE.db``), named by the sweep's label (``run.sweep_labels``); a
study directory of ``netspace study`` stands for its sweeps. Each finished
trial becomes an Optuna trial:

- params: the trial's design parameters (the ``design`` columns of
  ``schema.trial_row``; per-stage lists as ``depths1``, ``depths2``, ...),
  each with a distribution spanning the values the sweep holds (integers an
  ``IntDistribution``, other numbers a ``FloatDistribution``, anything else
  a ``CategoricalDistribution`` of the values seen);
- value: its error (%), minimized; state COMPLETE for done trials and FAIL
  (no value) for diverged and failed ones; pending and running trials have
  no result yet and are left out;
- user attributes: ``flops``, ``params``, ``acts`` and the netspace trial
  number ``trial`` (and ``reward``, ``latency_ms`` where a search has them).

``optuna-dashboard sqlite:///FILE.db`` and ``optuna.visualization``
(``plot_edf``: the error EDF of each sweep) read it. The file is written
whole under a temporary name and renamed, and an existing file is never
overwritten.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any, Iterable

from netspace.errors import NetspaceError
from netspace.run.rows import Input, sweep_dirs, sweep_labels, trial_rows
from netspace.schema import columns_with_role

EXTRA_ATTRS = ("reward", "latency_ms")


def _optuna():
    try:
        import optuna
    except ImportError:
        raise NetspaceError("sweep export --format optuna needs Optuna: pip install 'netspace[optuna]'") from None
    return optuna


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _distribution(optuna, name: str, values: list[Any]) -> Any:
    d = optuna.distributions
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(values) and all(math.isfinite(v) for v in numbers):
        if all(isinstance(v, int) for v in numbers):
            return d.IntDistribution(min(numbers), max(numbers))
        return d.FloatDistribution(float(min(numbers)), float(max(numbers)))
    return d.CategoricalDistribution(sorted(set(values), key=repr))


def _study_trials(optuna, rows: list[dict[str, Any]]) -> tuple[list[Any], int]:
    """Optuna trials of a sweep's rows, and the number of unfinished rows left out."""
    finished = [r for r in rows if r["status"] in ("done", "diverged", "failed")]
    names = columns_with_role(dict.fromkeys(k for r in finished for k in r), "design")
    values = {n: [_plain(r[n]) for r in finished if r.get(n) is not None] for n in names}
    dists = {n: _distribution(optuna, n, v) for n, v in values.items() if v}
    state = optuna.trial.TrialState
    out = []
    for r in finished:
        params = {n: (float(_plain(r[n])) if isinstance(dists[n], optuna.distributions.FloatDistribution)
                      else _plain(r[n])) for n in dists if r.get(n) is not None}
        attrs = {k: _plain(r[k]) for k in ("trial", "flops", "params", "acts", *EXTRA_ATTRS) if r.get(k) is not None}
        done = r["status"] == "done" and r.get("error") is not None and math.isfinite(r["error"])
        out.append(optuna.trial.create_trial(
            state=state.COMPLETE if done else state.FAIL, value=float(r["error"]) if done else None,
            params=params, distributions={n: dists[n] for n in params}, user_attrs=attrs))
    return out, len(rows) - len(finished)


def export_optuna(inputs: Input | Iterable[Input], out: Input) -> dict[str, dict[str, int]]:
    """Write one Optuna study per sweep of ``inputs`` to the new SQLite file ``out``.

    Returns, per study name, the trials written (``complete``, ``fail``) and
    the unfinished ones left out (``left_out``).
    """
    optuna = _optuna()
    target = Path(out)
    if target.exists():
        raise NetspaceError(f"{target} exists; give a new --out FILE.db (an export never overwrites a storage)")
    if not target.parent.is_dir():
        raise NetspaceError(f"{target.parent}: no such directory; create it or give another --out")
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    labels = sweep_labels(sweep_dirs(items))
    studies = {label: trial_rows(path, label) for label, path in labels.items()}  # every input read first
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    summary: dict[str, dict[str, int]] = {}
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp.resolve()}")
    try:
        before = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" lines
        try:
            for label, rows in studies.items():
                study = optuna.create_study(study_name=label, storage=storage, direction="minimize")
                study.set_user_attr("space", rows[0].get("space"))
                study.set_user_attr("value", "error (%)")
                trials, left_out = _study_trials(optuna, rows)
                study.add_trials(trials)
                complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
                summary[label] = {"complete": complete, "fail": len(trials) - complete, "left_out": left_out}
        finally:
            optuna.logging.set_verbosity(before)
        storage.engine.dispose()
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return summary
