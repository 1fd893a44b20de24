"""One-dimensional distributions a design-space parameter is drawn from.

Four kinds, those of the RegNet paper's reference sweeps (pycls
``sweep/random.py``), each on a finite grid so that samples are exact,
printable numbers (``wa = 36.4``, not ``36.400000000000006``):

- ``uniform``: multiples of ``quantum`` in ``[low, high]``, equally likely.
- ``log_uniform``: ``f`` log-uniform on ``(low - min(q, low/2), high]``, then
  rounded *up* to a multiple of the quantum ``q`` (pycls' convention: the
  low end keeps its share of mass and every value stays in ``[low, high]``).
- ``pow2``: powers of two in ``[low, high]``, equally likely (the paper's
  group widths 1, 2, ..., 32).
- ``choice``: one of ``values``, equally likely (a single value = a constant).

Draws are vectorized: ``sampler.draw(rng, size)`` returns a float64 array.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from netspace.errors import NetspaceError

SAMPLER_KINDS = ("uniform", "log_uniform", "pow2", "choice")
# The most values one sampler's grid may hold: the grid is materialized (for the pmf, for exact ordered
# draws), so a range of billions of steps is refused here instead of allocated.
MAX_GRID = 100_000


class SpaceError(NetspaceError, ValueError):
    """A design space (or a sampling request against one) is ill-formed."""


def _on_grid(k: np.ndarray | float, quantum: float) -> np.ndarray:
    """k * quantum as the nearest double to the decimal value (k / 10, not k * 0.1)."""
    inv = 1.0 / quantum
    if quantum < 1 and abs(inv - round(inv)) < 1e-9:
        return np.asarray(k, dtype=np.float64) / round(inv)
    return np.asarray(k, dtype=np.float64) * quantum


def _is_multiple(x: float, quantum: float) -> bool:
    r = Fraction(str(x)) / Fraction(str(quantum))
    return r.denominator == 1


def _is_pow2(x: float) -> bool:
    return x > 0 and math.log2(x).is_integer()


def sampler_problem(kind: str, low: float, high: float, quantum: float, values: tuple[float, ...] = ()) -> str:
    """What is wrong with these sampler settings, or '' (callers prefix the key)."""
    if kind not in SAMPLER_KINDS:
        return f"unknown sampler {kind!r}; choose {', '.join(SAMPLER_KINDS)}"
    if kind == "choice":
        if len(values) > MAX_GRID:
            return f"choice has {len(values):,} values; at most {MAX_GRID:,}"
        return "" if values else "choice needs a non-empty list of values"
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        return f"range [{low}, {high}] must have low <= high"
    if kind == "pow2":
        return "" if _is_pow2(low) and _is_pow2(high) else f"pow2 range [{low}, {high}] must be powers of two"
    if not (math.isfinite(quantum) and quantum > 0):
        return f"quantum must be > 0, got {quantum}"
    if kind == "log_uniform" and low <= 0:
        return f"log_uniform needs low > 0, got {low}"
    points = (high - low) / quantum + 1
    if points > MAX_GRID:
        return (f"quantum {quantum:g} on range [{low:g}, {high:g}] makes {points:,.0f} grid values; at most "
                f"{MAX_GRID:,} (use a larger quantum or a narrower range)")
    for name, v in (("low", low), ("high", high)):
        if not _is_multiple(v, quantum):
            return f"range {name} {v} is not a multiple of quantum {quantum}"
    return ""


@dataclass(frozen=True)
class Sampler:
    """A distribution over a finite grid of numbers; see the module docstring."""

    kind: str
    low: float = 0.0
    high: float = 0.0
    quantum: float = 1.0
    values: tuple[float, ...] = ()

    @classmethod
    def constant(cls, value: float) -> "Sampler":
        return cls("choice", values=(value,))

    def __post_init__(self) -> None:
        problem = sampler_problem(self.kind, self.low, self.high, self.quantum, self.values)
        if problem:
            raise SpaceError(f"sampler {self.kind}: {problem}")

    def grid(self) -> np.ndarray:
        """Every value the sampler can return, ascending."""
        if self.kind == "choice":
            return np.unique(np.asarray(self.values, dtype=np.float64))
        if self.kind == "pow2":
            e = np.arange(int(math.log2(self.low)), int(math.log2(self.high)) + 1)
            return np.ldexp(1.0, e)
        k0, k1 = round(self.low / self.quantum), round(self.high / self.quantum)
        return _on_grid(np.arange(k0, k1 + 1), self.quantum)

    @property
    def uniform_on_grid(self) -> bool:
        """True when every grid value is equally likely (all kinds but log_uniform)."""
        return self.kind != "log_uniform" and (self.kind != "choice" or len(set(self.values)) == len(self.values))

    def pmf(self) -> np.ndarray:
        """The probability of each ``grid()`` value (same order), in closed form.

        For ``log_uniform`` the value k*q takes the mass of f in ((k-1)q, kq]
        (intersected with the sampled interval), as the ceil quantization in
        ``draw`` gives it; other kinds are uniform (``choice`` counts repeats).
        """
        grid = self.grid()
        if self.kind == "log_uniform":
            q = self.quantum
            a = self.low - min(q, self.low / 2)
            upper = np.minimum(grid, self.high)
            lower = np.maximum(grid - q, a)
            mass = np.log(upper) - np.log(lower)
            return mass / mass.sum()
        if self.kind == "choice":
            values = np.asarray(self.values, dtype=np.float64)
            counts = np.array([(values == v).sum() for v in grid], dtype=np.float64)
            return counts / counts.sum()
        return np.full(len(grid), 1.0 / len(grid))

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """``size`` independent draws, float64."""
        if self.kind == "log_uniform":
            q, lo, hi = self.quantum, self.low, self.high
            f = np.exp(rng.uniform(math.log(lo - min(q, lo / 2)), math.log(hi), size))
            k = np.clip(np.ceil(f / q), round(lo / q), round(hi / q))
            return _on_grid(k, q)
        if self.kind == "choice":
            values = np.asarray(self.values, dtype=np.float64)
            return values[rng.integers(0, len(values), size)]
        grid = self.grid()
        return grid[rng.integers(0, len(grid), size)]

    def describe(self) -> dict[str, Any]:
        if self.kind == "choice":
            if len(self.values) == 1:
                return {"value": _plain(self.values[0])}
            return {"sampler": "choice", "values": [_plain(v) for v in self.values]}
        d: dict[str, Any] = {"sampler": self.kind, "range": [_plain(self.low), _plain(self.high)]}
        if self.kind != "pow2":
            d["quantum"] = _plain(self.quantum)
        return d


def _plain(x: float) -> int | float:
    """A grid number as the JSON reader expects it: 8 not 8.0, 0.25 as is."""
    x = float(x)
    return int(x) if x.is_integer() else x
