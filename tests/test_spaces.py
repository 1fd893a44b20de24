"""Design spaces: the paper's constraints hold on every draw, params rebuild specs, YAML spaces and their errors."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from netspace import zoo
from netspace.complexity import complexity
from netspace.errors import NetspaceError
from netspace.spaces import (
    SPACE_NAMES, RegNetParams, SamplingError, SpaceError, UnknownSpaceError, get_space, load_space, pick_variant,
    regnet_spec, space_from_yaml,
)
from netspace.spaces.regnet_space import params_acts_ok

POW2 = {1, 2, 4, 8, 16, 32}
N_DRAWS = 1500


def _check_frame(spec, *, stem_stride=2, resolution=224, in_channels=3, num_classes=1000):
    assert spec.stem.kind == "simple" and spec.stem.width == 32 and spec.stem.stride == stem_stride
    assert (spec.resolution, spec.in_channels, spec.num_classes, spec.head_width) == (
        resolution, in_channels, num_classes, 0)
    assert len(spec.stages) == 4
    assert all(st.block == "res_bottleneck" and st.stride == 2 for st in spec.stages)
    for st in spec.stages:  # X/Y block compatibility
        assert st.group_width <= st.bottleneck_width and st.bottleneck_width % st.group_width == 0


# AnyNetX_A..E: tests/test_paper_spaces.py checks each against its definition and its constraints.


@pytest.mark.parametrize("name", ["RegNet", "RegNetX", "RegNetY"])
def test_regnet_spaces_satisfy_their_constraints(name):
    space = get_space(name)
    result = space.sample(N_DRAWS, seed=5)
    for s in result:
        p, spec = s.params, s.spec
        _check_frame(spec)
        assert spec == regnet_spec(RegNetParams(**p))
        assert 1 <= p["depth"] < 64 and spec.depth == p["depth"]
        assert 8 <= p["w0"] < 256 and p["w0"] % 8 == 0
        assert 8 <= p["wa"] < 256 and round(p["wa"] * 10) == pytest.approx(p["wa"] * 10)
        assert 1.5 <= p["wm"] <= 3
        assert p["group_width"] in POW2 and p["bottleneck_ratio"] in (1.0, 2.0, 4.0)
        assert len({st.bottleneck_ratio for st in spec.stages}) == 1
        if name != "RegNet":
            assert p["bottleneck_ratio"] == 1.0 and 12 <= p["depth"] <= 28 and p["wm"] >= 2
            cx = complexity(spec)
            assert s.complexity == cx
            f = cx["flops"] / 1e9
            assert cx["params"] / 1e6 <= 3.0 + 5.5 * f and cx["acts"] / 1e6 <= 6.5 * f ** 0.5
        se = 0.25 if name == "RegNetY" else 0.0
        assert p["se_ratio"] == se and all(st.se_ratio == se for st in spec.stages)
    if name == "RegNet":
        assert {s.params["bottleneck_ratio"] for s in result} == {1.0, 2.0, 4.0}
        assert min(s.params["wm"] for s in result) < 2


def test_regnetx_limits_reject_networks_over_them():
    space = get_space("RegNetX")
    unlimited = get_space("RegNetX")
    unlimited.limit_params_acts = False
    over = [s for s in unlimited.sample(800, seed=1) if not params_acts_ok(*(np.array([s.complexity[k]])
                                                                           for k in ("flops", "params", "acts")))[0]]
    assert over  # the limits do bite
    assert space.sample(800, seed=1).rejected["constraints"] > 0


def test_params_rebuild_spec_after_json_round_trip():
    for name in SPACE_NAMES:
        space = get_space(name)
        for s in space.sample(30, seed=11):
            params = json.loads(json.dumps(s.params))
            assert params == s.params
            assert space.to_spec(params) == s.spec
        json.dumps(space.describe())


def test_regnet_space_reproduces_zoo_models():
    params = {"depth": 13, "w0": 24, "wa": 36.44, "wm": 2.49, "group_width": 8}
    assert get_space("RegNet").to_spec({**params, "bottleneck_ratio": 1.0, "se_ratio": 0.0}) == zoo.get("RegNetX-200MF")
    assert get_space("RegNetX").to_spec(params) == zoo.get("RegNetX-200MF")  # b and SE fixed by the space
    assert get_space("RegNetY").to_spec(params) == zoo.get("RegNetY-200MF")
    assert get_space("RegNetX").to_spec({"depth": 16, "w0": 48, "wa": 36.97, "wm": 2.24,
                                         "group_width": 24}) == zoo.get("RegNetX-600MF")
    with pytest.raises(NetspaceError, match="unknown parameter"):
        get_space("RegNet").to_spec({**params, "d": 3})
    with pytest.raises(NetspaceError, match="bottleneck_ratio"):
        get_space("RegNet").to_spec(params)  # b is free in RegNet, so it must be given


def test_small_image_variant():
    assert pick_variant(28) == pick_variant(32) == pick_variant(64) == "small"
    assert pick_variant(65) == pick_variant(224) == "imagenet"
    assert pick_variant(28, "imagenet") == "imagenet"
    for name in SPACE_NAMES:
        space = get_space(name, resolution=28, in_channels=1, num_classes=10)
        assert space.frame.variant == "small"
        for s in space.sample(20, seed=2):
            _check_frame(s.spec, stem_stride=1, resolution=28, in_channels=1, num_classes=10)
            assert s.complexity == complexity(s.spec)
    forced = get_space("RegNetX", resolution=28, in_channels=1, num_classes=10, variant="ImageNet")
    assert forced.sample(1).samples[0].spec.stem.stride == 2
    assert get_space("AnyNetX_A", resolution=32).sample(1).samples[0].spec.stem.stride == 1
    with pytest.raises(SpaceError, match="unknown variant 'tiny'; choose imagenet, small"):
        get_space("RegNetX", variant="tiny")


def test_registry_names():
    assert get_space("anynetx_a").name == "AnyNetX_A"
    assert get_space("AnyNetX-E").name == "AnyNetX_E"
    assert get_space("REGNETY").name == "RegNetY"
    with pytest.raises(UnknownSpaceError) as e:
        get_space("RegNetZ")
    assert isinstance(e.value, NetspaceError)
    message = str(e.value)
    assert "'RegNetZ'" in message and all(n in message for n in SPACE_NAMES)


# -- YAML spaces -----------------------------------------------------------------

SPACE_YAML = """
name: wide-y
stages: 3
compatibility: reject
params:
  depth:
    sampler: uniform
    range: [1, 6]
    monotone: increasing
    monotone_stages: 2
  width:
    sampler: log_uniform
    range: [16, 512]
    quantum: 16
    monotone: increasing
  bottleneck_ratio:
    sampler: choice
    values: [1, 2]
    shared: true
  group_width:
    sampler: pow2
    range: [4, 16]
    shared: true
  se_ratio:
    value: 0.25
"""


def test_yaml_space_samples_its_constraints(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(SPACE_YAML)
    space = load_space(path, resolution=32, in_channels=3, num_classes=10)
    assert space.name == "wide-y" and space.frame.variant == "small"
    assert get_space(str(path), resolution=32).name == "wide-y"
    result = space.sample(1500, seed=4, flops=":200M")
    widths = Counter()
    for s in result:
        p, spec = s.params, s.spec
        assert len(spec.stages) == 3 and spec.stem.stride == 1 and spec.num_classes == 10
        assert spec.depths == p["depths"] and spec.widths == p["widths"]
        assert p["depths"][:2] == sorted(p["depths"][:2]) and all(1 <= d <= 6 for d in p["depths"])
        assert p["widths"] == sorted(p["widths"]) and all(16 <= w <= 512 and w % 16 == 0 for w in p["widths"])
        assert len(set(p["bottleneck_ratios"])) == 1 and p["bottleneck_ratios"][0] in (1.0, 2.0)
        assert len(set(p["group_widths"])) == 1 and p["group_widths"][0] in (4, 8, 16)
        assert all(st.se_ratio == 0.25 for st in spec.stages)
        assert s.complexity == complexity(spec) and s.complexity["flops"] <= 200e6
        assert space.to_spec(p) == spec
        widths.update(p["widths"])
    # log-uniform: every octave gets a similar share, so small widths are far more frequent than large ones.
    assert widths[16] + widths[32] > widths[256] + widths[512] > 0
    d = space.describe()
    assert d["params"]["width"] == {"sampler": "log_uniform", "range": [16, 512], "quantum": 16,
                                    "monotone": "increasing"}
    assert d["params"]["se_ratio"] == {"value": 0.25}


def test_yaml_adjust_compatibility_gives_valid_specs():
    text = """
stages: 4
compatibility: adjust
params:
  depth: {sampler: uniform, range: [1, 4]}
  width: {sampler: uniform, range: [8, 256], quantum: 8}
  bottleneck_ratio: {sampler: choice, values: [1, 2, 4]}
  group_width: {sampler: pow2, range: [1, 64]}
"""
    space = space_from_yaml(text)
    result = space.sample(2000, seed=0)
    assert result.rejected["invalid"] == 0  # adjustment keeps every draw
    moved = 0
    for s in result:
        _check_frame(s.spec)
        assert s.complexity == complexity(s.spec)
        moved += s.spec.widths != s.params["widths"]
    assert moved > 0


def _yaml_with(replace: str, by: str) -> str:
    assert replace in SPACE_YAML
    return SPACE_YAML.replace(replace, by)


@pytest.mark.parametrize("text, message", [
    (_yaml_with("sampler: log_uniform", "sampler: gauss"),
     "space.yaml: params.width.sampler: unknown sampler 'gauss'; choose uniform, log_uniform, pow2, choice"),
    (_yaml_with("stages: 3", "stages: zero"), "space.yaml: stages: must be an integer in [1, 8], got 'zero'"),
    (_yaml_with("compatibility: reject", "compatibility: fix"), "space.yaml: compatibility: must be reject or adjust"),
    (_yaml_with("name: wide-y", "name: wide-y\nlayers: 3"), "space.yaml: layers: unknown key"),
    (_yaml_with("  se_ratio:", "  kernel:"), "space.yaml: params.kernel: unknown parameter"),
    (_yaml_with("range: [16, 512]", "range: [16, 500]"),
     "space.yaml: params.width.range: range high 500.0 is not a multiple of quantum 16"),
    (_yaml_with("range: [16, 512]", "range: 512"), "space.yaml: params.width.range: expected [low, high], got 512"),
    (_yaml_with("quantum: 16", "quantum: -1"), "space.yaml: params.width.quantum: quantum must be > 0"),
    (_yaml_with("quantum: 16", "quantum: 0.5"), "space.yaml: params.width: width takes whole numbers"),
    (_yaml_with("range: [4, 16]", "range: [4, 12]"), "space.yaml: params.group_width.range: pow2 range"),
    (_yaml_with("values: [1, 2]", "values: []"), "space.yaml: params.bottleneck_ratio.values: choice needs"),
    (_yaml_with("values: [1, 2]", "values: [0, 2]"), "space.yaml: params.bottleneck_ratio: bottleneck_ratio must be >= 0.015625"),
    (_yaml_with("value: 0.25", "value: 1.5"), "space.yaml: params.se_ratio: se_ratio must be <= 1"),
    (_yaml_with("    monotone: increasing\n    monotone_stages: 2", "    monotone: upward"),
     "space.yaml: params.depth.monotone: must be increasing or decreasing, got 'upward'"),
    (_yaml_with("monotone_stages: 2", "monotone_stages: 5"),
     "space.yaml: params.depth.monotone_stages: must be an integer in [2, 3], got 5"),
    (_yaml_with("    shared: true\n  group_width", "    shared: yes please\n  group_width"),
     "space.yaml: params.bottleneck_ratio.shared: must be true or false"),
    (_yaml_with("    values: [1, 2]\n    shared: true", "    values: [1, 2]\n    shared: true\n    monotone: increasing"),
     "space.yaml: params.bottleneck_ratio: 'shared' and 'monotone' exclude each other"),
    (_yaml_with("    sampler: pow2\n", "    sampler: pow2\n    quantum: 2\n"),
     "space.yaml: params.group_width.quantum: not used by sampler 'pow2'"),
    (_yaml_with("  depth:\n    sampler: uniform", "  depth:\n    value: 2\n    sampler: uniform"),
     "space.yaml: params.depth.sampler: a constant 'value' takes no sampler settings"),
    (_yaml_with("    value: 0.25", "    spread: 0.25"), "space.yaml: params.se_ratio.spread: unknown key"),
    (SPACE_YAML.split("  width:")[0], "space.yaml: params.width: missing; depth and width are required"),
    ("stages: 2\nparams: [depth]", "space.yaml: params: expected a mapping"),
    ("- 1\n- 2", "space.yaml: expected a mapping"),
    ("stages: [1\n", "space.yaml: not valid YAML"),
])
def test_yaml_errors_name_the_key(tmp_path, text, message):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(SpaceError) as e:
        load_space(path)
    assert isinstance(e.value, NetspaceError)
    assert str(e.value).replace(str(tmp_path) + "/", "").startswith(message), str(e.value)


def test_yaml_incompatible_everything_fails_clearly():
    text = """
stages: 2
params:
  depth: {value: 1}
  width: {value: 8}
  bottleneck_ratio: {value: 4}
  group_width: {value: 32}
"""
    with pytest.raises(SpaceError, match="no width, bottleneck_ratio, group_width combination is compatible"):
        space_from_yaml(text)


def test_missing_yaml_file(tmp_path):
    with pytest.raises(SpaceError, match="cannot read space file"):
        load_space(tmp_path / "nope.yaml")


def test_sampling_error_carries_partial_result():
    space = space_from_yaml("stages: 1\nparams:\n  depth: {sampler: uniform, range: [1, 2]}\n"
                            "  width: {sampler: uniform, range: [8, 16], quantum: 8}\n")
    with pytest.raises(SamplingError) as e:
        space.sample(5, seed=0, max_candidates=5000)
    assert len(e.value.result.samples) == 4  # the space has exactly 2 x 2 networks
    assert "only 4 of 5 distinct networks" in str(e.value)
