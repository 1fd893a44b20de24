"""The NASNet cell search space (Zoph et al. 2018, section 3).

The search picks a normal cell and a reduction cell of B = 5 blocks each.
Every block makes the paper's five decisions (its steps 1-5): two inputs
(the two previous cells' outputs, or an earlier block of the same cell), an
op for each from the space's op set (below), and how the two results are
combined: element-wise addition or concatenation along the channels. The
outputs no block reads are concatenated (``netspace.spec_cells``). Tokens,
in order: for the normal then the reduction cell, for blocks 1..5:
``input_a``, ``op_a``, ``input_b``, ``op_b``, ``combine`` (50 tokens, the
paper's 2 x 5B predictions). Input options of block j are 0 (h[i-2]),
1 (h[i-1]) and 2..j (blocks 1..j-1).

The paper does not say how an op reads a concatenated (2F-channel) state;
here every op maps its input to F channels: convs take the wider input
directly, a separable conv's first 1x1 maps to F, and identity and pools
are followed by act, 1x1 conv, BN (as identity at stride 2 is).

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

Op sets (``ops=``, :data:`OP_SETS`):

- ``"paper"`` (the default, space ``NASNet``): the 13 ops of the paper's
  Section 3, :data:`NASNET_OPS`: identity, 1x3 then 3x1 conv, 1x7 then 7x1
  conv, 3x3 dilated conv, 3x3 average pool, 3x3, 5x5 and 7x7 max pool, 1x1
  conv, 3x3 conv, 3x3, 5x5 and 7x7 depthwise-separable conv (their layers
  are stated at ``netspace.spec_cells.CELL_OPS``); 13^2 op pairs per block.
- ``"reduced"`` (space ``NASNet-reduced``): :data:`NASNET_REDUCED_OPS`, 8 of
  them (identity, 3x3 and 5x5 separable conv, 3x3 average and max pool, 1x1
  and 3x3 conv, 3x3 dilated conv). This subset is netspace's, not the
  paper's: the paper searches all 13 ops and defines no smaller set. It is
  kept as a named option for a smaller, cheaper space (8^2 op pairs per
  block).

A tuple of op names (a subset of ``CELL_OPS``) gives any other set.

Combines (``combine=``): ``"paper"`` (the default) offers both, as the
paper's controller does; ``"add"`` gives addition only (40 tokens: the
space netspace offered before 2026-12-01, a named option for a cheaper
space whose cells keep the width F at every block).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from netspace.spaces.frame import Frame
from netspace.spaces.samplers import SpaceError
from netspace.spaces.tokens import Token, TokenSpace, option_index
from netspace.spec_cells import CELL_OPS, COMBINES, CellNetSpec

NASNET_OPS = CELL_OPS  # the paper's 13, in its order
NASNET_REDUCED_OPS = ("identity", "sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3",
                      "conv_1x1", "conv_3x3", "dil_conv_3x3")  # netspace's subset; see the module docstring
OP_SETS = {"paper": NASNET_OPS, "reduced": NASNET_REDUCED_OPS}
_SPACE_NAMES = {"paper": "NASNet", "reduced": "NASNet-reduced"}

NUM_BLOCKS = 5
CELL_KINDS = ("normal", "reduction")
SLOTS = ("input_a", "op_a", "input_b", "op_b")
COMBINE_SETS = {"paper": COMBINES, "add": ("add",)}

# filters, repeats, stem width, stem cells per variant.
_VARIANT = {"imagenet": (44, 4, 32, 2), "small": (16, 1, 48, 0)}


class NASNetSpace(TokenSpace):
    """Normal and reduction cells of ``blocks`` blocks; params are ``{"normal.block1.op_a": ..., ...}``."""

    def __init__(self, frame: Frame | None = None, *, filters: int | None = None, repeats: int | None = None,
                 blocks: int = NUM_BLOCKS, drop_path: float = 0.0, dropout: float = 0.0,
                 ops: str | Sequence[str] = "paper", combine: str = "paper") -> None:
        self.ops, self.op_set = _op_set(ops)
        if combine not in COMBINE_SETS:
            raise SpaceError(f"NASNet: unknown combine {combine!r}; choose one of {', '.join(COMBINE_SETS)} "
                             "(paper: add or concat per block; add: addition only)")
        self.combine, self.combines = combine, COMBINE_SETS[combine]
        add_only = (self.op_set, combine) == ("paper", "add")
        self.name = "NASNet-add" if add_only else _SPACE_NAMES.get(self.op_set, "NASNet")
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
                self._tokens += [(f"{cell}.block{j}.input_a", inputs), (f"{cell}.block{j}.op_a", self.ops),
                                 (f"{cell}.block{j}.input_b", inputs), (f"{cell}.block{j}.op_b", self.ops)]
                if len(self.combines) > 1:
                    self._tokens.append((f"{cell}.block{j}.combine", self.combines))

    def tokens(self) -> list[Token]:
        return list(self._tokens)

    def cell_from_params(self, params: Mapping[str, Any], cell: str) -> tuple[tuple, ...]:
        """One cell's blocks ``(input_a, op_a, input_b, op_b[, "concat"])`` from params (already checked)."""
        out = []
        for j in range(1, self.blocks + 1):
            vals = []
            for slot in SLOTS:
                key = f"{cell}.block{j}.{slot}"
                options = tuple(range(j + 1)) if slot.startswith("input") else self.ops
                vals.append(options[option_index(self.name, key, options, params[key])])
            key = f"{cell}.block{j}.combine"
            if key in params:
                how = self.combines[option_index(self.name, key, self.combines, params[key])]
                vals += [how] if how != "add" else []
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
        """Params of the given cells (lists of ``[input_a, op_a, input_b, op_b]``, with ``"concat"`` or
        ``"add"`` as a fifth element where the space offers the choice; four elements mean add)."""
        out: dict[str, Any] = {}
        for cell, blocks in (("normal", normal), ("reduction", reduction)):
            if len(blocks) != self.blocks:
                raise SpaceError(f"NASNet: the {cell} cell needs {self.blocks} blocks, got {len(blocks)}")
            for j, block in enumerate(blocks, 1):
                out.update({f"{cell}.block{j}.{slot}": v for slot, v in zip(SLOTS, block)})
                how = block[4] if len(block) > 4 else "add"
                if len(self.combines) > 1 or how != "add":
                    out[f"{cell}.block{j}.combine"] = how
        self.check_params(out)
        return out

    def describe(self) -> dict[str, Any]:
        f = self.frame
        return {
            "name": self.name,
            "kind": "nasnet",
            "blocks": self.blocks,
            "ops": list(self.ops),
            "op_set": {"paper": "the paper's 13 ops (Zoph et al. 2018, Section 3)",
                       "reduced": "reduced: netspace's 8 of the paper's 13 ops"}.get(self.op_set, "custom"),
            "paper_ops_missing": [op for op in NASNET_OPS if op not in self.ops],
            "combine": list(self.combines),
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
        return (f"NASNetSpace(variant={self.frame.variant!r}, filters={self.filters}, repeats={self.repeats}, "
                f"ops={self.op_set!r}, combine={self.combine!r})")


def _op_set(ops: str | Sequence[str]) -> tuple[tuple[str, ...], str]:
    """(op names, set name) of ``ops``: a name of :data:`OP_SETS` or a tuple of op names ("custom")."""
    if isinstance(ops, str):
        if ops not in OP_SETS:
            raise SpaceError(f"NASNet: unknown op set {ops!r}; choose one of {', '.join(OP_SETS)} "
                             "or give a list of op names")
        return OP_SETS[ops], ops
    ops = tuple(ops)
    bad = [op for op in ops if op not in CELL_OPS]
    if bad or not ops or len(set(ops)) != len(ops):
        problem = f"unknown op(s) {', '.join(map(repr, bad))}" if bad else "ops must be distinct and non-empty"
        raise SpaceError(f"NASNet: {problem}; choose from {', '.join(CELL_OPS)}")
    for name, members in OP_SETS.items():
        if ops == members:
            return ops, name
    return ops, "custom"


def nasnet_space(frame: Frame | None = None, **kwargs: Any) -> NASNetSpace:
    """The NASNet cell space for this frame (ImageNet 224px by default), the paper's 13 ops unless ``ops=``."""
    return NASNetSpace(frame, **kwargs)


def nasnet_reduced_space(frame: Frame | None = None, **kwargs: Any) -> NASNetSpace:
    """The NASNet cell space on netspace's 8-op subset (:data:`NASNET_REDUCED_OPS`)."""
    return NASNetSpace(frame, ops="reduced", **kwargs)


def nasnet_add_space(frame: Frame | None = None, **kwargs: Any) -> NASNetSpace:
    """The NASNet cell space with the paper's 13 ops whose blocks only add (``combine="add"``, 40 tokens)."""
    return NASNetSpace(frame, combine="add", **kwargs)
