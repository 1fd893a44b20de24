"""MBConv, the inverted bottleneck of MobileNetV2 / MnasNet / EfficientNet.

1x1 expand to ``int(w_in * expansion)`` (skipped at expansion 1: MobileNet's
separable conv), kxk depthwise conv (the stride), SE, 1x1 linear projection;
an identity skip where shapes allow (stride 1, same width) unless
``skip=False``, or with ``skip="pool"`` the pooled shortcut on every block
(:data:`netspace.blocks.base.POOL_SKIP`); the residual branch is dropped per
sample at the block's drop-connect rate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netspace.blocks.base import POOL_SKIP, BlockKind, pooled_shortcut, spatial_then_project
from netspace.cost import Cost

if TYPE_CHECKING:
    from netspace.spec import Stage


def se_width_mbconv(w_in: int, se_ratio: float) -> int:
    """SE width of an MBConv (or conv) block: from the block's input width, truncated."""
    return int(w_in * se_ratio)


def expanded_width(w_in: int, expansion: float) -> int:
    """Inner width of an MBConv block (truncated, as EfficientNet does)."""
    return int(w_in * expansion)


class MBConv(BlockKind):
    uses = frozenset({"kernel", "expansion", "se_ratio", "skip"})
    module = "netspace.models.mbconv:MBConv"
    drop_connect = True

    def cost(self, cx: Cost, st: Stage, w_in: int, stride: int) -> None:
        if st.skip == POOL_SKIP:
            pooled_shortcut(cx, w_in, st.width, stride)
        w_exp = expanded_width(w_in, st.expansion)
        if w_exp != w_in:
            cx.conv(w_in, w_exp, 1)
            cx.bn(w_exp)
        spatial_then_project(cx, w_exp, st.width, st.kernel, stride, w_exp, se_width_mbconv(w_in, st.se_ratio))

    def latency_key(self, st: Stage, w_in: int) -> tuple[int, int, int, int]:
        inner = expanded_width(w_in, st.expansion)
        return inner, st.kernel, inner, se_width_mbconv(w_in, st.se_ratio)
