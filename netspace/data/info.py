"""What a model needs to know about a dataset, and the data layer's error type."""

from __future__ import annotations

from dataclasses import dataclass, field

from netspace.errors import NetspaceError


class DataError(NetspaceError):
    """A dataset is missing, corrupt, or asked for with impossible options."""


@dataclass(frozen=True)
class DataInfo:
    """Shape, statistics and augmentation policy of one dataset.

    Kept separate from the pixels so a trainer can build the network and the
    augmentation without touching the data, and so a run's record can store it.
    ``mean``/``std`` are per channel in [0, 1] pixel units (not 0..255), the
    convention every published constant uses. ``note``: how the resolution
    was chosen where the data chose it (imagefolder at its images' size), one
    line for whoever starts a run to say once.
    """

    name: str
    in_channels: int
    resolution: int
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    hflip: bool
    pad: int
    classes: tuple[str, ...] = ()
    note: str = field(default="", compare=False)
