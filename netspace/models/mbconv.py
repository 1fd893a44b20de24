"""MBConv, the inverted bottleneck block of MobileNetV2 / MnasNet / EfficientNet, and the plain conv block."""

from __future__ import annotations

import torch
from torch import nn

from netspace.blocks import POOL_SKIP
from netspace.blocks.mbconv import expanded_width, se_width_mbconv
from netspace.models.layers import SE, bn, conv, drop_connect
from netspace.spec import Stage


def pooled_shortcut(w_in: int, w_out: int, stride: int) -> nn.Module:
    """MnasNet's pooling skip as netspace reads it (``netspace.blocks.base.POOL_SKIP``): average pool with a
    ``stride`` x ``stride`` window (partial edge windows averaged over what they hold), 1x1 conv + BN where
    widths differ; empty (the identity) at stride 1 and the same width."""
    layers: list[nn.Module] = []
    if stride > 1:
        layers.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
    if w_in != w_out:
        layers += [conv(w_in, w_out, 1), bn(w_out)]
    return nn.Sequential(*layers)


def _shortcut(block: nn.Module, w_in: int, st: Stage, stride: int) -> None:
    """Set ``has_skip`` and ``shortcut`` (None for the identity) of an MBConv or conv block from ``st.skip``."""
    if st.skip == POOL_SKIP:
        block.has_skip = True
        block.shortcut = pooled_shortcut(w_in, st.width, stride) if stride > 1 or w_in != st.width else None
    else:
        block.has_skip = st.skip and stride == 1 and w_in == st.width
        block.shortcut = None


def _shortcut_roles(block: nn.Module) -> dict[str, nn.Module]:
    layers = [m for m in (block.shortcut or ()) if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    return dict(zip(("proj", "proj_bn"), layers))


class MBConv(nn.Module):
    """1x1 expand (skipped at expansion 1), kxk depthwise, SE, 1x1 linear projection.

    The identity skip applies when shapes allow (stride 1, same width); the
    pooled one (``skip="pool"``) on every block. The residual branch is
    dropped per sample with probability ``drop_rate`` in training.
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
        _shortcut(self, w_in, st, stride)
        # zero-init (optional) applies to the last BN of a residual branch only: without the skip
        # it would silence the block
        layers += [conv(w_exp, st.width, 1), bn(st.width, final=self.has_skip)]
        self.names = (*names, "pw", "pw_bn")
        self.f = nn.Sequential(*layers)
        self.drop_rate = drop_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.has_skip:
            return self.f(x)
        short = x if self.shortcut is None else self.shortcut(x)
        return short + drop_connect(self.f(x), self.drop_rate, self.training)

    def roles(self) -> dict[str, nn.Module]:
        """Layers by what they do: ``exp``/``exp_bn`` (when it expands), ``dw``/``dw_bn``, ``se``, ``pw``/``pw_bn``,
        and ``proj``/``proj_bn`` for a pooled shortcut's 1x1 conv and BN."""
        return {**dict(zip(self.names, self.f)), **_shortcut_roles(self)}


class ConvBlock(MBConv):
    """One kxk conv, BN, act, optional SE (MnasNet's regular-conv op), with MBConv's skip options."""

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
        _shortcut(self, w_in, st, stride)
        self.drop_rate = drop_rate
