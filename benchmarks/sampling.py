"""How fast does constrained sampling find distinct networks in a flops window?

Target: >= 1,000 distinct specs/s in a 10%-wide flops window (360M:400M at
224px, the paper's regime) on one core, for RegNetX and AnyNetX_A. Prints one
line per space: the vectorized sampler's acceptance rate, the naive baseline
measured in the same run (draw one params dict at a time, build the spec with
``regnet_spec`` / ``Stage`` objects, ``complexity(spec)``, accept or reject,
deduplicate) and the speed-up, ending in the vectorized rate ``N specs/s``.

    .venv/bin/python benchmarks/sampling.py [--n 2000] [--baseline-seconds 5]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time

from netspace.complexity import complexity
from netspace.errors import SpecError
from netspace.spaces import RegNetParams, get_space, parse_window, regnet_spec
from netspace.spaces.regnet_space import params_acts_ok
from netspace.spec import NetSpec, Stage, Stem

WINDOW = "360M:400M"


def _log_uniform(rng: random.Random, low: float, high: float, q: float) -> float:
    f = math.exp(rng.uniform(math.log(low - min(q, low / 2)), math.log(high)))
    return min(max(math.ceil(f / q), round(low / q)), round(high / q)) * q


def naive_regnetx(rng: random.Random) -> NetSpec | None:
    """One RegNetX candidate the slow way; None if it is not a member of the space."""
    p = RegNetParams(depth=rng.randint(12, 28), w0=int(_log_uniform(rng, 8, 248, 8)),
                     wa=round(_log_uniform(rng, 8.0, 255.9, 0.1), 1), wm=round(_log_uniform(rng, 2.0, 3.0, 0.001), 3),
                     group_width=2 ** rng.randint(0, 5))
    spec = regnet_spec(p)
    return spec if len(spec.stages) == 4 else None  # (the steps check is omitted: the baseline only gets cheaper)


def naive_anynet_a(rng: random.Random) -> NetSpec | None:
    """One AnyNetX_A candidate the slow way: per-stage draws, rejected if a block is incompatible."""
    stages = []
    for _ in range(4):
        w, b, g = 8 * rng.randint(1, 128), rng.choice((1.0, 2.0, 4.0)), 2 ** rng.randint(0, 5)
        stages.append(Stage("res_bottleneck", rng.randint(1, 16), w, 2, bottleneck_ratio=b, group_width=g))
    try:
        return NetSpec(stem=Stem("simple", 32, 2), stages=tuple(stages))
    except SpecError:
        return None


def naive_rate(draw, window, limits: bool, seconds: float, seed: int = 0) -> tuple[float, float]:
    """(distinct accepted specs per second, acceptance rate) of the one-at-a-time loop."""
    rng = random.Random(seed)
    seen: set[NetSpec] = set()
    candidates = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        candidates += 1
        spec = draw(rng)
        if spec is None:
            continue
        cx = complexity(spec)
        if not window.contains(cx["flops"]):
            continue
        if limits and not params_acts_ok(cx["flops"], cx["params"], cx["acts"]):
            continue
        seen.add(spec)
    elapsed = time.perf_counter() - start
    return len(seen) / elapsed, len(seen) / candidates


def vectorized_rate(name: str, n: int, seed: int = 0) -> tuple[float, float, int]:
    space = get_space(name)
    space.sample(50, seed=seed + 1, flops=WINDOW)  # warm up imports and caches
    start = time.perf_counter()
    result = space.sample(n, seed=seed, flops=WINDOW)
    elapsed = time.perf_counter() - start
    return len(result) / elapsed, result.acceptance_rate, result.candidates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="specs to sample per space")
    parser.add_argument("--baseline-seconds", type=float, default=5.0, help="time given to each naive baseline")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    window = parse_window(WINDOW)
    for name, draw, limits in (("RegNetX", naive_regnetx, True), ("AnyNetX_A", naive_anynet_a, False)):
        rate, acceptance, candidates = vectorized_rate(name, args.n)
        base, base_acceptance = naive_rate(draw, window, limits, args.baseline_seconds)
        ratio = f"{rate / base:,.0f}x" if base > 0 else "inf (baseline found none)"
        print(f"{name:<10} flops {WINDOW} at 224px: acceptance {acceptance:.4%} ({args.n} of {candidates:,} "
              f"candidates); naive one-at-a-time baseline {base:,.1f} specs/s (acceptance {base_acceptance:.4%}); "
              f"speed-up {ratio}; vectorized {rate:.0f} specs/s")


if __name__ == "__main__":
    main()
