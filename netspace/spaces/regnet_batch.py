"""RegNet generation for N parameter sets at once.

The same arithmetic as ``netspace.spaces.regnet`` (eqs. 2-4 of the paper,
quantum 8, half-to-even rounding, then the block-compatibility adjustment),
applied to (N,) parameter arrays instead of one set, so that a sampler can
map a batch of candidates to stage arrays with a few numpy calls. The scalar
functions remain the reference: the tests compare the two on thousands of
draws, and the sampler rebuilds each accepted spec with the scalar code.
"""

from __future__ import annotations

import numpy as np

from netspace.spaces.regnet import QUANTUM


def regnet_stages_batch(
    depth: np.ndarray, w0: np.ndarray, wa: np.ndarray, wm: np.ndarray, max_stages: int, q: int = QUANTUM
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stage depths and widths of N RegNets, padded to ``max_stages``.

    Returns ``(depths, widths, num_stages, total_stages)``: (N, max_stages)
    int64 arrays (0 beyond the last stage; rows with more stages are cut and
    must be rejected by the caller), the number of distinct quantized widths,
    and ``max(s_j) + 1``, the number of width steps the linear ramp spans
    (pycls rejects a RegNet when the two differ: a step was skipped).
    """
    n = len(depth)
    dmax = int(depth.max()) if n else 1
    j = np.arange(dmax)
    valid = j[None, :] < depth[:, None]
    u = j[None, :] * wa[:, None] + w0[:, None]  # eq. 2: continuous widths
    s = np.round(np.log(u / w0[:, None]) / np.log(wm)[:, None])  # eq. 3
    w = w0[:, None] * np.power(wm[:, None], s)  # eq. 4
    w = np.round(w / q).astype(np.int64) * q
    steps = np.where(valid, s, -1.0).max(axis=1).astype(np.int64) + 1
    change = (w[:, 1:] != w[:, :-1]) & valid[:, 1:]
    stage_of_block = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(change, axis=1)], axis=1)
    # Widths are non-decreasing along the blocks, so stages are runs and the last stage ends at depth - 1.
    num_stages = np.take_along_axis(stage_of_block, (depth - 1)[:, None], axis=1)[:, 0] + 1
    depths = np.zeros((n, max_stages), np.int64)
    widths = np.zeros((n, max_stages), np.int64)
    for k in range(max_stages):
        in_k = valid & (stage_of_block == k)
        depths[:, k] = in_k.sum(axis=1)
        widths[:, k] = np.where(in_k, w, 0).max(axis=1)
    return depths, widths, num_stages, steps


def adjust_block_compatibility_batch(
    widths: np.ndarray, bottleneck_ratios: np.ndarray, group_widths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``adjust_block_compatibility`` on arrays of any shape (b >= 1 or 1/integer).

    Entries with width 0 (padding) come back as width 0.
    """
    mul = 1.0 / bottleneck_ratios
    v = np.maximum(1.0, widths * mul).astype(np.int64)
    g = np.minimum(group_widths, v).astype(np.int64)
    inv = np.where(mul > 1, mul, 1).astype(np.int64)  # int(mul), as the scalar code truncates
    m = np.where(mul > 1, np.lcm(g, inv), g)
    v = np.maximum(m, (np.round(v / m) * m).astype(np.int64))
    out = (v / mul).astype(np.int64)
    return np.where(widths > 0, out, 0), np.where(widths > 0, g, 0)
