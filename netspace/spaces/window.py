"""Complexity windows: ``360M:400M`` -> accept 360e6 <= x <= 400e6.

A window bounds one complexity metric (flops, params or acts) on both sides,
inclusively; either side may be open (``:400M``, ``1G:``). Numbers take an
optional unit suffix k, M, G (or B), T, case-insensitive, optionally followed
by F as in the paper's "400MF": ``0.2G:0.4G``, ``1e6:2e6``, ``360MF:400MF``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Union

import numpy as np

from netspace.spaces.samplers import SpaceError

METRICS = ("flops", "params", "acts")

_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9, "t": 1e12}
_NUMBER = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGbBtT]?)[fF]?\s*$")


@dataclass(frozen=True)
class Window:
    """Inclusive bounds on one metric; ``None`` leaves that side open."""

    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        for side in (self.low, self.high):
            if side is not None and (not math.isfinite(side) or side < 0):
                raise SpaceError(f"window bound {side!r} must be a finite number >= 0")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise SpaceError(f"window {self}: low exceeds high; write LOW:HIGH with LOW <= HIGH")

    def mask(self, values: np.ndarray) -> np.ndarray:
        ok = np.ones(values.shape, dtype=bool)
        if self.low is not None:
            ok &= values >= self.low
        if self.high is not None:
            ok &= values <= self.high
        return ok

    def contains(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def widened(self, factor: float = 2.0) -> "Window":
        """A window ``factor`` times wider around the same centre (for error hints)."""
        if self.low is None or self.high is None:
            return Window(None if self.low is None else self.low / factor,
                          None if self.high is None else self.high * factor)
        mid, half = (self.low + self.high) / 2, (self.high - self.low) / 2 * factor
        half = max(half, mid * 0.05 * factor)
        return Window(max(0.0, mid - half), mid + half)

    def __str__(self) -> str:
        return f"{format_count(self.low)}:{format_count(self.high)}"


def format_count(x: float | None) -> str:
    """360000000 -> '360M'; None -> '' (an open side)."""
    if x is None:
        return ""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.6g}{unit}"
    return f"{x:.6g}"


def parse_count(text: str, *, what: str = "number") -> float:
    """``"360M"`` -> 360e6, with an error that shows the accepted forms."""
    m = _NUMBER.match(text)
    if not m:
        raise SpaceError(f"{what}: cannot read {text.strip()!r} as a count; write e.g. 360M, 0.4G, 1e6 or 2500k")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


def parse_window(text: str, *, metric: str = "window") -> Window:
    """``"360M:400M"`` / ``":400M"`` / ``"1e6:2e6"`` -> Window."""
    if not isinstance(text, str):
        raise SpaceError(f"{metric} window must be a string like '360M:400M', got {type(text).__name__}")
    if text.count(":") != 1:
        raise SpaceError(f"{metric} window {text!r}: expected LOW:HIGH (e.g. 360M:400M, :400M or 1G:)")
    lo_text, hi_text = text.split(":")
    lo = parse_count(lo_text, what=f"{metric} window {text!r}") if lo_text.strip() else None
    hi = parse_count(hi_text, what=f"{metric} window {text!r}") if hi_text.strip() else None
    if lo is None and hi is None:
        raise SpaceError(f"{metric} window {text!r} bounds nothing; give at least one side, e.g. :400M")
    if lo is not None and hi is not None and lo > hi:
        raise SpaceError(f"{metric} window {text!r}: low {format_count(lo)} exceeds high {format_count(hi)}")
    return Window(lo, hi)


WindowLike = Union[Window, str, tuple, list, None]


def as_window(value: WindowLike, metric: str) -> Window | None:
    """Accept a Window, a ``"LOW:HIGH"`` string or a ``(low, high)`` pair (None = open)."""
    if value is None or isinstance(value, Window):
        return value
    if isinstance(value, str):
        return parse_window(value, metric=metric)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        sides = []
        for v in value:
            if v is None or (isinstance(v, str) and not v.strip()):
                sides.append(None)
            elif isinstance(v, str):
                sides.append(parse_count(v, what=f"{metric} window"))
            elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                sides.append(float(v))
            else:
                raise SpaceError(f"{metric} window bound {v!r} must be a number, a string like '400M', or None")
        if sides == [None, None]:
            raise SpaceError(f"{metric} window {tuple(value)} bounds nothing; give at least one side")
        if sides[0] is not None and sides[1] is not None and sides[0] > sides[1]:
            raise SpaceError(f"{metric} window {tuple(value)}: low exceeds high")
        return Window(*sides)
    raise SpaceError(f"{metric} window must be 'LOW:HIGH' (e.g. '360M:400M') or a (low, high) pair, got {value!r}")
