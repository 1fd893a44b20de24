"""Specs: exact JSON round-trip and validation messages that name the field and the rule."""

from __future__ import annotations

import json
import random

import pytest

from netspace import zoo
from netspace.errors import SpecError
from netspace.spec import NetSpec, Stage, Stem, for_input
from specgen import random_spec


def _spec(**stage_kw) -> NetSpec:
    kw = dict(block="res_bottleneck", depth=2, width=64, stride=2)
    kw.update(stage_kw)
    return NetSpec(stem=Stem("simple", 32, 2), stages=(Stage(block="res_basic", depth=1, width=32), Stage(**kw)))


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_json_round_trip_is_exact(name):
    spec = zoo.get(name)
    again = NetSpec.from_json(spec.to_json())
    assert again == spec
    assert again.to_dict() == spec.to_dict()
    assert again.name == spec.name


def test_random_json_round_trip():
    for seed in range(100):
        spec = random_spec(random.Random(seed))
        text = json.dumps(spec.to_dict())
        assert NetSpec.from_dict(json.loads(text)) == spec


def test_spec_is_frozen_and_hashable():
    spec = zoo.get("RegNetX-200MF")
    with pytest.raises(AttributeError):
        spec.resolution = 32  # type: ignore[misc]
    assert len({spec, zoo.get("regnetx_200mf")}) == 1


@pytest.mark.parametrize(
    "stage_kw, message",
    [
        (dict(width=72, bottleneck_ratio=2.0, group_width=8), "stage 2: bottleneck width 36 is not divisible by group width 8"),
        (dict(group_width=128), "stage 2: group width 128 exceeds bottleneck width 64"),
        (dict(depth=0), "stage 2: depth must be a positive integer"),
        (dict(width=-8), "stage 2: width must be a positive integer"),
        (dict(stride=3), "stage 2: stride must be 1 or 2"),
        (dict(block="transformer"), "stage 2: unknown block 'transformer'"),
        (dict(se_ratio=2.0), "stage 2: se_ratio must be in [0, 1]"),
        (dict(bottleneck_ratio=0), "stage 2: bottleneck_ratio must be > 0"),
        (dict(block="res_basic", group_width=8), "stage 2: group_width applies only to res_bottleneck"),
        (dict(block="mbconv", kernel=4), "stage 2: kernel must be an odd positive integer"),
        (dict(block="mbconv", expansion=0.5), "stage 2: expansion must be >= 1"),
        (dict(block="res_basic", se_ratio=0.25), "stage 2: se_ratio applies only to res_bottleneck, mbconv and conv blocks"),
    ],
)
def test_stage_validation_names_the_rule(stage_kw, message):
    with pytest.raises(SpecError) as err:
        _spec(**stage_kw)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(stem=Stem("spiral", 32, 2)), "stem: unknown kind 'spiral'"),
        (dict(stem=Stem("cifar", 16, 2)), "the 'cifar' stem has stride 1"),
        (dict(num_classes=0), "num_classes must be a positive integer"),
        (dict(resolution=2.5), "resolution must be a positive integer"),
        (dict(activation="tanh"), "unknown activation 'tanh'"),
        (dict(dropout=1.0), "dropout must be in [0, 1)"),
        (dict(stages=()), "at least one stage"),
        (dict(head_width=-1), "head_width must be an integer >= 0"),
    ],
)
def test_spec_validation(change, message):
    with pytest.raises(SpecError, match=None) as err:
        _spec().replace(**change)
    assert message in str(err.value)


def test_from_dict_rejects_unknown_and_missing_keys():
    d = zoo.get("ResNet-20").to_dict()
    d["stages"][1]["widht"] = 3
    with pytest.raises(SpecError, match=r"stage 2: unknown key\(s\) 'widht'"):
        NetSpec.from_dict(d)
    d = zoo.get("ResNet-20").to_dict()
    del d["stages"]
    with pytest.raises(SpecError, match="missing required key"):
        NetSpec.from_dict(d)
    with pytest.raises(SpecError, match="not valid JSON"):
        NetSpec.from_json("{oops")
    with pytest.raises(SpecError, match="must be a JSON object"):
        NetSpec.from_dict([1, 2])  # type: ignore[arg-type]


def test_for_input_small_images_get_a_stride_1_stem():
    r50 = for_input(zoo.get("ResNet-50"), in_channels=1, resolution=28, num_classes=10)
    assert (r50.stem.kind, r50.stem.stride, r50.in_channels, r50.num_classes) == ("cifar", 1, 1, 10)
    assert r50.total_stride == 8
    rx = for_input(zoo.get("RegNetX-200MF"), in_channels=3, resolution=32, num_classes=10)
    assert (rx.stem.kind, rx.stem.stride, rx.total_stride) == ("simple", 1, 16)
    big = for_input(zoo.get("RegNetX-200MF"), in_channels=3, resolution=128, num_classes=100)
    assert big.stem == zoo.get("RegNetX-200MF").stem and big.num_classes == 100
    assert rx.stages == zoo.get("RegNetX-200MF").stages
