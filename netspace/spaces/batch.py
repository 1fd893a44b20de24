"""Many candidate networks as arrays, and their exact complexity in closed form.

A :class:`StageBatch` holds N networks of up to S X/Y-block stages as (N, S)
arrays; a stage of depth 0 is padding (absent). :func:`batch_complexity`
evaluates, on whole arrays at once, the same integer sums that
``netspace.complexity.complexity`` accumulates layer by layer for a spec with
a simple stem, ``res_bottleneck`` stages and a linear head, so a sampler can
filter a million candidates by flops without building a single spec.
``tests/test_sampling.py`` holds the two equal on thousands of specs.

Every block of a stage after the first is identical (same width in and out,
stride 1), so a stage costs ``first + (depth - 1) * rest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from netspace.spaces.frame import Frame
from netspace.spec import Stage


@dataclass
class StageBatch:
    """Per-stage arrays of N candidate networks (int64 unless noted)."""

    depth: np.ndarray  # (N, S); 0 marks an absent (padding) stage
    width: np.ndarray  # (N, S)
    bottleneck_ratio: np.ndarray  # (N, S) float64
    group_width: np.ndarray  # (N, S); 0 means one group (Stage.group_width None)
    se_ratio: np.ndarray  # (N, S) float64
    stride: np.ndarray  # (S,)

    def __len__(self) -> int:
        return self.depth.shape[0]

    @property
    def inner(self) -> np.ndarray:
        """Bottleneck widths round(width / b), half to even like Stage.bottleneck_width."""
        return np.round(self.width / self.bottleneck_ratio).astype(np.int64)

    def valid(self) -> np.ndarray:
        """Rows whose every present stage makes a valid X/Y block (inner width divisible by g)."""
        inner = self.inner
        g = self.group_width
        present = self.depth > 0
        ok = (inner >= 1) & ((g == 0) | ((g <= inner) & (inner % np.maximum(g, 1) == 0)))
        return np.all(ok | ~present, axis=1) & present[:, 0]

    def take(self, index: np.ndarray) -> "StageBatch":
        return StageBatch(self.depth[index], self.width[index], self.bottleneck_ratio[index],
                          self.group_width[index], self.se_ratio[index], self.stride)

    def stages(self, i: int) -> tuple[Stage, ...]:
        """Row i as spec stages."""
        out = []
        for s in range(self.depth.shape[1]):
            d = int(self.depth[i, s])
            if d == 0:
                break
            g = int(self.group_width[i, s])
            out.append(Stage(block="res_bottleneck", depth=d, width=int(self.width[i, s]),
                             stride=int(self.stride[s]), bottleneck_ratio=float(self.bottleneck_ratio[i, s]),
                             group_width=g or None, se_ratio=float(self.se_ratio[i, s])))
        return tuple(out)


def _se(w_b: np.ndarray, w_se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flops (= params) and acts of an SE unit on w_b channels: two biased 1x1 convs at 1x1; 0 if w_se == 0."""
    on = w_se > 0
    return (2 * w_b * w_se + w_se + w_b) * on, (w_se + w_b) * on


def batch_complexity(batch: StageBatch, frame: Frame, *, stages: int | None = None,
                     upper: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
    """``{"flops", "params", "acts"}`` int64 arrays of shape (N,), equal to ``complexity(spec)``
    for every valid row (``batch.valid()``; other rows get meaningless numbers).

    ``stages=k`` counts only the stem and the first k stages (no head). Every
    term is non-negative, so the first stage alone is a lower bound of all
    three metrics, and it is the costly part at the highest resolution. With
    ``upper={"flops": 400e6, ...}``, rows whose stem and first stage already
    exceed a bound are not evaluated further: they keep that partial sum,
    which is over the bound, so a window test rejects them all the same.
    """
    n = len(batch)
    size = (frame.resolution - 1) // frame.stem_stride + 1  # "same" padding: ceil(in / stride)
    sw = frame.stem_width
    flops = np.full(n, 9 * frame.in_channels * sw * size * size, dtype=np.int64)
    params = np.full(n, 9 * frame.in_channels * sw + 2 * sw, dtype=np.int64)
    acts = np.full(n, sw * size * size, dtype=np.int64)
    w_in = np.full(n, sw, dtype=np.int64)
    rows: np.ndarray | slice = slice(None)
    count = batch.depth.shape[1] if stages is None else min(stages, batch.depth.shape[1])
    for s in range(count):
        # Stages are trailing-padded, so a present stage s had all earlier stages present: one spatial
        # size for every row that still has stages.
        stride = int(batch.stride[s])
        out = (size - 1) // stride + 1
        hw_in, hw_out = size * size, out * out
        d = batch.depth[rows, s]
        w = batch.width[rows, s]
        b = batch.bottleneck_ratio[rows, s]
        g = batch.group_width[rows, s]
        x = w_in[rows]
        wb = np.round(w / b).astype(np.int64)
        # 3x3 group conv: k*k*wb*wb*hw // groups with groups = wb // g, i.e. 9*wb*g*hw when g divides wb.
        c3 = 9 * wb * np.where(g > 0, g, wb)
        proj = (x != w) if stride == 1 else np.ones(len(w), dtype=bool)
        first_f = x * wb * hw_in + hw_out * (c3 + wb * w + proj * (x * w))
        first_p = x * wb + c3 + wb * w + 4 * wb + 2 * w + proj * (x * w + 2 * w)
        first_a = wb * hw_in + hw_out * (wb + w + proj * w)
        rest_f = hw_out * (c3 + 2 * wb * w)
        rest_p = c3 + 2 * wb * w + 4 * wb + 2 * w
        rest_a = hw_out * (2 * wb + w)
        se = batch.se_ratio[rows, s]
        if se.any():
            f1, a1 = _se(wb, np.round(x * se).astype(np.int64))
            fr, ar = _se(wb, np.round(w * se).astype(np.int64))
            first_f, first_p, first_a = first_f + f1, first_p + f1, first_a + a1
            rest_f, rest_p, rest_a = rest_f + fr, rest_p + fr, rest_a + ar
        present = d > 0
        rest = np.maximum(d - 1, 0)
        flops[rows] += present * first_f + rest * rest_f
        params[rows] += present * first_p + rest * rest_p
        acts[rows] += present * first_a + rest * rest_a
        w_in[rows] = np.where(present, w, x)
        size = out
        if s == 0 and upper:
            over = np.zeros(n, dtype=bool)
            for metric, high in upper.items():
                over |= {"flops": flops, "params": params, "acts": acts}[metric] > high
            if over.any():
                rows = np.flatnonzero(~over)
    if stages is not None:
        return {"flops": flops, "params": params, "acts": acts}
    nc = frame.num_classes
    flops[rows] += w_in[rows] * nc + nc
    params[rows] += w_in[rows] * nc + nc
    acts[rows] += nc
    return {"flops": flops, "params": params, "acts": acts}
