"""Search strategies at equal budget: a synthetic reward with a known optimum, then real Fashion-MNIST.

1. Synthetic: the MnasNet space's token shape (42 decisions: op, kernel, SE,
   skip, filters, layers for 7 blocks), reward = (sum of per-token scores +
   interactions between neighbouring tokens) / optimum, so 1.0 is the best
   architecture (found exactly by dynamic programming over the chain). Each
   strategy gets the same budget over several seeds; we print the mean
   reward of all candidates it asked, of the last quarter, and the best found.
2. Real: the MnasNet space (small variant) on Fashion-MNIST, short proxy
   training (2 epochs on a seeded subset), the mnas reward (soft constraint)
   with the target T = the measured latency of the MnasNet skeleton (every
   block at its baseline choice), latency measured on this CPU, 1 thread,
   batch 1. Printed per strategy: best and mean validation error, best reward,
   and the latency of the best model.

    python benchmarks/search_strategies.py [--synthetic-only | --real-only] [--budget 16] [--limit-train 4000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from netspace.search import make_strategy

SIZES = [4, 2, 2, 2, 3, 3] * 7  # MnasNet: op, kernel, se_ratio, skip, filters, layers per block
OPTIONS = {"reinforce": {"batch_size": 8, "lr": 0.05}, "evolution": {"population": 20, "sample_size": 5},
           "random": {}}


class ChainReward:
    """sum_i u_i[t_i] + sum_i v_i[t_i, t_{i+1}], scaled so its maximum over all architectures is 1."""

    def __init__(self, sizes: list[int], seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.unary = [rng.random(s) for s in sizes]
        self.pair = [0.5 * rng.random((a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
        best = self.unary[0].copy()  # Viterbi: best prefix score ending in each option
        for i in range(1, len(sizes)):
            best = (best[:, None] + self.pair[i - 1]).max(0) + self.unary[i]
        self.optimum = float(best.max())

    def __call__(self, t: list[int]) -> float:
        score = sum(u[k] for u, k in zip(self.unary, t)) + sum(p[a, b] for p, a, b in zip(self.pair, t[:-1], t[1:]))
        return float(score) / self.optimum


def synthetic(budget: int, seeds: int) -> None:
    decisions = [(f"d{i}", tuple(range(s))) for i, s in enumerate(SIZES)]
    print(f"synthetic chain reward, MnasNet token shape ({len(SIZES)} decisions, 4x2x2x2x3x3 per block), "
          f"budget {budget}, {seeds} seeds (reward 1.0 = the optimum)")
    print(f"  {'strategy':<10} {'mean (all)':>16} {'mean (last 25%)':>16} {'best found':>16}")
    for kind in ("random", "reinforce", "evolution"):
        all_mean, last_mean, best = [], [], []
        for seed in range(seeds):
            reward = ChainReward(SIZES, 1000 + seed)
            s = make_strategy(kind, decisions, seed=seed, **OPTIONS[kind])
            rewards = []
            while len(rewards) < budget:
                for t in s.ask(8):
                    r = reward(t)
                    s.tell(t, r)
                    rewards.append(r)
            rewards = np.asarray(rewards[:budget])
            all_mean.append(rewards.mean())
            last_mean.append(rewards[-budget // 4:].mean())
            best.append(rewards.max())

        def fmt(v):
            return f"{np.mean(v):.3f} ± {np.std(v):.3f}"

        print(f"  {kind:<10} {fmt(all_mean):>16} {fmt(last_mean):>16} {fmt(best):>16}")


def real(budget: int, limit_train: int, workers: int, epochs: int) -> None:
    from netspace.data import load_data
    from netspace.latency import measure
    from netspace.run import Store
    from netspace.run.search import SearchConfig, run_search
    from netspace.spaces.frame import Frame

    try:
        from netspace.spaces import get_space

        space = get_space("mnasnet", resolution=28, in_channels=1, num_classes=10)
    except Exception:  # registry without mnasnet: build it directly
        from netspace.spaces.mnasnet import mnasnet_space

        space = mnasnet_space(Frame.for_data(resolution=28, in_channels=1, num_classes=10))
    load_data("fashion-mnist")  # fail early without the data
    target = measure(space.to_spec(space.baseline_params()), threads=1, max_seconds=3.0).median_ms
    print(f"\nFashion-MNIST, MnasNet space (small variant), budget {budget} per strategy, {epochs} epoch(s) on "
          f"{limit_train} training images, validation on 10% of train held out, mnas reward (soft), "
          f"target T = skeleton latency {target:.2f} ms (batch 1, 1 CPU thread), {workers} workers")
    print(f"  {'strategy':<10} {'best val err':>12} {'mean val err':>12} {'best reward':>12} "
          f"{'best: err':>10} {'best: ms':>9} {'best: MFLOPs':>12} {'wall':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("random", "reinforce", "evolution"):
            config = SearchConfig(space="mnasnet", strategy=kind, budget=budget, epochs=epochs, reward="mnas",
                                  target_latency=round(target, 3), limit_train=limit_train, batch=4,
                                  population=8, sample_size=3, controller_lr=0.05, batch_size=64, seed=0)
            start = time.perf_counter()
            summary = run_search(config, Path(tmp) / kind, workers=workers, space=space, log=lambda m: None)
            wall = time.perf_counter() - start
            with Store(Path(tmp) / kind) as store:
                errors = [t.error for t in store.trials("done")]
            b = summary["best"]
            print(f"  {kind:<10} {min(errors):>11.2f}% {np.mean(errors):>11.2f}% {b['reward']:>12.4f} "
                  f"{b['error']:>9.2f}% {b['latency_ms']:>9.2f} {b['flops'] / 1e6:>12.2f} {wall:>6.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-budget", type=int, default=240)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--synthetic-only", action="store_true")
    parser.add_argument("--budget", type=int, default=16, help="trials per strategy on real data")
    parser.add_argument("--limit-train", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=2, help="proxy training epochs on real data")
    parser.add_argument("--real-only", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not args.real_only:
        synthetic(args.synthetic_budget, args.seeds)
    if not args.synthetic_only:
        real(args.budget, args.limit_train, args.workers, args.epochs)


if __name__ == "__main__":
    main()
