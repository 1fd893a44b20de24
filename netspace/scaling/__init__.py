"""Model scaling: EfficientNet's compound scaling on the user's data, and RegNet-style scaling by trend.

- :func:`scale_spec` applies width/depth multipliers with the EfficientNet
  rounding rules (widths to multiples of 8 within 10%, depths rounded up);
  B1..B7 follow from B0 and the published multipliers.
- :func:`compound_grid` lists (alpha, beta, gamma) with alpha * beta^2 * gamma^2
  equal to the budget; :func:`compound_scale` trains each briefly, picks the
  best and builds the family phi = 0..K (:func:`scale_family`).
- :func:`fit_regnet_trend` and :func:`regnet_for_flops` pick the RegNet for a
  flops target from a sweep's trend of good models (RegNet paper, sec. 5).
- :func:`scale_model` does all of it for a model named as ``netspace scale``
  takes it (the command's one call).
"""

from netspace.scaling.base import base_spec, scale_model
from netspace.scaling.compound import CompoundResult, compound_scale, describe, scale_family, write_outputs
from netspace.scaling.regnet_trend import RegNetTrend, fit_regnet_trend, regnet_for_flops
from netspace.scaling.rules import (
    ScalingError, compound_grid, compound_multipliers, scale_spec, scaled_resolution,
)

__all__ = [
    "CompoundResult", "RegNetTrend", "ScalingError", "base_spec", "compound_grid", "compound_multipliers", "compound_scale",
    "describe", "fit_regnet_trend", "regnet_for_flops", "scale_family", "scale_model", "scale_spec",
    "scaled_resolution", "write_outputs",
]
