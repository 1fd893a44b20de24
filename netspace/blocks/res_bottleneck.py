"""The residual bottleneck block: 1x1, 3x3 group conv (+ SE), 1x1, plus a residual: the X block (the Y block with SE).

The stage's ``bottleneck_ratio`` b gives the inner width round(width / b)
and ``group_width`` g the channels per group of the 3x3 conv (``None``: one
group); the stride is in the 3x3 conv.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netspace.blocks.base import BlockKind, projection, spatial_then_project
from netspace.cost import Cost
from netspace.errors import SpecError

if TYPE_CHECKING:
    from netspace.spec import Stage


def se_width_bottleneck(w_in: int, se_ratio: float) -> int:
    """SE width of an X/Y block: from the block's input width, rounded half to even."""
    return int(round(w_in * se_ratio))


class ResBottleneck(BlockKind):
    uses = frozenset({"bottleneck_ratio", "group_width", "se_ratio"})
    module = "netspace.models.blocks:ResBottleneckBlock"

    def check(self, st: Stage, where: str) -> None:
        wb = st.bottleneck_width
        if wb < 1:
            raise SpecError(f"{where}: bottleneck width round({st.width}/{st.bottleneck_ratio}) is 0; lower bottleneck_ratio")
        if st.group_width is not None:
            if st.group_width > wb:
                raise SpecError(
                    f"{where}: group width {st.group_width} exceeds bottleneck width {wb}; use group_width <= {wb}"
                )
            if wb % st.group_width:
                raise SpecError(
                    f"{where}: bottleneck width {wb} is not divisible by group width {st.group_width}"
                )

    def cost(self, cx: Cost, st: Stage, w_in: int, stride: int) -> None:
        projection(cx, w_in, st.width, stride)
        w_b = st.bottleneck_width
        cx.conv(w_in, w_b, 1)
        cx.bn(w_b)
        spatial_then_project(cx, w_b, st.width, 3, stride, st.groups, se_width_bottleneck(w_in, st.se_ratio))

    def latency_key(self, st: Stage, w_in: int) -> tuple[int, int, int, int]:
        return st.groups, 3, st.bottleneck_width, se_width_bottleneck(w_in, st.se_ratio)
