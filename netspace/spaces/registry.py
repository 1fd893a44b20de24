"""Design spaces by name: the registry (filled in ``netspace/spaces/__init__.py``) and ``get_space``.

``get_space("RegNetX", resolution=28, in_channels=1, num_classes=10)`` gives
the small-image variant for Fashion-MNIST; names are case-insensitive and
ignore ``-``, ``_`` and spaces (``anynetx_a``, ``AnyNetX-A``, ``regnety``).
A registered space is a function of the input :class:`Frame` returning the
space.
"""

from __future__ import annotations

import os
from typing import Callable

from netspace.errors import NetspaceError
from netspace.registry import Registry
from netspace.spaces.frame import Frame
from netspace.spaces.space import DesignSpace
from netspace.spaces.yaml_space import load_space


class UnknownSpaceError(NetspaceError, KeyError):
    """A design-space name is neither a known space nor a YAML file."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


# Listed in registration order: the paper's spaces in its order, then the NAS spaces, then variants.
SPACES: Registry[Callable[[Frame], DesignSpace]] = Registry(
    "design space", UnknownSpaceError, normalize=_key, hint=" or give a YAML space file (*.yaml)")


def space_names() -> list[str]:
    """The built-in spaces: the paper's, in its order, then the NAS spaces, then variants."""
    return list(SPACES)


def get_space(name: str, *, resolution: int = 224, in_channels: int = 3, num_classes: int = 1000,
              variant: str | None = None) -> DesignSpace:
    """A registered space by name, or a YAML space file (``*.yaml``/``*.yml``), for this input.

    ``variant`` is ``"imagenet"`` (3x3 stride-2 stem) or ``"small"`` (stride-1
    stem for 28-32px data); by default it is picked from ``resolution``
    (``small`` at 64px and below).
    """
    frame_args = dict(resolution=resolution, in_channels=in_channels, num_classes=num_classes, variant=variant)
    if name.lower().endswith((".yaml", ".yml")) or os.path.sep in name:
        return load_space(name, **frame_args)
    make = SPACES[name]
    return make(Frame.for_data(**frame_args))
