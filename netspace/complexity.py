"""Exact cost of a network, computed from its spec without building it.

The counting rules are those of ``netspace.cost`` (the RegNet paper's
reference implementation, so the published model-zoo figures are reproduced
to the integer). Each block kind states its own layers (``netspace.blocks``);
:func:`complexity` dispatches on the spec's type: stage networks here, cell
networks in ``netspace.complexity_cells``.

``netspace.models`` builds the same layers; the property tests in
``tests/test_complexity.py`` hold the two together.
This module imports only the spec, the block kinds and the cost counter.
"""

from __future__ import annotations

import sys
import types
from functools import singledispatch
from typing import Any

from netspace.blocks import BLOCKS
from netspace.complexity_cells import cell_complexity
from netspace.cost import Cost
from netspace.spec import NetSpec
from netspace.spec_cells import CellNetSpec


@singledispatch
def complexity(spec: Any) -> dict[str, int]:
    """``{"flops": multiply-adds, "params": ..., "acts": ...}`` of one image (a NetSpec or a CellNetSpec)."""
    raise TypeError(f"complexity: expected a network spec (NetSpec or CellNetSpec), got {type(spec).__name__}")


@complexity.register(NetSpec)
def _(spec: NetSpec) -> dict[str, int]:
    cx = Cost(spec.resolution)
    stem = spec.stem
    if stem.kind == "resnet":
        cx.conv(spec.in_channels, stem.width, 7, stem.stride)
        cx.bn(stem.width)
        cx.maxpool(stem.width, 2)
    else:
        cx.conv(spec.in_channels, stem.width, 3, stem.stride)
        cx.bn(stem.width)
    w_in = stem.width
    for st in spec.stages:
        kind = BLOCKS[st.block]
        stride = st.stride
        for _ in range(st.depth):
            kind.cost(cx, st, w_in, stride)
            w_in, stride = st.width, 1
    if spec.head_width:
        cx.conv(w_in, spec.head_width, 1)
        cx.bn(spec.head_width)
        w_in = spec.head_width
    cx.linear(w_in, spec.num_classes)
    return cx.totals()


complexity.register(CellNetSpec, cell_complexity)


class _CallableModule(types.ModuleType):
    """This module, callable as its function.

    ``netspace`` exports the function :func:`complexity` under this module's
    own name, and importing ``netspace.complexity`` anywhere sets the
    package's attribute to the module; so ``netspace.complexity(spec)`` works
    whichever happened first.
    """

    def __call__(self, spec: Any) -> dict[str, int]:
        return complexity(spec)


sys.modules[__name__].__class__ = _CallableModule
