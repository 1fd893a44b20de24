"""Small layers shared by every block: conv+BN, activation, SE, drop connect."""

from __future__ import annotations

import torch
from torch import nn


def activation(name: str) -> nn.Module:
    """The network's nonlinearity ("relu" or "silu")."""
    return nn.ReLU(inplace=True) if name == "relu" else nn.SiLU(inplace=True)


def conv(w_in: int, w_out: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    """A "same"-padded conv; odd kernels only, so padding is exact."""
    return nn.Conv2d(w_in, w_out, k, stride=stride, padding=k // 2, groups=groups, bias=bias)


def bn(w: int, final: bool = False) -> nn.BatchNorm2d:
    """BatchNorm; ``final`` marks the last BN of a residual branch for zero-init."""
    layer = nn.BatchNorm2d(w)
    layer.final_bn = final  # read by init_weights
    return layer


class SE(nn.Module):
    """Squeeze-and-excitation: global pool, 1x1 (w -> w_se), act, 1x1 back, sigmoid gate."""

    def __init__(self, w: int, w_se: int, act: str) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = conv(w, w_se, 1, bias=True)
        self.act = activation(act)
        self.expand = conv(w_se, w, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.expand(self.act(self.reduce(self.pool(x))))
        return x * torch.sigmoid(s)


def drop_connect(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Drop a residual branch per sample with probability ``rate`` (stochastic depth)."""
    if not training or rate <= 0.0:
        return x
    keep = 1.0 - rate
    mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * mask / keep
