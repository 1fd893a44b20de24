"""A synthetic trials DataFrame with a known structure, for examples, docs and tests.

The models are real: sampled from the RegNetX space at Fashion-MNIST's input
(28 px, 1 channel, 10 classes), with their specs and exact complexity, and
every row is made by ``netspace.schema.trial_row``, the function that makes
the rows of a real sweep, so the columns are those of a real sweep. Only the
results are made up: error falls with log-flops and rises away from a good
region of wm and wa; the first sweep ("RegNetX") is better by a margin.
Not a model of real training, just data with answers we know.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from netspace.schema import trial_row
from netspace.spaces import get_space


def demo_trials(n: int = 60, seed: int = 0, sweeps: tuple[str, ...] = ("RegNetX", "AnyNetX_A"),
                epochs: int = 10, spaces: tuple[str, ...] | None = None) -> pd.DataFrame:
    """``n`` trials per sweep with made-up results, in the columns of a real sweep's frame.

    ``spaces`` names each sweep's design space (default: RegNetX for all), so
    the frame has the columns of sweeps of different spaces, as a study's.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for s, name in enumerate(sweeps):
        space = get_space(spaces[s] if spaces else "RegNetX", resolution=28, in_channels=1, num_classes=10)
        config = {"space": space.name, "eval_split": "test", "epochs": epochs}
        for t, sample in enumerate(space.sample(n, seed=seed + 1000 * s).samples):
            p, cx = sample.params, sample.complexity
            regnet = 0.8 * abs(p["wm"] - 2.4) + 0.03 * abs(p["wa"] - 36) if "wm" in p else 0.0
            final = 30 - 2.2 * np.log(cx["flops"] / 1e6 + 1) + regnet + 1.5 * s + rng.normal(0, 0.6)
            decay = np.exp(-np.arange(1, epochs + 1) / (epochs / 3))
            curve = (final + (90 - final) * decay + rng.normal(0, 0.3, epochs)).round(3).tolist()
            curve[-1] = round(float(final), 3)
            u = rng.uniform()
            status = "done" if u > 0.08 else ("diverged" if u > 0.04 else "failed")
            if status != "done":
                curve = curve[: int(rng.integers(1, max(epochs, 2)))]  # stopped early (one epoch: after it)
            seconds = float(rng.uniform(50, 200))
            trial = {
                "trial": t, "params": p, "spec": sample.spec.to_dict(), "flops": cx["flops"],
                "num_params": cx["params"], "acts": cx["acts"], "status": status,
                "error": curve[-1] if status == "done" else None,
                "best_error": min(curve) if status == "done" else None,
                "epochs": len(curve), "wall_seconds": seconds,
                "images_per_second": 60000 * len(curve) / seconds,
                "message": "RuntimeError: made up" if status == "failed" else None,
            }
            metrics = [{"epoch": i, "test_error": e} for i, e in enumerate(curve, 1)]
            rows.append(trial_row(name, config, trial, metrics))
    return pd.DataFrame(rows)
