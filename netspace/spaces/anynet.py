"""The paper's AnyNetX design spaces A..E (Radosavovic et al. 2020, section 3.1-3.2).

AnyNetX_A: four stages of X blocks, each stage i with its own depth
d_i <= 16, width w_i <= 1024 divisible by 8, bottleneck ratio b_i in {1, 2, 4}
and group width g_i in {1, 2, 4, 8, 16, 32}; a 3x3 stride-2 stem of width 32;
each stage downsamples by 2. The issue writes g as "{1, 2, ..., 32}"; the
paper's count of the space, (16 * 128 * 3 * 6)^4 ~ 10^18, has 6 values of g,
i.e. the powers of two, which is also pycls' ``power2_uniform`` sampler.
Each parameter is uniform over its values (the paper samples the space
uniformly; with compatibility enforced by rejection the space is uniform
over its valid configurations, see ``netspace.spaces.stagewise``).

The refinements, each a subset of the previous:

- AnyNetX_B: one bottleneck ratio b shared by all stages.
- AnyNetX_C: b and the group width g shared.
- AnyNetX_D: C with non-decreasing widths, w_{i+1} >= w_i.
- AnyNetX_E: D with non-decreasing depths, d_{i+1} >= d_i, except the last
  stage's depth (the paper notes the depth pattern need not hold for the
  final stage, so d_4 is free).
"""

from __future__ import annotations

from netspace.spaces.frame import Frame
from netspace.spaces.samplers import Sampler
from netspace.spaces.stagewise import StageParam, StagewiseSpace

ANYNET_NAMES = ("AnyNetX_A", "AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E")

DEPTH = Sampler("uniform", 1, 16, 1)
WIDTH = Sampler("uniform", 8, 1024, 8)
BOTTLENECK = Sampler("choice", values=(1.0, 2.0, 4.0))
GROUP_WIDTH = Sampler("pow2", 1, 32)

_NOTES = {
    "AnyNetX_A": "per-stage d, w, b, g (paper sec. 3.1)",
    "AnyNetX_B": "AnyNetX_A with a shared bottleneck ratio",
    "AnyNetX_C": "AnyNetX_B with a shared group width",
    "AnyNetX_D": "AnyNetX_C with non-decreasing widths",
    "AnyNetX_E": "AnyNetX_D with non-decreasing depths (the last stage's depth free)",
}


def anynet_space(name: str, frame: Frame | None = None) -> StagewiseSpace:
    """AnyNetX_A..E as a StagewiseSpace (``frame`` defaults to ImageNet, 224px)."""
    letter = name[-1].upper()
    shared_b = letter >= "B"
    shared_g = letter >= "C"
    params = {
        "depth": StageParam(DEPTH, monotone="increasing" if letter >= "E" else None,
                            monotone_stages=3 if letter >= "E" else None),
        "width": StageParam(WIDTH, monotone="increasing" if letter >= "D" else None),
        "bottleneck_ratio": StageParam(BOTTLENECK, shared=shared_b),
        "group_width": StageParam(GROUP_WIDTH, shared=shared_g),
    }
    canonical = f"AnyNetX_{letter}"
    return StagewiseSpace(canonical, 4, params, frame or Frame(), compatibility="reject", notes=_NOTES[canonical])
