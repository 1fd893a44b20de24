"""ResNet-family blocks: vanilla, residual basic, residual bottleneck (X / Y)."""

from __future__ import annotations

import torch
from torch import nn

from netspace.complexity import se_width_bottleneck
from netspace.models.layers import SE, activation, bn, conv
from netspace.spec import Stage


class VanillaBlock(nn.Module):
    """[3x3 conv, BN, act] x 2, no residual."""

    def __init__(self, w_in: int, st: Stage, stride: int, act: str) -> None:
        super().__init__()
        w = st.width
        self.f = nn.Sequential(
            conv(w_in, w, 3, stride), bn(w), activation(act), conv(w, w, 3), bn(w), activation(act)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)


class _Residual(nn.Module):
    """x + f(x), with a 1x1 conv + BN projection when width or stride changes."""

    def __init__(self, w_in: int, w_out: int, stride: int, act: str) -> None:
        super().__init__()
        self.proj = None
        if w_in != w_out or stride != 1:
            self.proj = nn.Sequential(conv(w_in, w_out, 1, stride), bn(w_out))
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return self.act(shortcut + self.f(x))


class ResBasicBlock(_Residual):
    """Two 3x3 convs plus a residual (ResNet-18/34 and the CIFAR ResNets)."""

    def __init__(self, w_in: int, st: Stage, stride: int, act: str) -> None:
        super().__init__(w_in, st.width, stride, act)
        w = st.width
        self.f = nn.Sequential(conv(w_in, w, 3, stride), bn(w), activation(act), conv(w, w, 3), bn(w, final=True))


class ResBottleneckBlock(_Residual):
    """The X block: 1x1, 3x3 group conv (stride here), [SE: the Y block], 1x1, plus a residual."""

    def __init__(self, w_in: int, st: Stage, stride: int, act: str) -> None:
        super().__init__(w_in, st.width, stride, act)
        w_b, w = st.bottleneck_width, st.width
        layers: list[nn.Module] = [
            conv(w_in, w_b, 1), bn(w_b), activation(act),
            conv(w_b, w_b, 3, stride, groups=st.groups), bn(w_b), activation(act),
        ]
        w_se = se_width_bottleneck(w_in, st.se_ratio)
        if w_se:
            layers.append(SE(w_b, w_se, act))
        layers += [conv(w_b, w, 1), bn(w, final=True)]
        self.f = nn.Sequential(*layers)
