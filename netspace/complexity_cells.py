"""Exact cost of a cell network (:class:`netspace.spec_cells.CellNetSpec`).

The counting rules are those of ``netspace.cost``: multiply-adds of
convs and the classifier (plus bias additions), conv/FC/BN parameters, and
output elements of convs, the classifier and max-pools. Average pools,
additions and concatenations (of a block's two results, or of a cell's
outputs) cost nothing. ``netspace.models.cells`` builds
the same layers; ``tests/test_nas_spaces.py`` holds the two together.
``netspace.complexity.complexity`` dispatches cell networks here.
"""

from __future__ import annotations

from netspace.cost import Cost
from netspace.spec_cells import FACTORIZED_CONVS, CellNetSpec, cell_width, state_widths


def _reduce(size: int, stride: int) -> int:
    """Output size of every cell op ("same" padding): ceil(size / stride)."""
    return (size - 1) // stride + 1


def _op(cx: Cost, op: str, w: int, f: int, size: int, stride: int) -> None:
    """Cost of one op from a w-channel state of the given size to f channels (as ``models.cells.cell_op``)."""
    cx.size = size
    if op == "identity":
        if stride == 2 or w != f:
            cx.conv(w, f, 1, stride)
            cx.bn(f)
    elif op.startswith("sep_conv_"):
        k = int(op[-1])
        cx.conv(w, w, k, stride, groups=w)
        cx.conv(w, f, 1)
        cx.bn(f)
        cx.conv(f, f, k, 1, groups=f)
        cx.conv(f, f, 1)
        cx.bn(f)
    elif op in ("conv_1x1", "conv_3x3"):
        cx.conv(w, f, int(op[-1]), stride)
        cx.bn(f)
    elif op == "dil_conv_3x3":
        # Dilation 2 with padding 2: the same output size and multiply-adds as a 3x3 conv.
        cx.conv(w, f, 3, stride)
        cx.bn(f)
    elif op in FACTORIZED_CONVS:
        # 1xk (stride along the width), then kx1 (stride along the height): the first output is
        # size x out, not square, so its terms are counted here rather than by Cost.conv.
        k, out = FACTORIZED_CONVS[op], _reduce(size, stride)
        for hw, c_in in ((size * out, w), (out * out, f)):
            cx.flops += k * c_in * f * hw
            cx.params += k * c_in * f
            cx.acts += f * hw
        cx.size = out
        cx.bn(f)
    else:  # a pool; then act, 1x1 conv, BN when the width changes
        if op.startswith("max_pool_"):
            cx.maxpool(w, stride)
        else:
            cx.size = _reduce(size, stride)
        if w != f:
            cx.conv(w, f, 1)
            cx.bn(f)


def cell_complexity(spec: CellNetSpec) -> dict[str, int]:
    """``{"flops", "params", "acts"}`` of one image through the cell network."""
    cx = Cost(spec.resolution)
    cx.conv(spec.in_channels, spec.stem_width, 3, spec.stem_stride)
    cx.bn(spec.stem_width)
    size = cx.size
    prev2 = prev = (spec.stem_width, size)  # (channels, size) of h[i-2] and h[i-1]
    last_reduction = False
    for reduction, f in spec.cells():
        cell = spec.reduction if reduction else spec.normal
        # Preprocessing: act, 1x1 conv to f, BN on both inputs (stride 2 for h[i-2] after a reduction).
        cx.size = prev2[1]
        cx.conv(prev2[0], f, 1, 2 if last_reduction else 1)
        cx.bn(f)
        cx.size = prev[1]
        cx.conv(prev[0], f, 1)
        cx.bn(f)
        size_in = prev[1]
        size_out = _reduce(size_in, 2) if reduction else size_in
        widths = state_widths(cell, f)
        for ia, oa, ib, ob in (b[:4] for b in cell):
            for i, op in ((ia, oa), (ib, ob)):
                stride = 2 if reduction and i < 2 else 1
                _op(cx, op, widths[i], f, size_in if i < 2 else size_out, stride)
        prev2, prev = prev, (cell_width(cell, f), size_out)
        last_reduction = reduction
    cx.linear(prev[0], spec.num_classes)
    return cx.totals()
