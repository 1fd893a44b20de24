"""Which complexity measure predicts runtime on this machine? (RegNet paper, section on complexity and speed)

Samples 100 RegNetX models at 224px across a flops range (25 in each of four
windows, 100M..1.6G), measures each one's batch-1 inference latency on the
CPU (and on CUDA when present), and fits t ~ flops, t ~ params, t ~ acts and
t ~ c0 + c1 sqrt(flops) + c2 acts, scored on held-out models (5-fold). Then
checks the per-block lookup table against direct timing on 20 of them.

The paper's claim (activations predict runtime better than flops) was made
on GPUs; whatever this machine shows is what gets reported.

    .venv/bin/python benchmarks/runtime_models.py [--threads 1] [--csv runtime.csv]

The CSV (flops, params, acts, latency_ms per model and device) can be read by
``netspace runtime-fit runtime.csv``.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from netspace.analysis import fit_runtime_models
from netspace.latency import LatencyTable, lookup_error, measure
from netspace.spaces import get_space

WINDOWS = ("100M:200M", "200M:400M", "400M:800M", "800M:1600M")


def sample(per_window: int, seed: int) -> list:
    space = get_space("RegNetX", resolution=224, in_channels=3, num_classes=1000)
    out = []
    for i, window in enumerate(WINDOWS):
        out += space.sample(per_window, seed=seed + i, flops=window).samples
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=100, help="models in all (split over 4 flops windows)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (default 1: steadiest on a shared machine)")
    ap.add_argument("--max-seconds", type=float, default=3.0, help="timing limit per model")
    ap.add_argument("--lookup-models", type=int, default=20, help="models for the lookup-table check (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--csv", help="write the measurements here")
    args = ap.parse_args()

    samples = sample(args.models // len(WINDOWS), args.seed)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    start = time.perf_counter()
    for device in devices:
        for k, s in enumerate(samples):
            r = measure(s.spec, batch=1, device=device, threads=args.threads if device == "cpu" else None,
                        warmup=3, max_seconds=args.max_seconds)
            rows.append({"device": device, **s.complexity, "latency_ms": r.median_ms, "p10_ms": r.p10_ms,
                         "p90_ms": r.p90_ms, "stable": r.stable, **{f"p_{k2}": v for k2, v in s.params.items()}})
            if (k + 1) % 25 == 0:
                print(f"  {device}: {k + 1}/{len(samples)} measured ({time.perf_counter() - start:.0f} s)", flush=True)
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, index=False)

    threads = f", {args.threads} thread(s)" if "cpu" in devices else ""
    print(f"\n{len(samples)} RegNetX models, 224px, flops {df['flops'].min() / 1e6:.0f}M..{df['flops'].max() / 1e6:.0f}M, "
          f"batch 1 inference{threads}; held-out (5-fold) scores\n")
    print("| device | runtime model | R^2 | Spearman | mean rel. error |")
    print("|---|---|---|---|---|")
    for device in devices:
        part = df[df["device"] == device]
        table, _ = fit_runtime_models(part, folds=5, seed=args.seed)
        for r in table.itertuples(index=False):
            print(f"| {device} | `{r.formula}` | {r.r2:.3f} | {r.spearman:.3f} | {100 * r.mean_rel_error:.1f}% |")
        lat = part["latency_ms"]
        print(f"| {device} | (latency {lat.min():.1f}..{lat.max():.1f} ms, median {lat.median():.1f} ms; "
              f"{int((~part['stable']).sum())} of {len(part)} not stable) | | | |")

    if args.lookup_models:
        specs = [s.spec for s in samples[:: max(1, len(samples) // args.lookup_models)]][: args.lookup_models]
        table = LatencyTable(batch=1, device="cpu", threads=args.threads, warmup=2, max_seconds=1.0)
        t0 = time.perf_counter()
        res = lookup_error(specs, table, warmup=3, max_seconds=args.max_seconds)
        print(f"\nlookup table on cpu: {len(table)} distinct blocks for {res['n']} models "
              f"({time.perf_counter() - t0:.0f} s); median |error| {100 * res['median_abs_rel_error']:.1f}%, "
              f"mean |error| {100 * res['mean_abs_rel_error']:.1f}%, Spearman {res['spearman']:.3f}")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
