"""Stems: the layers before the first stage."""

from __future__ import annotations

from torch import nn

from netspace.models.layers import bn, conv
from netspace.spec import Stem


def build_stem(stem: Stem, in_channels: int, act: str) -> nn.Sequential:
    """3x3 conv stem ("simple", "cifar") or the ResNet 7x7 + max-pool stem."""
    if stem.kind == "resnet":
        return nn.Sequential(
            conv(in_channels, stem.width, 7, stem.stride),
            bn(stem.width, act=act),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
    return nn.Sequential(conv(in_channels, stem.width, 3, stem.stride), bn(stem.width, act=act))
