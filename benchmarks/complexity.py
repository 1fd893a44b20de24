"""How fast is the analytic complexity of a RegNet spec?

Samplers call ``complexity(spec)`` millions of times, so it must take well
under 1 ms. Prints specs/s for (a) ``complexity`` on prebuilt RegNet specs,
(b) RegNet parameters -> spec -> complexity, and the baseline (c) building
the module and counting with torch's FlopCounterMode, measured in this run.

    .venv/bin/python benchmarks/complexity.py
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from netspace.complexity import complexity
from netspace.models import build
from netspace.spaces.regnet import RegNetParams, regnet_spec


def random_params(n: int, seed: int = 0) -> list[RegNetParams]:
    rng = np.random.default_rng(seed)
    return [
        RegNetParams(depth=int(rng.integers(12, 29)), w0=int(rng.integers(2, 32)) * 8, wa=float(rng.uniform(8, 128)),
                     wm=float(rng.uniform(2, 3)), group_width=int(rng.choice([1, 2, 4, 8, 16, 32])))
        for _ in range(n)
    ]


def rate(fn, items, min_seconds: float = 1.0) -> float:
    done, start = 0, time.perf_counter()
    while True:
        for item in items:
            fn(item)
        done += len(items)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def main() -> None:
    torch.set_num_threads(1)
    params = random_params(500)
    specs = [regnet_spec(p) for p in params]
    a = rate(complexity, specs)
    b = rate(lambda p: complexity(regnet_spec(p)), params)

    def measured(spec):
        model = build(spec.replace(resolution=32)).eval()
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(torch.zeros(1, 3, 32, 32))
        return sum(p.numel() for p in model.parameters()), fc.get_total_flops()

    c = rate(measured, specs[:5], min_seconds=2.0)
    print(f"complexity(spec), RegNet specs:         {a:12,.0f} specs/s ({1e6 / a:.1f} us/spec)")
    print(f"params -> spec -> complexity:           {b:12,.0f} specs/s ({1e6 / b:.1f} us/spec)")
    print(f"baseline: build module + count (32px):  {c:12,.1f} specs/s ({1e3 / c:.1f} ms/spec)")
    print(f"ratio analytic / baseline: {a / c:,.0f}x")


if __name__ == "__main__":
    main()
