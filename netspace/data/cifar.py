"""CIFAR-10 from the python-pickle batches of ``cifar-10-python.tar.gz``, unpickled safely.

A pickle can call any importable function while loading, so a doctored
``data_batch_1`` could run code. :class:`_CifarUnpickler` resolves only the
globals the real files contain (numpy array reconstruction) plus ``_codecs.encode``
restricted to latin-1 text, which is how Python 3 writes bytes at protocol 2;
anything else is refused before it can be called.

Augmentation is the standard one for CIFAR: random crop with 4 px zero padding
and horizontal flip. Mean/std are the usual per-channel statistics of the
50,000 training images (the std is the per-pixel one, 0.247/0.243/0.261, not
the often-copied 0.2023/0.1994/0.2010, which is a std of image means).
"""

from __future__ import annotations

import io
import math
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from netspace.data.info import DataError, DataInfo
from netspace.data.source import DataSource, Request
from netspace.data.split import InMemorySplit

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
# The official tarball unpacks to this folder; accept its parent as data_dir too.
TAR_FOLDER = "cifar-10-batches-py"
OBTAIN = ("download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, "
          "unpack it and pass its cifar-10-batches-py folder as data_dir=/--data-dir or NETSPACE_DATA")

_SIDE = 32
_ROW = 3 * _SIDE * _SIDE


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes, and nothing more."""
    if not isinstance(text, str) or encoding.lower().replace("-", "") != "latin1":
        raise pickle.UnpicklingError(f"_codecs.encode called with {type(text).__name__}, {encoding!r}")
    return text.encode("latin-1")


# np.ndarray's reduce names numpy's own _reconstruct, wherever this numpy keeps it; the unpickler answers
# it with a size check first (_CifarUnpickler._reconstruct).
_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that admits only what CIFAR batch files contain.

    An array's declared size is checked against the file's size before
    numpy allocates it: a pickle holds its arrays' bytes, so a 240-byte file
    declaring a [1000000, 3072] array is refused, not allocated.
    """

    def __init__(self, file: io.BufferedIOBase, path: Path, size: int) -> None:
        super().__init__(file, encoding="bytes")
        self._path = path
        self._size = size

    def _bounded(self, nbytes: int, shape: Any) -> None:
        if nbytes > self._size:
            raise DataError(f"cifar10: {self._path} declares an array of shape {tuple(shape)} ({nbytes:,} bytes), "
                            f"more than this {self._size:,}-byte file holds; it is corrupt; {OBTAIN}")

    def _reconstruct(self, cls: Any, shape: Any, dtype: Any) -> np.ndarray:
        self._bounded(_declared_bytes(shape, np.dtype(dtype).itemsize, self._path), shape)
        return _Bounded(self)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _RECONSTRUCT:
            return self._reconstruct
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataError(f"refusing to unpickle {module}.{name} from {self._path}; CIFAR files contain "
                            f"only numpy arrays, so this file is not a CIFAR batch (or was tampered with)") from None


def _declared_bytes(shape: Any, itemsize: int, path: Path) -> int:
    """The bytes an array of ``shape`` takes; a DataError for a shape that is not a tuple of sizes."""
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise DataError(f"cifar10: {path} declares an array of shape {shape!r}; it is corrupt; {OBTAIN}")
    return math.prod(shape) * itemsize


class _Bounded(np.ndarray):
    """An empty array whose unpickled state (shape, dtype, bytes) is size-checked before numpy takes it."""

    def __new__(cls, unpickler: "_CifarUnpickler") -> "_Bounded":
        out = np.ndarray.__new__(cls, (0,), np.uint8)
        out._unpickler = unpickler
        return out

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise DataError(f"cifar10: {self._unpickler._path} holds a malformed array; {OBTAIN}")
        shape, dtype = state[-4], np.dtype(state[-3])
        self._unpickler._bounded(_declared_bytes(shape, dtype.itemsize, self._unpickler._path), shape)
        super().__setstate__(state)


def _key(batch: dict, name: str) -> Any:
    """``batch[name]``, accepting bytes keys (the originals) or str keys (re-pickled files)."""
    for key in (name.encode(), name):
        if key in batch:
            return batch[key]
    raise DataError(f"cifar10: batch has no {name!r} entry (keys: {sorted(map(str, batch))}); {OBTAIN}")


def unpickle(path: Path) -> Any:
    """The object in the pickle at ``path``, via :class:`_CifarUnpickler`."""
    try:
        with open(path, "rb") as file:
            return _CifarUnpickler(file, path, os.fstat(file.fileno()).st_size).load()
    except DataError:
        raise
    except Exception as error:  # a corrupt pickle can fail in many ways; all mean "bad file"
        raise DataError(f"cifar10: cannot unpickle {path} ({type(error).__name__}: {error}); {OBTAIN}") from None


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N,3072], int64 [N]) from one batch file, validated."""
    batch = unpickle(path)
    if not isinstance(batch, dict):
        raise DataError(f"cifar10: {path} holds a {type(batch).__name__}, not a batch dict; {OBTAIN}")
    data = np.asarray(_key(batch, "data"))
    labels = _labels(_key(batch, "labels"), path)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _ROW:
        raise DataError(f"cifar10: {path} data is {data.dtype} {list(data.shape)}, expected uint8 [N, {_ROW}]; {OBTAIN}")
    if labels.shape != (len(data),):
        raise DataError(f"cifar10: {path} has {len(data)} images but {labels.size} labels; {OBTAIN}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise DataError(f"cifar10: {path} has labels outside 0..9; {OBTAIN}")
    return data, labels


def _labels(raw: Any, path: Path) -> np.ndarray:
    """The labels as int64, refused unless they are whole numbers (not floats, not text)."""
    try:
        labels = np.asarray(raw)
    except (TypeError, ValueError):
        labels = np.asarray(raw, dtype=object)
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        example = next((v for v in labels.reshape(-1) if not isinstance(v, (int, np.integer))), None) \
            if labels.dtype.kind in "OUSfcb" else None
        shown = f" such as {example!r}" if example is not None else ""
        raise DataError(f"cifar10: {path} labels are {labels.dtype} {list(labels.shape)}{shown}, expected a list "
                        f"of whole numbers 0..9; {OBTAIN}")
    return labels.astype(np.int64)


def _read_split(directory: Path, names: tuple[str, ...]) -> InMemorySplit:
    """The batches ``names`` concatenated, as [N,3,32,32] (rows are R, G, B planes)."""
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        raise DataError(f"cifar10: {', '.join(missing)} not found in {directory}; {OBTAIN}")
    parts = [_read_batch(directory / name) for name in names]
    images = np.concatenate([data for data, _ in parts]).reshape(-1, 3, _SIDE, _SIDE)
    labels = np.concatenate([labels for _, labels in parts])
    return InMemorySplit(torch.from_numpy(images), torch.from_numpy(labels))


def _class_names(directory: Path) -> tuple[str, ...]:
    """Names from ``batches.meta`` when present, else the standard ones."""
    meta_path = directory / "batches.meta"
    if not meta_path.is_file():
        return CLASSES
    names = _key(unpickle(meta_path), "label_names")
    names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    if len(names) != len(CLASSES):
        raise DataError(f"cifar10: {meta_path} lists {len(names)} classes, expected 10; {OBTAIN}")
    return names


def resolve_dir(directory: Path) -> Path:
    """``directory`` itself, or its ``cifar-10-batches-py`` child if the batches are there."""
    if not (directory / TRAIN_FILES[0]).is_file() and (directory / TAR_FOLDER / TRAIN_FILES[0]).is_file():
        return directory / TAR_FOLDER
    return directory


def load(directory: Path) -> tuple[InMemorySplit, InMemorySplit, DataInfo]:
    """Train split (data_batch_1..5), test split (test_batch) and info from ``directory``."""
    if not directory.is_dir():
        raise DataError(f"cifar10: directory {directory} does not exist; {OBTAIN}")
    directory = resolve_dir(directory)
    info = DataInfo(name="cifar10", in_channels=3, resolution=_SIDE, num_classes=len(CLASSES),
                    mean=MEAN, std=STD, hflip=True, pad=4, classes=_class_names(directory))
    return _read_split(directory, TRAIN_FILES), _read_split(directory, TEST_FILES), info


def _open(request: Request) -> tuple[InMemorySplit, InMemorySplit, DataInfo]:
    return load(request.directory)


SOURCE = DataSource(_open, obtain=OBTAIN)
