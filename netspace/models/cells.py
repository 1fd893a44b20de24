"""NASNet cells and the network that stacks them (see ``netspace.spec_cells``)."""

from __future__ import annotations

import torch
from torch import nn

from netspace.models.layers import DenseConv, bn, conv, drop_connect
from netspace.spec_cells import FACTORIZED_CONVS, CellNetSpec, cell_width, combine_of, state_widths, unused_blocks


def _relu() -> nn.ReLU:
    # Not in place: a cell input feeds several ops, and the first one must not overwrite it.
    return nn.ReLU(inplace=False)


def _project(w: int, f: int, stride: int) -> nn.Sequential:
    """act, 1x1 conv w -> f (with the stride), BN."""
    return nn.Sequential(_relu(), conv(w, f, 1, stride), bn(f))


def cell_op(name: str, f: int, stride: int, w_in: int | None = None) -> nn.Module:
    """One op of a block: ``w_in`` channels in (F unless the state read was concatenated), F out;
    see ``CELL_OPS`` for the layers of each. Identity and pools that must change the width (or, for
    identity, the size) are followed by act, 1x1 conv, BN."""
    w = f if w_in is None else w_in
    if name == "identity":
        if stride == 1 and w == f:
            return nn.Identity()
        return _project(w, f, stride)
    if name.startswith("sep_conv_"):
        k = int(name[-1])
        return nn.Sequential(
            _relu(), conv(w, w, k, stride, groups=w), conv(w, f, 1), bn(f),
            _relu(), conv(f, f, k, groups=f), conv(f, f, 1), bn(f),
        )
    if name in ("conv_1x1", "conv_3x3"):
        return nn.Sequential(_relu(), conv(w, f, int(name[-1]), stride), bn(f))
    if name in FACTORIZED_CONVS:
        k = FACTORIZED_CONVS[name]
        return nn.Sequential(
            _relu(),
            DenseConv(w, f, (1, k), stride=(1, stride), padding=(0, k // 2), bias=False),
            DenseConv(f, f, (k, 1), stride=(stride, 1), padding=(k // 2, 0), bias=False),
            bn(f),
        )
    if name == "dil_conv_3x3":
        return nn.Sequential(_relu(), DenseConv(w, f, 3, stride=stride, padding=2, dilation=2, bias=False), bn(f))
    if name == "avg_pool_3x3":
        pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    elif name.startswith("max_pool_"):
        k = int(name[-1])
        pool = nn.MaxPool2d(k, stride=stride, padding=k // 2)
    else:
        raise ValueError(f"unknown cell op {name!r}")  # the spec validates op names
    return pool if w == f else nn.Sequential(pool, _project(w, f, 1))


class Cell(nn.Module):
    """Blocks of two ops, added or concatenated; the unread block outputs are concatenated."""

    def __init__(self, blocks, reduction: bool, w_prev2: int, w_prev: int, f: int, after_reduction: bool) -> None:
        super().__init__()
        self.pre0 = nn.Sequential(_relu(), conv(w_prev2, f, 1, 2 if after_reduction else 1), bn(f))
        self.pre1 = nn.Sequential(_relu(), conv(w_prev, f, 1), bn(f))
        blocks = tuple(blocks)
        widths = state_widths(blocks, f)
        self.inputs = [(b[0], b[2]) for b in blocks]
        self.concatenates = [combine_of(b) == "concat" for b in blocks]
        self.ops = nn.ModuleList()
        for ia, oa, ib, ob in (b[:4] for b in blocks):
            for i, op in ((ia, oa), (ib, ob)):
                self.ops.append(cell_op(op, f, 2 if reduction and i < 2 else 1, widths[i]))
        self.concat = unused_blocks(blocks)
        self.width = cell_width(blocks, f)
        self.drop_rate = 0.0

    def _path(self, op: nn.Module, x: torch.Tensor) -> torch.Tensor:
        y = op(x)
        if isinstance(op, nn.Identity):
            return y
        return drop_connect(y, self.drop_rate, self.training)

    def forward(self, h_prev2: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(h_prev2), self.pre1(h_prev)]
        for j, (ia, ib) in enumerate(self.inputs):
            a, b = self._path(self.ops[2 * j], states[ia]), self._path(self.ops[2 * j + 1], states[ib])
            states.append(torch.cat([a, b], dim=1) if self.concatenates[j] else a + b)
        return torch.cat([states[j + 2] for j in self.concat], dim=1)


class CellNetwork(nn.Module):
    """A network built from a :class:`CellNetSpec`: stem, cells, head (act, pool, dropout, linear)."""

    def __init__(self, spec: CellNetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.stem = nn.Sequential(conv(spec.in_channels, spec.stem_width, 3, spec.stem_stride), bn(spec.stem_width))
        w_prev2 = w_prev = spec.stem_width
        after_reduction = False
        self.cells = nn.ModuleList()
        for reduction, f in spec.cells():
            cell = Cell(spec.reduction if reduction else spec.normal, reduction, w_prev2, w_prev, f, after_reduction)
            self.cells.append(cell)
            w_prev2, w_prev, after_reduction = w_prev, cell.width, reduction
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(spec.dropout) if spec.dropout > 0 else nn.Identity()
        self.fc = nn.Linear(w_prev, spec.num_classes)
        self.set_drop_path_progress(0.0)

    def set_drop_path_progress(self, fraction: float) -> None:
        """ScheduledDropPath: cell c of C drops paths with probability drop_path * (c + 1) / C * fraction."""
        t = min(max(float(fraction), 0.0), 1.0)
        n = len(self.cells)
        for c, cell in enumerate(self.cells):
            cell.drop_rate = self.spec.drop_path * (c + 1) / n * t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h_prev2 = h_prev = self.stem(x)
        for cell in self.cells:
            h_prev2, h_prev = h_prev, cell(h_prev2, h_prev)
        x = self.pool(self.act(h_prev)).flatten(1)
        return self.fc(self.dropout(x))
