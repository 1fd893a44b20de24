"""Every input ``netspace analyze`` compares, as one trials DataFrame: netspace's own and other tools' results.

An input is a sweep or search directory, a CSV table (``sweep export``'s),
or a JSON file of another tool's results (a pycls ``sweep.json`` or an NDS
design-space file; the format is told from the content,
:func:`netspace.analysis.read_external`). Each is given as ``PATH`` or
``LABEL=PATH``; labels are made unique the same way for all of them
(:func:`netspace.run.rows.sweep_labels`). This module joins the two layers
that read results (``run`` for stores, ``analysis`` for published files),
so neither imports the other.
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping

import pandas as pd

from netspace.analysis._checks import AnalysisError
from netspace.analysis.external import NDS_ERRORS, read_external
from netspace.run.frame import load
from netspace.run.rows import sweep_labels

Input = str | os.PathLike


def load_inputs(inputs: Input | Iterable[Input | tuple[str, Input]] | Mapping[str, Input], *,
                nds_error: str = "min") -> pd.DataFrame:
    """One DataFrame of every input, in the given order, each labelled in the ``sweep`` column.

    ``nds_error`` chooses an NDS file's error: "min" (each model's minimum
    test error, what the NDS paper's EDFs use) or "last" (the last epoch's).
    """
    if nds_error not in NDS_ERRORS:
        raise AnalysisError(f"--nds-error must be one of {', '.join(NDS_ERRORS)}, got {nds_error!r}")
    frames = []
    for label, path in sweep_labels(inputs).items():
        if path.suffix.lower() == ".json" and not path.is_dir():
            frames.append(read_external(path, label, nds_error=nds_error))
        else:
            frames.append(load({label: path}))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
