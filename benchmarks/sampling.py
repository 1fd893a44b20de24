"""How fast does constrained sampling find distinct networks in a flops window, and is it the same distribution?

Target: >= 1,000 distinct specs/s in a 10%-wide flops window (360M:400M at
224px, the paper's regime) on one core, for RegNetX and AnyNetX_A. For each
space it compares the vectorized sampler with a one-at-a-time baseline
written from the paper's definition (Section 3; pycls' quantized log-uniform
draws; Appendix D's group-width adjustment for AnyNetX; four stages, no
skipped step and the params/acts limits for RegNetX): draw one candidate,
build its spec, ``complexity(spec)``, accept or reject, deduplicate.

Both report acceptance the same way: the hit rate, candidates inside the
space and the window per candidate drawn with repeats counted (a property of
the distribution, whatever the number drawn), with a 95% Wilson interval;
distinct specs per candidate falls as more are drawn and repeats become
common (about 1 in 4 RegNetX hits repeats an earlier one by 2,000), which is
why the two samplers once seemed to disagree. A speed-up is only meaningful between
samplers of one distribution, so the script also draws ``--check`` networks
from each without a window and prints two-sample KS p-values on flops,
params and total depth (large p: no detectable difference), and, in the
window, the KS p on flops when the baseline found enough networks.

    .venv/bin/python benchmarks/sampling.py [--n 2000] [--baseline-seconds 5] [--check 1500]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time
from typing import Callable

import numpy as np
from scipy import stats

from netspace.complexity import complexity
from netspace.spaces import RegNetParams, Window, adjust_block_compatibility, get_space, parse_window, regnet_spec
from netspace.spaces.regnet import quantized_widths
from netspace.spaces.regnet_space import params_acts_ok
from netspace.spec import NetSpec, Stage, Stem

WINDOW = "360M:400M"
Draw = Callable[[random.Random], "NetSpec | None"]


def _log_uniform(rng: random.Random, low: float, high: float, q: float) -> int:
    """Index k of the value k*q: f log-uniform on (low - min(q, low/2), high], rounded up (pycls)."""
    f = math.exp(rng.uniform(math.log(low - min(q, low / 2)), math.log(high)))
    return min(max(math.ceil(round(f / q, 9)), round(low / q)), round(high / q))


def naive_regnetx(rng: random.Random) -> NetSpec | None:
    """One RegNetX candidate the slow way; None if it is not a member of the space."""
    p = RegNetParams(depth=rng.randint(12, 28), w0=8 * _log_uniform(rng, 8, 248, 8),
                     wa=_log_uniform(rng, 8.0, 255.9, 0.1) / 10, wm=_log_uniform(rng, 2.0, 3.0, 0.001) / 1000,
                     group_width=2 ** rng.randint(0, 5))
    _, u = quantized_widths(p.depth, p.w0, p.wa, p.wm)
    spec = regnet_spec(p)
    steps = round(math.log(u[-1] / p.w0) / math.log(p.wm)) + 1
    if len(spec.stages) != 4 or steps != 4:
        return None
    cx = complexity(spec)
    return spec if params_acts_ok(*(np.array([cx[k]]) for k in ("flops", "params", "acts")))[0] else None


def naive_anynet_a(rng: random.Random) -> NetSpec | None:
    """One AnyNetX_A candidate the slow way: per-stage log-uniform d and w, b and g, then Appendix D's adjustment."""
    d = [_log_uniform(rng, 1, 16, 1) for _ in range(4)]
    w = [8 * _log_uniform(rng, 8, 1024, 8) for _ in range(4)]
    b = [rng.choice((1.0, 2.0, 4.0)) for _ in range(4)]
    g = [2 ** rng.randint(0, 5) for _ in range(4)]
    w, g = adjust_block_compatibility(w, b, g)
    stages = tuple(Stage("res_bottleneck", di, wi, 2, bottleneck_ratio=bi, group_width=gi)
                   for di, wi, bi, gi in zip(d, w, b, g))
    return NetSpec(stem=Stem("simple", 32, 2), stages=stages)


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson interval of a binomial proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    z, p = 1.96, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def naive_run(draw: Draw, window: Window | None, *, seconds: float = math.inf, n: int | None = None,
              seed: int = 0) -> tuple[list[NetSpec], int, int, float]:
    """(distinct accepted specs, hits with repeats, candidates drawn, seconds) of the one-at-a-time loop."""
    rng = random.Random(seed)
    seen: dict[NetSpec, None] = {}
    candidates = hits = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds and (n is None or len(seen) < n):
        candidates += 1
        spec = draw(rng)
        if spec is None or (window is not None and not window.contains(complexity(spec)["flops"])):
            continue
        hits += 1
        seen[spec] = None
    return list(seen), hits, candidates, time.perf_counter() - start


def _summary(specs: list[NetSpec]) -> dict[str, np.ndarray]:
    cx = [complexity(s) for s in specs]
    return {"flops": np.array([c["flops"] for c in cx]), "params": np.array([c["params"] for c in cx]),
            "depth": np.array([sum(st.depth for st in s.stages) for s in specs])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="specs to sample per space")
    parser.add_argument("--baseline-seconds", type=float, default=5.0, help="time given to each naive baseline")
    parser.add_argument("--check", type=int, default=1500, help="unconstrained networks per sampler for the KS check")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    window = parse_window(WINDOW)
    for name, draw in (("RegNetX", naive_regnetx), ("AnyNetX_A", naive_anynet_a)):
        space = get_space(name)
        space.sample(50, seed=1, flops=WINDOW)  # warm up imports and caches
        start = time.perf_counter()
        result = space.sample(args.n, seed=0, flops=WINDOW)
        elapsed = time.perf_counter() - start
        rate = len(result) / elapsed
        base_specs, base_hits, base_candidates, base_seconds = naive_run(draw, window, seconds=args.baseline_seconds)
        base = len(base_specs) / base_seconds
        hits = len(result) + result.rejected["duplicate"]
        lo, hi = wilson(hits, result.candidates)
        blo, bhi = wilson(base_hits, base_candidates)
        ratio = f"{rate / base:,.0f}x" if base > 0 else "inf (baseline found none)"
        print(f"{name:<10} flops {WINDOW} at 224px: hit rate vectorized {result.hit_rate:.4%} [{lo:.4%}, {hi:.4%}] "
              f"({hits:,} hits of {result.candidates:,} candidates, {len(result)} distinct), one-at-a-time "
              f"{base_hits / max(base_candidates, 1):.4%} [{blo:.4%}, {bhi:.4%}] ({base_hits:,} of "
              f"{base_candidates:,}, {len(base_specs)} distinct); {base:,.1f} distinct specs/s one at a time, "
              f"speed-up {ratio}; vectorized {rate:.0f} specs/s")
        if len(base_specs) >= 20:
            p = stats.ks_2samp([s.complexity["flops"] for s in result], _summary(base_specs)["flops"]).pvalue
            print(f"{'':<10} in the window, KS p on flops (vectorized vs one-at-a-time): {p:.3f}")
        ours = _summary([s.spec for s in space.sample(args.check, seed=2)])
        theirs = _summary(naive_run(draw, None, n=args.check, seed=3)[0])
        ps = ", ".join(f"{k} {stats.ks_2samp(ours[k], theirs[k]).pvalue:.3f}" for k in ours)
        print(f"{'':<10} same distribution? unconstrained, {args.check} networks each, KS p: {ps}")


if __name__ == "__main__":
    main()
