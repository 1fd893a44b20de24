"""EfficientNet's scaling rules applied to any spec: widths to multiples of 8, depths up, resolution.

Compound scaling (EfficientNet, Tan & Le 2019, eq. 3) scales depth by
alpha^phi, width by beta^phi and resolution by gamma^phi under
alpha * beta^2 * gamma^2 ~ 2, so each step of phi about doubles the flops.
A width multiplier is applied to every channel count (stem, stages, head) and
rounded to the nearest multiple of 8, never more than 10% below the exact
product (``zoo.round_width``); a depth multiplier to every stage's block
count, rounded up (``zoo.round_depth``). Bottleneck stages with groups then
get the RegNet compatibility adjustment, so the group width divides the
inner width.
"""

from __future__ import annotations

import dataclasses
import math

from netspace.errors import NetspaceError
from netspace.spaces.regnet import adjust_block_compatibility
from netspace.spec import NetSpec
from netspace.zoo import round_depth, round_width


class ScalingError(NetspaceError, ValueError):
    """Scaling was asked for with impossible multipliers, budgets or inputs."""


# Bounds of a compound-scaling request, checked before anything is built or trained: the grid is one short
# training per candidate, and the largest family member has budget^phi times the base model's flops
# (EfficientNet-B7 has about 95 times B0's).
MAX_GRID = 1_000
MAX_PHI = 16
MAX_GROWTH = 2 ** 12


def check_family(budget: float, phi: int) -> None:
    """A ScalingError unless phi is in [1, MAX_PHI] and budget^phi (the largest member's flops over the base's)
    is at most MAX_GROWTH."""
    if not isinstance(phi, int) or isinstance(phi, bool) or phi < 1:
        raise ScalingError(f"phi must be an integer >= 1 (the largest family member), got {phi!r}")
    if phi > MAX_PHI:
        raise ScalingError(f"phi must be at most {MAX_PHI} (EfficientNet's family ends near 7), got {phi:,}")
    if isinstance(budget, (int, float)) and math.isfinite(budget) and budget > 1 and \
            phi * math.log(budget) > math.log(MAX_GROWTH):
        raise ScalingError(f"budget {budget:g} at phi {phi} asks for {budget:g}^{phi} = {budget ** phi:.3g} times the "
                           f"base model's flops; at most {MAX_GROWTH:,} (use a smaller --budget or --phi)")


def _check_multiplier(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ScalingError(f"{name} must be a positive number, got {value!r}")


def scale_spec(base: NetSpec, *, width_mult: float = 1.0, depth_mult: float = 1.0, resolution: int | None = None,
               dropout: float | None = None, divisor: int = 8, name: str = "") -> NetSpec:
    """``base`` with every width scaled by ``width_mult`` and every depth by ``depth_mult`` (EfficientNet rounding).

    ``resolution`` and ``dropout`` replace the base's when given. With
    multipliers of 1 the spec is unchanged (for widths already multiples of 8).
    """
    _check_multiplier("width_mult", width_mult)
    _check_multiplier("depth_mult", depth_mult)
    if resolution is not None and (not isinstance(resolution, int) or resolution < 1):
        raise ScalingError(f"resolution must be a positive integer, got {resolution!r}")
    stages = []
    for st in base.stages:
        width = round_width(st.width, width_mult, divisor)
        group_width = st.group_width
        if group_width is not None:  # the spec allows a group width only on kinds that read it (X/Y blocks)
            (width,), (group_width,) = adjust_block_compatibility([width], [st.bottleneck_ratio], [group_width])
        stages.append(dataclasses.replace(st, width=width, group_width=group_width,
                                          depth=round_depth(st.depth, depth_mult)))
    return base.replace(
        stem=dataclasses.replace(base.stem, width=round_width(base.stem.width, width_mult, divisor)),
        stages=tuple(stages),
        head_width=round_width(base.head_width, width_mult, divisor) if base.head_width else 0,
        resolution=base.resolution if resolution is None else resolution,
        dropout=base.dropout if dropout is None else dropout,
        name=name or base.name,
    )


def scaled_resolution(resolution: int, multiplier: float, multiple: int = 1) -> int:
    """``resolution * multiplier`` rounded to the nearest multiple of ``multiple`` (at least one multiple)."""
    _check_multiplier("resolution multiplier", multiplier)
    if not isinstance(multiple, int) or multiple < 1:
        raise ScalingError(f"resolution multiple must be a positive integer, got {multiple!r}")
    return max(multiple, int(round(resolution * multiplier / multiple)) * multiple)


def compound_multipliers(alpha: float, beta: float, gamma: float, phi: float) -> tuple[float, float, float]:
    """(depth, width, resolution) multipliers alpha^phi, beta^phi, gamma^phi (EfficientNet eq. 3)."""
    for n, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        _check_multiplier(n, v)
    return alpha ** phi, beta ** phi, gamma ** phi


def compound_grid(budget: float = 2.0, step: float = 0.1, max_beta: float | None = None,
                  max_gamma: float | None = None, tolerance: float = 0.0) -> list[tuple[float, float, float]]:
    """Candidate (alpha, beta, gamma) of EfficientNet's grid search (Tan & Le 2019, Section 3.3).

    With ``tolerance`` 0 (the default): beta, gamma on a grid of ``step``
    from 1 and alpha = budget / (beta^2 gamma^2), rounded to 3 decimals, so
    alpha * beta^2 * gamma^2 equals ``budget`` to within 0.1%. With
    ``tolerance`` > 0, alpha is on the same grid as beta and gamma and every
    triple with |alpha beta^2 gamma^2 - budget| <= tolerance * budget is kept:
    EfficientNet's own (1.2, 1.1, 1.15), product 1.92, is on the grid of step
    0.05 with tolerance 0.05 and can never be found with tolerance 0. Only
    triples with every factor >= 1 are kept. ``budget`` is the flops
    multiplier of one step of phi (EfficientNet: 2).
    """
    if not isinstance(budget, (int, float)) or isinstance(budget, bool) or not math.isfinite(budget) or budget <= 1:
        raise ScalingError(f"budget must be a flops multiplier > 1 (EfficientNet uses 2), got {budget!r}")
    if budget > MAX_GROWTH:
        raise ScalingError(f"budget must be at most {MAX_GROWTH:,} (the flops multiplier of one step of phi; "
                           f"EfficientNet uses 2), got {budget:g}")
    if not isinstance(step, (int, float)) or not 0 < step <= 1:
        raise ScalingError(f"step must be in (0, 1], got {step!r}")
    if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or not 0 <= tolerance < 1:
        raise ScalingError(f"tolerance must be a fraction of the budget in [0, 1), got {tolerance!r}")
    top = math.sqrt(budget * (1 + tolerance))  # beta^2 gamma^2 <= budget (1 + tolerance) with alpha >= 1
    hi_b = min(top, max_beta) if max_beta else top
    hi_g = min(top, max_gamma) if max_gamma else top
    n_b, n_g = int(math.floor((hi_b - 1) / step + 1e-9)), int(math.floor((hi_g - 1) / step + 1e-9))
    pairs = (n_b + 1) * (n_g + 1)

    def too_many(count: int) -> ScalingError:
        return ScalingError(f"step {step:g} with budget {budget:g} makes {count:,} grid candidates, each one "
                            f"training run; at most {MAX_GRID:,} (use a larger --step)")

    if pairs > MAX_GRID:  # every (beta, gamma) pair gives at least one candidate where alpha >= 1 allows
        raise too_many(pairs)
    out = []
    for i in range(n_b + 1):
        beta = round(1 + i * step, 6)
        for j in range(n_g + 1):
            gamma = round(1 + j * step, 6)
            area = beta ** 2 * gamma ** 2
            if tolerance == 0:
                alpha = round(budget / area, 3)
                if alpha >= 1:
                    out.append((alpha, beta, gamma))
                continue
            # alpha on the grid 1 + k step with |alpha area - budget| <= tolerance budget: a range of k
            lo = max(0, math.ceil(((budget * (1 - tolerance)) / area - 1) / step - 1e-9))
            hi = math.floor(((budget * (1 + tolerance)) / area - 1) / step + 1e-9)
            if hi - lo + 1 + len(out) > MAX_GRID:
                raise too_many(hi - lo + 1 + len(out))
            for k in range(lo, hi + 1):
                alpha = round(1 + k * step, 6)
                if abs(alpha * area - budget) <= tolerance * budget + 1e-12:
                    out.append((alpha, beta, gamma))
    return out
