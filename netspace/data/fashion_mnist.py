"""Fashion-MNIST from the idx files of Debian's ``dataset-fashion-mnist`` package.

60000 train / 10000 test grayscale 28x28 images of 10 clothing classes, held in
memory as one uint8 tensor [N,1,28,28] (47 MB for train, no float copy).

Augmentation: random crop with 2 pixels of zero padding (shifts of up to 2 px,
about 7% of the side; 4 px would push the small centered garments off the
frame) and horizontal flip (garments are close to left-right symmetric, and a
mirrored shoe or bag is still the same class).

Mean/std were computed once over all 47,040,000 training pixels (in [0,1]
units) and are hard-coded; a test recomputes them from the files.
"""

from __future__ import annotations

from pathlib import Path

import torch

from netspace.data.idx import read_idx
from netspace.data.info import DataError, DataInfo
from netspace.data.source import DataSource, Request
from netspace.data.split import InMemorySplit

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
MEAN = (0.28604059698879547,)
STD = (0.3530242445149226,)
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
INSTALL = ("install Debian's package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) "
           "or pass data_dir=/--data-dir or set NETSPACE_DATA")
_REINSTALL = "reinstall it (apt-get install --reinstall dataset-fashion-mnist) or replace the file"

INFO = DataInfo(name="fashion-mnist", in_channels=1, resolution=28, num_classes=10,
                mean=MEAN, std=STD, hflip=True, pad=2, classes=CLASSES)


def _find(directory: Path, stem: str) -> Path:
    """The file ``stem`` in ``directory``, preferring the gzip form Debian ships."""
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    if not directory.is_dir():
        raise DataError(f"fashion-mnist: directory {directory} does not exist; {INSTALL}")
    raise DataError(f"fashion-mnist: no file {stem}.gz in {directory}; {INSTALL}")


def load_split(directory: Path, split: str) -> InMemorySplit:
    """The ``"train"`` or ``"test"`` split, validated (28x28 images, counts agree, labels in 0..9)."""
    image_stem, label_stem = FILES[split]
    image_path, label_path = _find(directory, image_stem), _find(directory, label_stem)
    images = read_idx(image_path, ndim=3, fix=_REINSTALL)
    side = INFO.resolution
    if images.shape[1:] != (side, side):  # every split, so train and test always agree
        raise DataError(f"fashion-mnist: {image_path} holds {images.shape[1]}x{images.shape[2]} images, expected "
                        f"{side}x{side}; {_REINSTALL}")
    labels = read_idx(label_path, ndim=1, fix=_REINSTALL)
    if len(images) != len(labels):
        raise DataError(f"fashion-mnist: {image_path} has {len(images)} images but {label_path} "
                        f"has {len(labels)} labels; {_REINSTALL}")
    if len(labels) and labels.max() >= len(CLASSES):
        raise DataError(f"fashion-mnist: {label_path} has label {labels.max()} outside 0..9; {_REINSTALL}")
    pixels = torch.from_numpy(images).unsqueeze(1)  # a view: [N,1,H,W] without a copy
    return InMemorySplit(pixels, torch.from_numpy(labels))


def load(directory: Path) -> tuple[InMemorySplit, InMemorySplit, DataInfo]:
    """Train split, test split and :data:`INFO` from ``directory``."""
    return load_split(directory, "train"), load_split(directory, "test"), INFO


def _open(request: Request) -> tuple[InMemorySplit, InMemorySplit, DataInfo]:
    return load(request.directory)


SOURCE = DataSource(_open, default_dir=DEFAULT_DIR)
