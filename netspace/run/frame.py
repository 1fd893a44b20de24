"""Sweep stores (and exported CSV tables) -> one pandas DataFrame, the input of ``netspace.analysis``.

One row per trial, made by ``netspace.schema.trial_row`` (see there for every
column and its role: id, design, structure, complexity, measured, fitted);
the ``sweep`` column holds each input's unique label (``sweep_labels``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from netspace.errors import NetspaceError
from netspace.schema import canonical
from netspace.run.rows import sweep_labels, trial_rows


def _read_csv(path: Path, label: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise NetspaceError(f"cannot read {path}: {e}") from None
    if "sweep" in frame.columns:  # e.g. a sweep export: the label this input is given wins, as for a directory
        frame = frame.drop(columns="sweep")
    frame.insert(0, "sweep", label)
    # an earlier export's per-stage names (depths1) read as today's (depth1), unless the file has both
    renames = {c: canonical(c) for c in frame.columns if canonical(c) != c and canonical(c) not in frame.columns}
    return frame.rename(columns=renames)


def load(dirs: str | os.PathLike | Iterable[str | os.PathLike | tuple[str, str | os.PathLike]]
         | Mapping[str, str | os.PathLike]) -> pd.DataFrame:
    """Every trial of one or more sweep or search directories, each given as ``DIR`` or ``"LABEL=DIR"``
    (or a mapping label -> DIR); inputs that share a directory name get their parents' names too.

    An input that is a ``.csv`` file (``sweep export``'s, or any table with
    the columns an analysis needs) is read as it is, with its label as its
    ``sweep`` column.
    """
    parts: list[pd.DataFrame | list[dict]] = []
    for label, path in sweep_labels(dirs).items():
        if path.suffix == ".csv" and path.is_file():
            parts.append(_read_csv(path, label))
        else:
            if not parts or not isinstance(parts[-1], list):
                parts.append([])
            parts[-1] += trial_rows(path, label)
    frames = [p if isinstance(p, pd.DataFrame) else pd.DataFrame(p) for p in parts]
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
