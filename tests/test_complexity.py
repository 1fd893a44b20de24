"""The analytic complexity agrees with the built module, and with the published figures."""

from __future__ import annotations

import random

import pytest
import torch

from netspace import zoo
from netspace.complexity import complexity
from netspace.models import build
from counting import counted
from specgen import random_spec

N_RANDOM = 240


def _measure(spec):
    """params, flops and acts of the built module, counted without the analytic code."""
    return counted(build(spec), torch.randn(1, spec.in_channels, spec.resolution, spec.resolution))


@pytest.mark.parametrize("seed", range(N_RANDOM))
def test_random_spec_matches_module(seed):
    spec = random_spec(random.Random(seed))
    params, flops, acts = _measure(spec)
    cx = complexity(spec)
    assert cx["params"] == params
    assert cx["flops"] == flops
    assert cx["acts"] == acts


def test_random_specs_cover_the_features():
    """The property tests above exercise groups, SE, projections and every block kind."""
    specs = [random_spec(random.Random(s)) for s in range(N_RANDOM)]
    stages = [st for s in specs for st in s.stages]
    assert {st.block for st in stages} == {"vanilla", "res_basic", "res_bottleneck", "mbconv", "conv"}
    assert sum(not st.skip for st in stages) > 10
    assert sum(st.skip == "pool" and st.stride == 2 for st in stages) > 10
    assert sum(st.groups > 1 for st in stages if st.block == "res_bottleneck") > 20
    assert sum(st.se_ratio > 0 and st.block == "res_bottleneck" for st in stages) > 20
    assert sum(st.stride == 2 for st in stages) > 50
    assert {s.stem.kind for s in specs} == {"simple", "resnet", "cifar"}


# Published complexity of the reference implementation's model zoo (flops, params, acts).
PUBLISHED = {
    "RegNetX-200MF": (199040872, 2684792, 2164056),
    "RegNetX-400MF": (397678568, 5157512, 3143272),
    "RegNetX-600MF": (600891112, 6196040, 3975096),
    "RegNetX-800MF": (799700712, 7259656, 5148744),
    "RegNetX-1.6GF": (1602850792, 9190136, 7933512),
    "RegNetX-3.2GF": (3176622952, 15296552, 11367432),
    "RegNetX-4.0GF": (3964499816, 22118248, 12201608),
    "RegNetX-6.4GF": (6460292264, 26209256, 16369744),
    "RegNetX-8.0GF": (7995133416, 39572648, 14059688),
    "RegNetX-12GF": (12086679016, 46106056, 21366568),
    "RegNetX-16GF": (15940756456, 54278536, 25515496),
    "RegNetX-32GF": (31735930792, 107811560, 36302160),
    "RegNetY-200MF": (199519076, 3162996, 2168052),
    "RegNetY-400MF": (401849056, 4344144, 3892496),
    "RegNetY-600MF": (601227608, 6055160, 4334296),
    "RegNetY-800MF": (797183328, 6263168, 5249888),
    "RegNetY-1.6GF": (1612087326, 11202430, 8044814),
    "RegNetY-3.2GF": (3176496162, 19436338, 11263418),
    "RegNetY-4.0GF": (3973301344, 20646656, 12287200),
    "RegNetY-6.4GF": (6355221876, 30583252, 16407188),
    "RegNetY-8.0GF": (7963074196, 39180068, 17968916),
    "RegNetY-12GF": (12092395504, 51822544, 21384496),
    "RegNetY-16GF": (15911534044, 83590140, 23041228),
    "RegNetY-32GF": (32279583362, 145046770, 30261570),
    "EfficientNet-B0": (385825092, 5288548, 6748036),
    "EfficientNet-B1": (686817992, 7794184, 10884328),
    "EfficientNet-B2": (993578282, 9109994, 13832834),
    "EfficientNet-B3": (1827162472, 12233232, 23831296),
    "EfficientNet-B4": (4393801064, 19341616, 49489032),
    "EfficientNet-B5": (10266426072, 30389784, 98857400),
    "ResNet-50": (4089185256, 25557032, 11315688),
    "ResNet-101": (7801406440, 44549160, 16433640),
    "ResNet-152": (11513627624, 60192808, 22755816),
    "ResNeXt-50": (4230480872, 25028904, 14602216),
    "ResNeXt-101": (7969997800, 44177704, 21426152),
    "ResNeXt-152": (11709514728, 59951400, 29855720),
    "ResNet-56": (125747850, 855770, 544778),
    "ResNet-110": (253149834, 1730714, 1060874),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_complexity_to_the_integer(name):
    flops, params, acts = PUBLISHED[name]
    assert complexity(zoo.get(name)) == {"flops": flops, "params": params, "acts": acts}


@pytest.mark.parametrize("name", ["RegNetX-200MF", "RegNetY-1.6GF", "EfficientNet-B0", "ResNeXt-50"])
def test_zoo_module_matches_analytic_at_full_size(name):
    spec = zoo.get(name)
    assert sum(p.numel() for p in build(spec).parameters()) == complexity(spec)["params"]


def test_paper_table_rounded():
    """The paper's rounded figures (GF, M params, M acts)."""
    table = {"RegNetX-200MF": (0.2, 2.7, 2.2), "RegNetX-400MF": (0.4, 5.2, 3.1),
             "RegNetY-200MF": (0.2, 3.2, 2.2), "RegNetY-1.6GF": (1.6, 11.2, 8.0)}
    for name, (gf, mp, ma) in table.items():
        cx = complexity(zoo.get(name))
        assert round(cx["flops"] / 1e9, 1) == gf
        assert round(cx["params"] / 1e6, 1) == mp
        assert round(cx["acts"] / 1e6, 1) == ma
    assert round(complexity(zoo.get("EfficientNet-B0"))["params"] / 1e6, 1) == 5.3
    assert round(complexity(zoo.get("ResNet-50"))["flops"] / 1e9, 1) == 4.1
