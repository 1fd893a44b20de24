"""The vanilla block: [3x3 conv, BN, act] x2, no residual."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netspace.blocks.base import BlockKind
from netspace.cost import Cost

if TYPE_CHECKING:
    from netspace.spec import Stage


class Vanilla(BlockKind):
    module = "netspace.models.blocks:VanillaBlock"

    def cost(self, cx: Cost, st: Stage, w_in: int, stride: int) -> None:
        w_out = st.width
        cx.conv(w_in, w_out, 3, stride)
        cx.bn(w_out)
        cx.conv(w_out, w_out, 3)
        cx.bn(w_out)
