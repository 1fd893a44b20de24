"""The zoo: names, aliases, suggestions, and every model builds and runs."""

from __future__ import annotations

import pytest
import torch

from netspace import zoo
from netspace.errors import UnknownModelError
from netspace.models import build


def test_zoo_contents():
    names = zoo.names()
    assert sum(n.startswith("RegNetX-") for n in names) == 12
    assert sum(n.startswith("RegNetY-") for n in names) == 12
    assert [n for n in names if n.startswith("EfficientNet")] == [f"EfficientNet-B{i}" for i in range(8)]
    for n in ("ResNet-50", "ResNet-101", "ResNet-152", "ResNeXt-50", "ResNeXt-101", "ResNeXt-152",
              "ResNet-20", "ResNet-56", "ResNet-110"):
        assert n in names


@pytest.mark.parametrize(
    "alias, name",
    [("RegNetX-200MF", "RegNetX-200MF"), ("regnety-1.6gf", "RegNetY-1.6GF"), ("regnetx_200mf", "RegNetX-200MF"),
     ("REGNETY 32GF", "RegNetY-32GF"), ("regnetx_016", "RegNetX-1.6GF"), ("efficientnet_b0", "EfficientNet-B0"),
     ("EfficientNet-B0", "EfficientNet-B0"), ("resnet-50", "ResNet-50"), ("ResNeXt-50", "ResNeXt-50"),
     ("resnext_50_32x4d", "ResNeXt-50"), ("ResNet-56", "ResNet-56")],
)
def test_names_and_aliases(alias, name):
    assert zoo.canonical_name(alias) == name
    assert zoo.get(alias).name == name


def test_unknown_name_suggests_closest():
    with pytest.raises(UnknownModelError) as err:
        zoo.get("RegNetX-200M")
    assert "did you mean RegNetX-200MF" in str(err.value)
    with pytest.raises(UnknownModelError, match="run 'netspace zoo'"):
        zoo.get("qqqqqqqqqq")


def test_effnet_scaling_rules():
    assert zoo.round_width(32, 1.1) == 32 and zoo.round_width(112, 1.1) == 120
    assert zoo.round_width(16, 1.8) == 32  # 28.8 -> 32 (nearest multiple of 8, rounding half up)
    assert zoo.round_width(1280, 2.0) == 2560
    assert zoo.round_width(10, 1.0) == 16  # 10 -> 8 would fall below 90%
    assert zoo.round_depth(3, 1.1) == 4 and zoo.round_depth(1, 3.1) == 4
    b7 = zoo.get("EfficientNet-B7")
    assert b7.resolution == 600 and b7.dropout == 0.5 and b7.depths == [4, 7, 7, 10, 10, 13, 4]
    assert b7.widths == [32, 48, 80, 160, 224, 384, 640] and b7.head_width == 2560 and b7.stem.width == 64


@pytest.mark.parametrize("name", zoo.names())
def test_every_zoo_model_builds_and_runs(name):
    spec = zoo.get(name)
    torch.manual_seed(0)
    model = build(spec).eval()
    x = torch.randn(2, spec.in_channels, 64, 64)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, spec.num_classes)
    assert torch.isfinite(y).all()
