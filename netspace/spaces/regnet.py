"""The RegNet parameterization: (d, w0, wa, wm, g, b) -> a network spec.

Section 3.3 of the RegNet paper: block j in [0, d) gets the continuous width
u_j = w0 + wa * j (eq. 2); it is snapped to w0 * wm^s_j with s_j the rounded
log-ratio (eqs. 3-4), then to a multiple of q = 8; runs of equal width are
the stages. Rounding is half-to-even throughout, as numpy's and Python's
``round`` do, so the reference model zoo is reproduced exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from netspace.errors import SpecError
from netspace.spec import NetSpec, Stage, Stem

QUANTUM = 8
MAX_DEPTH = 1_000_000  # d of the RegNet paper is at most 64; larger ones are refused by the memory bound


@dataclass(frozen=True)
class RegNetParams:
    """The six RegNet parameters, plus the SE ratio that makes a RegNetY."""

    depth: int
    w0: int
    wa: float
    wm: float
    group_width: int
    bottleneck_ratio: float = 1.0
    se_ratio: float = 0.0

    def __post_init__(self) -> None:
        check_regnet_params(self.depth, self.w0, self.wa, self.wm)
        if not isinstance(self.group_width, (int, np.integer)) or self.group_width < 1:
            raise SpecError(f"regnet: group width g must be a positive integer, got {self.group_width!r}")
        if not self.bottleneck_ratio > 0:
            raise SpecError(f"regnet: bottleneck ratio b must be > 0, got {self.bottleneck_ratio!r}")


def check_regnet_params(depth: int, w0: float, wa: float, wm: float, q: int = QUANTUM) -> None:
    """Raise a SpecError naming the first parameter outside the RegNet domain."""
    if not isinstance(depth, (int, np.integer)) or isinstance(depth, bool) or depth < 1:
        raise SpecError(f"regnet: depth d must be an integer >= 1, got {depth!r}")
    if depth > MAX_DEPTH:  # the per-block widths are one array of d numbers
        raise SpecError(f"regnet: depth d must be at most {MAX_DEPTH:,} blocks, got {depth:,}")
    if not (isinstance(w0, (int, np.integer)) or (isinstance(w0, float) and w0.is_integer())) or w0 <= 0 or w0 % q:
        raise SpecError(f"regnet: w0 must be a positive multiple of {q}, got {w0!r}")
    if not math.isfinite(wa) or wa < 0:
        raise SpecError(f"regnet: wa must be >= 0, got {wa!r}")
    if not math.isfinite(wm) or wm <= 1:
        raise SpecError(f"regnet: wm must be > 1, got {wm!r}")


def quantized_widths(depth: int, w0: int, wa: float, wm: float, q: int = QUANTUM) -> tuple[list[int], list[float]]:
    """Per-block quantized widths and the continuous widths u_j they come from."""
    check_regnet_params(depth, w0, wa, wm, q)
    u = np.arange(depth) * wa + w0  # eq. 2
    s = np.round(np.log(u / w0) / np.log(wm))  # eq. 3: the step index of each block
    w = w0 * np.power(wm, s)  # eq. 4
    w = np.round(w / q).astype(int) * q
    return w.tolist(), u.tolist()


def stages_from_widths(block_widths: list[int]) -> tuple[list[int], list[int]]:
    """Stage widths and depths from per-block widths (runs of equal width)."""
    widths, depths = np.unique(np.asarray(block_widths), return_counts=True)
    return widths.tolist(), depths.tolist()


ROUNDINGS = ("paper", "torchvision")


def _multiple_half_up(v: int, m: int) -> int:
    """torchvision's rounding of an inner width to a multiple of m: nearest, halves up, at least m,
    and one m more where that would fall below 90% of v."""
    out = max(m, (v + m // 2) // m * m)
    return out + m if out < 0.9 * v else out


def adjust_block_compatibility(
    widths: list[int], bottleneck_ratios: list[float], group_widths: list[int], rounding: str = "paper"
) -> tuple[list[int], list[int]]:
    """Make each stage's inner width a multiple of its group width.

    The group width is capped at the inner width w/b, the inner width is
    rounded to a multiple of the group width, and the stage width follows.
    Returns the adjusted (widths, group_widths).

    ``rounding="paper"`` rounds half to even, as the paper's model zoo was
    built; ``"torchvision"`` is a named deviation: torchvision's RegNets round
    halves up (and never below 90% of the width), so a width exactly between
    two multiples lands one multiple higher (e.g. 392 with groups of 16:
    384 here, 400 there), which changes X-400MF, Y-800MF and Y-8GF.
    """
    if rounding not in ROUNDINGS:
        raise SpecError(f"regnet: unknown rounding {rounding!r}; choose one of {', '.join(ROUNDINGS)}")
    out_w, out_g = [], []
    for w, b, g in zip(widths, bottleneck_ratios, group_widths):
        mul = 1.0 / b  # the reference works with w_b = w * mul
        if mul > 1 and not float(mul).is_integer():
            raise SpecError(f"regnet: bottleneck ratio {b} must be >= 1 or 1/integer")
        v = int(max(1, w * mul))
        g = int(min(g, v))
        m = int(np.lcm(g, int(mul))) if mul > 1 else g
        v = max(m, int(round(v / m) * m)) if rounding == "paper" else _multiple_half_up(v, m)
        out_w.append(int(v / mul))
        out_g.append(g)
    return out_w, out_g


def regnet_spec(
    params: RegNetParams,
    *,
    stem_width: int = 32,
    num_classes: int = 1000,
    in_channels: int = 3,
    resolution: int = 224,
    name: str = "",
    rounding: str = "paper",
) -> NetSpec:
    """The ImageNet RegNet network for these parameters (simple stem, stride-2 stages).

    ``rounding`` is how stage widths are made multiples of the group width
    (:func:`adjust_block_compatibility`): "paper" (the default), or
    "torchvision" for torchvision's variant of the same parameters.
    """
    block_w, _ = quantized_widths(params.depth, params.w0, params.wa, params.wm)
    widths, depths = stages_from_widths(block_w)
    n = len(widths)
    widths, groups = adjust_block_compatibility(widths, [params.bottleneck_ratio] * n, [params.group_width] * n,
                                                rounding)
    stages = tuple(
        Stage(
            block="res_bottleneck",
            depth=d,
            width=w,
            stride=2,
            bottleneck_ratio=float(params.bottleneck_ratio),
            group_width=g,
            se_ratio=float(params.se_ratio),
        )
        for w, d, g in zip(widths, depths, groups)
    )
    return NetSpec(
        stem=Stem("simple", stem_width, 2),
        stages=stages,
        num_classes=num_classes,
        in_channels=in_channels,
        resolution=resolution,
        name=name,
    )
