"""Datasets as uint8 tensors in seeded, sharded batches, and batched augmentation on the device.

``load_data(name, ...)`` returns :class:`Data` (info + train/val/test splits);
``Augment(info, train=...)`` turns a uint8 batch into a normalized float batch.
This layer imports only torch, numpy, the stdlib, PIL (imagefolder only) and
:mod:`netspace.errors`.
"""

from netspace.data.augment import Augment
from netspace.data.info import DataError, DataInfo
from netspace.data.load import DATASETS, Data, load_data
from netspace.data.split import InMemorySplit, Split
from netspace.data.imagefolder import ImageFolderSplit

__all__ = [
    "DATASETS",
    "Augment",
    "Data",
    "DataError",
    "DataInfo",
    "ImageFolderSplit",
    "InMemorySplit",
    "Split",
    "load_data",
]
