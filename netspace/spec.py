"""Networks described as plain data.

A :class:`NetSpec` is a frozen description of a whole network: a stem, a
sequence of stages (each a run of identical blocks, the first of which may
change width and stride), and a head. The module (``netspace.models.build``)
and the cost (``netspace.complexity.complexity``) are both pure functions of
it, so a spec is what gets sampled, stored, compared and deduplicated.

Conventions follow the RegNet paper: a stage's ``bottleneck_ratio`` b gives
the inner width ``round(width / b)`` of a bottleneck block, and
``group_width`` g its channels per group (``None`` means one group).

This module imports only the standard library.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from netspace.errors import SpecError

# Stem kinds. "simple": 3x3 conv, BN, act (stride 2 for ImageNet, 1 for small
# images). "resnet": 7x7 stride-2 conv, BN, act, 3x3 stride-2 max-pool.
# "cifar": 3x3 stride-1 conv, BN, act (the CIFAR ResNet stem).
STEM_KINDS = ("simple", "resnet", "cifar")

# Block kinds. "vanilla": [3x3 conv, BN, act] x2, no residual.
# "res_basic": two 3x3 convs plus a residual. "res_bottleneck": 1x1, 3x3 group
# conv (+ SE), 1x1 plus a residual: the X block (the Y block with SE).
# "mbconv": inverted bottleneck (1x1 expand, kxk depthwise, SE, 1x1 linear
# projection) with an identity skip where shapes allow, as in EfficientNet; at
# expansion 1 it is MobileNet's separable conv (kxk depthwise, SE, 1x1).
# "conv": one kxk conv, BN, act (+ SE), with the same identity skip (MnasNet's
# regular-conv op). ``Stage.skip = False`` drops the skip of these two kinds.
BLOCK_KINDS = ("vanilla", "res_basic", "res_bottleneck", "mbconv", "conv")
# Blocks whose identity skip (stride 1, same width) is optional, and whose
# kernel and SE ratio are free.
MOBILE_BLOCKS = ("mbconv", "conv")

ACTIVATIONS = ("relu", "silu")


@dataclass(frozen=True)
class Stem:
    """The first layer(s) of the network."""

    kind: str = "simple"
    width: int = 32
    stride: int = 2

    @property
    def total_stride(self) -> int:
        """Downsampling of the whole stem (the ResNet stem's max-pool adds 2)."""
        return self.stride * 2 if self.kind == "resnet" else self.stride


@dataclass(frozen=True)
class Stage:
    """A run of ``depth`` blocks with the same output width.

    The first block takes the previous stage's width and applies ``stride``;
    the rest keep width and resolution.
    """

    block: str
    depth: int
    width: int
    stride: int = 2
    bottleneck_ratio: float = 1.0
    group_width: int | None = None
    se_ratio: float = 0.0
    kernel: int = 3
    expansion: float = 1.0
    skip: bool = True

    @property
    def bottleneck_width(self) -> int:
        """Inner width of a bottleneck block: round(width / b), half to even."""
        return int(round(self.width / self.bottleneck_ratio))

    @property
    def groups(self) -> int:
        """Number of groups of the 3x3 conv of a bottleneck block."""
        if self.group_width is None:
            return 1
        return self.bottleneck_width // self.group_width


def stage_summary(stage: Stage) -> dict[str, Any]:
    """A stage as ``netspace info --json`` and ``netspace sample`` print it."""
    out: dict[str, Any] = {"block": stage.block, "depth": stage.depth, "width": stage.width, "stride": stage.stride,
                           "group_width": stage.group_width, "bottleneck_ratio": stage.bottleneck_ratio,
                           "se_ratio": stage.se_ratio}
    if stage.block in ("mbconv", "conv"):
        out.update(kernel=stage.kernel, expansion=stage.expansion, skip=stage.skip)
    return out


@dataclass(frozen=True)
class NetSpec:
    """A whole network: stem, stages, head, and the input it expects."""

    stem: Stem
    stages: tuple[Stage, ...]
    num_classes: int = 1000
    in_channels: int = 3
    resolution: int = 224
    head_width: int = 0
    activation: str = "relu"
    dropout: float = 0.0
    drop_connect: float = 0.0
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.stages, list):
            object.__setattr__(self, "stages", tuple(self.stages))
        _validate(self)

    # -- views -------------------------------------------------------------
    @property
    def depths(self) -> list[int]:
        return [s.depth for s in self.stages]

    @property
    def widths(self) -> list[int]:
        return [s.width for s in self.stages]

    @property
    def depth(self) -> int:
        """Total number of blocks."""
        return sum(s.depth for s in self.stages)

    @property
    def total_stride(self) -> int:
        stride = self.stem.total_stride
        for s in self.stages:
            stride *= s.stride
        return stride

    def block_widths(self) -> list[int]:
        """Output width of every block, in order (the paper's per-block w_j)."""
        return [s.width for s in self.stages for _ in range(s.depth)]

    def replace(self, **changes: Any) -> "NetSpec":
        return dataclasses.replace(self, **changes)

    # -- serialization -----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; ``from_dict(to_dict(s)) == s`` exactly."""
        d = dataclasses.asdict(self)
        # ``skip`` is written only when off, so specs without it keep their stored form.
        d["stages"] = [{k: v for k, v in s.items() if k != "skip" or v is not True} for s in d["stages"]]
        return d

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "NetSpec":
        if not isinstance(data, Mapping):
            raise SpecError(f"spec must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        _check_keys(data, cls, "spec")
        if "stem" not in data or "stages" not in data:
            missing = [k for k in ("stem", "stages") if k not in data]
            raise SpecError(f"spec: missing required key(s) {', '.join(missing)}")
        stem = data["stem"]
        if not isinstance(stem, Mapping):
            raise SpecError("spec: 'stem' must be an object like {\"kind\": \"simple\", \"width\": 32, \"stride\": 2}")
        _check_keys(stem, Stem, "stem")
        data["stem"] = Stem(**stem)
        stages = data["stages"]
        if not isinstance(stages, (list, tuple)):
            raise SpecError("spec: 'stages' must be a list of stage objects")
        parsed = []
        for i, st in enumerate(stages, 1):
            if not isinstance(st, Mapping):
                raise SpecError(f"stage {i}: must be an object, got {type(st).__name__}")
            _check_keys(st, Stage, f"stage {i}")
            if "block" not in st or "depth" not in st or "width" not in st:
                raise SpecError(f"stage {i}: 'block', 'depth' and 'width' are required")
            parsed.append(Stage(**st))
        data["stages"] = tuple(parsed)
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "NetSpec":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"spec is not valid JSON: {e}") from None
        return cls.from_dict(data)


def _check_keys(data: Mapping[str, Any], klass: type, where: str) -> None:
    allowed = {f.name for f in dataclasses.fields(klass)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _validate(spec: NetSpec) -> None:
    stem = spec.stem
    if not isinstance(stem, Stem):
        raise SpecError("spec: 'stem' must be a Stem")
    if stem.kind not in STEM_KINDS:
        raise SpecError(f"stem: unknown kind {stem.kind!r}; choose one of {', '.join(STEM_KINDS)}")
    if not _is_int(stem.width) or stem.width < 1:
        raise SpecError(f"stem: width must be a positive integer, got {stem.width!r}")
    if stem.stride not in (1, 2):
        raise SpecError(f"stem: stride must be 1 or 2, got {stem.stride!r}")
    if stem.kind == "cifar" and stem.stride != 1:
        raise SpecError("stem: the 'cifar' stem has stride 1; use kind 'simple' for stride 2")
    for name in ("num_classes", "in_channels", "resolution"):
        v = getattr(spec, name)
        if not _is_int(v) or v < 1:
            raise SpecError(f"spec: {name} must be a positive integer, got {v!r}")
    if not _is_int(spec.head_width) or spec.head_width < 0:
        raise SpecError(f"spec: head_width must be an integer >= 0 (0 = no head conv), got {spec.head_width!r}")
    if spec.activation not in ACTIVATIONS:
        raise SpecError(f"spec: unknown activation {spec.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    for name in ("dropout", "drop_connect"):
        v = getattr(spec, name)
        if not _is_num(v) or not 0.0 <= v < 1.0:
            raise SpecError(f"spec: {name} must be in [0, 1), got {v!r}")
    if len(spec.stages) == 0:
        raise SpecError("spec: a network needs at least one stage")
    for i, st in enumerate(spec.stages, 1):
        _validate_stage(st, i)


def _validate_stage(st: Stage, i: int) -> None:
    where = f"stage {i}"
    if not isinstance(st, Stage):
        raise SpecError(f"{where}: must be a Stage")
    if st.block not in BLOCK_KINDS:
        raise SpecError(f"{where}: unknown block {st.block!r}; choose one of {', '.join(BLOCK_KINDS)}")
    if not _is_int(st.depth) or st.depth < 1:
        raise SpecError(f"{where}: depth must be a positive integer, got {st.depth!r}")
    if not _is_int(st.width) or st.width < 1:
        raise SpecError(f"{where}: width must be a positive integer, got {st.width!r}")
    if st.stride not in (1, 2):
        raise SpecError(f"{where}: stride must be 1 or 2, got {st.stride!r}")
    if not _is_num(st.se_ratio) or not 0.0 <= st.se_ratio <= 1.0:
        raise SpecError(f"{where}: se_ratio must be in [0, 1], got {st.se_ratio!r}")
    if not _is_int(st.kernel) or st.kernel < 1 or st.kernel % 2 == 0:
        raise SpecError(f"{where}: kernel must be an odd positive integer, got {st.kernel!r}")
    if not _is_num(st.bottleneck_ratio) or st.bottleneck_ratio <= 0:
        raise SpecError(f"{where}: bottleneck_ratio must be > 0, got {st.bottleneck_ratio!r}")
    if not _is_num(st.expansion) or st.expansion < 1:
        raise SpecError(f"{where}: expansion must be >= 1, got {st.expansion!r}")
    if st.group_width is not None and (not _is_int(st.group_width) or st.group_width < 1):
        raise SpecError(f"{where}: group_width must be a positive integer or null, got {st.group_width!r}")
    if st.block == "res_bottleneck":
        wb = st.bottleneck_width
        if wb < 1:
            raise SpecError(f"{where}: bottleneck width round({st.width}/{st.bottleneck_ratio}) is 0; lower bottleneck_ratio")
        if st.group_width is not None:
            if st.group_width > wb:
                raise SpecError(
                    f"{where}: group width {st.group_width} exceeds bottleneck width {wb}; use group_width <= {wb}"
                )
            if wb % st.group_width:
                raise SpecError(
                    f"{where}: bottleneck width {wb} is not divisible by group width {st.group_width}"
                )
    else:
        if st.bottleneck_ratio != 1.0:
            raise SpecError(f"{where}: bottleneck_ratio applies only to res_bottleneck blocks, not {st.block!r}")
        if st.group_width is not None:
            raise SpecError(f"{where}: group_width applies only to res_bottleneck blocks, not {st.block!r}")
    if st.block in ("vanilla", "res_basic") and st.se_ratio:
        raise SpecError(f"{where}: se_ratio applies to res_bottleneck and mbconv/conv blocks, not {st.block!r}")
    if st.block != "mbconv" and st.expansion != 1.0:
        raise SpecError(f"{where}: expansion applies only to mbconv blocks, not {st.block!r}")
    if st.block not in MOBILE_BLOCKS and st.kernel != 3:
        raise SpecError(f"{where}: kernel applies only to mbconv and conv blocks (others use 3x3), not {st.block!r}")
    if not isinstance(st.skip, bool):
        raise SpecError(f"{where}: skip must be true or false, got {st.skip!r}")
    if not st.skip and st.block not in MOBILE_BLOCKS:
        raise SpecError(f"{where}: skip=false applies only to mbconv and conv blocks; "
                        f"{st.block!r} blocks have a fixed shortcut")


# Images at or below this size get a stride-1 stem (see ``for_input``).
SMALL_IMAGE_MAX = 64


def for_input(
    spec: NetSpec,
    *,
    in_channels: int,
    resolution: int,
    num_classes: int,
) -> NetSpec:
    """The same network adapted to another input: channels, size, classes.

    For small images (``resolution <= 64``, e.g. 28px Fashion-MNIST or 32px
    CIFAR) the stem is replaced by a 3x3 stride-1 stem of the same width (the
    ResNet 7x7 + max-pool stem becomes the CIFAR stem), so the body sees the
    full image; stage strides are kept. A RegNet at 32px thus ends at 2x2
    (stem 1, four stride-2 stages). Larger inputs keep the stem as it is.
    Other spec types (``CellNetSpec``) adapt themselves the same way.
    """
    if not isinstance(spec, NetSpec):
        return spec.for_input(in_channels=in_channels, resolution=resolution, num_classes=num_classes)
    stem = spec.stem
    if resolution <= SMALL_IMAGE_MAX and stem.stride != 1:
        kind = "cifar" if stem.kind == "resnet" else stem.kind
        stem = Stem(kind=kind, width=stem.width, stride=1)
    return spec.replace(
        stem=stem, in_channels=in_channels, resolution=resolution, num_classes=num_classes
    )


def spec_from_dict(data: Mapping[str, Any]) -> Any:
    """A :class:`NetSpec`, or a ``CellNetSpec`` when ``data["kind"] == "nasnet"``, from its dict."""
    if isinstance(data, Mapping) and "kind" in data:
        from netspace.spec_cells import KIND, CellNetSpec

        if data["kind"] != KIND:
            raise SpecError(f"spec: unknown kind {data['kind']!r}; use \"{KIND}\" for a cell network "
                            "or leave 'kind' out for a stage network")
        return CellNetSpec.from_dict(data)
    return NetSpec.from_dict(data)
