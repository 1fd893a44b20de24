"""MBConv, the inverted bottleneck block of MobileNetV2 / MnasNet / EfficientNet, and the plain conv block."""

from __future__ import annotations

import torch
from torch import nn

from netspace.blocks.mbconv import expanded_width, se_width_mbconv
from netspace.models.layers import SE, bn, conv, drop_connect
from netspace.spec import Stage


class MBConv(nn.Module):
    """1x1 expand (skipped at expansion 1), kxk depthwise, SE, 1x1 linear projection.

    The identity skip applies when shapes allow (stride 1, same width); its
    branch is dropped per sample with probability ``drop_rate`` in training.
    """

    def __init__(self, w_in: int, st: Stage, stride: int, act: str, drop_rate: float = 0.0) -> None:
        super().__init__()
        w_exp = expanded_width(w_in, st.expansion)
        layers: list[nn.Module] = []
        names: list[str] = []
        if w_exp != w_in:
            layers += [conv(w_in, w_exp, 1), bn(w_exp, act=act)]
            names += ["exp", "exp_bn"]
        layers += [conv(w_exp, w_exp, st.kernel, stride, groups=w_exp), bn(w_exp, act=act)]
        names += ["dw", "dw_bn"]
        w_se = se_width_mbconv(w_in, st.se_ratio)
        if w_se:
            layers.append(SE(w_exp, w_se, act))
            names.append("se")
        self.has_skip = st.skip and stride == 1 and w_in == st.width
        # zero-init (optional) applies to the last BN of a residual branch only: without the skip
        # it would silence the block
        layers += [conv(w_exp, st.width, 1), bn(st.width, final=self.has_skip)]
        self.names = (*names, "pw", "pw_bn")
        self.f = nn.Sequential(*layers)
        self.drop_rate = drop_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.has_skip:
            return self.f(x)
        return x + drop_connect(self.f(x), self.drop_rate, self.training)

    def roles(self) -> dict[str, nn.Module]:
        """Layers by what they do: ``exp``/``exp_bn`` (when it expands), ``dw``/``dw_bn``, ``se``, ``pw``/``pw_bn``."""
        return dict(zip(self.names, self.f))


class ConvBlock(MBConv):
    """One kxk conv, BN, act, optional SE (MnasNet's regular-conv op), with MBConv's optional skip."""

    def __init__(self, w_in: int, st: Stage, stride: int, act: str, drop_rate: float = 0.0) -> None:
        nn.Module.__init__(self)
        w = st.width
        layers: list[nn.Module] = [conv(w_in, w, st.kernel, stride), bn(w, act=act)]
        names = ["conv", "bn"]
        w_se = se_width_mbconv(w_in, st.se_ratio)
        if w_se:
            layers.append(SE(w, w_se, act))
            names.append("se")
        self.f = nn.Sequential(*layers)
        self.names = tuple(names)
        self.has_skip = st.skip and stride == 1 and w_in == w
        self.drop_rate = drop_rate
