"""Image trees on disk (``DIR/train/<class>/*.jpg``, ``DIR/val/<class>/...``), decoded by worker processes.

Each image is converted to RGB, its shorter side resized to ``resolution``
(PIL's bilinear resize, which antialiases when shrinking), and center-cropped
to a square, so every batch is uint8 [B,3,R,R]. ``val/`` is the test split;
``load_data(val_fraction=...)`` carves a validation split out of ``train/``.

Without a requested resolution the images choose it: the median shorter side
of a seeded sample of at most ``SIZE_SAMPLE`` training files (their headers
only, nothing decoded), capped at ``MAX_RESOLUTION``; ``DataInfo.note``
says so in one line. Images of other sizes are resized to it like any other.

Augmentation is random crop with ``resolution // 8`` pixels of zero padding
(the same relative shift as CIFAR's 4 px at 32) and horizontal flip: cheap,
batched on the device, and safe for photos. Mean/std are ImageNet's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from netspace.data.info import DataError, DataInfo
from netspace.data.source import DataSource, Request
from netspace.data.split import Batch, Split

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
MAX_RESOLUTION = 224  # the ImageNet size: larger images are trained at 224 unless --resolution says otherwise
SIZE_SAMPLE = 200  # files whose headers are read to find the images' own size
SIZE_SEED = 0  # the sample is fixed (not the run's seed): every seed of a run sees the same resolution
EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
LAYOUT = "expected DIR/train/<class>/<images> and DIR/val/<class>/<images>"


def _pil():
    """PIL's Image module, imported on first use so in-memory datasets do not need Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError("imagefolder needs Pillow to decode images; install it (pip install pillow)") from None
    return Image


def decode(path: str, resolution: int) -> torch.Tensor:
    """uint8 [3,R,R]: RGB, shorter side resized to ``resolution``, center crop."""
    image_module = _pil()
    with image_module.open(path) as image:
        image.draft("RGB", (resolution, resolution))  # JPEG: decode at a reduced scale >= the target
        image = image.convert("RGB")
        width, height = image.size
        scale = resolution / min(width, height)
        size = (max(resolution, round(width * scale)), max(resolution, round(height * scale)))
        image = image.resize(size, image_module.Resampling.BILINEAR)
        left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
        image = image.crop((left, top, left + resolution, top + resolution))
        pixels = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).contiguous()


def native_resolution(paths: list[str]) -> tuple[int, int, str]:
    """(resolution, images' median shorter side, the one-line note) from a seeded sample of ``paths``.

    PIL's ``open`` reads only the header, so the size of a file costs no decode.
    """
    image_module = _pil()
    rows = np.arange(len(paths))
    if len(rows) > SIZE_SAMPLE:
        rows = np.sort(np.random.default_rng(SIZE_SEED).choice(rows, SIZE_SAMPLE, replace=False))
    sides = []
    for i in rows:
        try:
            with image_module.open(paths[i]) as image:
                sides.append(min(image.size))
        except Exception as error:  # any header failure means a bad file, whatever PIL raises
            raise DataError(f"imagefolder: cannot read image {paths[i]} ({type(error).__name__}: {error}); "
                            f"remove or replace the file") from None
    side = int(np.round(np.median(sides)))
    resolution = min(side, MAX_RESOLUTION)
    capped = f" (at most {MAX_RESOLUTION})" if resolution < side else ""
    note = (f"imagefolder: images are {side} px (median shorter side of {len(sides)} files); training at "
            f"{resolution} px{capped}; --resolution to change")
    return resolution, side, note


def _list_images(folder: Path) -> list[str]:
    """Image files under ``folder`` (recursively), sorted so indices are stable across machines."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in sorted(files)
                  if not f.startswith(".") and os.path.splitext(f)[1].lower() in EXTENSIONS]
    return found


def _class_folders(root: Path) -> list[str]:
    if not root.is_dir():
        raise DataError(f"imagefolder: {root} is not a directory; {LAYOUT}")
    return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))


def scan(root: Path, classes: list[str]) -> tuple[list[str], np.ndarray]:
    """(paths, int64 labels) of every image under ``root/<class>``, class by class."""
    paths: list[str] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        files = _list_images(root / name)
        if not files:
            raise DataError(f"imagefolder: class folder {root / name} has no images "
                            f"(extensions: {', '.join(sorted(EXTENSIONS))}); add images or remove the folder")
        paths += files
        labels += [label] * len(files)
    return paths, np.asarray(labels, dtype=np.int64)


class _Decoded(Dataset):
    """Index -> (image or error text, label); errors travel as text so they stay one line."""

    def __init__(self, paths: list[str], labels: np.ndarray, resolution: int) -> None:
        self.paths, self.labels, self.resolution = paths, labels, resolution

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor | str, int]:
        path = self.paths[index]
        try:
            return decode(path, self.resolution), int(self.labels[index])
        except DataError as error:
            return str(error), -1
        except Exception as error:  # any decode failure means a bad file, whatever PIL raises
            return (f"imagefolder: cannot read image {path} ({type(error).__name__}: {error}); "
                    f"remove or replace the file"), -1


def _collate(items: list[tuple[torch.Tensor | str, int]]) -> Batch | str:
    """Stack a batch, or pass the first error message through to the main process."""
    for image, _ in items:
        if isinstance(image, str):
            return image
    return torch.stack([image for image, _ in items]), torch.tensor([label for _, label in items])


class ImageFolderSplit(Split):
    """A split of image files, decoded in ``num_workers`` worker processes per epoch."""

    def __init__(self, paths: list[str], labels: np.ndarray, resolution: int, num_workers: int = 2) -> None:
        if num_workers < 0:
            raise DataError(f"num_workers must be >= 0, got {num_workers}")
        self.paths = list(paths)
        self._labels = np.asarray(labels, dtype=np.int64)
        self.resolution = resolution
        self.num_workers = num_workers

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def labels(self) -> torch.Tensor:
        return torch.from_numpy(self._labels.copy())

    def subset(self, indices: np.ndarray) -> ImageFolderSplit:
        rows = np.asarray(indices, dtype=np.int64)
        return ImageFolderSplit([self.paths[i] for i in rows], self._labels[rows], self.resolution, self.num_workers)

    def _load(self, index_batches: list[np.ndarray]) -> Iterator[Batch]:
        loader = DataLoader(
            _Decoded(self.paths, self._labels, self.resolution),
            batch_sampler=[batch.tolist() for batch in index_batches],
            num_workers=self.num_workers,
            collate_fn=_collate,
        )
        for batch in loader:
            if isinstance(batch, str):
                raise DataError(batch)
            yield batch


def load(directory: Path, resolution: int | None, num_workers: int) -> tuple[ImageFolderSplit, ImageFolderSplit, DataInfo]:
    """Train split (``train/``), test split (``val/``) and info; lists files, decodes nothing.

    ``resolution`` None: the images' own size (:func:`native_resolution` of the training files).
    """
    if not directory.is_dir():
        raise DataError(f"imagefolder: directory {directory} does not exist; {LAYOUT}")
    classes = _class_folders(directory / "train")
    if not classes:
        raise DataError(f"imagefolder: {directory / 'train'} has no class folders; {LAYOUT}")
    val_classes = _class_folders(directory / "val")
    if val_classes != classes:
        only_train = sorted(set(classes) - set(val_classes))
        only_val = sorted(set(val_classes) - set(classes))
        raise DataError(f"imagefolder: train/ and val/ class folders differ (only in train: {only_train}, "
                        f"only in val: {only_val}); give both the same class folders")
    train_paths, train_labels = scan(directory / "train", classes)
    note = ""
    if resolution is None:
        resolution, _, note = native_resolution(train_paths)
    train = ImageFolderSplit(train_paths, train_labels, resolution, num_workers)
    test = ImageFolderSplit(*scan(directory / "val", classes), resolution, num_workers)
    info = DataInfo(name="imagefolder", in_channels=3, resolution=resolution, num_classes=len(classes),
                    mean=MEAN, std=STD, hflip=True, pad=resolution // 8, classes=tuple(classes), note=note)
    return train, test, info


def _open(request: Request) -> tuple[ImageFolderSplit, ImageFolderSplit, DataInfo]:
    return load(request.directory, request.resolution, request.num_workers)


SOURCE = DataSource(_open, obtain=LAYOUT, sized=True)
