"""RegNet-style scaling: the best RegNet for a flops target, read off a sweep's trend of good models.

The RegNet paper (sec. 5.1) trains sweeps at several flop regimes and
observes how the best models' parameters move: depth stays near 20 blocks
and wm near 2.5, while w0, wa and the group width grow with flops. We fit
that trend on the best models of a sweep (or several sweeps, one per regime)
as a line in log-log space, log(p) = a + b log(flops), for each of d, w0,
wa, wm, g; for a target flops we take the trend's parameters and scale w0
and wa together until the network has the target flops, trying depths and
group widths next to the trend's and keeping the candidate closest to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from netspace.complexity import complexity
from netspace.errors import SpecError
from netspace.scaling.rules import ScalingError
from netspace.spaces.regnet import QUANTUM, RegNetParams, regnet_spec
from netspace.spec import NetSpec, for_input

TREND_PARAMS = ("depth", "w0", "wa", "wm", "group_width")
_GROUP_WIDTHS = (1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 168, 232, 256)


@dataclass(frozen=True)
class RegNetTrend:
    """log(p) = intercept + slope * log(flops) for each RegNet parameter, fitted on good models."""

    coefficients: dict[str, tuple[float, float]]
    bottleneck_ratio: float
    se_ratio: float
    n: int
    flops_range: tuple[float, float]

    def predict(self, flops: float) -> dict[str, float]:
        """The trend's (continuous) parameters at ``flops``."""
        lf = math.log(flops)
        return {p: math.exp(a + b * lf) for p, (a, b) in self.coefficients.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"coefficients": {k: list(v) for k, v in self.coefficients.items()},
                "bottleneck_ratio": self.bottleneck_ratio, "se_ratio": self.se_ratio, "n": self.n,
                "flops_range": list(self.flops_range)}


def fit_regnet_trend(df: pd.DataFrame, *, top_fraction: float = 0.25, bins: int = 3) -> RegNetTrend:
    """Fit the trend on the best ``top_fraction`` of finished RegNet trials of each flops group.

    Groups are the sweeps when ``df`` holds several, else ``bins`` quantile
    bins of log flops. Needs the RegNet parameter columns (a RegNet, RegNetX
    or RegNetY sweep).
    """
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise ScalingError("RegNet trend: expected a non-empty trials DataFrame (netspace.run.frame.load)")
    missing = [c for c in (*TREND_PARAMS, "flops", "error", "status") if c not in df.columns]
    if missing:
        raise ScalingError(f"RegNet trend: the trials have no column(s) {', '.join(missing)}; "
                           "give a sweep of the RegNet, RegNetX or RegNetY space")
    if not 0 < top_fraction <= 1:
        raise ScalingError(f"RegNet trend: top_fraction must be in (0, 1], got {top_fraction!r}")
    done = df[(df["status"] == "done") & np.isfinite(pd.to_numeric(df["error"], errors="coerce"))].copy()
    if len(done) < 4:
        raise ScalingError(f"RegNet trend: needs at least 4 finished trials, got {len(done)}; "
                           "let the sweep finish more trials")
    if "sweep" in done.columns and done["sweep"].nunique() > 1:
        groups = [g for _, g in done.groupby("sweep", sort=False)]
    else:
        k = max(1, min(int(bins), len(done) // 2))
        edges = np.quantile(np.log(done["flops"].astype(float)), np.linspace(0, 1, k + 1))
        idx = np.clip(np.searchsorted(edges, np.log(done["flops"].astype(float)), side="right") - 1, 0, k - 1)
        groups = [done[idx == i] for i in range(k) if (idx == i).any()]
    top = pd.concat([g.nsmallest(max(2, math.ceil(top_fraction * len(g))), "error") for g in groups])
    lf = np.log(top["flops"].astype(float).to_numpy())
    if np.ptp(lf) <= 0:
        raise ScalingError("RegNet trend: the best models all have the same flops; sweep a wider flops range")
    coefficients = {}
    for p in TREND_PARAMS:
        v = np.log(top[p].astype(float).to_numpy())
        slope, intercept = np.polyfit(lf, v, 1)
        coefficients[p] = (float(intercept), float(slope))
    b = float(top["bottleneck_ratio"].median()) if "bottleneck_ratio" in top else 1.0
    se = float(top["se_ratio"].median()) if "se_ratio" in top else 0.0
    return RegNetTrend(coefficients, b, se, len(top), (float(done["flops"].min()), float(done["flops"].max())))


def _snap_group(g: float) -> list[int]:
    order = sorted(_GROUP_WIDTHS, key=lambda x: abs(math.log(x / g)))
    return order[:2]


def regnet_for_flops(trend: RegNetTrend, flops: float, *, resolution: int = 224, in_channels: int = 3,
                     num_classes: int = 1000, tolerance: float = 0.05) -> tuple[RegNetParams, NetSpec]:
    """The RegNet closest to ``trend`` with flops within ``tolerance`` of ``flops`` (else the closest in flops)."""
    if not isinstance(flops, (int, float)) or not math.isfinite(flops) or flops <= 0:
        raise ScalingError(f"target flops must be a positive number, got {flops!r}")
    hat = trend.predict(flops)
    d_hat, w0_hat, wa_hat = hat["depth"], hat["w0"], hat["wa"]
    wm = float(min(max(hat["wm"], 1.5), 3.0))
    best: tuple[float, float, RegNetParams, NetSpec] | None = None
    for depth in sorted({max(1, int(round(d_hat)) + k) for k in (-2, -1, 0, 1, 2)}):
        for g in _snap_group(hat["group_width"]):
            for s in np.geomspace(0.25, 4.0, 97):
                w0 = max(QUANTUM, int(round(s * w0_hat / QUANTUM)) * QUANTUM)
                try:
                    p = RegNetParams(depth=depth, w0=w0, wa=float(round(s * wa_hat, 2)), wm=round(wm, 3),
                                     group_width=g, bottleneck_ratio=trend.bottleneck_ratio,
                                     se_ratio=trend.se_ratio)
                    spec = for_input(regnet_spec(p), in_channels=in_channels, resolution=resolution,
                                     num_classes=num_classes)
                except SpecError:
                    continue
                miss = abs(math.log(complexity(spec)["flops"] / flops))
                # distance from the trend: the width scale, and depth and group width off the trend's
                off = abs(math.log(s)) + abs(math.log(depth / d_hat)) + abs(math.log(g / hat["group_width"]))
                key = (0.0 if miss <= math.log1p(tolerance) else miss, off)
                if best is None or key < best[:2]:
                    best = (*key, p, spec)
    if best is None:
        raise ScalingError(f"no RegNet near the trend reaches {flops:,.0f} flops; give a target inside or near "
                           f"the sweep's range {trend.flops_range[0]:,.0f}..{trend.flops_range[1]:,.0f}")
    return best[2], best[3]
