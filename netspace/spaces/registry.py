"""Design spaces by name: the paper's eight, the NAS spaces MnasNet and NASNet, or a user YAML file.

``get_space("RegNetX", resolution=28, in_channels=1, num_classes=10)`` gives
the small-image variant for Fashion-MNIST; names are case-insensitive and
ignore ``-``, ``_`` and spaces (``anynetx_a``, ``AnyNetX-A``, ``regnety``).
"""

from __future__ import annotations

import os

from netspace.errors import NetspaceError
from netspace.spaces.anynet import ANYNET_NAMES, ANYNET_VARIANTS, anynet_space
from netspace.spaces.frame import Frame
from netspace.spaces.mnasnet import MnasNetSpace
from netspace.spaces.nasnet import NASNetSpace
from netspace.spaces.regnet_space import REGNET_NAMES, regnet_space
from netspace.spaces.space import DesignSpace
from netspace.spaces.yaml_space import load_space

SPACE_NAMES = ANYNET_NAMES + REGNET_NAMES
# The search spaces of the NAS methods the paper compares with (token spaces, netspace.spaces.tokens).
NAS_SPACE_NAMES = ("MnasNet", "NASNet")
# Variants of the paper's spaces that are not among its eight (by name only, not in listings of the paper's).
VARIANT_NAMES = ANYNET_VARIANTS


class UnknownSpaceError(NetspaceError, KeyError):
    """A design-space name is neither a known space nor a YAML file."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


_BY_KEY = {_key(n): n for n in SPACE_NAMES + NAS_SPACE_NAMES + VARIANT_NAMES}


def space_names() -> list[str]:
    """The built-in spaces: the paper's, in its order, then the NAS spaces, then variants."""
    return list(SPACE_NAMES + NAS_SPACE_NAMES + VARIANT_NAMES)


def get_space(name: str, *, resolution: int = 224, in_channels: int = 3, num_classes: int = 1000,
              variant: str | None = None) -> DesignSpace:
    """A paper space by name, or a YAML space file (``*.yaml``/``*.yml``), for this input.

    ``variant`` is ``"imagenet"`` (3x3 stride-2 stem) or ``"small"`` (stride-1
    stem for 28-32px data); by default it is picked from ``resolution``
    (``small`` at 64px and below).
    """
    frame_args = dict(resolution=resolution, in_channels=in_channels, num_classes=num_classes, variant=variant)
    if name.lower().endswith((".yaml", ".yml")) or os.path.sep in name:
        return load_space(name, **frame_args)
    canonical = _BY_KEY.get(_key(name))
    if canonical is None:
        raise UnknownSpaceError(f"unknown design space {name!r}; choose one of {', '.join(space_names())} "
                                "or give a YAML space file (*.yaml)")
    frame = Frame.for_data(**frame_args)
    if canonical == "MnasNet":
        return MnasNetSpace(frame)
    if canonical == "NASNet":
        return NASNetSpace(frame)
    if canonical in ANYNET_NAMES + ANYNET_VARIANTS:
        return anynet_space(canonical, frame)
    return regnet_space(canonical, frame)
