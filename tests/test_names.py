"""Other libraries' names resolve to exactly their model, with the library's published size; their state-dict
layouts match manifests generated from the real timm and torchvision (scripts/make_manifests.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from netspace import zoo
from netspace.complexity import complexity
from netspace.errors import UnknownModelError
from netspace.interop import expected_shapes, from_netspace, to_netspace
from netspace.models import build
from netspace.spaces.regnet import adjust_block_compatibility

MANIFESTS = Path(__file__).resolve().parents[1] / "netspace" / "interop" / "manifests"

# torchvision's published parameter counts: the ``num_params`` of each model's weights in its docs
# (torchvision/models/{regnet,resnet,efficientnet}.py, Weights meta; pytorch.org/vision/stable/models.html)
TORCHVISION_PUBLISHED = {
    "regnet_x_400mf": 5495976, "regnet_x_800mf": 7259656, "regnet_x_1_6gf": 9190136, "regnet_x_3_2gf": 15296552,
    "regnet_x_8gf": 39572648, "regnet_x_16gf": 54278536, "regnet_x_32gf": 107811560,
    "regnet_y_400mf": 4344144, "regnet_y_800mf": 6432512, "regnet_y_1_6gf": 11202430, "regnet_y_3_2gf": 19436338,
    "regnet_y_8gf": 39381472, "regnet_y_16gf": 83590140, "regnet_y_32gf": 145046770,
    "resnet18": 11689512, "resnet34": 21797672, "resnet50": 25557032, "resnet101": 44549160, "resnet152": 60192808,
    "resnext50_32x4d": 25028904, "resnext101_32x8d": 88791336, "resnext101_64x4d": 83455272,
    "wide_resnet50_2": 68883240, "wide_resnet101_2": 126886696,
    "efficientnet_b0": 5288548, "efficientnet_b1": 7794184, "efficientnet_b2": 9109994, "efficientnet_b3": 12233232,
    "efficientnet_b4": 19341616, "efficientnet_b5": 30389784, "efficientnet_b6": 43040704, "efficientnet_b7": 66347960,
}
# pycls's published parameter counts: dev/model_complexity.json of facebookresearch/pycls (configs/dds_baselines)
PYCLS_PUBLISHED = {
    "RegNetX-200MF": 2684792, "RegNetX-400MF": 5157512, "RegNetX-600MF": 6196040, "RegNetX-800MF": 7259656,
    "RegNetX-1.6GF": 9190136, "RegNetX-3.2GF": 15296552, "RegNetX-4.0GF": 22118248, "RegNetX-6.4GF": 26209256,
    "RegNetX-8.0GF": 39572648, "RegNetX-12GF": 46106056, "RegNetX-16GF": 54278536, "RegNetX-32GF": 107811560,
    "RegNetY-200MF": 3162996, "RegNetY-400MF": 4344144, "RegNetY-600MF": 6055160, "RegNetY-800MF": 6263168,
    "RegNetY-1.6GF": 11202430, "RegNetY-3.2GF": 19436338, "RegNetY-4.0GF": 20646656, "RegNetY-6.4GF": 30583252,
    "RegNetY-8.0GF": 39180068, "RegNetY-12GF": 51822544, "RegNetY-16GF": 83590140, "RegNetY-32GF": 145046770,
    "R-50-1x64d": 25557032, "R-101-1x64d": 44549160, "R-152-1x64d": 60192808,
    "X-50-32x4d": 25028904, "X-101-32x4d": 44177704, "X-152-32x4d": 59951400,
    "EN-B0": 5288548, "EN-B1": 7794184, "EN-B2": 9109994, "EN-B3": 12233232, "EN-B4": 19341616, "EN-B5": 30389784,
}


def _manifest(library: str) -> dict:
    return json.loads((MANIFESTS / f"{library}.json").read_text())


def _params(name: str) -> int:
    return complexity(zoo.get(name))["params"]


def test_every_name_has_a_published_count():
    assert set(zoo.LIBRARY_NAMES["torchvision"]) == set(TORCHVISION_PUBLISHED)
    assert set(zoo.LIBRARY_NAMES["pycls"]) == set(PYCLS_PUBLISHED)
    # timm's counts are the real timm's (the manifest); every timm name of the zoo is in it
    assert set(zoo.LIBRARY_NAMES["timm"]) == set(_manifest("timm")["params"])
    assert _manifest("torchvision")["params"] == TORCHVISION_PUBLISHED  # the docs agree with the library


@pytest.mark.parametrize("name", sorted(TORCHVISION_PUBLISHED))
def test_torchvision_names(name):
    assert _params(name) == TORCHVISION_PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(PYCLS_PUBLISHED))
def test_pycls_names(name):
    assert _params(name) == PYCLS_PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(zoo.LIBRARY_NAMES["timm"]))
def test_timm_names(name):
    assert _params(name) == _manifest("timm")["params"][name]


@pytest.mark.parametrize("name, model", [
    ("regnet_y_1_6gf", "RegNetY-1.6GF"), ("regnet_y_16gf", "RegNetY-16GF"), ("regnet_x_3_2gf", "RegNetX-3.2GF"),
    ("regnet_x_32gf", "RegNetX-32GF"), ("regnet_x_8gf", "RegNetX-8.0GF"), ("regnety_016", "RegNetY-1.6GF"),
    ("regnety_160", "RegNetY-16GF"), ("RegNetY-1.6GF", "RegNetY-1.6GF"), ("regnety_1.6gf", "RegNetY-1.6GF"),
    ("regnet_x_400mf", "regnet_x_400mf"), ("RegNetX-400MF", "RegNetX-400MF"), ("regnetx_004", "RegNetX-400MF"),
    ("regnetx_004_tv", "regnet_x_400mf"), ("R-50-1x64d", "ResNet-50"), ("X-101-32x4d", "ResNeXt-101"),
    ("EN-B0", "EfficientNet-B0"), ("resnext50_32x4d", "ResNeXt-50"), ("wide_resnet50_2", "Wide-ResNet-50-2"),
])
def test_names_resolve_to_exactly_that_model(name, model):
    assert zoo.canonical_name(name) == model


@pytest.mark.parametrize("name, close", [("regnet_x_4gf", "RegNetX-4.0GF"), ("regnet_y_128gf", "RegNetY-12GF"),
                                         ("resnet_51", "ResNet-50"), ("regnetx200mf", "RegNetX-200MF")])
def test_unknown_names_are_refused_with_suggestions(name, close):
    with pytest.raises(UnknownModelError) as err:
        zoo.get(name)
    message = str(err.value)
    assert "\n" not in message and f"unknown model {name!r}; did you mean" in message and close in message


def test_torchvision_rounding_differs_exactly_where_published_counts_differ():
    # halves up (torchvision) vs to even (the paper): 392 with groups of 16
    assert adjust_block_compatibility([392], [1.0], [16]) == ([384], [16])
    assert adjust_block_compatibility([392], [1.0], [16], rounding="torchvision") == ([400], [16])
    variants = {n for n, m in zoo.LIBRARY_NAMES["torchvision"].items() if n == m}
    assert variants == {"regnet_x_400mf", "regnet_y_800mf", "regnet_y_8gf"}
    for tv, model in zoo.LIBRARY_NAMES["torchvision"].items():
        if model.startswith("RegNet"):
            assert zoo.get(tv) == zoo.get(model)  # the same network under both names
    for tv in variants:
        paper = tv.replace("regnet_x_", "RegNetX-").replace("regnet_y_", "RegNetY-").upper().replace("8GF", "8.0GF")
        paper = paper.replace("REGNET", "RegNet")
        assert zoo.get(tv).widths != zoo.get(paper).widths
        assert _params(tv) == TORCHVISION_PUBLISHED[tv] != PYCLS_PUBLISHED[paper]


@pytest.mark.parametrize("library, name", [(lib, n) for lib in ("timm", "torchvision")
                                           for n in sorted(_manifest(lib)["state_dicts"])])
def test_key_map_matches_the_real_library(library, name):
    manifest = {k: tuple(v) for k, v in _manifest(library)["state_dicts"][name].items()}
    spec = zoo.get(name)
    assert expected_shapes(spec, library) == manifest
    # and back: the library's naming -> netspace -> the library's naming is the identity
    torch.manual_seed(0)
    ours = build(spec).state_dict()
    theirs = from_netspace(ours, spec, library)
    assert set(theirs) == set(manifest)
    again = to_netspace(theirs, spec, library)
    assert all(torch.equal(again[k], v) for k, v in ours.items())


def test_torchvision_bn_epsilon_is_folded():
    eps = _manifest("torchvision")["bn_eps"]
    assert eps == {f"efficientnet_b{b}": [0.001] for b in (5, 6, 7)}
    spec = zoo.get("efficientnet_b5")
    state = build(spec).state_dict()
    theirs = from_netspace(state, spec, "torchvision")
    assert torch.allclose(theirs["features.0.1.running_var"] + 1e-3, state["stem.1.running_var"] + 1e-5)
    timm_state = from_netspace(state, spec, "timm")  # timm's B5 keeps 1e-5
    assert torch.equal(timm_state["bn1.running_var"], state["stem.1.running_var"])
