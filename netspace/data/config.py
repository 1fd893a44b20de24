"""Which data a run trains and evaluates on, as one frozen dataclass (stored with every run)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from netspace.data.info import DataError
from netspace.fields import from_mapping
from netspace.fields import help_meta as _help


# ``limit_val`` that evaluates the whole validation split, whatever ``limit_test`` is.
ALL = "all"


def limit_or_all(text: str) -> int | str:
    """A ``--limit-val`` value: a positive integer or ``all``."""
    if text.strip().lower() == ALL:
        return ALL
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a positive integer or 'all', got {text!r}") from None


def evaluated_val_images(val_fraction: Any, limit_test: Any, limit_val: Any) -> int | str | None:
    """The validation images a run evaluates: None without a validation split, ``"all"``, or N
    (``limit_val``, or ``limit_test`` when ``limit_val`` is unset)."""
    if not isinstance(val_fraction, (int, float)) or val_fraction <= 0:
        return None
    n = limit_test if limit_val is None else limit_val
    return ALL if n is None else n


@dataclass(frozen=True)
class DataConfig:
    """The dataset and its subset: the keyword arguments of :func:`netspace.data.load_data` but the seed.

    The seed is the schedule's (one seed fixes the split, the subset, the
    init and the data order), so it is not repeated here. ``resolution``
    None means the data's own size (what ``load_data`` makes of it is in the
    run's recorded settings, ``data.resolution``); a number is an explicit
    choice and is kept as given.
    """

    name: str = field(default="fashion-mnist", metadata=_help(
        "dataset: fashion-mnist (embedded), cifar10, imagefolder or synthetic"))
    data_dir: str | None = field(default=None, metadata=_help("dataset directory (cifar10, imagefolder)"))
    resolution: int | None = field(default=None, metadata=_help(
        "train and evaluate at N x N pixels (default: the data's own size; imagefolder: the median shorter side "
        "of its images, at most 224)"))
    val_fraction: float = field(default=0.0, metadata=_help(
        "hold out this fraction of train as a class-stratified validation split"))
    limit_train: int | None = field(default=None, metadata=_help("train on a seeded subset of N images"))
    limit_test: int | None = field(default=None, metadata=_help(
        "evaluate on a seeded subset of N test images (and of validation images, unless --limit-val)"))
    limit_val: int | str | None = field(default=None, metadata={**_help(
        "evaluate on a seeded subset of N validation images, or 'all' (default: --limit-test's N)"),
        "metavar": "N|all", "parse": limit_or_all})

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise DataError(f"data: name must be a dataset name, got {self.name!r}")
        v = self.val_fraction
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v < 1:
            raise DataError(f"data: --val-fraction must be in [0, 1), got {v!r}")
        for key in ("resolution", "limit_train", "limit_test", "limit_val"):
            n = getattr(self, key)
            if key == "limit_val" and n == ALL:
                continue
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
                also = " or 'all'" if key == "limit_val" else ""
                raise DataError(f"data: --{key.replace('_', '-')} must be a positive integer{also}, got {n!r}")

    def val_limit(self) -> int | None:
        """The validation images evaluated: None for all of them (also when there is no validation split)."""
        n = evaluated_val_images(self.val_fraction, self.limit_test, self.limit_val)
        return None if n == ALL else n

    def load_kwargs(self, seed: int) -> dict[str, Any]:
        """Keyword arguments of ``load_data`` (JSON-able: sent to workers as they are)."""
        return {"name": self.name, "data_dir": self.data_dir, "resolution": self.resolution,
                "val_fraction": self.val_fraction, "seed": seed, "limit_train": self.limit_train,
                "limit_test": self.limit_test, "limit_val": self.val_limit()}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DataConfig":
        return from_mapping(cls, data, DataError, "data")
