"""Named models as specs: RegNetX/Y, EfficientNet, ResNet/ResNeXt/Wide ResNet, CIFAR ResNets.

Names are accepted as the papers write them (``RegNetX-200MF``,
``regnety_1.6gf``), case-insensitively, ``-``, ``_`` and spaces being the
same separator; where a separator stands matters, so torchvision's
``regnet_y_1_6gf`` is RegNetY-1.6GF, never 16GF.
The names other libraries give the same models resolve to exactly that
model (:data:`LIBRARY_NAMES`): timm's (``regnetx_002``, ``resnet50``,
``efficientnet_b0``), torchvision's (``regnet_x_400mf``, ``resnext101_32x8d``)
and pycls's (``RegNetX-400MF``, ``R-50-1x64d``, ``X-101-32x4d``, ``EN-B0``).
Where torchvision's architecture differs from the paper's under the same
name (its RegNet width rounding: X-400MF, Y-800MF, Y-8GF), its name builds its
own variant (``regnet_x_400mf`` is not ``RegNetX-400MF``). An unknown name is
refused with the closest names. :func:`resolve` also takes RegNet parameters
(``d=13,w0=24,wa=36.44,wm=2.49,g=8``), a spec JSON file or a pycls model
config YAML (:mod:`netspace.pycls_config`). :func:`table` lists
every model with its complexity and :func:`info` describes one (what
``netspace zoo`` and ``netspace info`` print).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from netspace.complexity import complexity
from netspace.errors import SpecError, UnknownModelError
from netspace.files import FileError, parse_json, read_text
from netspace.registry import Registry
from netspace.spaces.regnet import RegNetParams, regnet_spec
from netspace.spec import NetSpec, Spec, Stage, Stem, for_input, spec_from_dict, stage_summary

# (depth, w0, wa, wm, group width) of the paper's models (its Tables 4 and 5).
_REGNETX = {
    "200MF": (13, 24, 36.44, 2.49, 8),
    "400MF": (22, 24, 24.48, 2.54, 16),
    "600MF": (16, 48, 36.97, 2.24, 24),
    "800MF": (16, 56, 35.73, 2.28, 16),
    "1.6GF": (18, 80, 34.01, 2.25, 24),
    "3.2GF": (25, 88, 26.31, 2.25, 48),
    "4.0GF": (23, 96, 38.65, 2.43, 40),
    "6.4GF": (17, 184, 60.83, 2.07, 56),
    "8.0GF": (23, 80, 49.56, 2.88, 120),
    "12GF": (19, 168, 73.36, 2.37, 112),
    "16GF": (22, 216, 55.59, 2.1, 128),
    "32GF": (23, 320, 69.86, 2.0, 168),
}
_REGNETY = {
    "200MF": (13, 24, 36.44, 2.49, 8),
    "400MF": (16, 48, 27.89, 2.09, 8),
    "600MF": (15, 48, 32.54, 2.32, 16),
    "800MF": (14, 56, 38.84, 2.4, 16),
    "1.6GF": (27, 48, 20.71, 2.65, 24),
    "3.2GF": (21, 80, 42.63, 2.66, 24),
    "4.0GF": (22, 96, 31.41, 2.24, 64),
    "6.4GF": (25, 112, 33.22, 2.27, 72),
    "8.0GF": (17, 192, 76.82, 2.19, 56),
    "12GF": (19, 168, 73.36, 2.37, 112),
    "16GF": (18, 200, 106.23, 2.48, 112),
    "32GF": (20, 232, 115.89, 2.53, 232),
}
_TIMM_CODE = {"200MF": "002", "400MF": "004", "600MF": "006", "800MF": "008", "1.6GF": "016", "3.2GF": "032",
              "4.0GF": "040", "6.4GF": "064", "8.0GF": "080", "12GF": "120", "16GF": "160", "32GF": "320"}

# EfficientNet-B0 stages: (expansion, kernel, stride, width, depth); stem 32, head 1280.
_EFFNET_B0 = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
              (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
# (width multiplier, depth multiplier, resolution, dropout) of B0..B7.
_EFFNET_SCALES = ((1.0, 1.0, 224, 0.2), (1.0, 1.1, 240, 0.2), (1.1, 1.2, 260, 0.3), (1.2, 1.4, 300, 0.3),
                  (1.4, 1.8, 380, 0.4), (1.6, 2.2, 456, 0.4), (1.8, 2.6, 528, 0.5), (2.0, 3.1, 600, 0.5))


def round_width(width: float, multiplier: float, divisor: int = 8) -> int:
    """EfficientNet channel rounding: nearest multiple of 8, never below 90% of width * multiplier."""
    scaled = width * multiplier
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def round_depth(depth: int, multiplier: float) -> int:
    """EfficientNet depth rounding: the ceiling of depth * multiplier."""
    return int(math.ceil(depth * multiplier))


def efficientnet_spec(width_mult: float, depth_mult: float, resolution: int, dropout: float,
                      *, drop_connect: float = 0.2, num_classes: int = 1000, name: str = "") -> NetSpec:
    """An EfficientNet from B0 scaled by width and depth multipliers (compound scaling)."""
    stages = tuple(
        Stage(block="mbconv", depth=round_depth(d, depth_mult), width=round_width(w, width_mult), stride=s,
              kernel=k, expansion=float(e), se_ratio=0.25)
        for e, k, s, w, d in _EFFNET_B0
    )
    return NetSpec(stem=Stem("simple", round_width(32, width_mult), 2), stages=stages, num_classes=num_classes,
                   resolution=resolution, head_width=round_width(1280, width_mult), activation="silu",
                   dropout=dropout, drop_connect=drop_connect, name=name)


def resnet_spec(depths: tuple[int, ...], *, groups: int = 1, width_per_group: int = 64, name: str = "") -> NetSpec:
    """ImageNet ResNet / ResNeXt with bottleneck blocks (stride in the 3x3 conv)."""
    stages = []
    for i, d in enumerate(depths):
        inner = groups * width_per_group * 2**i
        width = 256 * 2**i
        stages.append(Stage(block="res_bottleneck", depth=d, width=width, stride=1 if i == 0 else 2,
                            bottleneck_ratio=width / inner, group_width=inner // groups))
    return NetSpec(stem=Stem("resnet", 64, 2), stages=tuple(stages), name=name)


def resnet_basic_spec(depths: tuple[int, ...], name: str = "") -> NetSpec:
    """ImageNet ResNet-18/34 with basic blocks."""
    stages = tuple(Stage(block="res_basic", depth=d, width=64 * 2**i, stride=1 if i == 0 else 2)
                   for i, d in enumerate(depths))
    return NetSpec(stem=Stem("resnet", 64, 2), stages=stages, name=name)


def cifar_resnet_spec(n: int, name: str = "") -> NetSpec:
    """The CIFAR ResNet-(6n+2): three stages of n basic blocks, widths 16/32/64, at 32px."""
    stages = tuple(Stage(block="res_basic", depth=n, width=16 * 2**i, stride=1 if i == 0 else 2) for i in range(3))
    return NetSpec(stem=Stem("cifar", 16, 1), stages=stages, num_classes=10, resolution=32, name=name)


def _normalize(name: str) -> str:
    """The key a name is found by: lower case, each run of ``-``, ``_`` or spaces one ``-``.

    Where a separator stands matters, its kind does not, so ``regnet_y_1_6gf``
    (torchvision's RegNetY-1.6GF, an explicit alias) can never be read as
    ``regnety_16gf`` (RegNetY-16GF), nor ``regnet_x_400mf`` as ``RegNetX-400MF``.
    """
    return re.sub(r"[-_ ]+", "-", name.strip().lower())


# Named models by canonical name (and aliases), each a function returning its spec.
MODELS: Registry[Callable[[], NetSpec]] = Registry("model", UnknownModelError, normalize=_normalize,
                                                    instead_of_list="run 'netspace zoo' to list the models")
for _family, _table, _se in (("RegNetX", _REGNETX, 0.0), ("RegNetY", _REGNETY, 0.25)):
    for _flops, (_d, _w0, _wa, _wm, _g) in _table.items():
        _name = f"{_family}-{_flops}"
        MODELS.register(_name, partial(regnet_spec, RegNetParams(depth=_d, w0=_w0, wa=_wa, wm=_wm, group_width=_g,
                                                                  se_ratio=_se), name=_name),
                        aliases=(f"{_family.lower()}_{_TIMM_CODE[_flops]}",))
for _b, (_wm, _dm, _res, _drop) in enumerate(_EFFNET_SCALES):
    MODELS.register(f"EfficientNet-B{_b}",
                    partial(efficientnet_spec, _wm, _dm, _res, _drop, name=f"EfficientNet-B{_b}"))
_RESNET_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
for _depth, _blocks in ((18, (2, 2, 2, 2)), (34, (3, 4, 6, 3))):
    MODELS.register(f"ResNet-{_depth}", partial(resnet_basic_spec, _blocks, name=f"ResNet-{_depth}"))
for _depth, _blocks in _RESNET_DEPTHS.items():
    MODELS.register(f"ResNet-{_depth}", partial(resnet_spec, _blocks, name=f"ResNet-{_depth}"))
    MODELS.register(f"ResNeXt-{_depth}", partial(resnet_spec, _blocks, groups=32, width_per_group=4,
                                                 name=f"ResNeXt-{_depth}"), aliases=(f"ResNeXt-{_depth}-32x4d",))
# ResNeXt-101 at other cardinality x width (the ResNeXt paper's 32x8d; 64x4d), and Wide ResNet-50/101-2
# (Zagoruyko & Komodakis: the bottleneck's inner widths doubled, outer widths kept).
for _groups, _wpg in ((32, 8), (64, 4)):
    _name = f"ResNeXt-101-{_groups}x{_wpg}d"
    MODELS.register(_name, partial(resnet_spec, _RESNET_DEPTHS[101], groups=_groups, width_per_group=_wpg,
                                   name=_name))
for _depth in (50, 101):
    _name = f"Wide-ResNet-{_depth}-2"
    MODELS.register(_name, partial(resnet_spec, _RESNET_DEPTHS[_depth], width_per_group=128, name=_name))
for _depth in (20, 56, 110):
    MODELS.register(f"ResNet-{_depth}", partial(cifar_resnet_spec, (_depth - 2) // 6, name=f"ResNet-{_depth}"))

# torchvision's RegNets whose width rounding (``regnet_spec(rounding="torchvision")``) gives another
# network than the paper's: built under torchvision's name (and timm's name for the same variant).
TORCHVISION_VARIANTS = {"regnet_x_400mf": ("RegNetX", "400MF", "regnetx_004_tv"),
                        "regnet_y_800mf": ("RegNetY", "800MF", "regnety_008_tv"),
                        "regnet_y_8gf": ("RegNetY", "8.0GF", "regnety_080_tv")}
for _name, (_family, _flops, _timm) in TORCHVISION_VARIANTS.items():
    _d, _w0, _wa, _wm, _g = (_REGNETX if _family == "RegNetX" else _REGNETY)[_flops]
    MODELS.register(_name, partial(regnet_spec, RegNetParams(depth=_d, w0=_w0, wa=_wa, wm=_wm, group_width=_g,
                                                              se_ratio=0.25 if _family == "RegNetY" else 0.0),
                                   name=_name, rounding="torchvision"), aliases=(_timm,))


def _torchvision_regnet_name(family: str, flops: str) -> str:
    """torchvision's spelling: RegNetY-1.6GF -> regnet_y_1_6gf, RegNetX-8.0GF -> regnet_x_8gf."""
    return f"regnet_{family[-1].lower()}_{flops.lower().replace('.0', '').replace('.', '_')}"


# Other libraries' names for the models above: library -> {their name: zoo name}. Each is an alias
# of exactly that model (tests/test_names.py checks each against the library's published size).
LIBRARY_NAMES: dict[str, dict[str, str]] = {
    "timm": {
        **{f"{f.lower()}_{_TIMM_CODE[fl]}": f"{f}-{fl}" for f, t in (("RegNetX", _REGNETX), ("RegNetY", _REGNETY))
           for fl in t},
        **{f"resnet{d}": f"ResNet-{d}" for d in (18, 34, 50, 101, 152)},
        **{f"resnext{d}_32x4d": f"ResNeXt-{d}" for d in (50, 101)},
        "resnext101_32x8d": "ResNeXt-101-32x8d", "resnext101_64x4d": "ResNeXt-101-64x4d",
        "wide_resnet50_2": "Wide-ResNet-50-2", "wide_resnet101_2": "Wide-ResNet-101-2",
        **{f"efficientnet_b{b}": f"EfficientNet-B{b}" for b in range(8)},
        **{timm: tv for tv, (_, _, timm) in TORCHVISION_VARIANTS.items()},
    },
    "torchvision": {
        **{_torchvision_regnet_name(f, fl): f"{f}-{fl}" for f, fls in
           (("RegNetX", ("800MF", "1.6GF", "3.2GF", "8.0GF", "16GF", "32GF")),
            ("RegNetY", ("400MF", "1.6GF", "3.2GF", "16GF", "32GF"))) for fl in fls},
        **{tv: tv for tv in TORCHVISION_VARIANTS},
        **{f"resnet{d}": f"ResNet-{d}" for d in (18, 34, 50, 101, 152)},
        "resnext50_32x4d": "ResNeXt-50", "resnext101_32x8d": "ResNeXt-101-32x8d",
        "resnext101_64x4d": "ResNeXt-101-64x4d",
        "wide_resnet50_2": "Wide-ResNet-50-2", "wide_resnet101_2": "Wide-ResNet-101-2",
        **{f"efficientnet_b{b}": f"EfficientNet-B{b}" for b in range(8)},
    },
    "pycls": {
        **{f"{f}-{fl}": f"{f}-{fl}" for f, t in (("RegNetX", _REGNETX), ("RegNetY", _REGNETY)) for fl in t},
        **{f"R-{d}-1x64d": f"ResNet-{d}" for d in _RESNET_DEPTHS},
        **{f"X-{d}-32x4d": f"ResNeXt-{d}" for d in _RESNET_DEPTHS},
        **{f"EN-B{b}": f"EfficientNet-B{b}" for b in range(6)},
    },
}
for _library, _names in LIBRARY_NAMES.items():
    for _alias, _model in _names.items():
        if _alias not in MODELS:
            MODELS.alias(_alias, _model)
        elif MODELS.canonical(_alias) != _model:  # a name may be shared, never with another meaning
            raise ValueError(f"{_library} name {_alias!r} would mean {_model}, but it already names "
                             f"{MODELS.canonical(_alias)}")


def names() -> list[str]:
    """Every canonical zoo name, in table order."""
    return list(MODELS)


def canonical_name(name: str) -> str:
    """The zoo's spelling of ``name``; UnknownModelError with suggestions if absent."""
    return MODELS.canonical(name)


def get(name: str) -> NetSpec:
    """The spec of a named model at its published resolution and class count."""
    return MODELS[name]()


_REGNET_KEYS = {
    "d": "depth", "depth": "depth", "w0": "w0", "wa": "wa", "wm": "wm",
    "g": "group_width", "group_width": "group_width",
    "b": "bottleneck_ratio", "bottleneck_ratio": "bottleneck_ratio",
    "se": "se_ratio", "se_ratio": "se_ratio",
}


def parse_regnet(text: str) -> RegNetParams:
    """``"d=13,w0=24,wa=36.44,wm=2.49,g=8[,b=1][,se=0.25]"`` -> RegNetParams."""
    values: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip().lower()
        if not eq or key not in _REGNET_KEYS:
            raise SpecError(
                f"regnet: cannot read {item!r}; expected key=value with keys d, w0, wa, wm, g, b, se "
                "(e.g. d=13,w0=24,wa=36.44,wm=2.49,g=8)"
            )
        try:
            values[_REGNET_KEYS[key]] = float(raw)
        except ValueError:
            raise SpecError(f"regnet: {key}={raw!r} is not a number") from None
    missing = [k for k in ("depth", "w0", "wa", "wm", "group_width") if k not in values]
    if missing:
        short = {"depth": "d", "group_width": "g"}
        raise SpecError(f"regnet: missing {', '.join(short.get(k, k) for k in missing)} "
                        "(need d, w0, wa, wm, g; e.g. d=13,w0=24,wa=36.44,wm=2.49,g=8)")
    for key in ("depth", "w0", "group_width"):
        if not float(values[key]).is_integer():
            raise SpecError(f"regnet: {key} must be an integer, got {values[key]!r}")
    return RegNetParams(
        depth=int(values["depth"]), w0=int(values["w0"]), wa=values["wa"], wm=values["wm"],
        group_width=int(values["group_width"]), bottleneck_ratio=values.get("bottleneck_ratio", 1.0),
        se_ratio=values.get("se_ratio", 0.0),
    )


def load_spec_file(path: str | os.PathLike) -> NetSpec:
    """A spec from a JSON file: a spec object, or any object with a "spec" key (e.g. result.json)."""
    try:
        data = parse_json(read_text(path, "spec file"), os.fspath(path))
    except FileError as e:
        raise SpecError(str(e)) from None
    if isinstance(data, dict) and "spec" in data and "stages" not in data:
        data = data["spec"]
    try:
        return spec_from_dict(data)
    except SpecError as e:
        raise SpecError(f"{os.fspath(path)}: {e}") from None


def resolve(model: str) -> NetSpec:
    """A spec from a zoo name, RegNet parameters, the path of a spec JSON file or of a pycls model config
    (YAML: ``netspace.pycls_config``)."""
    from netspace.pycls_config import is_pycls_file, load_pycls_config

    if is_pycls_file(model):
        return load_pycls_config(model)
    if model.endswith(".json") or os.path.isfile(model):
        return load_spec_file(model)
    if "=" in model:
        params = parse_regnet(model.removeprefix("regnet:"))
        return regnet_spec(params)
    return get(model)


def table() -> list[dict[str, Any]]:
    """Every named model with its resolution and exact complexity, in table order (``netspace zoo``)."""
    rows = []
    for name in names():
        spec = get(name)
        rows.append({"name": name, "resolution": spec.resolution, **complexity(spec)})
    return rows


@dataclass(frozen=True)
class ModelInfo:
    """One model's structure and complexity (``netspace info``).

    ``stages`` holds one ``spec.stage_summary`` per stage; it is None for a
    cell network (``CellNetSpec``), whose structure is its ``spec``'s cells.
    """

    name: str
    spec: Spec
    complexity: dict[str, int]
    stages: list[dict[str, Any]] | None

    def to_dict(self) -> dict[str, Any]:
        """One JSON-able object: name, input, complexity, (stem, head width, stages,) and the full spec."""
        spec = self.spec.to_dict()
        out = {"name": self.name, "resolution": self.spec.resolution, "num_classes": self.spec.num_classes,
               "in_channels": self.spec.in_channels, **self.complexity}
        if self.stages is not None:
            out.update(stem=spec["stem"], head_width=self.spec.head_width, stages=self.stages)
        return {**out, "spec": spec}


def info(model: str | Spec | None = None, *, regnet: str | None = None, resolution: int | None = None,
         classes: int | None = None, channels: int | None = None) -> ModelInfo:
    """Structure and complexity of one model, optionally adapted to another input (``for_input``).

    Give exactly one of ``model`` (a zoo name, RegNet parameters, a spec JSON
    file or a spec) or ``regnet`` (``"d=13,w0=24,wa=36.44,wm=2.49,g=8"``).
    """
    if (model is None) == (regnet is None):
        raise SpecError("info: give exactly one of MODEL or --regnet PARAMS")
    if regnet is not None:
        spec = regnet_spec(parse_regnet(regnet))
    else:
        spec = resolve(os.fspath(model)) if isinstance(model, (str, os.PathLike)) else model
    for opt, v in (("resolution", resolution), ("classes", classes), ("channels", channels)):
        if v is not None and v < 1:
            raise SpecError(f"info: --{opt} must be a positive integer, got {v}")
    if resolution or classes or channels:
        spec = for_input(spec, in_channels=channels or spec.in_channels, resolution=resolution or spec.resolution,
                         num_classes=classes or spec.num_classes)
    name = spec.name or (os.fspath(model) if model is not None else f"regnet({regnet})")
    stages = [stage_summary(s) for s in spec.stages] if isinstance(spec, NetSpec) else None
    return ModelInfo(name=name, spec=spec, complexity=complexity(spec), stages=stages)
