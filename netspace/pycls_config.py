"""Model config files of the reference implementation (pycls YAML, e.g. ``configs/dds_baselines``) as specs.

A pycls config is a YAML mapping of sections (``MODEL``, ``REGNET``,
``ANYNET``, ``RESNET``, ``EN``, ``OPTIM``, ``TRAIN``, ...). Only the
network is read: ``MODEL.TYPE`` (regnet, anynet, resnet, effnet) picks the
section that describes it, ``MODEL.NUM_CLASSES`` the classes, ``TRAIN.IM_SIZE``
the resolution (``TRAIN.DATASET`` tells the CIFAR ResNet from the ImageNet
one). Omitted keys take pycls's defaults (its ``pycls/core/config.py``). The
training sections (``OPTIM``, ``TRAIN``, ``TEST``, ``BN``, ...) are accepted
and not read: a netspace run takes its schedule from its own options. Any
key pycls's model sections do not have, or a model feature netspace cannot
build, is a one-line error naming the key.

Plain ``yaml.safe_load``: reading a config needs no yacs.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Mapping

from netspace.errors import SpecError
from netspace.spaces.regnet import RegNetParams, regnet_spec
from netspace.spec import NetSpec, Stage, Stem

# pycls's defaults of the keys read here (pycls/core/config.py).
DEFAULTS: dict[str, dict[str, Any]] = {
    "MODEL": {"TYPE": "", "DEPTH": 0, "NUM_CLASSES": 10, "LOSS_FUN": "cross_entropy", "ACTIVATION_FUN": "relu",
              "ACTIVATION_INPLACE": True, "SCALING_TYPE": "", "SCALING_FACTOR": 1.0},
    "RESNET": {"TRANS_FUN": "basic_transform", "NUM_GROUPS": 1, "WIDTH_PER_GROUP": 64, "STRIDE_1X1": True},
    "ANYNET": {"STEM_TYPE": "simple_stem_in", "STEM_W": 32, "BLOCK_TYPE": "res_bottleneck_block", "DEPTHS": [],
               "WIDTHS": [], "STRIDES": [], "BOT_MULS": [], "GROUP_WS": [], "HEAD_W": 0, "SE_ON": False,
               "SE_R": 0.25},
    "REGNET": {"STEM_TYPE": "simple_stem_in", "STEM_W": 32, "BLOCK_TYPE": "res_bottleneck_block", "STRIDE": 2,
               "SE_ON": False, "SE_R": 0.25, "DEPTH": 10, "W0": 32, "WA": 5.0, "WM": 2.5, "GROUP_W": 16,
               "BOT_MUL": 1.0, "HEAD_W": 0},
    "EN": {"STEM_W": 32, "DEPTHS": [], "WIDTHS": [], "EXP_RATIOS": [], "SE_R": 0.25, "STRIDES": [], "KERNELS": [],
           "HEAD_W": 1280, "DC_RATIO": 0.0, "DROPOUT_RATIO": 0.0},
}
# Sections and top-level keys of a pycls config that describe training, not the network: accepted, not read
# (TRAIN.IM_SIZE and TRAIN.DATASET excepted).
NOT_READ = frozenset({"BN", "OPTIM", "TRAIN", "TEST", "DATA_LOADER", "CUDNN", "PREC_TIME", "LAUNCH", "FSDP", "LN",
                      "NUM_GPUS", "OUT_DIR", "RNG_SEED", "LOG_DEST", "LOG_PERIOD", "DESC", "VERBOSE", "HOST",
                      "PORT_RANGE", "MAX_GPUS_PER_NODE", "DIST_BACKEND", "DOWNLOAD_CACHE", "CFG_DEST"})
# pycls's stems and blocks -> netspace's (stem kind, stride) and block kind.
STEMS = {"simple_stem_in": ("simple", 2), "res_stem_in": ("resnet", 2), "res_stem_cifar": ("cifar", 1)}
BLOCKS = {"vanilla_block": "vanilla", "res_basic_block": "res_basic", "res_bottleneck_block": "res_bottleneck"}
ACTIVATIONS = {"relu": "relu", "silu": "silu", "swish": "silu"}
# Stage depths of pycls's ImageNet ResNets (MODEL.TYPE resnet), by MODEL.DEPTH.
RESNET_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class _Config:
    """The parsed file: ``get("REGNET", "W0")`` with pycls's default, keys checked, errors naming the file."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data, self.where = data, where

    def fail(self, message: str) -> SpecError:
        return SpecError(f"{self.where}: {message}")

    def get(self, section: str, key: str) -> Any:
        return (self.data.get(section) or {}).get(key, DEFAULTS[section][key])

    def number(self, section: str, key: str, kind: type = float) -> Any:
        value = self.get(section, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise self.fail(f"{section}.{key} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
        return kind(value)

    def flag(self, section: str, key: str) -> bool:
        value = self.get(section, key)
        if not isinstance(value, bool):
            raise self.fail(f"{section}.{key} must be True or False, got {value!r}")
        return value

    def numbers(self, section: str, key: str, n: int | None, kind: type = float) -> list:
        value = self.get(section, key)
        if not isinstance(value, list) or (n is not None and len(value) != n):
            length = "" if n is None else f" of {n} (one per stage)"
            raise self.fail(f"{section}.{key} must be a list{length}, got {value!r}")
        bad = [v for v in value if isinstance(v, bool) or not isinstance(v, (int, float))
               or (kind is int and v != int(v))]
        if bad:
            raise self.fail(f"{section}.{key} must hold {'integers' if kind is int else 'numbers'}, got {value!r}")
        return [kind(v) for v in value]

    def choice(self, section: str, key: str, table: Mapping[str, Any]) -> Any:
        value = self.get(section, key)
        if value not in table:
            raise self.fail(f"{section}.{key} {value!r} is not supported; netspace builds {', '.join(table)}")
        return table[value]


def _check_keys(data: Mapping[str, Any], where: str) -> None:
    for section, value in data.items():
        if section in NOT_READ:
            continue
        if section not in DEFAULTS:
            raise SpecError(f"{where}: unknown key {section!r}; a pycls config has "
                            f"{', '.join(sorted(set(DEFAULTS) | NOT_READ))}")
        if not isinstance(value, Mapping):
            raise SpecError(f"{where}: {section} must be a mapping of keys, got {value!r}")
        for key in value:
            if key not in DEFAULTS[section]:
                raise SpecError(f"{where}: unknown key {section}.{key}; {section} has "
                                f"{', '.join(DEFAULTS[section])}")


def _stem(cfg: _Config, section: str) -> Stem:
    kind, stride = cfg.choice(section, "STEM_TYPE", STEMS)
    return Stem(kind, cfg.number(section, "STEM_W", int), stride)


def _regnet(cfg: _Config, common: dict[str, Any]) -> NetSpec:
    """pycls ``RegNet``: the RegNet paper's widths (Sec. 3.3) from DEPTH, W0, WA, WM, then GROUP_W and BOT_MUL."""
    bot_mul = cfg.number("REGNET", "BOT_MUL")
    if bot_mul <= 0:
        raise cfg.fail(f"REGNET.BOT_MUL must be positive, got {bot_mul!r}")
    se = cfg.number("REGNET", "SE_R") if cfg.flag("REGNET", "SE_ON") else 0.0
    params = RegNetParams(depth=cfg.number("REGNET", "DEPTH", int), w0=cfg.number("REGNET", "W0", int),
                          wa=cfg.number("REGNET", "WA"), wm=cfg.number("REGNET", "WM"),
                          group_width=cfg.number("REGNET", "GROUP_W", int),
                          bottleneck_ratio=1.0 / bot_mul, se_ratio=se)
    block = cfg.choice("REGNET", "BLOCK_TYPE", BLOCKS)
    if block != "res_bottleneck":
        raise cfg.fail(f"REGNET.BLOCK_TYPE {cfg.get('REGNET', 'BLOCK_TYPE')!r}: a RegNet is built of "
                       f"res_bottleneck_block; use MODEL.TYPE anynet for other blocks")
    stride = cfg.number("REGNET", "STRIDE", int)
    stages = regnet_spec(params).stages
    return NetSpec(stem=_stem(cfg, "REGNET"), stages=tuple(dataclasses.replace(s, stride=stride) for s in stages),
                   head_width=cfg.number("REGNET", "HEAD_W", int), **common)


def _anynet(cfg: _Config, common: dict[str, Any]) -> NetSpec:
    """pycls ``AnyNet``: per-stage DEPTHS, WIDTHS, STRIDES, BOT_MULS, GROUP_WS of one block type."""
    depths = cfg.numbers("ANYNET", "DEPTHS", None, int)
    if not depths:
        raise cfg.fail("ANYNET.DEPTHS is empty; give one depth per stage")
    n = len(depths)
    widths = cfg.numbers("ANYNET", "WIDTHS", n, int)
    strides = cfg.numbers("ANYNET", "STRIDES", n, int)
    block = cfg.choice("ANYNET", "BLOCK_TYPE", BLOCKS)
    stages = []
    if block == "res_bottleneck":
        bot_muls = cfg.numbers("ANYNET", "BOT_MULS", n)
        group_ws = cfg.numbers("ANYNET", "GROUP_WS", n, int)
        se = cfg.number("ANYNET", "SE_R") if cfg.flag("ANYNET", "SE_ON") else 0.0
        for d, w, s, m, g in zip(depths, widths, strides, bot_muls, group_ws):
            if m <= 0:
                raise cfg.fail(f"ANYNET.BOT_MULS must be positive, got {m!r}")
            stages.append(Stage(block, d, w, s, bottleneck_ratio=1.0 / m, group_width=g, se_ratio=se))
    else:  # pycls's vanilla and basic blocks ignore BOT_MULS, GROUP_WS and SE
        stages = [Stage(block, d, w, s) for d, w, s in zip(depths, widths, strides)]
    return NetSpec(stem=_stem(cfg, "ANYNET"), stages=tuple(stages), head_width=cfg.number("ANYNET", "HEAD_W", int),
                   **common)


def _resnet(cfg: _Config, common: dict[str, Any]) -> NetSpec:
    """pycls ``ResNet``: the CIFAR ResNet-(6n+2) (TRAIN.DATASET cifar10), else ImageNet ResNet/ResNeXt-50/101/152."""
    depth = cfg.number("MODEL", "DEPTH", int)
    transform = cfg.get("RESNET", "TRANS_FUN")
    if "cifar" in str((cfg.data.get("TRAIN") or {}).get("DATASET", "")):
        if transform != "basic_transform":
            raise cfg.fail(f"RESNET.TRANS_FUN {transform!r}: pycls's CIFAR ResNet uses basic_transform")
        if depth < 8 or (depth - 2) % 6:
            raise cfg.fail(f"MODEL.DEPTH must be 6n+2 (e.g. 20, 56, 110) for the CIFAR ResNet, got {depth}")
        n = (depth - 2) // 6
        stages = tuple(Stage("res_basic", n, 16 * 2**i, 1 if i == 0 else 2) for i in range(3))
        return NetSpec(stem=Stem("cifar", 16, 1), stages=stages, **common)
    if depth not in RESNET_DEPTHS:
        raise cfg.fail(f"MODEL.DEPTH {depth}: pycls's ImageNet ResNet has depth {', '.join(map(str, RESNET_DEPTHS))}")
    if transform != "bottleneck_transform":
        raise cfg.fail(f"RESNET.TRANS_FUN {transform!r}: pycls's ImageNet ResNet needs bottleneck_transform")
    if cfg.flag("RESNET", "STRIDE_1X1"):
        raise cfg.fail("RESNET.STRIDE_1X1 True (stride in the first 1x1 conv) is not a netspace block; "
                       "set it False (stride in the 3x3 conv)")
    groups, per_group = cfg.number("RESNET", "NUM_GROUPS", int), cfg.number("RESNET", "WIDTH_PER_GROUP", int)
    stages = []
    for i, d in enumerate(RESNET_DEPTHS[depth]):
        inner, width = groups * per_group * 2**i, 256 * 2**i
        stages.append(Stage("res_bottleneck", d, width, 1 if i == 0 else 2, bottleneck_ratio=width / inner,
                            group_width=inner // groups))
    return NetSpec(stem=Stem("resnet", 64, 2), stages=tuple(stages), **common)


def _effnet(cfg: _Config, common: dict[str, Any]) -> NetSpec:
    """pycls ``EffNet``: MBConv stages from EN.DEPTHS, WIDTHS, STRIDES, KERNELS, EXP_RATIOS, SE_R."""
    depths = cfg.numbers("EN", "DEPTHS", None, int)
    if not depths:
        raise cfg.fail("EN.DEPTHS is empty; give one depth per stage")
    n = len(depths)
    se = cfg.number("EN", "SE_R")
    stages = tuple(Stage("mbconv", d, w, s, kernel=k, expansion=float(e), se_ratio=se) for d, w, s, k, e in zip(
        depths, cfg.numbers("EN", "WIDTHS", n, int), cfg.numbers("EN", "STRIDES", n, int),
        cfg.numbers("EN", "KERNELS", n, int), cfg.numbers("EN", "EXP_RATIOS", n)))
    return NetSpec(stem=Stem("simple", cfg.number("EN", "STEM_W", int), 2), stages=stages,
                   head_width=cfg.number("EN", "HEAD_W", int), dropout=cfg.number("EN", "DROPOUT_RATIO"),
                   drop_connect=cfg.number("EN", "DC_RATIO"), **common)


MODEL_TYPES: dict[str, Callable[[_Config, dict[str, Any]], NetSpec]] = {
    "regnet": _regnet, "anynet": _anynet, "resnet": _resnet, "effnet": _effnet}


def spec_from_pycls(data: Any, *, where: str = "<pycls config>", name: str = "") -> NetSpec:
    """The network a parsed pycls config (a dict, as ``yaml.safe_load`` gives it) describes."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: a pycls config is a YAML mapping of sections (MODEL, REGNET, ...), "
                        f"got {type(data).__name__}")
    _check_keys(data, where)
    cfg = _Config(data, where)
    kind = cfg.get("MODEL", "TYPE")
    if kind not in MODEL_TYPES:
        raise cfg.fail(f"MODEL.TYPE {kind!r} is not supported; use one of {', '.join(MODEL_TYPES)}")
    if cfg.get("MODEL", "SCALING_TYPE"):
        raise cfg.fail("MODEL.SCALING_TYPE is not read; scale the model with 'netspace scale' instead")
    train = data.get("TRAIN") or {}
    resolution = train.get("IM_SIZE", 32 if "cifar" in str(train.get("DATASET", "")) else 224)
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise cfg.fail(f"TRAIN.IM_SIZE must be a positive integer, got {resolution!r}")
    common = {"num_classes": cfg.number("MODEL", "NUM_CLASSES", int), "resolution": resolution,
              "activation": cfg.choice("MODEL", "ACTIVATION_FUN", ACTIVATIONS), "name": name}
    try:
        return MODEL_TYPES[kind](cfg, common)
    except SpecError as e:
        message = str(e)
        raise SpecError(message if message.startswith(where) else f"{where}: {message}") from None


def is_pycls_file(path: str | os.PathLike) -> bool:
    """A YAML file, told by its name (``.yaml``/``.yml``)."""
    return os.fspath(path).lower().endswith((".yaml", ".yml"))


def load_pycls_config(path: str | os.PathLike) -> NetSpec:
    """The spec of a pycls model config file, named after the file (``RegNetX-400MF_dds_8gpu``)."""
    import yaml

    where = os.fspath(path)
    try:
        with open(where, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise SpecError(f"cannot read pycls config {where!r}: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise SpecError(f"{where}: not valid YAML{line}; expected a pycls config file") from None
    return spec_from_pycls(data, where=where, name=os.path.splitext(os.path.basename(where))[0])
