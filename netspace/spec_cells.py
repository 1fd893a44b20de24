"""Cell networks (the NASNet search space) described as plain data.

A :class:`CellNetSpec` is the counterpart of :class:`netspace.spec.NetSpec`
for networks built by stacking two searched cells, as in NASNet (Zoph et al.
2018): a *normal* cell that keeps resolution and width, and a *reduction*
cell that halves resolution and doubles width.

A cell has B blocks. Block j (1-based) reads two hidden states, applies an
op to each and combines the two results (NASNet's step 5): by element-wise
addition (``[input_a, op_a, input_b, op_b]``, or ``"add"`` as a fifth
element) or by concatenation along the channels (``"concat"`` as the fifth
element), which makes the block's output 2F wide. A state index names the
input: 0 is the output of the cell before the previous one (h[i-2]), 1 the
previous cell's output (h[i-1]), and k >= 2 the output of block k - 1 of
this cell, so block j may read indices 0..j. Every op maps the state it
reads (F or 2F channels) to F channels; the outputs of blocks that no block
reads are concatenated into the cell's output (so its width is the sum of
their widths, F the cell's filters). Before the blocks, each of the two cell inputs goes
through act, 1x1 conv to F, BN (with stride 2 for h[i-2] when the previous
cell was a reduction cell, so both inputs have the same size). In a
reduction cell the ops reading a cell input (index 0 or 1) have stride 2.

The network: a 3x3 conv + BN stem (``stem_stride`` 2 for ImageNet, 1 for
small images), ``stem_cells`` reduction cells (NASNet's ImageNet stem: two,
with F/4 and F/2 filters), then ``stacks`` stacks of ``repeats`` normal
cells with F, 2F, 4F, ... filters and a reduction cell (2F, 4F, ...) before
every stack but the first; then act, global average pool, dropout, linear.

``drop_path`` is the final probability of ScheduledDropPath: in training,
every op output but the identity's is dropped per sample with probability
``drop_path * (c + 1) / C * t`` in cell c of C, with t the fraction of
training done (set by the training loop through the model's
``set_drop_path_progress``).

This module imports only the standard library and the helpers every spec kind shares (``netspace.spec_base``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from netspace.errors import SpecError
from netspace.spec_base import SMALL_IMAGE_MAX, check_keys, is_int, is_num

# Ops a block may apply to a hidden state (F channels in, F out): the 13 of
# the NASNet paper (Zoph et al. 2018, Section 3), in its order. Layers:
# "identity" (at stride 2: act, 1x1 stride-2 conv, BN); "conv_1xk_kx1": act,
# 1xk conv, kx1 conv, BN (each conv strides along its own axis, so a
# stride-2 op halves the width in the first conv and the height in the
# second); "dil_conv_3x3": act, 3x3 conv with dilation 2, BN; pools are kxk
# with padding k // 2 (the average excludes the padding); "conv_kxk": act,
# kxk conv, BN; "sep_conv_kxk": [act, kxk depthwise, 1x1, BN] twice, the
# first depthwise carrying the stride (the paper's appendix applies every
# separable conv twice).
CELL_OPS = ("identity", "conv_1x3_3x1", "conv_1x7_7x1", "dil_conv_3x3", "avg_pool_3x3", "max_pool_3x3",
            "max_pool_5x5", "max_pool_7x7", "conv_1x1", "conv_3x3", "sep_conv_3x3", "sep_conv_5x5",
            "sep_conv_7x7")
# Kernel of the factorized convs (1xk then kx1).
FACTORIZED_CONVS = {"conv_1x3_3x1": 3, "conv_1x7_7x1": 7}
# How a block combines its two op outputs (the NASNet paper's step 5): element-wise addition, or
# concatenation along the channels. "add" is the default and is not written in a block's tuple.
COMBINES = ("add", "concat")

KIND = "nasnet"

# (input_a, op_a, input_b, op_b) adds; (input_a, op_a, input_b, op_b, "concat") concatenates.
Block = tuple


def _check_cell(cell: Any, where: str) -> tuple[Block, ...]:
    if not isinstance(cell, (list, tuple)) or len(cell) == 0:
        raise SpecError(f"{where}: must be a non-empty list of blocks [input_a, op_a, input_b, op_b]")
    out = []
    for j, block in enumerate(cell, 1):
        if not isinstance(block, (list, tuple)) or len(block) not in (4, 5):
            raise SpecError(f"{where} block {j}: must be [input_a, op_a, input_b, op_b] or "
                            f"[input_a, op_a, input_b, op_b, combine], got {block!r}")
        ia, oa, ib, ob = block[:4]
        how = block[4] if len(block) == 5 else "add"
        if how not in COMBINES:
            raise SpecError(f"{where} block {j}: unknown combine {how!r}; choose one of {', '.join(COMBINES)}")
        for name, idx in (("input_a", ia), ("input_b", ib)):
            if not is_int(idx) or not 0 <= idx <= j:
                raise SpecError(f"{where} block {j}: {name} must be an integer in [0, {j}] "
                                f"(0: h[i-2], 1: h[i-1], k >= 2: block k-1), got {idx!r}")
        for name, op in (("op_a", oa), ("op_b", ob)):
            if op not in CELL_OPS:
                raise SpecError(f"{where} block {j}: unknown {name} {op!r}; choose one of {', '.join(CELL_OPS)}")
        out.append((int(ia), str(oa), int(ib), str(ob)) + (() if how == "add" else (str(how),)))
    return tuple(out)


def combine_of(block: Block) -> str:
    """How ``block`` combines its two op outputs: "add" or "concat"."""
    return block[4] if len(block) == 5 else "add"


def state_widths(cell: tuple[Block, ...], f: int) -> list[int]:
    """Channels of every hidden state of a cell with F = ``f``: the two inputs (after their 1x1 convs),
    then each block's output (F when it adds, 2F when it concatenates)."""
    return [f, f] + [2 * f if combine_of(b) == "concat" else f for b in cell]


def cell_width(cell: tuple[Block, ...], f: int) -> int:
    """Channels of the cell's output: the widths of the blocks no block reads, concatenated."""
    widths = state_widths(cell, f)
    return sum(widths[j + 2] for j in unused_blocks(cell))


def unused_blocks(cell: tuple[Block, ...]) -> list[int]:
    """0-based indices of the blocks no block reads: their outputs form the cell's output."""
    read = {i for block in cell for i in (block[0], block[2])}
    return [j for j in range(len(cell)) if j + 2 not in read]


@dataclass(frozen=True)
class CellNetSpec:
    """A NASNet-style network: normal and reduction cells stacked; see the module docstring."""

    normal: tuple[Block, ...]
    reduction: tuple[Block, ...]
    filters: int = 16
    repeats: int = 2
    stacks: int = 3
    stem_width: int = 48
    stem_stride: int = 1
    stem_cells: int = 0
    num_classes: int = 1000
    in_channels: int = 3
    resolution: int = 224
    dropout: float = 0.0
    drop_path: float = 0.0
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "normal", _check_cell(self.normal, "normal cell"))
        object.__setattr__(self, "reduction", _check_cell(self.reduction, "reduction cell"))
        for key in ("filters", "repeats", "stacks", "stem_width", "num_classes", "in_channels", "resolution"):
            v = getattr(self, key)
            if not is_int(v) or v < 1:
                raise SpecError(f"spec: {key} must be a positive integer, got {v!r}")
        if not is_int(self.stem_cells) or self.stem_cells < 0:
            raise SpecError(f"spec: stem_cells must be an integer >= 0, got {self.stem_cells!r}")
        if self.filters % (2 ** self.stem_cells):
            raise SpecError(f"spec: filters {self.filters} must be divisible by 2^stem_cells = "
                            f"{2 ** self.stem_cells} (the stem cells have filters/4, filters/2, ...)")
        if self.stem_stride not in (1, 2):
            raise SpecError(f"spec: stem_stride must be 1 or 2, got {self.stem_stride!r}")
        for key in ("dropout", "drop_path"):
            v = getattr(self, key)
            if not is_num(v) or not 0.0 <= v < 1.0:
                raise SpecError(f"spec: {key} must be in [0, 1), got {v!r}")
        if not isinstance(self.name, str):
            raise SpecError(f"spec: name must be a string, got {self.name!r}")

    # -- views -------------------------------------------------------------
    @property
    def kind(self) -> str:
        return KIND

    def cells(self) -> list[tuple[bool, int]]:
        """(is_reduction, filters) of every cell, in order."""
        out = [(True, self.filters // 2 ** (self.stem_cells - i)) for i in range(self.stem_cells)]
        for s in range(self.stacks):
            f = self.filters * 2 ** s
            if s:
                out.append((True, f))
            out += [(False, f)] * self.repeats
        return out

    @property
    def total_stride(self) -> int:
        return self.stem_stride * 2 ** (self.stem_cells + self.stacks - 1)

    def replace(self, **changes: Any) -> "CellNetSpec":
        return dataclasses.replace(self, **changes)

    def for_input(self, *, in_channels: int, resolution: int, num_classes: int) -> "CellNetSpec":
        """The same network for another input; images <= 64px get a stride-1 stem (as ``spec.for_input``)."""
        stride = 1 if resolution <= SMALL_IMAGE_MAX else self.stem_stride
        return self.replace(in_channels=in_channels, resolution=resolution, num_classes=num_classes,
                            stem_stride=stride)

    # -- serialization -----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict with ``"kind": "nasnet"``; ``from_dict(to_dict(s)) == s`` exactly."""
        d: dict[str, Any] = {"kind": KIND}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            d[f.name] = [list(b) for b in v] if f.name in ("normal", "reduction") else v
        return d

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CellNetSpec":
        if not isinstance(data, Mapping):
            raise SpecError(f"spec must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        kind = data.pop("kind", KIND)
        if kind != KIND:
            raise SpecError(f"spec: kind {kind!r} is not a cell network; use \"kind\": \"{KIND}\"")
        check_keys(data, cls, "spec")
        missing = [k for k in ("normal", "reduction") if k not in data]
        if missing:
            raise SpecError(f"spec: missing required key(s) {', '.join(missing)} (lists of "
                            "[input_a, op_a, input_b, op_b] blocks)")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "CellNetSpec":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"spec is not valid JSON: {e}") from None
        except RecursionError:
            raise SpecError("spec JSON is nested too deeply to read; a spec is a few levels deep") from None
        return cls.from_dict(data)
