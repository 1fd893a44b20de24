"""A synthetic trials DataFrame with a known structure, for examples, docs and tests.

Two RegNet-style sweeps whose error falls with log-flops and rises away from a
good region of each parameter; the first space ("RegNetX") is better by a
margin. Not a model of real training, just data with answers we know.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from netspace.spaces.regnet import quantized_widths


def demo_trials(n: int = 60, seed: int = 0, sweeps: tuple[str, ...] = ("RegNetX", "AnyNetX_A"),
                epochs: int = 10) -> pd.DataFrame:
    """``n`` trials per sweep with d, w0, wa, wm, g, b, complexity, curves and block widths."""
    rng = np.random.default_rng(seed)
    rows = []
    for s, name in enumerate(sweeps):
        for t in range(n):
            d = int(rng.integers(6, 24))
            w0 = int(8 * rng.integers(2, 13))
            wa = float(np.round(rng.uniform(8, 64), 2))
            wm = float(np.round(rng.uniform(1.5, 3.0), 2))
            g = int(rng.choice([4, 8, 16]))
            b = 1.0
            widths, _ = quantized_widths(d, w0, wa, wm)
            flops = float(sum(9 * w * w * 28 * 28 / 4 ** min(i * 4 // d, 3) for i, w in enumerate(widths)) / g * 4)
            params = float(sum(9 * w * w / g + 2 * w * w for w in widths))
            acts = float(sum(w * 56 * 56 / 4 ** min(i * 4 // d, 3) for i, w in enumerate(widths)))
            final = (30 - 2.2 * np.log(flops / 1e6 + 1) + 0.8 * abs(wm - 2.4) + 0.03 * abs(wa - 36)
                     + 1.5 * s + rng.normal(0, 0.6))
            decay = np.exp(-np.arange(1, epochs + 1) / (epochs / 3))
            curve = (final + (90 - final) * decay + rng.normal(0, 0.3, epochs)).round(3).tolist()
            curve[-1] = round(float(final), 3)
            u = rng.uniform()
            status = "done" if u > 0.08 else ("diverged" if u > 0.04 else "failed")
            if status != "done":
                curve = curve[: int(rng.integers(1, epochs))]
            rows.append({
                "sweep": name, "trial": t, "status": status,
                "error": curve[-1] if status == "done" else np.nan,
                "best_error": min(curve) if status == "done" else np.nan,
                "flops": int(flops), "params": int(params), "acts": int(acts),
                "d": d, "w0": w0, "wa": wa, "wm": wm, "g": g, "b": b,
                "block_widths": widths, "curve": curve, "wall_seconds": float(rng.uniform(50, 200)),
            })
    return pd.DataFrame(rows)
