"""The conv block: one kxk conv, BN, act (+ SE), MnasNet's regular-conv op, with MBConv's skip options."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netspace.blocks.base import POOL_SKIP, BlockKind, pooled_shortcut
from netspace.blocks.mbconv import se_width_mbconv
from netspace.cost import Cost

if TYPE_CHECKING:
    from netspace.spec import Stage


class Conv(BlockKind):
    uses = frozenset({"kernel", "se_ratio", "skip"})
    module = "netspace.models.mbconv:ConvBlock"
    drop_connect = True

    def cost(self, cx: Cost, st: Stage, w_in: int, stride: int) -> None:
        if st.skip == POOL_SKIP:
            pooled_shortcut(cx, w_in, st.width, stride)
        cx.conv(w_in, st.width, st.kernel, stride)
        cx.bn(st.width)
        w_se = se_width_mbconv(w_in, st.se_ratio)
        if w_se:
            cx.se(st.width, w_se)

    def latency_key(self, st: Stage, w_in: int) -> tuple[int, int, int, int]:
        return 1, st.kernel, st.width, se_width_mbconv(w_in, st.se_ratio)
