"""Peak memory of loading Fashion-MNIST, against the size of its uint8 pixels.

The data layer promises that an in-memory dataset costs its uint8 size once
(no float copy, no decompressed-file copy). This prints the peak-RSS increase
of ``load_data("fashion-mnist")`` divided by that size; about 1.0 is the goal.

    .venv/bin/python benchmarks/data_memory.py [DATA_DIR]
"""

from __future__ import annotations

import resource
import sys

import torch  # imported before the baseline so its own memory is not counted

from netspace.data import load_data


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else None
    torch.zeros(1)  # touch the allocator before measuring
    before = peak_rss_bytes()
    data = load_data("fashion-mnist", data_dir=data_dir)
    increase = peak_rss_bytes() - before
    pixels = sum(s.images.numel() for s in (data.train, data.test))
    labels = sum(s.labels.numel() * s.labels.element_size() for s in (data.train, data.test))
    print(f"uint8 pixels: {pixels / 2**20:.1f} MiB, int64 labels: {labels / 2**20:.1f} MiB")
    print(f"peak RSS increase: {increase / 2**20:.1f} MiB")
    print(f"ratio peak increase / (pixels + labels): {increase / (pixels + labels):.2f}")


if __name__ == "__main__":
    main()
