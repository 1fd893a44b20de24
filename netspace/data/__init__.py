"""Datasets as uint8 tensors in seeded, sharded batches, and batched augmentation on the device.

``load_data(name, ...)`` returns :class:`Data` (info + train/val/test splits);
``Augment(info, train=...)`` turns a uint8 batch into a normalized float batch.
A new dataset is a module here ending with a ``DataSource`` (how to open
it) and one ``DATASETS.register`` line below.

This layer imports only torch, numpy, the stdlib, PIL (imagefolder only),
:mod:`netspace.errors` and :mod:`netspace.registry`.
"""

from netspace.data import cifar, fashion_mnist, imagefolder, synthetic
from netspace.data.augment import Augment
from netspace.data.imagefolder import ImageFolderSplit
from netspace.data.info import DataError, DataInfo
from netspace.data.load import Data, load_data
from netspace.data.source import DATASETS, DataSource, Request
from netspace.data.split import InMemorySplit, Split

DATASETS.register("fashion-mnist", fashion_mnist.SOURCE)
DATASETS.register("cifar10", cifar.SOURCE)
DATASETS.register("imagefolder", imagefolder.SOURCE)
DATASETS.register("synthetic", synthetic.SOURCE)

__all__ = [
    "DATASETS",
    "Augment",
    "Data",
    "DataError",
    "DataInfo",
    "DataSource",
    "ImageFolderSplit",
    "InMemorySplit",
    "Request",
    "Split",
    "load_data",
]
