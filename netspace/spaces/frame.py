"""What every network of a design space shares: input, stem, stage strides, head.

Two variants. ``imagenet`` is the paper's setting: a simple 3x3 stride-2 stem
of width 32, stages that each downsample by 2, average pool and a linear
classifier, at 224px. ``small`` is the same body for 28-32px data
(Fashion-MNIST, CIFAR): the stem has stride 1 so that four stride-2 stages
still leave a 2x2 map (32 -> 16 -> 8 -> 4 -> 2; 28 -> 14 -> 7 -> 4 -> 2),
as ``netspace.spec.for_input`` adapts zoo models and as pycls' CIFAR stem
does. :func:`pick_variant` chooses ``small`` for inputs of at most 64px.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from netspace.spaces.samplers import SpaceError
from netspace.spec import SMALL_IMAGE_MAX, NetSpec, Stage, Stem

VARIANTS = ("imagenet", "small")


def pick_variant(resolution: int, variant: str | None = None) -> str:
    """The named variant if given (validated), else ``small`` for inputs <= 64px."""
    if variant is not None:
        key = variant.lower()
        if key not in VARIANTS:
            raise SpaceError(f"unknown variant {variant!r}; choose {', '.join(VARIANTS)} (or leave it out to pick by resolution)")
        return key
    return "small" if resolution <= SMALL_IMAGE_MAX else "imagenet"


@dataclass(frozen=True)
class Frame:
    """The fixed parts of a space's networks; the space samples only the stages."""

    variant: str = "imagenet"
    resolution: int = 224
    in_channels: int = 3
    num_classes: int = 1000
    stem_width: int = 32

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise SpaceError(f"unknown variant {self.variant!r}; choose {', '.join(VARIANTS)}")
        for name in ("resolution", "in_channels", "num_classes", "stem_width"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise SpaceError(f"{name} must be a positive integer, got {v!r}")

    @classmethod
    def for_data(cls, *, resolution: int = 224, in_channels: int = 3, num_classes: int = 1000,
                 variant: str | None = None, stem_width: int = 32) -> "Frame":
        return cls(pick_variant(resolution, variant), resolution, in_channels, num_classes, stem_width)

    @property
    def stem_stride(self) -> int:
        return 2 if self.variant == "imagenet" else 1

    @property
    def stem(self) -> Stem:
        return Stem("simple", self.stem_width, self.stem_stride)

    def spec(self, stages: Sequence[Stage], name: str = "") -> NetSpec:
        return NetSpec(stem=self.stem, stages=tuple(stages), num_classes=self.num_classes,
                       in_channels=self.in_channels, resolution=self.resolution, name=name)

    def describe(self) -> dict[str, Any]:
        return {"variant": self.variant, "resolution": self.resolution, "in_channels": self.in_channels,
                "num_classes": self.num_classes, "stem": {"kind": "simple", "width": self.stem_width,
                                                          "stride": self.stem_stride},
                "stage_stride": 2, "head": "average pool + linear"}
