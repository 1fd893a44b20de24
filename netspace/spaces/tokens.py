"""Spaces as sequences of categorical decisions, for search strategies.

A search strategy (an RL controller, evolution) sees a space as an ordered
list of tokens, each a name and a tuple of options: ``("block3.op",
("conv", "sepconv", "mbconv3", "mbconv6"))``. An architecture is one option
index per token. Every space offers

- ``tokens() -> list[(name, options)]``;
- ``params_from_tokens(indices) -> dict``: the space's own JSON-able params
  (what ``to_spec`` takes and a sweep stores); raises SpecError when the
  choice is not a member of the space (e.g. an AnyNetX_D stage narrower
  than the one before it);
- ``tokens_from_params(params) -> list[int]``: the inverse (a parameter off
  the token grid maps to the nearest option).

:class:`TokenSpace` is the base of the spaces that are nothing but tokens
(MnasNet, NASNet): their params are ``{token name: option}``, and their
``sample`` draws every token uniformly, builds the spec and computes its
exact complexity one candidate at a time (the architectures are cheap to
cost, and no closed form over a batch is needed).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, Mapping, Sequence

import numpy as np

from netspace.complexity import complexity
from netspace.errors import SpecError
from netspace.spaces.samplers import Sampler, _on_grid
from netspace.spaces.space import DesignSpace, Sample, SampleResult, SamplingError
from netspace.spaces.window import WindowLike

Token = tuple[str, tuple]

# Candidates drawn per batch, and the default give-up bounds of ``TokenSpace.sample`` (a scalar loop
# examines some thousands of candidates a second).
TOKEN_BATCH = 256
TOKEN_FIRST_HIT_BUDGET = 20_000
TOKEN_MAX_CANDIDATES = 1_000_000


def check_indices(name: str, tokens: Sequence[Token], indices: Sequence[int]) -> list[int]:
    """``indices`` as plain ints, one in range per token, or a SpecError naming the first bad one."""
    if isinstance(indices, (str, bytes)) or not hasattr(indices, "__len__"):
        raise SpecError(f"{name}: token indices must be a sequence of {len(tokens)} integers")
    if len(indices) != len(tokens):
        raise SpecError(f"{name}: expected {len(tokens)} token indices (one per token), got {len(indices)}")
    out = []
    for (key, options), i in zip(tokens, indices):
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < len(options):
            raise SpecError(f"{name}: token {key!r} index must be an integer in [0, {len(options) - 1}], got {i!r}")
        out.append(int(i))
    return out


def option_index(name: str, key: str, options: tuple, value: Any) -> int:
    """Index of ``value`` among ``options`` (numbers compared as numbers), or a SpecError."""
    for i, opt in enumerate(options):
        if isinstance(opt, str) or isinstance(value, str):
            if opt == value:
                return i
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
                and not isinstance(opt, bool) and float(opt) == float(value):
            return i
        elif opt is value:
            return i
    shown = ", ".join(map(repr, options))
    raise SpecError(f"{name}: {key}={value!r} is not an option; choose one of {shown}")


def nearest_index(options: Sequence[float], value: float) -> int:
    """Index of the option nearest ``value`` (the lower one on a tie)."""
    diffs = [abs(float(o) - float(value)) for o in options]
    return int(np.argmin(diffs))


# A log-uniform parameter with more grid values than MAX_EXACT_OPTIONS is offered on LOG_GRID_POINTS
# geometrically spaced values: e.g. RegNet's wa, drawn on 8.0..255.9 in steps of 0.1.
MAX_EXACT_OPTIONS = 128  # AnyNetX widths (8..1024 by 8) keep every value
LOG_GRID_POINTS = 32


def sampler_options(sampler: Sampler, integer: bool) -> tuple:
    """The token options of a sampled parameter: its whole grid, or a log grid for a fine log-uniform one."""
    grid = sampler.grid()
    if sampler.kind == "log_uniform" and len(grid) > MAX_EXACT_OPTIONS:
        # Snapped to a round step, about a hundredth of the range (wa to 1, wm to 0.01), if coarser than q.
        # The step is a multiple of the quantum, so every option stays a value the sampler can draw.
        step = 10.0 ** (math.floor(math.log10(sampler.high - sampler.low)) - 2)
        q = sampler.quantum * max(1, round(step / sampler.quantum))
        raw = np.exp(np.linspace(np.log(sampler.low), np.log(sampler.high), LOG_GRID_POINTS))
        k = np.unique(np.round(raw / q))
        grid = np.clip(_on_grid(k, q), sampler.low, sampler.high)
    return tuple(int(v) if integer else float(v) for v in grid)


def grid_index(name: str, key: str, options: tuple, value: Any) -> int:
    """Index of ``value`` among numeric ``options``: exact, else the nearest (off-grid sampled values)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise SpecError(f"{name}: {key} must be a number, got {value!r}")
    for i, opt in enumerate(options):
        if float(opt) == float(value):
            return i
    return nearest_index(options, value)


class TokenSpace(DesignSpace):
    """A space whose params are one option per token, ``{token name: option}``."""

    @abstractmethod
    def tokens(self) -> list[Token]:
        """The ordered categorical decisions: (name, options)."""

    def params_from_tokens(self, indices: Sequence[int]) -> dict[str, Any]:
        """``{token name: chosen option}``; every combination is a member of the space."""
        tokens = self.tokens()
        idx = check_indices(self.name, tokens, indices)
        return {key: options[i] for (key, options), i in zip(tokens, idx)}

    def tokens_from_params(self, params: Mapping[str, Any]) -> list[int]:
        """The option index of every token in ``params``."""
        self.check_params(params)
        return [option_index(self.name, key, options, params[key]) for key, options in self.tokens()]

    def check_params(self, params: Mapping[str, Any]) -> None:
        """A SpecError naming the first missing, unknown or out-of-options key."""
        if not isinstance(params, Mapping):
            raise SpecError(f"{self.name}: params must be an object {{token name: option}}, "
                            f"got {type(params).__name__}")
        tokens = self.tokens()
        names = [k for k, _ in tokens]
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise SpecError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                            f"parameters are the token names ({names[0]}, {names[1]}, ...)")
        missing = [k for k in names if k not in params]
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise SpecError(f"{self.name}: params need {missing[0]!r}{more} (one option per token)")
        for key, options in tokens:
            option_index(self.name, key, options, params[key])

    # A token space draws token indices in batches and costs each candidate exactly, one at a time
    # (its specs need not be stage networks, so there is no vectorized complexity).
    def _draw(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        return {key: rng.integers(0, len(options), n) for key, options in self.tokens()}

    def _params_at(self, cols: dict[str, np.ndarray], i: int) -> dict[str, Any]:
        return self.params_from_tokens([int(cols[key][i]) for key, _ in self.tokens()])

    def sample(self, n: int, *, seed: int = 0, flops: WindowLike = None, params: WindowLike = None,
               acts: WindowLike = None, max_candidates: int | None = None) -> SampleResult:
        """``n`` distinct networks inside the complexity windows, every token drawn uniformly.

        Same seed, same samples; ``sample(k)`` is a prefix of ``sample(n)``.
        Raises SamplingError when ``max_candidates`` draws (default 1M, or 20k
        while none is accepted) do not yield ``n``.
        """
        windows, limit = self._sample_args(n, seed, flops, params, acts, max_candidates, TOKEN_MAX_CANDIDATES)
        rng = np.random.default_rng(seed)
        seen: set = set()
        samples: list[Sample] = []
        tally = {"invalid": 0, "constraints": 0, "window": 0, "duplicate": 0}
        spread = {m: [math.inf, -math.inf] for m in windows}
        candidates = 0
        while len(samples) < n and candidates < limit:
            if max_candidates is None and not samples and candidates >= TOKEN_FIRST_HIT_BUDGET:
                break
            cols = self._draw(rng, TOKEN_BATCH)
            for i in range(TOKEN_BATCH):
                if len(samples) == n or candidates >= limit:
                    break
                candidates += 1
                p = self._params_at(cols, i)
                spec = self.to_spec(p)
                cx = complexity(spec)
                for metric in windows:
                    lo, hi = spread[metric]
                    spread[metric] = [min(lo, cx[metric]), max(hi, cx[metric])]
                if not all(w.contains(cx[m]) for m, w in windows.items()):
                    tally["window"] += 1
                elif spec in seen:
                    tally["duplicate"] += 1
                else:
                    seen.add(spec)
                    samples.append(Sample(p, spec, cx))
        result = SampleResult(samples, candidates, tally, {k: str(w) for k, w in windows.items()}, int(seed))
        if len(samples) < n:
            raise SamplingError(self._shortfall(n, result, windows, spread), result)
        return result

    def space_size(self) -> int:
        """Number of token combinations (distinct architectures can be fewer)."""
        return math.prod(len(options) for _, options in self.tokens())
