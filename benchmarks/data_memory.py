"""Peak memory of loading Fashion-MNIST, against the size of its uint8 pixels.

The data layer promises that an in-memory dataset costs its uint8 size once
(no float copy, no decompressed-file copy). This prints the peak-RSS increase
of ``load_data("fashion-mnist")`` divided by that size, and against the
target: no more than the uint8 pixels and labels plus one float32 batch of 128.
The code path is warmed first on 16 images' worth (reading the 10k test
labels, building a split) and by a reduction, so that imports, lazy
initialization and torch's thread pool are not counted as the dataset's cost.

    .venv/bin/python benchmarks/data_memory.py [DATA_DIR]
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import numpy as np
import torch  # imported before the baseline so its own memory is not counted

from netspace.data import load_data
from netspace.data.fashion_mnist import DEFAULT_DIR
from netspace.data.idx import read_idx
from netspace.data.split import InMemorySplit


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else None
    torch.zeros(1)  # touch the allocator before measuring
    labels_file = sorted((Path(data_dir) if data_dir else DEFAULT_DIR).glob("t10k-labels-idx1-ubyte*"))[0]
    # Warm the code path on 16 images' worth, and torch's thread pool (its stacks are RSS too).
    warm = torch.from_numpy(read_idx(labels_file, ndim=1, fix=""))[:16]
    InMemorySplit(torch.from_numpy(np.zeros((16, 28, 28), dtype=np.uint8)).unsqueeze(1), warm)
    int(torch.zeros(1 << 17, dtype=torch.uint8).max())
    before = peak_rss_bytes()
    data = load_data("fashion-mnist", data_dir=data_dir)
    increase = peak_rss_bytes() - before
    pixels = sum(s.images.numel() for s in (data.train, data.test))
    labels = sum(s._labels.numel() * s._labels.element_size() for s in (data.train, data.test))
    print(f"uint8 pixels: {pixels / 2**20:.1f} MiB, labels as held ({data.train._labels.dtype}): "
          f"{labels / 2**20:.2f} MiB")
    print(f"peak RSS increase: {increase / 2**20:.1f} MiB")
    print(f"ratio peak increase / (pixels + labels): {increase / (pixels + labels):.3f}")
    batch = 128 * 28 * 28 * 4
    verdict = "within" if increase <= pixels + labels + batch else "over"
    print(f"excess over pixels + labels: {(increase - pixels - labels) / 2**20:.2f} MiB; one float32 batch of 128: "
          f"{batch / 2**20:.2f} MiB: {verdict} the target")


if __name__ == "__main__":
    main()
