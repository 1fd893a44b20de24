"""Results of other tools as trials DataFrames, the format told from the file's content.

Two published formats are read: a pycls sweep (``tools/sweep_collect.py``'s
``sweep.json``: records of grouped log data with ``cfg`` and ``test_epoch``;
:mod:`netspace.analysis.read_pycls`) and an NDS design-space file
(``data/<space>.json`` of facebookresearch/nds: records with ``net`` and
``test_ep_top1``, possibly split as ``{"top": [...], "mid": [...]}``;
:mod:`netspace.analysis.read_nds`). The file name does not matter; a JSON
file that is neither is a one-line error saying what was found.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from netspace.analysis._checks import AnalysisError
from netspace.analysis._json import load_json
from netspace.analysis.read_nds import ERRORS as NDS_ERRORS
from netspace.analysis.read_nds import nds_frame
from netspace.analysis.read_pycls import pycls_frame

FORMATS = ("pycls", "nds")
EXPECTED = ("a pycls sweep.json (records with cfg and test_epoch) or an NDS design-space file "
            "(records with net and test_ep_top1)")
_PYCLS_KEYS = {"cfg", "test_epoch", "train_epoch", "log_file"}
_NDS_KEYS = {"net", "test_ep_top1", "min_test_top1"}

__all__ = ["EXPECTED", "FORMATS", "NDS_ERRORS", "detect_format", "read_external"]


def _describe(data: Any) -> str:
    if isinstance(data, list) and data and isinstance(data[0], dict):
        keys = sorted(map(str, data[0]))
        shown = ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")
        return f"a JSON list whose first record has keys {shown or '(none)'}"
    if isinstance(data, list):
        return "an empty JSON list" if not data else f"a JSON list of {type(data[0]).__name__}s"
    if isinstance(data, dict):
        return f"a JSON object with keys {', '.join(sorted(map(str, data))[:6]) or '(none)'}"
    return f"a JSON {type(data).__name__}"


def detect_format(data: Any, path: str | os.PathLike = "<data>") -> str:
    """"pycls" or "nds" for parsed JSON ``data``; an AnalysisError naming what was found otherwise."""
    if isinstance(data, dict) and ("top" in data or "mid" in data):
        return "nds"
    if isinstance(data, list) and data and isinstance(data[0], dict):
        keys = set(data[0])
        if keys & _NDS_KEYS:
            return "nds"
        if keys & _PYCLS_KEYS:
            return "pycls"
    raise AnalysisError(f"{os.fspath(path)}: unknown format ({_describe(data)}); expected {EXPECTED}")


def read_external(path: str | os.PathLike, sweep: str | None = None, *, nds_error: str = "min") -> pd.DataFrame:
    """The trials of a pycls sweep.json or an NDS file, whichever ``path`` holds, labelled ``sweep``.

    ``nds_error``: "min" (NDS's minimum test error, the default) or "last"
    (the last epoch's); see :func:`netspace.analysis.read_nds`.
    """
    if nds_error not in NDS_ERRORS:
        raise AnalysisError(f"--nds-error must be one of {', '.join(NDS_ERRORS)}, got {nds_error!r}")
    data = load_json(path, EXPECTED)
    if detect_format(data, path) == "nds":
        return nds_frame(data, path, sweep, error=nds_error)
    return pycls_frame(data, path, sweep)
