"""What a dataset declares for ``load_data``, and the registry of datasets (filled in ``netspace/data/__init__.py``).

A dataset module ends with a :class:`DataSource`: how to open it from a
:class:`Request` (what ``load_data`` was asked for) and where its files are
looked for. ``load_data`` does the rest the same way for every dataset
(resize, validation split, limits).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from netspace.data.info import DataError, DataInfo
from netspace.data.split import Split
from netspace.registry import Registry


@dataclass(frozen=True)
class Request:
    """What ``load_data`` was asked for, as a dataset's ``open`` sees it.

    ``directory`` is where its files are (resolved from ``data_dir``,
    ``$NETSPACE_DATA`` or the dataset's default; None for a dataset without
    files); the ``synthetic_*`` options are those of the synthetic dataset.
    """

    directory: Path | None
    resolution: int | None
    seed: int
    num_workers: int
    synthetic_shape: tuple[int, int, int]
    synthetic_classes: int
    synthetic_size: tuple[int, int]


@dataclass(frozen=True)
class DataSource:
    """How ``load_data`` opens one dataset.

    ``open`` returns (train, test, info). ``files``: it reads a data
    directory; ``default_dir``: where it is when none is given; ``obtain``:
    how to get the files, said when there is neither. ``sized``: ``open``
    decodes at the requested resolution itself (the others are loaded at
    their native size and resized once).
    """

    open: Callable[[Request], tuple[Split, Split, DataInfo]]
    files: bool = True
    default_dir: Path | None = None
    obtain: str = ""
    sized: bool = False


DATASETS: Registry[DataSource] = Registry("dataset", DataError)
