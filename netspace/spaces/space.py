"""The design-space interface and the constrained sampler every space shares.

A space draws candidate parameters in batches (numpy columns), maps a batch
to stage arrays, evaluates the exact complexity of the whole batch in closed
form (``netspace.spaces.batch``), and keeps the candidates that are valid,
satisfy the space's own constraints and fall inside the requested complexity
windows. Only those are turned into specs, each rebuilt from its params dict
with ``to_spec`` (the scalar reference code) so that a stored params dict
always reproduces the stored spec. Specs seen before in the same call are
skipped, so a sample never holds two equal networks.

Determinism: one ``numpy.random.default_rng(seed)`` stream, batches of a
fixed size, candidates examined in draw order. The same seed gives the same
samples, and ``sample(k)`` is a prefix of ``sample(n)`` for k < n.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np

from netspace.complexity import complexity
from netspace.spaces.batch import StageBatch, batch_complexity
from netspace.spaces.frame import Frame
from netspace.spaces.samplers import SpaceError
from netspace.spaces.window import METRICS, Window, WindowLike, as_window, format_count
from netspace.spec import NetSpec

BATCH_SIZE = 4096


# Without an explicit max_candidates, sampling gives up when the first FIRST_HIT_BUDGET candidates yield
# nothing (an impossible window fails in about a second), and otherwise after MAX_CANDIDATES (a window
# the paper uses for AnyNetX_A accepts ~1 candidate in 1,300, so 1000 samples need ~1.3M candidates).
FIRST_HIT_BUDGET = 1_000_000
MAX_CANDIDATES = 50_000_000
# The most networks one call may ask for: each accepted sample is kept (params, spec, complexity), so this
# bounds the memory a request can take (the paper's largest populations are a few thousand).
MAX_SAMPLES = 100_000


@dataclass(frozen=True)
class Sample:
    """One sampled network: the space's parameters, its spec, its exact complexity."""

    params: dict[str, Any]
    spec: NetSpec
    complexity: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "spec": self.spec.to_dict(), "complexity": self.complexity}


@dataclass(frozen=True)
class SampleResult:
    """The accepted samples and how many candidates it took to find them."""

    samples: list[Sample]
    candidates: int
    rejected: dict[str, int] = field(default_factory=dict)
    windows: dict[str, str] = field(default_factory=dict)
    seed: int = 0

    @property
    def acceptance_rate(self) -> float:
        """Accepted distinct specs per candidate drawn (falls as n grows and repeats become common)."""
        return len(self.samples) / self.candidates if self.candidates else 0.0

    @property
    def hit_rate(self) -> float:
        """Candidates inside the space and the windows per candidate drawn, repeats included.

        A property of the distribution alone (the probability that one draw
        lands in the window), so two samplers of one distribution agree on
        it whatever their n; ``acceptance_rate`` does not.
        """
        hits = len(self.samples) + self.rejected.get("duplicate", 0)
        return hits / self.candidates if self.candidates else 0.0

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __getitem__(self, i: int) -> Sample:
        return self.samples[i]


class SamplingError(SpaceError):
    """Too few candidates satisfied the constraints; ``.result`` holds what was found."""

    def __init__(self, message: str, result: SampleResult) -> None:
        super().__init__(message)
        self.result = result


class DesignSpace(ABC):
    """A set of networks: sample parameters, map them to specs, state the constraints."""

    name: str
    frame: Frame

    @abstractmethod
    def to_spec(self, params: Mapping[str, Any]) -> NetSpec:
        """The network these parameters name (a stored params dict rebuilds its spec)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Parameters, distributions and constraints, as plain data for reports."""

    @abstractmethod
    def sample(self, n: int, *, seed: int = 0, flops: WindowLike = None, params: WindowLike = None,
               acts: WindowLike = None, max_candidates: int | None = None) -> SampleResult:
        """``n`` distinct networks inside the given complexity windows (e.g. ``flops="360M:400M"``)."""

    def _sample_args(self, n: Any, seed: Any, flops: WindowLike, params: WindowLike, acts: WindowLike,
                     max_candidates: int | None, default_limit: int) -> tuple[dict[str, Window], int]:
        """The windows given and the candidate bound, or a SpaceError naming the bad argument."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise SpaceError(f"{self.name}: n must be an integer >= 0, got {n!r}")
        if n > MAX_SAMPLES:
            raise SpaceError(f"{self.name}: at most {MAX_SAMPLES:,} networks per call, got {n:,}; sample in parts "
                             "with different seeds")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise SpaceError(f"{self.name}: seed must be an integer, got {seed!r}")
        windows = {m: w for m, w in zip(METRICS, (as_window(flops, "flops"), as_window(params, "params"),
                                                  as_window(acts, "acts"))) if w is not None}
        limit = default_limit if max_candidates is None else int(max_candidates)
        if limit < 1:
            raise SpaceError(f"{self.name}: max_candidates must be >= 1, got {max_candidates!r}")
        return windows, limit

    def _shortfall(self, n: int, result: SampleResult, windows: Mapping[str, Window],
                   spread: Mapping[str, list[float]]) -> str:
        where = ", ".join(f"{m} {w}" for m, w in windows.items()) or "the space"
        seen = "; ".join(f"{m} of valid candidates ranged {format_count(lo)}..{format_count(hi)}"
                         for m, (lo, hi) in spread.items() if lo <= hi)
        seen = f" ({seen})" if seen else ""
        hint = ", ".join(f"{m}='{w.widened()}'" for m, w in windows.items())
        widen = f"widen the window (e.g. {hint})" if hint else "ask for fewer samples"
        outside = [m for m, (lo, hi) in spread.items() if lo <= hi and
                   ((windows[m].high is not None and windows[m].high < lo) or
                    (windows[m].low is not None and windows[m].low > hi))]
        if outside:
            widen = f"move the {' and '.join(outside)} window into that range"
        if not result.samples:
            return (f"{self.name}: no network in {where} after {result.candidates:,} candidates{seen}; "
                    f"{widen} or raise max_candidates")
        return (f"{self.name}: only {len(result.samples)} of {n} distinct networks in {where} after "
                f"{result.candidates:,} candidates (acceptance rate {result.acceptance_rate:.2e}){seen}; "
                f"{widen}, ask for fewer, or raise max_candidates")


class VectorizedSpace(DesignSpace):
    """A space of stage networks sampled in batches: candidates are drawn as columns and costed as arrays."""

    batch_size: int = BATCH_SIZE

    # -- what a space defines ------------------------------------------------
    @abstractmethod
    def _draw(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """n candidate parameter sets as columns."""

    @abstractmethod
    def _stage_batch(self, cols: dict[str, np.ndarray]) -> tuple[StageBatch, np.ndarray]:
        """Stage arrays of the candidates, and the mask of those that are valid members of the space."""

    @abstractmethod
    def _params_at(self, cols: dict[str, np.ndarray], i: int) -> dict[str, Any]:
        """Candidate i as a plain JSON-able dict that ``to_spec`` accepts."""

    def _complexity_ok(self, batch: StageBatch, cx: Mapping[str, np.ndarray]) -> np.ndarray:
        """Constraints of the space itself on complexity (RegNetX's params/acts limits) for the rows of
        ``batch``, whose complexity in this space's frame is ``cx``; all pass by default."""
        return np.ones(len(cx["flops"]), dtype=bool)

    def _spec_ok(self, spec: NetSpec, cx: Mapping[str, int]) -> bool:
        """``_complexity_ok`` for one spec (the scalar reference path)."""
        return True

    # -- sampling ------------------------------------------------------------
    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        flops: WindowLike = None,
        params: WindowLike = None,
        acts: WindowLike = None,
        max_candidates: int | None = None,
    ) -> SampleResult:
        """``n`` distinct networks inside the given complexity windows (e.g. ``flops="360M:400M"``).

        Raises SamplingError (a NetspaceError) when ``max_candidates`` draws do
        not yield ``n``. By default the bound is 50M draws, and 1M when none
        of those has been accepted (so an impossible window fails fast).
        """
        windows, limit = self._sample_args(n, seed, flops, params, acts, max_candidates, MAX_CANDIDATES)
        rng = np.random.default_rng(seed)
        seen: set[NetSpec] = set()
        samples: list[Sample] = []
        tally = {"invalid": 0, "constraints": 0, "window": 0, "duplicate": 0}
        spread = {m: [math.inf, -math.inf] for m in windows}
        candidates = 0
        while len(samples) < n and candidates < limit:
            if max_candidates is None and not samples and candidates >= FIRST_HIT_BUDGET:
                break
            m = min(self.batch_size, limit - candidates)
            if max_candidates is None and not samples:
                m = min(m, FIRST_HIT_BUDGET - candidates)
            cols = self._draw(rng, m)
            batch, valid = self._stage_batch(cols)
            idx = np.flatnonzero(valid)
            highs = {m: w.high for m, w in windows.items() if w.high is not None}
            cx = batch_complexity(batch if idx.size == m else batch.take(idx), self.frame, upper=highs)
            # Over an upper bound counts as a window rejection whatever else holds (pruned rows carry only a
            # partial, lower-bound complexity); then the lower bounds; the space's own constraints are
            # evaluated only on the rows inside every window (they may cost a second complexity pass).
            over = np.zeros(idx.size, dtype=bool)
            for metric, high in highs.items():
                over |= cx[metric] > high
            in_window = ~over
            for metric, window in windows.items():
                in_window &= window.mask(cx[metric])
            own = np.zeros(idx.size, dtype=bool)
            rows = np.flatnonzero(in_window)
            if rows.size:
                sub = batch.take(idx[rows])
                own[rows] = self._complexity_ok(sub, {k: v[rows] for k, v in cx.items()})
            inside = in_window & own
            cut = m
            for pos in np.flatnonzero(inside):
                i = int(idx[pos])
                sample = self._accept(cols, batch, i, {k: int(v[pos]) for k, v in cx.items()}, windows)
                if sample is None:
                    tally["window"] += 1
                elif sample.spec in seen:
                    tally["duplicate"] += 1
                else:
                    seen.add(sample.spec)
                    samples.append(sample)
                    if len(samples) == n:
                        cut = i + 1
                        break
            # Count only the candidates examined (a final batch may stop part-way).
            used = idx < cut
            tally["invalid"] += cut - int(used.sum())
            tally["window"] += int((~in_window & used).sum())
            tally["constraints"] += int((in_window & ~own & used).sum())
            for metric in windows:
                vals = cx[metric][used]
                if vals.size:
                    spread[metric] = [min(spread[metric][0], int(vals.min())), max(spread[metric][1], int(vals.max()))]
            candidates += cut
        result = SampleResult(samples, candidates, tally, {k: str(w) for k, w in windows.items()}, int(seed))
        if len(samples) < n:
            raise SamplingError(self._shortfall(n, result, windows, spread), result)
        return result

    def _accept(self, cols: dict[str, np.ndarray], batch: StageBatch, i: int, cx: dict[str, int],
                windows: Mapping[str, Window]) -> Sample | None:
        params = self._params_at(cols, i)
        spec = self.to_spec(params)
        if spec.stages != batch.stages(i):
            # The vectorized generator disagreed with the scalar reference (a last-bit difference in a
            # log or power): trust the spec and re-check it with the scalar complexity.
            cx = complexity(spec)
            if not (all(w.contains(cx[m]) for m, w in windows.items()) and self._spec_ok(spec, cx)):
                return None
        return Sample(params, spec, cx)
