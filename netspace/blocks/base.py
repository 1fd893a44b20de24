"""What a block kind declares, and the registry of kinds (filled in ``netspace/blocks/__init__.py``).

A block kind is declared once, as a :class:`BlockKind` in a file of its own:

- ``uses``: the optional stage fields it reads (``Stage`` fields beyond
  block, depth, width and stride). The spec rejects any other optional field
  set away from its default, naming the kinds that do read it.
- ``check``: a rule of its own beyond the field checks every stage gets.
- ``cost``: its layers, stated to a :class:`netspace.cost.Cost`, so
  ``netspace.complexity`` counts it exactly without building it.
- ``latency_key``: the part of its latency-table key beyond kind, widths,
  size, stride, activation and skip (``netspace.latency.BlockSignature``).
- ``module``: where its ``nn.Module`` lives, as ``"package.module:Class"``.
  It is data, not an import: the spec and complexity layers never import
  torch; ``netspace.models`` imports the class when it builds a network and
  calls ``Class(w_in, stage, stride, activation)``, plus the block's
  drop-connect rate when ``drop_connect`` is set.

Every block of a stage gets the stage's fields; only the first gets the
stage's stride and the previous stage's width as ``w_in``. This module
imports only the standard library, the errors and the cost counter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from netspace.cost import Cost
from netspace.errors import SpecError
from netspace.registry import Registry

if TYPE_CHECKING:  # the spec imports this package; a block kind reads a Stage's fields only
    from netspace.spec import Stage


class BlockKind(ABC):
    """One kind of block; see the module docstring for what each attribute means."""

    uses: frozenset[str] = frozenset()
    module: str = ""
    drop_connect: bool = False

    def check(self, st: Stage, where: str) -> None:
        """Raise SpecError if ``st`` breaks a rule of this kind (beyond the common field checks)."""

    @abstractmethod
    def cost(self, cx: Cost, st: Stage, w_in: int, stride: int) -> None:
        """Add one block's exact flops, params and acts (input width ``w_in``, first-block ``stride``) to ``cx``."""

    def latency_key(self, st: Stage, w_in: int) -> tuple[int, int, int, int]:
        """``(groups, kernel, inner width, SE width)`` of one block with input width ``w_in``."""
        return 1, st.kernel, st.width, 0


def projection(cx: Cost, w_in: int, w_out: int, stride: int) -> None:
    """The 1x1 conv + BN shortcut of a residual block whose width or stride changes (off the main path's size)."""
    if w_in != w_out or stride != 1:
        size = cx.size
        cx.conv(w_in, w_out, 1, stride)
        cx.bn(w_out)
        cx.size = size


POOL_SKIP = "pool"
"""A stage's ``skip`` value for MnasNet's pooling SkipOp (Tan et al. 2019, Section 4.1).

The paper names the option ("pooling, identity residual, or no skip") and
does not define the layers. netspace reads it as the shortcut that makes a
residual possible where the identity cannot be used: on every block of the
stage the input is average-pooled to the output's size (a ``stride`` x
``stride`` window with stride ``stride``, partial windows at an odd edge
averaged over the pixels they hold, so the size is ceil(size / stride) like
the main path's; nothing at stride 1), then projected by a 1x1 conv + BN only
where the width changes, and added to the block's output. This is the
downsampling shortcut of ResNet-D (He et al. 2019, "Bag of Tricks for Image
Classification", Section 4.1: 2x2 average pool, then 1x1 conv). Where stride
is 1 and the width is unchanged it is the identity residual, so ``"pool"``
differs from ``True`` on the first block of a stage, which the identity skips.
"""


def pooled_shortcut(cx: Cost, w_in: int, w_out: int, stride: int) -> None:
    """Cost of :data:`POOL_SKIP`'s shortcut: the pool is free; a 1x1 conv + BN at the pooled size where widths differ.

    A 1x1 conv on the ``stride``-pooled input has the multiply-adds, weights
    and outputs of a stride-``stride`` 1x1 conv on the input, so that is what is counted.
    """
    if w_in != w_out:
        size = cx.size
        cx.conv(w_in, w_out, 1, stride)
        cx.bn(w_out)
        cx.size = size


def spatial_then_project(cx: Cost, w_inner: int, w_out: int, kernel: int, stride: int, groups: int,
                         w_se: int) -> None:
    """What bottleneck-shaped blocks (X/Y, MBConv) share after their first 1x1: kxk group conv + BN at the
    inner width (the stride), SE when ``w_se`` > 0, 1x1 projection + BN to ``w_out``."""
    cx.conv(w_inner, w_inner, kernel, stride, groups=groups)
    cx.bn(w_inner)
    if w_se:
        cx.se(w_inner, w_se)
    cx.conv(w_inner, w_out, 1)
    cx.bn(w_out)


BLOCKS: Registry[BlockKind] = Registry("block", SpecError)
