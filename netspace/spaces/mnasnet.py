"""The MnasNet factorized hierarchical search space (Tan et al. 2019, section 4).

A network is a MobileNetV2-like skeleton of seven blocks; each block makes
its own choices, and every layer inside a block is the same:

- conv op: ``conv`` (kxk conv, BN, act), ``sepconv`` (kxk depthwise, BN,
  act, 1x1, BN: an MBConv of expansion 1), ``mbconv3``, ``mbconv6``;
- kernel: 3 or 5;
- SE ratio: 0 or 0.25;
- skip (SkipOp: "pooling, identity residual, or no skip"): ``none``;
  ``identity`` (applied where shapes allow: stride 1 and the same width in
  and out, so never on a block's first layer when it changes width or
  resolution); ``pool``, a shortcut on every layer, the input average-pooled
  to the output's size and, where the width changes, projected by a 1x1 conv
  + BN (the paper names the option without its layers; this reading, and
  its source, ResNet-D's shortcut, are stated at
  :data:`netspace.blocks.base.POOL_SKIP`);
- filters: 0.75, 1.0 or 1.25 times the skeleton width (rounded to a
  multiple of 8, or 4 in the small variant, never below 90% of the value);
- layers: the skeleton count -1, 0 or +1 (a one-layer block at -1 is left
  out; only the stride-1 blocks 1 and 7 have one layer).

The skeleton is MobileNetV2's (width, layers, stride) per block: (16, 1, 1),
(24, 2, 2), (32, 3, 2), (64, 4, 2), (96, 3, 1), (160, 3, 2), (320, 1, 1),
after a 3x3 stride-2 stem of 32 and before a 1x1 head conv of 1280, average
pool and a linear classifier, with ReLU throughout.

Size: a block has 4 x 2 x 2 x 3 x 3 x 3 = 432 choices, the paper's
sub-search-space size S = 432 (Section 4.1, whose example of B = 5 blocks
gives 432^5 ~ 1.5e13, "about 10^13"); the 7 blocks here give 432^7 ~ 2.8e18
token combinations.

Small variant (28-32px): the stem has stride 1 and width 16, block widths
are halved (8, 12, 16, 32, 48, 80, 160) and the head conv has 640 channels;
block strides are kept, so a 28px input is seen at 28, 14, 7, 4 and 2 px
(32px: 32, 16, 8, 4, 2), and a model costs a few to some tens of MFLOPs.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from netspace.blocks import POOL_SKIP
from netspace.spaces.frame import Frame
from netspace.spaces.tokens import Token, TokenSpace, option_index
from netspace.spec import NetSpec, Stage, Stem

# MobileNetV2's skeleton: (width, layers, stride) of the seven blocks.
SKELETON = ((16, 1, 1), (24, 2, 2), (32, 3, 2), (64, 4, 2), (96, 3, 1), (160, 3, 2), (320, 1, 1))
OPS = ("conv", "sepconv", "mbconv3", "mbconv6")
KERNELS = (3, 5)
SE_RATIOS = (0.0, 0.25)
SKIPS = ("none", "identity", "pool")
_SKIP_FIELD = {"none": False, "identity": True, "pool": POOL_SKIP}  # token option -> Stage.skip
FILTER_MULTIPLIERS = (0.75, 1.0, 1.25)
LAYER_DELTAS = (-1, 0, 1)
CHOICES = (("op", OPS), ("kernel", KERNELS), ("se_ratio", SE_RATIOS), ("skip", SKIPS),
           ("filters", FILTER_MULTIPLIERS), ("layers", LAYER_DELTAS))

# Stem width, head width, skeleton width scale and width divisor per variant.
_VARIANT = {"imagenet": (32, 1280, 1.0, 8), "small": (16, 640, 0.5, 4)}


def round_filters(width: float, divisor: int) -> int:
    """``width`` to the nearest multiple of ``divisor``, at least ``divisor`` and at least 90% of it."""
    out = max(divisor, int(width + divisor / 2) // divisor * divisor)
    if out < 0.9 * width:
        out += divisor
    return out


class MnasNetSpace(TokenSpace):
    """MnasNet's per-block choices over the MobileNetV2 skeleton; params are ``{"block3.op": ..., ...}``."""

    def __init__(self, frame: Frame | None = None) -> None:
        self.name = "MnasNet"
        self.frame = frame or Frame()
        stem, head, scale, divisor = _VARIANT[self.frame.variant]
        self.stem_width, self.head_width, self.divisor = stem, head, divisor
        self.skeleton = tuple((int(w * scale), d, s) for w, d, s in SKELETON)
        self._tokens = [(f"block{b}.{key}", options) for b in range(1, len(SKELETON) + 1)
                        for key, options in CHOICES]

    def tokens(self) -> list[Token]:
        return list(self._tokens)

    def to_spec(self, params: Mapping[str, Any]) -> NetSpec:
        """The network of ``{"block1.op": "mbconv6", "block1.kernel": 3, ...}`` (all 42 keys)."""
        self.check_params(params)
        stages = []
        for b, (width, layers, stride) in enumerate(self.skeleton, 1):
            get = {key: options[option_index(self.name, f"block{b}.{key}", options, params[f"block{b}.{key}"])]
                   for key, options in CHOICES}
            depth = layers + get["layers"]
            if depth == 0:
                continue
            op = get["op"]
            kind = "conv" if op == "conv" else "mbconv"
            expansion = {"conv": 1.0, "sepconv": 1.0, "mbconv3": 3.0, "mbconv6": 6.0}[op]
            stages.append(Stage(kind, depth, round_filters(width * get["filters"], self.divisor), stride,
                                se_ratio=float(get["se_ratio"]), kernel=int(get["kernel"]), expansion=expansion,
                                skip=_SKIP_FIELD[get["skip"]]))
        f = self.frame
        return NetSpec(stem=Stem("simple", self.stem_width, f.stem_stride), stages=tuple(stages),
                       num_classes=f.num_classes, in_channels=f.in_channels, resolution=f.resolution,
                       head_width=self.head_width)

    def baseline_params(self) -> dict[str, Any]:
        """The skeleton itself: MBConv6 3x3 everywhere (sepconv first), no SE, identity skips."""
        out: dict[str, Any] = {}
        for b in range(1, len(SKELETON) + 1):
            out.update({f"block{b}.op": "sepconv" if b == 1 else "mbconv6", f"block{b}.kernel": 3,
                        f"block{b}.se_ratio": 0.0, f"block{b}.skip": "identity", f"block{b}.filters": 1.0,
                        f"block{b}.layers": 0})
        return out

    def block_choices(self) -> int:
        """Choices of one block: the product of the option counts (the paper's S = 432)."""
        return math.prod(len(options) for _, options in CHOICES)

    def describe(self) -> dict[str, Any]:
        f = self.frame
        return {
            "name": self.name,
            "kind": "mnasnet",
            "blocks": [{"width": w, "layers": d, "stride": s} for w, d, s in self.skeleton],
            "choices": {key: list(options) for key, options in CHOICES},
            "tokens": len(self._tokens),
            "size": self.space_size(),
            "block_choices": self.block_choices(),
            "constraints": ["every layer of a block is the same",
                            "identity skip only where stride is 1 and width is unchanged",
                            "pool skip on every layer: average pool to the output size, 1x1 conv + BN "
                            "where the width changes",
                            f"filters rounded to multiples of {self.divisor}",
                            "a one-layer block at layers -1 is left out"],
            "frame": {"variant": f.variant, "resolution": f.resolution, "in_channels": f.in_channels,
                      "num_classes": f.num_classes,
                      "stem": {"kind": "simple", "width": self.stem_width, "stride": f.stem_stride},
                      "head": f"1x1 conv to {self.head_width}, average pool + linear", "activation": "relu"},
        }

    def __repr__(self) -> str:
        return f"MnasNetSpace(variant={self.frame.variant!r})"


def mnasnet_space(frame: Frame | None = None) -> MnasNetSpace:
    """The MnasNet space for this frame (ImageNet 224px by default)."""
    return MnasNetSpace(frame)
