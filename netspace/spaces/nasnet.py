"""The NASNet cell search space (Zoph et al. 2018, section 3).

The search picks a normal cell and a reduction cell of B = 5 blocks each.
Every block chooses two inputs (the two previous cells' outputs, or an
earlier block of the same cell) and an op for each, from ``CELL_OPS``
(identity, 3x3 and 5x5 separable conv, 3x3 average and max pool, 1x1 conv,
3x3 conv, 3x3 dilated conv); the two results are added, and the outputs no
block reads are concatenated (``netspace.spec_cells``). Tokens, in order:
for the normal then the reduction cell, for blocks 1..5: ``input_a``,
``op_a``, ``input_b``, ``op_b`` (40 tokens). Input options of block j are
0 (h[i-2]), 1 (h[i-1]) and 2..j (blocks 1..j-1).

The network around the cells is fixed by the variant:

- ``imagenet`` (NASNet-A Mobile's layout): 3x3 stride-2 stem of 32, two
  stem reduction cells (11 and 22 filters), then 3 stacks of 4 normal cells
  with 44, 88, 176 filters, a reduction cell before the second and third.
- ``small`` (28-32px): 3x3 stride-1 stem of 48, no stem cells, then 3
  stacks of 1 normal cell with 16, 32, 64 filters (reductions between), so
  a 28px input is seen at 28, 14 and 7 px (32px: 32, 16, 8); ``repeats``
  and ``filters`` widen it.

Both use ScheduledDropPath with final probability ``drop_path`` (0 by
default: set it on the space for training with it).

Op set. The NASNet paper (Section 3) lists 13 ops: identity, 1x3 then 3x1
conv, 1x7 then 7x1 conv, 3x3 dilated conv, 3x3 average pool, 3x3, 5x5 and
7x7 max pool, 1x1 conv, 3x3 conv, 3x3, 5x5 and 7x7 separable conv
(:data:`NASNET_PAPER_OPS`). This space draws from the reduced 8-op set
:data:`NASNET_REDUCED_OPS` (``CELL_OPS``, the ops the model builder
implements); the 5 ops missing are the 1x3/3x1 and 1x7/7x1 factorized convs,
the 5x5 and 7x7 max pools and the 7x7 separable conv. The search space is
therefore smaller than the paper's (8^2 instead of 13^2 op pairs per block).
"""

from __future__ import annotations

from typing import Any, Mapping

from netspace.spaces.frame import Frame
from netspace.spaces.samplers import SpaceError
from netspace.spaces.tokens import Token, TokenSpace, option_index
from netspace.spec_cells import CELL_OPS, CellNetSpec

NASNET_PAPER_OPS = ("identity", "conv_1x3_3x1", "conv_1x7_7x1", "dil_conv_3x3", "avg_pool_3x3", "max_pool_3x3",
                    "max_pool_5x5", "max_pool_7x7", "conv_1x1", "conv_3x3", "sep_conv_3x3", "sep_conv_5x5",
                    "sep_conv_7x7")
NASNET_REDUCED_OPS = CELL_OPS  # the 8 of them this space samples; see the module docstring

NUM_BLOCKS = 5
CELL_KINDS = ("normal", "reduction")
SLOTS = ("input_a", "op_a", "input_b", "op_b")

# filters, repeats, stem width, stem cells per variant.
_VARIANT = {"imagenet": (44, 4, 32, 2), "small": (16, 1, 48, 0)}


class NASNetSpace(TokenSpace):
    """Normal and reduction cells of ``blocks`` blocks; params are ``{"normal.block1.op_a": ..., ...}``."""

    def __init__(self, frame: Frame | None = None, *, filters: int | None = None, repeats: int | None = None,
                 blocks: int = NUM_BLOCKS, drop_path: float = 0.0, dropout: float = 0.0) -> None:
        self.name = "NASNet"
        self.frame = frame or Frame()
        f0, r0, stem, stem_cells = _VARIANT[self.frame.variant]
        self.filters = f0 if filters is None else filters
        self.repeats = r0 if repeats is None else repeats
        for key, v in (("filters", self.filters), ("repeats", self.repeats), ("blocks", blocks)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise SpaceError(f"NASNet: {key} must be a positive integer, got {v!r}")
        if self.filters % 2 ** stem_cells:
            raise SpaceError(f"NASNet: filters must be a multiple of {2 ** stem_cells} for the "
                             f"{self.frame.variant} variant's stem cells, got {self.filters}")
        for key, v in (("drop_path", drop_path), ("dropout", dropout)):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= v < 1.0:
                raise SpaceError(f"NASNet: {key} must be in [0, 1), got {v!r}")
        self.blocks = blocks
        self.stem_width, self.stem_cells = stem, stem_cells
        self.drop_path, self.dropout = float(drop_path), float(dropout)
        self._tokens: list[Token] = []
        for cell in CELL_KINDS:
            for j in range(1, blocks + 1):
                inputs = tuple(range(j + 1))
                self._tokens += [(f"{cell}.block{j}.input_a", inputs), (f"{cell}.block{j}.op_a", CELL_OPS),
                                 (f"{cell}.block{j}.input_b", inputs), (f"{cell}.block{j}.op_b", CELL_OPS)]

    def tokens(self) -> list[Token]:
        return list(self._tokens)

    def cell_from_params(self, params: Mapping[str, Any], cell: str) -> tuple[tuple[int, str, int, str], ...]:
        """One cell's blocks ``(input_a, op_a, input_b, op_b)`` from params (already checked)."""
        out = []
        for j in range(1, self.blocks + 1):
            vals = []
            for slot in SLOTS:
                key = f"{cell}.block{j}.{slot}"
                options = tuple(range(j + 1)) if slot.startswith("input") else CELL_OPS
                vals.append(options[option_index(self.name, key, options, params[key])])
            out.append(tuple(vals))
        return tuple(out)

    def to_spec(self, params: Mapping[str, Any]) -> CellNetSpec:
        """The cell network of ``{"normal.block1.input_a": 1, "normal.block1.op_a": "sep_conv_3x3", ...}``."""
        self.check_params(params)
        f = self.frame
        return CellNetSpec(normal=self.cell_from_params(params, "normal"),
                           reduction=self.cell_from_params(params, "reduction"),
                           filters=self.filters, repeats=self.repeats, stacks=3, stem_width=self.stem_width,
                           stem_stride=f.stem_stride, stem_cells=self.stem_cells, num_classes=f.num_classes,
                           in_channels=f.in_channels, resolution=f.resolution, dropout=self.dropout,
                           drop_path=self.drop_path)

    def params_from_cells(self, normal, reduction) -> dict[str, Any]:
        """Params of the given cells (lists of ``[input_a, op_a, input_b, op_b]``)."""
        out: dict[str, Any] = {}
        for cell, blocks in (("normal", normal), ("reduction", reduction)):
            if len(blocks) != self.blocks:
                raise SpaceError(f"NASNet: the {cell} cell needs {self.blocks} blocks, got {len(blocks)}")
            for j, block in enumerate(blocks, 1):
                out.update({f"{cell}.block{j}.{slot}": v for slot, v in zip(SLOTS, block)})
        self.check_params(out)
        return out

    def describe(self) -> dict[str, Any]:
        f = self.frame
        return {
            "name": self.name,
            "kind": "nasnet",
            "blocks": self.blocks,
            "ops": list(CELL_OPS),
            "op_set": "reduced: 8 of the paper's 13 ops",
            "paper_ops_missing": [op for op in NASNET_PAPER_OPS if op not in CELL_OPS],
            "combiner": "add",
            "tokens": len(self._tokens),
            "size": self.space_size(),
            "network": {"filters": self.filters, "repeats": self.repeats, "stacks": 3,
                        "stem": {"kind": "conv3x3+bn", "width": self.stem_width, "stride": f.stem_stride},
                        "stem_cells": self.stem_cells, "drop_path": self.drop_path, "dropout": self.dropout},
            "constraints": ["block j reads h[i-2], h[i-1] or blocks 1..j-1",
                            "unread block outputs are concatenated"],
            "frame": {"variant": f.variant, "resolution": f.resolution, "in_channels": f.in_channels,
                      "num_classes": f.num_classes, "head": "act, average pool, dropout, linear"},
        }

    def __repr__(self) -> str:
        return f"NASNetSpace(variant={self.frame.variant!r}, filters={self.filters}, repeats={self.repeats})"


def nasnet_space(frame: Frame | None = None, **kwargs: Any) -> NASNetSpace:
    """The NASNet cell space for this frame (ImageNet 224px by default)."""
    return NASNetSpace(frame, **kwargs)
