"""``load_data``: one call from a dataset name and options to train/val/test splits."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from netspace.data.info import DataError, DataInfo
from netspace.data.resize import resize_uint8
from netspace.data.sampling import carve_val, limit
from netspace.data.source import DATASETS, Request
from netspace.data.split import InMemorySplit, Split

ENV_VAR = "NETSPACE_DATA"


@dataclass
class Data:
    """A dataset's info and its splits; ``val`` is None unless ``val_fraction > 0``."""

    info: DataInfo
    train: Split
    val: Split | None
    test: Split


def data_directory(name: str, data_dir: str | os.PathLike | None) -> Path:
    """Where ``name`` lives: ``data_dir``, else ``$NETSPACE_DATA``, else the dataset's default.

    Only Fashion-MNIST has a default (Debian's package path); the others have
    no standard location, so not saying where they are is an error.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    source = DATASETS[name]
    if source.default_dir is not None:
        return source.default_dir
    raise DataError(f"{name}: no data directory given; pass data_dir=/--data-dir or set {ENV_VAR} ({source.obtain})")


def _resize(split: Split, resolution: int) -> Split:
    """In-memory splits are resized once here, so batches need no per-step resize."""
    assert isinstance(split, InMemorySplit)
    return InMemorySplit(resize_uint8(split.images, resolution), split.labels)


def load_data(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    resolution: int | None = None,
    val_fraction: float = 0.0,
    seed: int = 0,
    limit_train: int | None = None,
    limit_test: int | None = None,
    limit_val: int | None = None,
    num_workers: int = 2,
    synthetic_shape: tuple[int, int, int] = (3, 32, 32),
    synthetic_classes: int = 10,
    synthetic_size: tuple[int, int] = (1024, 256),
) -> Data:
    """Load dataset ``name`` (one of :data:`DATASETS`) as :class:`Data`.

    ``resolution``: None keeps the native size (imagefolder: its images' median
    shorter side, at most 224; ``info.note`` says so); otherwise
    in-memory datasets are resized once at load and imagefolder decodes at it.
    ``val_fraction`` carves a seeded, class-stratified validation split out of
    train. ``limit_train``/``limit_test``/``limit_val`` then keep a seeded
    subset of that many samples of their split, for quick runs (None: all;
    the validation subset is drawn from the carved split, not stratified
    again). ``num_workers`` only matters for imagefolder, whose images are
    decoded by that many processes while batches are drawn.
    """
    source = DATASETS[name]
    if resolution is not None and resolution < 1:
        raise DataError(f"resolution must be a positive number of pixels, got {resolution}")
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed}")

    directory = data_directory(name, data_dir) if source.files else None
    train, test, info = source.open(Request(directory, resolution, seed, num_workers, synthetic_shape,
                                            synthetic_classes, synthetic_size))
    val = None
    if val_fraction > 0:
        train_rows, val_rows = carve_val(train.labels.numpy(), val_fraction, seed)
        train, val = train.subset(train_rows), train.subset(val_rows)
    rows = limit(len(train), limit_train, seed, "limit_train")
    train = train if rows is None else train.subset(rows)
    if val is not None:
        rows = limit(len(val), limit_val, seed, "limit_val")
        val = val if rows is None else val.subset(rows)
    rows = limit(len(test), limit_test, seed, "limit_test")
    test = test if rows is None else test.subset(rows)
    if not source.sized and resolution is not None and resolution != info.resolution:
        # after the subsets are taken, so only the images kept are resized (each image on its own: same pixels)
        train, test = _resize(train, resolution), _resize(test, resolution)
        val = None if val is None else _resize(val, resolution)
        # Keep the crop shift the same fraction of the image as at native size.
        info = replace(info, resolution=resolution, pad=round(info.pad * resolution / info.resolution))
    return Data(info=info, train=train, val=val, test=test)
