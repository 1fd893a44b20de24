"""ResNet-family blocks: vanilla, residual basic, residual bottleneck (X / Y).

Each block's ``roles()`` names its conv, BN and SE layers by what they do
(``a``, ``a_bn``, ``b``, ``b_bn``, ``se_reduce``, ``se_expand``, ``c``,
``c_bn``, ``proj``, ``proj_bn``), so weights are mapped between libraries by
role (``netspace.interop``), never by position.
"""

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

    def roles(self) -> dict[str, nn.Module]:
        return dict(zip(("a", "a_bn", "b", "b_bn"), self.f))


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

    def roles(self) -> dict[str, nn.Module]:
        """The branch's layers by ``self.names`` (the last BN, ``out_bn``, after them), then the shortcut's."""
        out = dict(zip(self.names, self.f))
        out[self.names[-1] + "_bn"] = self.out_bn
        if self.proj is not None:
            out.update(proj=self.proj[0], proj_bn=self.proj[1])
        return out


class ResBasicBlock(_Residual):
    """Two 3x3 convs plus a residual (ResNet-18/34 and the CIFAR ResNets)."""

    def __init__(self, w_in: int, st: Stage, stride: int, act: str) -> None:
        super().__init__(w_in, st.width, stride, act)
        w = st.width
        self.f = nn.Sequential(conv(w_in, w, 3, stride), bn(w, act=act), conv(w, w, 3))
        self.names = ("a", "a_bn", "b")


class ResBottleneckBlock(_Residual):
    """The X block: 1x1, 3x3 group conv (stride here), [SE: the Y block], 1x1, plus a residual."""

    def __init__(self, w_in: int, st: Stage, stride: int, act: str) -> None:
        super().__init__(w_in, st.width, stride, act)
        w_b, w = st.bottleneck_width, st.width
        layers: list[nn.Module] = [
            conv(w_in, w_b, 1), bn(w_b, act=act),
            conv(w_b, w_b, 3, stride, groups=st.groups), bn(w_b, act=act),
        ]
        names = ["a", "a_bn", "b", "b_bn"]
        w_se = se_width_bottleneck(w_in, st.se_ratio)
        if w_se:
            layers.append(SE(w_b, w_se, act))
            names.append("se")
        layers.append(conv(w_b, w, 1))
        self.f = nn.Sequential(*layers)
        self.names = (*names, "c")
