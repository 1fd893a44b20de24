"""Random uint8 images with random labels, a pure function of the seed.

For tests and throughput benchmarks: no files, any shape, nothing to learn.
Mean/std are those of uniform bytes (mean 127.5/255, std sqrt((256^2-1)/12)/255),
so normalized inputs have roughly zero mean and unit variance, as with real data.
"""

from __future__ import annotations

import math

import torch

from netspace.data.info import DataError, DataInfo
from netspace.data.source import DataSource, Request
from netspace.data.split import InMemorySplit

MEAN_UNIFORM = 127.5 / 255
STD_UNIFORM = math.sqrt((256**2 - 1) / 12) / 255


def load(shape: tuple[int, int, int], num_classes: int, sizes: tuple[int, int],
         seed: int) -> tuple[InMemorySplit, InMemorySplit, DataInfo]:
    """Train and test splits of ``sizes`` images of ``shape`` (C, H, W) and their info."""
    channels, height, width = shape
    if channels < 1 or height < 1 or height != width:
        raise DataError(f"synthetic_shape must be (C, S, S) with positive sizes, got {tuple(shape)}")
    if num_classes < 1 or min(sizes) < 1:
        raise DataError(f"synthetic needs >= 1 class and >= 1 image per split, got {num_classes} classes, sizes {sizes}")
    if seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed}")
    generator = torch.Generator().manual_seed(seed)
    splits = []
    for size in sizes:
        images = torch.randint(0, 256, (size, channels, height, width), generator=generator, dtype=torch.uint8)
        labels = torch.randint(0, num_classes, (size,), generator=generator, dtype=torch.int64)
        splits.append(InMemorySplit(images, labels))
    info = DataInfo(name="synthetic", in_channels=channels, resolution=height, num_classes=num_classes,
                    mean=(MEAN_UNIFORM,) * channels, std=(STD_UNIFORM,) * channels, hflip=True,
                    pad=height // 8, classes=tuple(f"class_{i}" for i in range(num_classes)))
    return splits[0], splits[1], info


def _open(request: Request) -> tuple[InMemorySplit, InMemorySplit, DataInfo]:
    return load(request.synthetic_shape, request.synthetic_classes, request.synthetic_size, request.seed)


SOURCE = DataSource(_open, files=False)
