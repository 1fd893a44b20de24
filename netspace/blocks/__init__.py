"""Block kinds, each declared once (its fields, rules, exact cost, latency key and module); see ``base``.

A stage's ``block`` names one of :data:`BLOCKS`. To add a kind: a file here
with a :class:`BlockKind` subclass, and one ``BLOCKS.register`` line below
(its ``nn.Module`` goes in ``netspace.models`` unless it reuses one).
This package imports only the standard library, the errors and the cost counter.
"""

from netspace.blocks.base import BLOCKS, POOL_SKIP, BlockKind, pooled_shortcut, projection
from netspace.blocks.conv import Conv
from netspace.blocks.mbconv import MBConv, expanded_width, se_width_mbconv
from netspace.blocks.res_basic import ResBasic
from netspace.blocks.res_bottleneck import ResBottleneck, se_width_bottleneck
from netspace.blocks.vanilla import Vanilla

BLOCKS.register("vanilla", Vanilla())
BLOCKS.register("res_basic", ResBasic())
BLOCKS.register("res_bottleneck", ResBottleneck())
BLOCKS.register("mbconv", MBConv())
BLOCKS.register("conv", Conv())

__all__ = ["BLOCKS", "POOL_SKIP", "BlockKind", "Conv", "MBConv", "ResBasic", "ResBottleneck", "Vanilla",
           "expanded_width", "pooled_shortcut", "projection", "se_width_bottleneck", "se_width_mbconv"]
