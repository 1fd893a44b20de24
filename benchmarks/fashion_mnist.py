"""Full Fashion-MNIST with the default small model and schedule: test error and wall time.

Model: ResNet-20 (the CIFAR ResNet, 0.27M params, ~31M multiply-adds at
28px with a 1-channel stem) — chosen over RegNetX-200MF because on 2 CPU
cores it trains ~2x faster per image at 28px (three stages of 16/32/64
channels suit 28px inputs, where RegNet's 4th stage would run at 2x2) and
reaches lower error in the 10-epoch budget. Target: <= 9% test error in 10
epochs, under 15 minutes on 2 cores.

    python benchmarks/fashion_mnist.py [--model ResNet-20] [--epochs 10] [--precision auto] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from netspace import zoo
from netspace.data import load_data
from netspace.train import Schedule, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ResNet-20")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--limit-train", type=int, default=None)
    parser.add_argument("--out", default=None, help="keep the run directory here (default: a temp dir)")
    args = parser.parse_args()

    start = time.perf_counter()
    data = load_data("fashion-mnist", data_dir=args.data_dir, limit_train=args.limit_train)
    schedule = Schedule(epochs=args.epochs, precision=args.precision)
    with tempfile.TemporaryDirectory() as tmp:
        result = train(zoo.resolve(args.model), data, schedule, out_dir=args.out or tmp)
    wall = time.perf_counter() - start
    ips = sum(m["images_per_second"] for m in result.metrics) / max(len(result.metrics), 1)
    print(f"{args.model} on Fashion-MNIST ({len(data.train)} train / {len(data.test)} test), "
          f"{result.epochs} epochs, {result.precision}: test error {result.error:.2f}% "
          f"(best {result.best_error:.2f}%), wall {wall:.0f}s ({wall / 60:.1f} min), "
          f"{ips:,.0f} train img/s; target <= 9% in < 15 min")


if __name__ == "__main__":
    main()
