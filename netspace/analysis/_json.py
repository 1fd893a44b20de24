"""Loading external sweep JSON files with errors that name the file and the expected format."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from netspace.analysis._checks import AnalysisError


def load_json(path: str | os.PathLike, fmt: str) -> Any:
    """Parse a JSON file, or raise an AnalysisError naming the file, the problem and the format expected."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise AnalysisError(f"cannot read {path}: no such file; expected {fmt}") from None
    except IsADirectoryError:
        raise AnalysisError(f"cannot read {path}: it is a directory; expected {fmt} file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise AnalysisError(f"cannot read {path}: {e.__class__.__name__}: {e}; expected {fmt}") from None
    if not text.strip():
        raise AnalysisError(f"{path} is empty; expected {fmt}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise AnalysisError(f"{path} is not valid JSON (line {e.lineno}: {e.msg}); expected {fmt}") from None


def sweep_name(path: str | os.PathLike, generic: tuple[str, ...] = ("sweep",)) -> str:
    """The sweep's name from its file: the stem, or the parent folder for a generic name like sweep.json."""
    path = os.path.abspath(os.fspath(path))
    stem = os.path.splitext(os.path.basename(path))[0]
    return (os.path.basename(os.path.dirname(path)) or stem) if stem in generic else stem


def number(value: Any) -> float:
    """A float, NaN for anything that is not a number (pycls writes NaN losses as the string 'NaN')."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def is_bad(values: list[Any]) -> bool:
    """True when a metric series holds a NaN or inf: the run diverged."""
    return any(not math.isfinite(number(v)) for v in values)
