"""The paper's AnyNetX design spaces A..E (Radosavovic et al. 2020, Section 3.1-3.2).

AnyNetX_A: four stages of X blocks, each stage i with its own depth
d_i <= 16, width w_i <= 1024 divisible by 8, bottleneck ratio b_i in {1, 2, 4}
and group width g_i in {1, 2, 4, 8, 16, 32}; a 3x3 stride-2 stem of width 32;
each stage downsamples by 2. The paper's count of the space,
(16 * 128 * 3 * 6)^4 ~ 10^18, has 6 values of g, the powers of two (pycls'
``power2_uniform``).

Distributions (Section 3.2: "log-uniform sampling of d_i <= 16, w_i <= 1024
and divisible by 8"), quantized as pycls' ``sweep/random.py`` ``log_uniform``
does: f log-uniform on (low - min(q, low/2), high], rounded up to a multiple
of q (d: q = 1 on 1..16, so P(d = 1) = 0.2; w: q = 8 on 8..1024); b and g
uniform over their values. An incompatible g is adjusted as in Appendix D
(``adjust_block_compatibility``: g capped at the bottleneck width w/b, which
is then rounded to a multiple of g), not rejected, so every g is as likely
as any other in the draw.

The refinements, each a subset of the previous (Section 3.2), sampled as
the previous space's distribution conditioned on the restriction:

- AnyNetX_B: one bottleneck ratio b shared by all stages.
- AnyNetX_C: b and the group width g shared.
- AnyNetX_D: C with non-decreasing widths, w_{i+1} >= w_i.
- AnyNetX_E: D with non-decreasing depths, d_{i+1} >= d_i, over all four
  stages (the paper's Table 1 divides the space's size by (4!)^2).

``AnyNetX_E_free_last`` is AnyNetX_E with the last stage's depth left free
(the paper remarks the depth pattern need not hold for the final stage);
it is not one of the paper's spaces and is not in the study.
"""

from __future__ import annotations

from netspace.spaces.frame import Frame
from netspace.spaces.samplers import Sampler
from netspace.spaces.stagewise import StageParam, StagewiseSpace

ANYNET_NAMES = ("AnyNetX_A", "AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E")
ANYNET_VARIANTS = ("AnyNetX_E_free_last",)

DEPTH = Sampler("log_uniform", 1, 16, 1)
WIDTH = Sampler("log_uniform", 8, 1024, 8)
BOTTLENECK = Sampler("choice", values=(1.0, 2.0, 4.0))
GROUP_WIDTH = Sampler("pow2", 1, 32)

_NOTES = {
    "AnyNetX_A": "per-stage d, w, b, g (paper sec. 3.1)",
    "AnyNetX_B": "AnyNetX_A with a shared bottleneck ratio (paper sec. 3.2)",
    "AnyNetX_C": "AnyNetX_B with a shared group width (paper sec. 3.2)",
    "AnyNetX_D": "AnyNetX_C with non-decreasing widths (paper sec. 3.2)",
    "AnyNetX_E": "AnyNetX_D with non-decreasing depths over all four stages (paper sec. 3.2)",
    "AnyNetX_E_free_last": "AnyNetX_E with the last stage's depth free (not a paper space)",
}


def anynet_space(name: str, frame: Frame | None = None) -> StagewiseSpace:
    """AnyNetX_A..E (or ``AnyNetX_E_free_last``) as a StagewiseSpace (``frame`` defaults to ImageNet, 224px)."""
    free_last = name.lower().replace("-", "_").endswith("free_last")
    letter = "E" if free_last else name[-1].upper()
    depth_order = 3 if free_last else None
    params = {
        "depth": StageParam(DEPTH, monotone="increasing" if letter >= "E" else None, monotone_stages=depth_order),
        "width": StageParam(WIDTH, monotone="increasing" if letter >= "D" else None),
        "bottleneck_ratio": StageParam(BOTTLENECK, shared=letter >= "B"),
        "group_width": StageParam(GROUP_WIDTH, shared=letter >= "C"),
    }
    canonical = "AnyNetX_E_free_last" if free_last else f"AnyNetX_{letter}"
    return StagewiseSpace(canonical, 4, params, frame or Frame(), compatibility="adjust", notes=_NOTES[canonical])
