"""User-defined AnyNet-like design spaces from YAML.

A space file names the number of stages and, for each block parameter, how
it is drawn. Example (an AnyNetX_E-like space with log-uniform widths and
Y blocks)::

    name: my-space                # optional; default: the file name
    stages: 4                     # required: stages of X/Y blocks, each stride 2
    stem_width: 32                # optional (default 32)
    compatibility: reject         # optional: reject (default) | adjust
    params:
      depth:                      # required
        sampler: uniform          # uniform | log_uniform | pow2 | choice
        range: [1, 16]            # inclusive; low and high multiples of quantum
        quantum: 1                # grid step (default 1); not for pow2/choice
        monotone: increasing      # optional: increasing | decreasing (non-strict)
        monotone_stages: 3        # optional: order only the first 3 stages
      width:                      # required
        sampler: log_uniform
        range: [8, 1024]
        quantum: 8
        monotone: increasing
      bottleneck_ratio:           # optional (default 1)
        sampler: choice
        values: [1, 2, 4]
        shared: true              # one draw for all stages
      group_width:                # optional (default: one group)
        sampler: pow2
        range: [1, 32]
        shared: true
      se_ratio:                   # optional (default 0: X blocks)
        value: 0.25               # a constant

Samplers are those of ``netspace.spaces.samplers``; ``shared``, ``monotone``
and ``compatibility`` are explained in ``netspace.spaces.stagewise``. Input
size, channels and classes are not part of the file: they come from the
caller (``load_space(path, resolution=28, in_channels=1, num_classes=10)``),
which also picks the stem variant. Every error names the file and the key::

    space.yaml: params.width.sampler: unknown sampler 'gauss'; choose uniform, log_uniform, pow2, choice

Bounds, checked at load before anything is drawn: at most 8 stages, depth
1..64 blocks per stage, width, group_width and stem_width 1..65536,
bottleneck_ratio 1/64..64, se_ratio 0..1, and at most 100,000 values on one
sampler's grid (``samplers.MAX_GRID``). Sampling itself stops after a bounded
number of candidates (``netspace.spaces.space``).
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

import yaml

from netspace.files import FileError, read_text
from netspace.spaces.frame import Frame
from netspace.spaces.samplers import SAMPLER_KINDS, Sampler, SpaceError, sampler_problem
from netspace.spaces.stagewise import COMPATIBILITY, INTEGER_PARAMS, MONOTONE, STAGE_PARAMS, StageParam, StagewiseSpace

TOP_KEYS = ("name", "stages", "stem_width", "compatibility", "params")
PARAM_KEYS = ("sampler", "range", "quantum", "values", "value", "shared", "monotone", "monotone_stages")
MAX_STAGES = 8
MAX_DEPTH = 64  # blocks per stage (the RegNet paper's AnyNet spaces draw d_i <= 16)
MAX_WIDTH = 2 ** 16  # channels of a stage, of a group and of the stem
MIN_BOTTLENECK, MAX_BOTTLENECK = 2 ** -6, 2 ** 6  # b: the inner width is width / b
# Smallest and largest value of each parameter: bounds of the network, checked before anything is drawn.
_DOMAIN = {"depth": (1, MAX_DEPTH), "width": (1, MAX_WIDTH), "group_width": (1, MAX_WIDTH),
           "bottleneck_ratio": (MIN_BOTTLENECK, MAX_BOTTLENECK), "se_ratio": (0, 1)}


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class _Where:
    """Builds 'file: key.path: message' errors."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, message: str) -> SpaceError:
        return SpaceError(f"{self.source}: {key}: {message}" if key else f"{self.source}: {message}")


def _check_keys(where: _Where, key: str, data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for k in data:
        if k not in allowed:
            path = f"{key}.{k}" if key else str(k)
            raise where.error(path, f"unknown key; allowed: {', '.join(allowed)}")


def _check_bounds(where: _Where, key: str, name: str, values: list[float]) -> None:
    """Every value a setting names inside the parameter's domain, before a grid of them is built."""
    lo, hi = _DOMAIN[name]
    smallest, largest = min(values), max(values)
    if smallest < lo:
        raise where.error(key, f"{name} must be >= {lo:g}, but the sampler can yield {smallest!r}")
    if largest > hi:
        raise where.error(key, f"{name} must be <= {hi:g}, but the sampler can yield {largest!r}")


def _sampler(where: _Where, key: str, name: str, spec: Mapping[str, Any]) -> Sampler:
    if "value" in spec:
        for other in ("sampler", "range", "quantum", "values"):
            if other in spec:
                raise where.error(f"{key}.{other}", "a constant 'value' takes no sampler settings")
        if not _num(spec["value"]):
            raise where.error(f"{key}.value", f"must be a number, got {spec['value']!r}")
        _check_bounds(where, key, name, [float(spec["value"])])
        sampler = Sampler.constant(float(spec["value"]))
    else:
        if "sampler" not in spec:
            raise where.error(key, f"needs 'sampler' ({', '.join(SAMPLER_KINDS)}) or a constant 'value'")
        kind = spec["sampler"]
        if kind not in SAMPLER_KINDS:
            raise where.error(f"{key}.sampler", f"unknown sampler {kind!r}; choose {', '.join(SAMPLER_KINDS)}")
        if kind == "choice":
            for other in ("range", "quantum"):
                if other in spec:
                    raise where.error(f"{key}.{other}", "not used by sampler 'choice' (give 'values')")
            values = spec.get("values")
            if not isinstance(values, list) or not values or not all(_num(v) for v in values):
                raise where.error(f"{key}.values", f"choice needs a non-empty list of numbers, got {values!r}")
            _check_bounds(where, key, name, [float(v) for v in values])
            sampler = Sampler("choice", values=tuple(float(v) for v in values))
        else:
            if "values" in spec:
                raise where.error(f"{key}.values", f"not used by sampler {kind!r} (give 'range')")
            if kind == "pow2" and "quantum" in spec:
                raise where.error(f"{key}.quantum", "not used by sampler 'pow2' (its grid is the powers of two)")
            rng = spec.get("range")
            if not isinstance(rng, list) or len(rng) != 2 or not all(_num(v) for v in rng):
                raise where.error(f"{key}.range", f"expected [low, high], got {rng!r}")
            quantum = spec.get("quantum", 1)
            if not _num(quantum):
                raise where.error(f"{key}.quantum", f"must be a number, got {quantum!r}")
            low, high, quantum = float(rng[0]), float(rng[1]), float(quantum)
            _check_bounds(where, key, name, [low, high])
            problem = sampler_problem(kind, low, high, quantum)
            if problem:
                raise where.error(f"{key}.{'quantum' if problem.startswith('quantum') else 'range'}", problem)
            sampler = Sampler(kind, low, high, quantum)
    grid = sampler.grid()  # at most samplers.MAX_GRID values
    if name in INTEGER_PARAMS and not all(float(v).is_integer() for v in grid):
        raise where.error(key, f"{name} takes whole numbers; the sampler yields {float(grid[0])!r}..{float(grid[-1])!r}")
    _check_bounds(where, key, name, [float(grid[0]), float(grid[-1])])
    return sampler


def _stage_param(where: _Where, name: str, spec: Any, stages: int) -> StageParam:
    key = f"params.{name}"
    if not isinstance(spec, Mapping):
        raise where.error(key, f"expected a mapping with 'sampler' (or 'value'), got {spec!r}")
    _check_keys(where, key, spec, PARAM_KEYS)
    sampler = _sampler(where, key, name, spec)
    shared = spec.get("shared", False)
    if not isinstance(shared, bool):
        raise where.error(f"{key}.shared", f"must be true or false, got {shared!r}")
    monotone = spec.get("monotone")
    if monotone is not None and monotone not in MONOTONE:
        raise where.error(f"{key}.monotone", f"must be {' or '.join(MONOTONE)}, got {monotone!r}")
    if shared and monotone:
        raise where.error(key, "'shared' and 'monotone' exclude each other (a shared value is trivially monotone)")
    k = spec.get("monotone_stages")
    if k is not None:
        if monotone is None:
            raise where.error(f"{key}.monotone_stages", "only applies with 'monotone'")
        if not isinstance(k, int) or isinstance(k, bool) or not 2 <= k <= stages:
            raise where.error(f"{key}.monotone_stages", f"must be an integer in [2, {stages}], got {k!r}")
    return StageParam(sampler, shared=shared, monotone=monotone, monotone_stages=k)


def space_from_dict(data: Any, *, source: str = "<space>", resolution: int = 224, in_channels: int = 3,
                    num_classes: int = 1000, variant: str | None = None) -> StagewiseSpace:
    """A StagewiseSpace from parsed YAML; errors are prefixed with ``source``."""
    where = _Where(source)
    if not isinstance(data, Mapping):
        raise where.error("", f"expected a mapping with keys {', '.join(TOP_KEYS)}, got {type(data).__name__}")
    _check_keys(where, "", data, TOP_KEYS)
    stages = data.get("stages")
    if not isinstance(stages, int) or isinstance(stages, bool) or not 1 <= stages <= MAX_STAGES:
        raise where.error("stages", f"must be an integer in [1, {MAX_STAGES}], got {stages!r}")
    stem_width = data.get("stem_width", 32)
    if not isinstance(stem_width, int) or isinstance(stem_width, bool) or not 1 <= stem_width <= MAX_WIDTH:
        raise where.error("stem_width", f"must be an integer in [1, {MAX_WIDTH}], got {stem_width!r}")
    compatibility = data.get("compatibility", "reject")
    if compatibility not in COMPATIBILITY:
        raise where.error("compatibility", f"must be {' or '.join(COMPATIBILITY)}, got {compatibility!r}")
    params = data.get("params")
    if not isinstance(params, Mapping):
        raise where.error("params", "expected a mapping of parameter name -> sampler (depth and width required)")
    for k in params:
        if k not in STAGE_PARAMS:
            raise where.error(f"params.{k}", f"unknown parameter; choose from {', '.join(STAGE_PARAMS)}")
    for k in ("depth", "width"):
        if k not in params:
            raise where.error(f"params.{k}", "missing; depth and width are required")
    parsed = {k: _stage_param(where, k, v, stages) for k, v in params.items()}
    name = data.get("name", os.path.splitext(os.path.basename(source))[0])
    if not isinstance(name, str) or not name:
        raise where.error("name", f"must be a non-empty string, got {name!r}")
    frame = Frame.for_data(resolution=resolution, in_channels=in_channels, num_classes=num_classes,
                           variant=variant, stem_width=stem_width)
    space = StagewiseSpace(name, stages, parsed, frame, compatibility=compatibility, notes=f"from {source}")
    return space


def space_from_yaml(text: str, *, source: str = "<string>", **frame: Any) -> StagewiseSpace:
    """Parse YAML text (see the module docstring); ``frame`` takes resolution, in_channels, num_classes, variant."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpaceError(f"{source}: not valid YAML: {' '.join(str(e).split())}") from None
    except RecursionError:
        raise SpaceError(f"{source}: YAML nested too deeply to read; a space file is a few levels deep") from None
    return space_from_dict(data, source=source, **frame)


def load_space(path: str | os.PathLike, **frame: Any) -> StagewiseSpace:
    """Read a YAML space file; ``frame`` takes resolution, in_channels, num_classes, variant."""
    try:
        text = read_text(path, "space file")
    except FileError as e:
        raise SpaceError(str(e)) from None
    return space_from_yaml(text, source=os.fspath(path), **frame)
