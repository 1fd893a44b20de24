"""The residual basic block: the vanilla block's two 3x3 convs plus a residual (ResNet-18/34, CIFAR ResNets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netspace.blocks.base import projection
from netspace.blocks.vanilla import Vanilla
from netspace.cost import Cost

if TYPE_CHECKING:
    from netspace.spec import Stage


class ResBasic(Vanilla):
    module = "netspace.models.blocks:ResBasicBlock"

    def cost(self, cx: Cost, st: Stage, w_in: int, stride: int) -> None:
        projection(cx, w_in, st.width, stride)
        super().cost(cx, st, w_in, stride)
