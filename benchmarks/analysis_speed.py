"""How long the report's statistics take: the bootstrap of best ranges and the RegNet fit.

The bootstrap (RegNet paper, sec. 3.1) draws ``samples`` subsets of 25% of the
models with replacement and keeps the best of each. netspace draws them as
one integer matrix per memory chunk and picks every draw's best at once; the
baseline, measured in the same run, takes the same matrix from the same
generator and picks each draw's best in a Python loop (the way the definition
reads), so both pick the same models (checked). The RegNet fit
is timed on 50 random increasing width profiles (the report fits the best
models of every sweep).

    .venv/bin/python benchmarks/analysis_speed.py [--models 2000] [--samples 2500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from netspace import analysis as an
from netspace.analysis.bootstrap import bootstrap_best
from netspace.models.cpu import cpu_info


def one_at_a_time(err: np.ndarray, samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = max(1, int(err.size * 0.25))
    draws = rng.integers(0, err.size, size=(samples, m))  # the same numbers the vectorized draw uses
    return np.array([row[np.argmin(err[row])] for row in draws])


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=2500)
    args = ap.parse_args()
    print(f"CPU: {cpu_info().describe()}")
    rng = np.random.default_rng(0)
    err = rng.uniform(5, 20, args.models)
    fast = best_of(lambda: bootstrap_best(err, samples=args.samples, seed=1))
    slow = best_of(lambda: one_at_a_time(err, args.samples, 1))
    same = np.array_equal(bootstrap_best(err, samples=args.samples, seed=1), one_at_a_time(err, args.samples, 1))
    print(f"bootstrap of {args.samples:,} draws over {args.models:,} models: {fast * 1e3:.1f} ms "
          f"(picking one draw at a time: {slow * 1e3:.1f} ms; {slow / fast:.1f}x; same picks: {same})")
    models = [np.sort(rng.integers(2, 60, rng.integers(8, 25))) * 8 for _ in range(50)]
    fit = best_of(lambda: [an.fit_regnet(m) for m in models], repeats=2)
    print(f"RegNet fit of 50 width profiles: {fit:.2f} s ({fit / 50 * 1e3:.0f} ms each)")


if __name__ == "__main__":
    main()
