"""Sweep stores -> one pandas DataFrame, the input of ``netspace.analysis``.

One row per trial, made by ``netspace.schema.trial_row`` (see there for every
column and its role: id, design, structure, complexity, measured, fitted);
the ``sweep`` column holds each input's unique label (``sweep_labels``).
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping

import pandas as pd

from netspace.run.rows import sweep_labels, trial_rows


def load(dirs: str | os.PathLike | Iterable[str | os.PathLike | tuple[str, str | os.PathLike]]
         | Mapping[str, str | os.PathLike]) -> pd.DataFrame:
    """Every trial of one or more sweep or search directories, each given as ``DIR`` or ``"LABEL=DIR"``
    (or a mapping label -> DIR); inputs that share a directory name get their parents' names too."""
    rows = []
    for label, path in sweep_labels(dirs).items():
        rows += trial_rows(path, label)
    return pd.DataFrame(rows)
