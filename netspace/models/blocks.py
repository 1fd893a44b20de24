"""ResNet-family blocks: vanilla, residual basic, residual bottleneck (X / Y)."""

from __future__ import annotations

import torch
from torch import nn

from netspace.blocks.res_bottleneck import se_width_bottleneck
from netspace.models.layers import SE, bn, conv
from netspace.spec import Stage


class VanillaBlock(nn.Module):
    """[3x3 conv, BN, act] x 2, no residual."""

    def __init__(self, w_in: int, st: Stage, stride: int, act: str) -> None:
        super().__init__()
        w = st.width
        self.f = nn.Sequential(
            conv(w_in, w, 3, stride), bn(w, act=act), conv(w, w, 3), bn(w, act=act)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)


class _Residual(nn.Module):
    """act(shortcut + out_bn(f(x))), the shortcut a 1x1 conv + BN projection when width or stride changes.

    The branch's last BN (``out_bn``, zero-init target) takes the shortcut and
    the activation, so BN, add and ReLU run as one fused kernel in training.
    """

    def __init__(self, w_in: int, w_out: int, stride: int, act: str) -> None:
        super().__init__()
        self.proj = None
        if w_in != w_out or stride != 1:
            self.proj = nn.Sequential(conv(w_in, w_out, 1, stride), bn(w_out))
        self.out_bn = bn(w_out, final=True, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return self.out_bn(self.f(x), shortcut)


class ResBasicBlock(_Residual):
    """Two 3x3 convs plus a residual (ResNet-18/34 and the CIFAR ResNets)."""

    def __init__(self, w_in: int, st: Stage, stride: int, act: str) -> None:
        super().__init__(w_in, st.width, stride, act)
        w = st.width
        self.f = nn.Sequential(conv(w_in, w, 3, stride), bn(w, act=act), conv(w, w, 3))


class ResBottleneckBlock(_Residual):
    """The X block: 1x1, 3x3 group conv (stride here), [SE: the Y block], 1x1, plus a residual."""

    def __init__(self, w_in: int, st: Stage, stride: int, act: str) -> None:
        super().__init__(w_in, st.width, stride, act)
        w_b, w = st.bottleneck_width, st.width
        layers: list[nn.Module] = [
            conv(w_in, w_b, 1), bn(w_b, act=act),
            conv(w_b, w_b, 3, stride, groups=st.groups), bn(w_b, act=act),
        ]
        w_se = se_width_bottleneck(w_in, st.se_ratio)
        if w_se:
            layers.append(SE(w_b, w_se, act))
        layers.append(conv(w_b, w, 1))
        self.f = nn.Sequential(*layers)
