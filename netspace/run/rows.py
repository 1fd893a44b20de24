"""A store's trials as rows (``netspace.schema``), and the unique labels of several inputs.

:func:`trial_rows` is the one way from a store to rows: ``sweep export``
(:func:`export_rows`) and the analysis DataFrame (``netspace.run.frame.load``)
both use it, and each row is made by ``netspace.schema.trial_row``, as the
demo data of the analysis tests is. :func:`export_table` writes rows as CSV,
JSON or Parquet.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from netspace.errors import NetspaceError
from netspace.files import output_path, write_atomic
from netspace.run.store import STORE_NAME, Store
from netspace.schema import trial_row

Input = str | os.PathLike


def trial_rows(directory: Input, label: str | None = None) -> list[dict[str, Any]]:
    """Every trial of the sweep or search in ``directory``, one ``schema.trial_row`` each.

    ``label`` fills the ``sweep`` column (default: the directory's name).
    """
    path = Path(directory)
    if not (path / STORE_NAME).exists():
        raise NetspaceError(f"{path}: no sweep store ({STORE_NAME}); give a directory made by 'netspace sweep'")
    with Store(path) as store:
        trials = store.trials()
        if not trials:
            raise NetspaceError(f"{path}: the sweep has no trials yet")
        config = store.settings().get("config") or {}
        latency = {r["trial"]: r for r in store.latency()}  # oldest first: the latest measurement wins
        search = store.search_rows()
        name = label if label is not None else Path(os.path.abspath(path)).name
        return [trial_row(name, config, vars(t), store.metrics(t.trial), search=search.get(t.trial),
                          latency=latency.get(t.trial)) for t in trials]


def export_rows(directory: Input | Iterable[Input]) -> list[dict[str, Any]]:
    """The rows of :func:`trial_rows` for a flat file: lists as one JSON cell each, without ``spec``
    (``netspace export DIR --trial N`` writes a trial's model).

    Several directories (``DIR``, ``LABEL=DIR``; a study directory stands for its sweeps) give their rows one
    after another, each labelled in the ``sweep`` column (:func:`sweep_labels`)."""
    if isinstance(directory, (str, os.PathLike)) and Path(directory, STORE_NAME).exists():
        rows = trial_rows(directory)
    else:
        items = [directory] if isinstance(directory, (str, os.PathLike)) else list(directory)
        rows = [r for label, path in sweep_labels(sweep_dirs(items)).items() for r in trial_rows(path, label)]
    return [{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items() if k != "spec"}
            for row in rows]


EXPORT_FORMATS = ("csv", "json", "parquet")


def export_table(rows: list[dict[str, Any]], fmt: str = "csv", out: Input | None = None) -> str | None:
    """Write ``rows`` (e.g. :func:`export_rows`) as CSV, JSON or Parquet to the file ``out``; with no ``out``
    return the CSV or JSON text instead (what ``sweep export`` and ``sample`` print)."""
    import pandas as pd

    if fmt not in EXPORT_FORMATS:
        raise NetspaceError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if out is not None:
        out = output_path(out, "sweep export", f"trials.{fmt}")
    if fmt == "json":
        text = json.dumps(rows, indent=1) + "\n"
        if out is None:
            return text
        write_atomic(out, text)
        return None
    frame = pd.DataFrame(rows)
    if fmt == "csv":
        text = frame.to_csv(index=False)
        if out is None:
            return text
        write_atomic(out, text)
        return None
    if out is None:
        raise NetspaceError("sweep export: parquet needs --out FILE")
    try:
        write_atomic(out, lambda f: frame.to_parquet(f, index=False))
    except ImportError:
        raise NetspaceError("sweep export: parquet needs pyarrow (pip install pyarrow); or use --format csv") from None
    return None


def sweep_dirs(inputs: Iterable[Input]) -> list[Input]:
    """The inputs with every study directory (no store, sweeps below it) replaced by its sweeps."""
    out: list[Input] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text.partition("=")[2] if "=" in text and not os.path.isdir(text) else text)
        if path.is_dir() and not (path / STORE_NAME).exists():
            below = sorted(p for p in path.iterdir() if (p / STORE_NAME).exists())
            if below:
                out += below
                continue
        out.append(item)
    return out


def _split_label(item: Input | tuple[str, Input]) -> tuple[str | None, Path]:
    if isinstance(item, tuple):
        label, path = item
        return str(label), Path(path)
    text = os.fspath(item)
    if "=" in text and not os.path.isdir(text):  # LABEL=DIR, unless the whole text is a directory
        label, _, path = text.partition("=")
        if not label:
            raise NetspaceError(f"{text!r}: empty label; write LABEL=DIR or just DIR")
        return label, Path(path)
    return None, Path(text)


def _name_parts(path: Path) -> tuple[str, ...]:
    """The path components an unlabelled input is named by, last first in importance."""
    parts = Path(os.path.abspath(path)).parts[1:]
    if path.suffix == ".json" and parts:
        parts = parts[:-1] if path.stem == "sweep" and len(parts) > 1 else (*parts[:-1], path.stem)
    return parts


def sweep_labels(inputs: Input | Iterable[Input | tuple[str, Input]] | Mapping[str, Input]) -> dict[str, Path]:
    """One unique label per input directory.

    An input is ``DIR``, ``"LABEL=DIR"`` or a ``(label, DIR)`` pair (a mapping
    gives label -> DIR). A directory without a label is named by its last path
    component, lengthened by its parents until no other input has the same
    name (``study/RegNetX`` and ``other/RegNetX``); a JSON file is named
    without its suffix (``ResNeXt-A.json``: ``ResNeXt-A``), pycls's
    ``sweep.json`` by its folder. Two inputs with one
    explicit label, or one directory given twice without labels, are refused.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    elif isinstance(inputs, Mapping):
        inputs = list(inputs.items())
    parsed = [_split_label(item) for item in inputs]
    explicit: dict[str, Path] = {}
    for label, path in parsed:
        if label is None:
            continue
        if label in explicit:
            raise NetspaceError(f"two inputs are labelled {label!r} ({explicit[label]} and {path}); "
                                "give each its own LABEL=DIR")
        explicit[label] = path
    parts = {i: _name_parts(p) for i, (label, p) in enumerate(parsed) if label is None}
    depth = dict.fromkeys(parts, 1)
    while True:
        names = {i: "/".join(parts[i][-depth[i]:]) for i in parts}
        taken = list(explicit) + list(names.values())
        clash = [i for i, n in names.items() if taken.count(n) > 1]
        if not clash:
            break
        for i in clash:
            if depth[i] >= len(parts[i]):
                raise NetspaceError(f"{parsed[i][1]} is given twice, or its name is another input's label; "
                                    "label the inputs: LABEL=DIR")
            depth[i] += 1
    return {(label if label is not None else names[i]): path for i, (label, path) in enumerate(parsed)}
