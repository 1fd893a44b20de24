"""Networks described as plain data.

A :class:`NetSpec` is a frozen description of a whole network: a stem, a
sequence of stages (each a run of identical blocks, the first of which may
change width and stride), and a head. The module (``netspace.models.build``)
and the cost (``netspace.complexity.complexity``) are both pure functions of
it, so a spec is what gets sampled, stored, compared and deduplicated.

Conventions follow the RegNet paper: a stage's ``bottleneck_ratio`` b gives
the inner width ``round(width / b)`` of a bottleneck block, and
``group_width`` g its channels per group (``None`` means one group).

A stage's ``block`` names a block kind of ``netspace.blocks``, where each
kind declares the fields it reads and its own rules. Other spec kinds (the
cell networks of ``netspace.spec_cells``) are found by the ``"kind"`` key of
their JSON in :data:`SPEC_KINDS`; :func:`for_input` dispatches on the type.

This module imports only the standard library and the stdlib-only
``netspace`` modules it builds on (errors, registry, block kinds, spec kinds).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import singledispatch
from typing import Any, Mapping, Union

from netspace.blocks import BLOCKS, POOL_SKIP
from netspace.errors import SpecError
from netspace.registry import Registry
from netspace.spec_base import SMALL_IMAGE_MAX, check_keys, is_int, is_num
from netspace.spec_cells import KIND as CELL_KIND
from netspace.spec_cells import CellNetSpec

# Stem kinds. "simple": 3x3 conv, BN, act (stride 2 for ImageNet, 1 for small
# images). "resnet": 7x7 stride-2 conv, BN, act, 3x3 stride-2 max-pool.
# "cifar": 3x3 stride-1 conv, BN, act (the CIFAR ResNet stem).
STEM_KINDS = ("simple", "resnet", "cifar")

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
    the rest keep width and resolution. ``block`` names a kind of
    ``netspace.blocks`` ("vanilla", "res_basic", "res_bottleneck": the X/Y
    block, "mbconv", "conv"); the fields after ``stride`` are optional, and
    a kind that does not read one requires its default.

    ``skip`` (mbconv and conv blocks) is the shortcut, MnasNet's SkipOp
    (Tan et al. 2019, Section 4.1): ``True`` an identity residual where shapes
    allow (stride 1, same width), ``False`` none, ``"pool"`` a pooled
    shortcut on every block (see ``netspace.blocks.base.pooled_shortcut``).
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
    skip: bool | str = True

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
    if BLOCKS[stage.block].uses & {"kernel", "expansion", "skip"}:
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
        check_keys(data, cls, "spec")
        if "stem" not in data or "stages" not in data:
            missing = [k for k in ("stem", "stages") if k not in data]
            raise SpecError(f"spec: missing required key(s) {', '.join(missing)}")
        stem = data["stem"]
        if not isinstance(stem, Mapping):
            raise SpecError("spec: 'stem' must be an object like {\"kind\": \"simple\", \"width\": 32, \"stride\": 2}")
        check_keys(stem, Stem, "stem")
        data["stem"] = Stem(**stem)
        stages = data["stages"]
        if not isinstance(stages, (list, tuple)):
            raise SpecError("spec: 'stages' must be a list of stage objects")
        parsed = []
        for i, st in enumerate(stages, 1):
            if not isinstance(st, Mapping):
                raise SpecError(f"stage {i}: must be an object, got {type(st).__name__}")
            check_keys(st, Stage, f"stage {i}")
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
        except RecursionError:
            raise SpecError("spec JSON is nested too deeply to read; a spec is a few levels deep") from None
        return cls.from_dict(data)


def _validate(spec: NetSpec) -> None:
    stem = spec.stem
    if not isinstance(stem, Stem):
        raise SpecError("spec: 'stem' must be a Stem")
    if stem.kind not in STEM_KINDS:
        raise SpecError(f"stem: unknown kind {stem.kind!r}; choose one of {', '.join(STEM_KINDS)}")
    if not is_int(stem.width) or stem.width < 1:
        raise SpecError(f"stem: width must be a positive integer, got {stem.width!r}")
    if stem.stride not in (1, 2):
        raise SpecError(f"stem: stride must be 1 or 2, got {stem.stride!r}")
    if stem.kind == "cifar" and stem.stride != 1:
        raise SpecError("stem: the 'cifar' stem has stride 1; use kind 'simple' for stride 2")
    for name in ("num_classes", "in_channels", "resolution"):
        v = getattr(spec, name)
        if not is_int(v) or v < 1:
            raise SpecError(f"spec: {name} must be a positive integer, got {v!r}")
    if not is_int(spec.head_width) or spec.head_width < 0:
        raise SpecError(f"spec: head_width must be an integer >= 0 (0 = no head conv), got {spec.head_width!r}")
    if spec.activation not in ACTIVATIONS:
        raise SpecError(f"spec: unknown activation {spec.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    for name in ("dropout", "drop_connect"):
        v = getattr(spec, name)
        if not is_num(v) or not 0.0 <= v < 1.0:
            raise SpecError(f"spec: {name} must be in [0, 1), got {v!r}")
    if len(spec.stages) == 0:
        raise SpecError("spec: a network needs at least one stage")
    for i, st in enumerate(spec.stages, 1):
        _validate_stage(st, i)


def _validate_stage(st: Stage, i: int) -> None:
    where = f"stage {i}"
    if not isinstance(st, Stage):
        raise SpecError(f"{where}: must be a Stage")
    if st.block not in BLOCKS:
        raise SpecError(f"{where}: {BLOCKS.unknown(st.block)}")
    if not is_int(st.depth) or st.depth < 1:
        raise SpecError(f"{where}: depth must be a positive integer, got {st.depth!r}")
    if not is_int(st.width) or st.width < 1:
        raise SpecError(f"{where}: width must be a positive integer, got {st.width!r}")
    if st.stride not in (1, 2):
        raise SpecError(f"{where}: stride must be 1 or 2, got {st.stride!r}")
    if not is_num(st.se_ratio) or not 0.0 <= st.se_ratio <= 1.0:
        raise SpecError(f"{where}: se_ratio must be in [0, 1], got {st.se_ratio!r}")
    if not is_int(st.kernel) or st.kernel < 1 or st.kernel % 2 == 0:
        raise SpecError(f"{where}: kernel must be an odd positive integer, got {st.kernel!r}")
    if not is_num(st.bottleneck_ratio) or st.bottleneck_ratio <= 0:
        raise SpecError(f"{where}: bottleneck_ratio must be > 0, got {st.bottleneck_ratio!r}")
    if not is_num(st.expansion) or st.expansion < 1:
        raise SpecError(f"{where}: expansion must be >= 1, got {st.expansion!r}")
    if st.group_width is not None and (not is_int(st.group_width) or st.group_width < 1):
        raise SpecError(f"{where}: group_width must be a positive integer or null, got {st.group_width!r}")
    kind = BLOCKS[st.block]
    kind.check(st, where)
    # A field the kind does not read keeps its default, so one network has one spec.
    for name, note in _OPTIONAL_FIELDS.items():
        if name not in kind.uses and getattr(st, name) != _STAGE_DEFAULTS[name]:
            raise SpecError(f"{where}: {name} applies only to {_kinds_using(name)} blocks{note}, not {st.block!r}")
    if not isinstance(st.skip, bool) and st.skip != POOL_SKIP:
        raise SpecError(f"{where}: skip must be true (identity), false (none) or \"{POOL_SKIP}\", got {st.skip!r}")
    if st.skip is not True and "skip" not in kind.uses:
        raise SpecError(f"{where}: skip={json.dumps(st.skip)} applies only to {_kinds_using('skip')} blocks; "
                        f"{st.block!r} blocks have a fixed shortcut")


# The optional stage fields besides ``skip``, in the order they are checked, with a note for the message.
_OPTIONAL_FIELDS = {"bottleneck_ratio": "", "group_width": "", "se_ratio": "", "expansion": "",
                    "kernel": " (others use 3x3)"}
_STAGE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Stage)}


def _kinds_using(name: str) -> str:
    """The block kinds that read stage field ``name``, as prose: "a", "a and b", "a, b and c"."""
    kinds = [k for k, kind in BLOCKS.items() if name in kind.uses]
    return " and ".join(kinds) if len(kinds) < 3 else f"{', '.join(kinds[:-1])} and {kinds[-1]}"


@singledispatch
def for_input(
    spec: Spec,
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
    Other spec kinds register their own (``CellNetSpec.for_input`` below).
    """
    raise TypeError(f"for_input: expected a network spec, got {type(spec).__name__}")


@for_input.register(NetSpec)
def _(spec: NetSpec, *, in_channels: int, resolution: int, num_classes: int) -> NetSpec:
    stem = spec.stem
    if resolution <= SMALL_IMAGE_MAX and stem.stride != 1:
        kind = "cifar" if stem.kind == "resnet" else stem.kind
        stem = Stem(kind=kind, width=stem.width, stride=1)
    return spec.replace(
        stem=stem, in_channels=in_channels, resolution=resolution, num_classes=num_classes
    )


for_input.register(CellNetSpec, CellNetSpec.for_input)

# Spec kinds besides the stage network, by the "kind" key of their JSON (a stage network has none).
SPEC_KINDS: Registry[type] = Registry("spec kind", SpecError)
SPEC_KINDS.register(CELL_KIND, CellNetSpec)

Spec = Union[NetSpec, CellNetSpec]


def spec_from_dict(data: Mapping[str, Any]) -> Spec:
    """A :class:`NetSpec`, or the spec kind ``data["kind"]`` names (``"nasnet"``: a ``CellNetSpec``), from its dict."""
    if isinstance(data, Mapping) and "kind" in data:
        kind = data["kind"]
        if kind not in SPEC_KINDS:
            raise SpecError(f"spec: unknown kind {kind!r}; use {' or '.join(map(repr, SPEC_KINDS))} "
                            "or leave 'kind' out for a stage network")
        return SPEC_KINDS[kind].from_dict(data)
    return NetSpec.from_dict(data)
