"""A split is a sized set of labelled images that can be walked in seeded, sharded batches."""

from __future__ import annotations

import abc
from collections.abc import Iterator

import numpy as np
import torch

from netspace.data.info import DataError
from netspace.data.sampling import batch_plan, count_batches

Batch = tuple[torch.Tensor, torch.Tensor]


class Split(abc.ABC):
    """Labelled images, yielded as ``(uint8 [B,C,H,W], int64 [B])`` CPU batches.

    Batches stay uint8 so host memory and host-to-device copies are 4x smaller
    than float; :class:`netspace.data.augment.Augment` converts on the device.
    The order is fixed by :func:`netspace.data.sampling.batch_plan`, so every
    concrete split orders, shards and pads identically.
    """

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of samples."""

    @property
    @abc.abstractmethod
    def labels(self) -> torch.Tensor:
        """int64 [N] labels, in sample order (read without decoding images)."""

    @abc.abstractmethod
    def subset(self, indices: np.ndarray) -> Split:
        """A split of the samples at ``indices`` (positions in this split)."""

    @abc.abstractmethod
    def _load(self, index_batches: list[np.ndarray]) -> Iterator[Batch]:
        """Materialize the given index batches, in order."""

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ) -> Iterator[Batch]:
        """One epoch of this rank's batches; see :func:`~netspace.data.sampling.batch_plan`."""
        plan = batch_plan(len(self), batch_size, shuffle=shuffle, seed=seed, epoch=epoch,
                          rank=rank, world_size=world_size, drop_last=drop_last)
        return self._load(plan)

    def num_batches(self, batch_size: int, *, world_size: int = 1, drop_last: bool = False) -> int:
        """How many batches :meth:`batches` yields per rank (for schedules and progress)."""
        return count_batches(len(self), batch_size, world_size=world_size, drop_last=drop_last)


class InMemorySplit(Split):
    """A split backed by one uint8 tensor held in memory.

    ``indices`` selects rows of the shared tensors, so train, val and limited
    subsets are views of the same pixels: carving a val set copies nothing, and
    the dataset costs its uint8 size once. Labels are held as uint8 too where
    they fit (under 256 classes) and widened to int64 per batch.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, indices: np.ndarray | None = None) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise DataError(f"in-memory images must be uint8 [N,C,H,W], got {images.dtype} {list(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise DataError(f"got {images.shape[0]} images but labels of shape {list(labels.shape)}")
        self._images = images
        small = labels.numel() == 0 or (int(labels.min()) >= 0 and int(labels.max()) < 256)
        self._labels = labels.to(torch.uint8 if small else torch.int64)
        self._indices = None if indices is None else torch.as_tensor(np.asarray(indices, dtype=np.int64))

    def __len__(self) -> int:
        return self._images.shape[0] if self._indices is None else len(self._indices)

    @property
    def images(self) -> torch.Tensor:
        """All images of this split, uint8 [N,C,H,W] (a copy when this is a subset)."""
        return self._images if self._indices is None else self._images[self._indices]

    @property
    def labels(self) -> torch.Tensor:
        labels = self._labels if self._indices is None else self._labels[self._indices]
        return labels.to(torch.int64)

    def subset(self, indices: np.ndarray) -> InMemorySplit:
        rows = np.asarray(indices, dtype=np.int64)
        if self._indices is not None:
            rows = self._indices.numpy()[rows]
        return InMemorySplit(self._images, self._labels, rows)

    def _load(self, index_batches: list[np.ndarray]) -> Iterator[Batch]:
        for batch in index_batches:
            rows = torch.from_numpy(batch)
            if self._indices is not None:
                rows = self._indices[rows]
            yield self._images[rows], self._labels[rows].to(torch.int64)
