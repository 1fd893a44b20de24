"""The whole network: stem, stages of blocks, head; and its initialization."""

from __future__ import annotations

import functools
import importlib
import math

import torch
from torch import nn

from netspace.blocks import BLOCKS
from netspace.models.layers import bn, conv
from netspace.models.stems import build_stem
from netspace.spec import NetSpec


@functools.cache
def block_module(kind: str) -> type[nn.Module]:
    """The ``nn.Module`` class block kind ``kind`` names by its ``module`` path ("package.module:Class")."""
    path, _, name = BLOCKS[kind].module.partition(":")
    return getattr(importlib.import_module(path), name)


class Head(nn.Module):
    """Optional 1x1 conv + BN + act, global average pool, dropout, FC."""

    def __init__(self, w_in: int, spec: NetSpec) -> None:
        super().__init__()
        self.conv = None
        if spec.head_width:
            self.conv = nn.Sequential(conv(w_in, spec.head_width, 1), bn(spec.head_width, act=spec.activation))
            w_in = spec.head_width
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(spec.dropout) if spec.dropout > 0 else nn.Identity()
        self.fc = nn.Linear(w_in, spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The head's conv (if any): the last features before pooling."""
        return x if self.conv is None else self.conv(x)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Pool, dropout, FC."""
        return self.fc(self.dropout(self.pool(x).flatten(1)))

    def roles(self) -> dict[str, nn.Module]:
        out: dict[str, nn.Module] = {"fc": self.fc}
        if self.conv is not None:
            out.update(conv=self.conv[0], bn=self.conv[1])
        return out


class Network(nn.Module):
    """A network built from a :class:`NetSpec`; children ``stem``, ``s1``..``sN``, ``head``."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.stem = build_stem(spec.stem, spec.in_channels, spec.activation)
        w_in = spec.stem.width
        n_blocks, index = spec.depth, 0
        for i, st in enumerate(spec.stages, 1):
            blocks = []
            kind, block = BLOCKS[st.block], block_module(st.block)
            for j in range(st.depth):
                stride = st.stride if j == 0 else 1
                # Drop-connect rate grows linearly with block index (EfficientNet).
                rate = (spec.drop_connect * index / n_blocks,) if kind.drop_connect else ()
                blocks.append(block(w_in, st, stride, spec.activation, *rate))
                w_in = st.width
                index += 1
            self.add_module(f"s{i}", nn.Sequential(*blocks))
        self.head = Head(w_in, spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.classify(self.forward_features(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The features before global pooling and the classifier (after the head's conv, if any)."""
        x = self.stem(x)
        for i in range(1, len(self.spec.stages) + 1):
            x = getattr(self, f"s{i}")(x)
        return self.head.features(x)

    @property
    def feature_info(self) -> list[dict[str, int]]:
        """Per stage: its index (1-based), output width and total stride from the input."""
        stride, out = self.spec.stem.total_stride, []
        for i, st in enumerate(self.spec.stages, 1):
            stride *= st.stride
            out.append({"stage": i, "width": st.width, "stride": stride})
        return out

    def layer_roles(self) -> list[tuple[tuple[int, ...] | str, str, nn.Module]]:
        """Every conv, BN, SE and FC layer as ``(place, role, module)``: place "stem", "head", or the
        1-based ``(stage, block)``; roles as each block's ``roles()`` names them (SE split in
        ``se_reduce``/``se_expand``). Weight conversion (``netspace.interop``) maps these, never positions."""
        out: list[tuple[tuple[int, ...] | str, str, nn.Module]] = [
            ("stem", "conv", self.stem[0]), ("stem", "bn", self.stem[1])]
        for i in range(1, len(self.spec.stages) + 1):
            for j, block in enumerate(getattr(self, f"s{i}"), 1):
                for role, module in block.roles().items():
                    if role == "se":
                        out += [((i, j), "se_reduce", module.reduce), ((i, j), "se_expand", module.expand)]
                    else:
                        out.append(((i, j), role, module))
        out += [("head", role, module) for role, module in self.head.roles().items()]
        return out


def init_weights(model: nn.Module, zero_init_last_bn: bool = False) -> None:
    """ResNet-style init: conv He-normal (fan-out), BN gamma 1 beta 0, FC N(0, 0.01).

    With ``zero_init_last_bn`` the last BN of each residual branch starts at
    gamma 0, so every residual block starts as the identity.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            final = getattr(m, "final_bn", False) and zero_init_last_bn
            nn.init.constant_(m.weight, 0.0 if final else 1.0)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.01)
            nn.init.zeros_(m.bias)
