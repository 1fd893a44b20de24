"""The MnasNet and NASNet search spaces: build, run, exact complexity, tokens, cell specs, errors."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import torch

from counting import counted
from netspace.complexity import complexity
from netspace.errors import NetspaceError, SpecError
from netspace.models import build
from netspace.spaces import (
    Frame, MnasNetSpace, NASNetSpace, SamplingError, SpaceError, UnknownSpaceError, get_space, space_names,
)
from netspace.spec import NetSpec, for_input, spec_from_dict
from netspace.spec_cells import CELL_OPS, CellNetSpec, unused_blocks


pytestmark = pytest.mark.usefixtures("one_thread")


def _measure(spec, batch: int = 2):
    """params, flops and acts of the built module (train-mode forward on a small batch, then eval counts)."""
    model = build(spec)
    x = torch.randn(batch, spec.in_channels, spec.resolution, spec.resolution)
    model.train()
    out = model(x)
    assert out.shape == (batch, spec.num_classes) and torch.isfinite(out).all()
    return counted(model, x[:1])


def _assert_exact(spec):
    params, flops, acts = _measure(spec)
    assert complexity(spec) == {"flops": flops, "params": params, "acts": acts}


# Test frames: small resolutions keep every forward pass cheap.
MNAS_FRAMES = {"imagenet": Frame("imagenet", 40, 3, 7), "small": Frame.for_data(resolution=28, in_channels=1,
                                                                                  num_classes=10)}


@pytest.mark.parametrize("variant", ["imagenet", "small"])
@pytest.mark.parametrize("seed", range(4))
def test_mnasnet_samples_build_run_and_match_complexity(variant, seed):
    space = MnasNetSpace(MNAS_FRAMES[variant])
    for s in space.sample(8, seed=seed):
        assert isinstance(s.spec, NetSpec)
        assert s.complexity == complexity(s.spec)
        _assert_exact(s.spec)


def _nasnet(variant: str) -> NASNetSpace:
    if variant == "small":
        return NASNetSpace(Frame.for_data(resolution=17, in_channels=1, num_classes=10), filters=8)
    return NASNetSpace(Frame("imagenet", 41, 3, 5), filters=8, repeats=1)


@pytest.mark.parametrize("variant", ["imagenet", "small"])
@pytest.mark.parametrize("seed", range(4))
def test_nasnet_samples_build_run_and_match_complexity(variant, seed):
    space = _nasnet(variant)
    for s in space.sample(6, seed=seed):
        assert isinstance(s.spec, CellNetSpec)
        assert s.complexity == complexity(s.spec)
        _assert_exact(s.spec)


def test_nasnet_every_op_and_input_is_exercised():
    space = _nasnet("small")
    specs = [s.spec for s in space.sample(32, seed=0)]
    blocks = [b for sp in specs for cell in (sp.normal, sp.reduction) for b in cell]
    assert {op for b in blocks for op in (b[1], b[3])} == set(CELL_OPS)
    assert {i for b in blocks for i in (b[0], b[2])} == set(range(6))
    assert {len(unused_blocks(sp.normal)) for sp in specs} >= {1, 2, 3}


def test_hand_written_cells_exact_including_every_op_at_stride_two():
    """Every op on a cell input of a reduction cell (stride 2) and on a block output, at odd sizes."""
    ops = list(CELL_OPS)
    reduction = tuple((j % 2, ops[j], (j + 1) % 2, ops[j + 3]) for j in range(5))
    normal = ((0, "sep_conv_5x5", 1, "identity"), (2, "max_pool_3x3", 2, "dil_conv_3x3"),
              (3, "avg_pool_3x3", 1, "conv_3x3"), (0, "conv_1x1", 4, "sep_conv_3x3"))
    for stem_cells, stem_stride, res in ((0, 1, 13), (2, 2, 45), (1, 1, 9)):
        spec = CellNetSpec(normal=normal, reduction=reduction, filters=8, repeats=2, stem_width=12,
                           stem_stride=stem_stride, stem_cells=stem_cells, num_classes=3, resolution=res)
        _assert_exact(spec)


def test_mnasnet_baseline_is_mobilenet_v2():
    space = get_space("mnasnet")
    spec = space.to_spec(space.baseline_params())
    assert spec.widths == [16, 24, 32, 64, 96, 160, 320] and spec.depths == [1, 2, 3, 4, 3, 3, 1]
    # MobileNetV2 1.0 at 224px: 3.50M params, 300M multiply-adds.
    assert complexity(spec)["params"] == 3_504_872
    assert round(complexity(spec)["flops"] / 1e6) == 301


def test_mnasnet_choices_map_to_the_spec():
    space = MnasNetSpace()
    p = space.baseline_params()
    p.update({"block1.layers": -1, "block2.op": "conv", "block2.kernel": 5, "block2.skip": "none",
              "block3.filters": 1.25, "block3.se_ratio": 0.25, "block4.op": "mbconv3", "block4.layers": 1,
              "block5.filters": 0.75})
    spec = space.to_spec(p)
    assert len(spec.stages) == 6  # block 1 (one layer) left out at layers -1
    s2, s3, s4, s5 = spec.stages[:4]
    assert (s2.block, s2.kernel, s2.skip, s2.depth, s2.stride) == ("conv", 5, False, 2, 2)
    assert (s3.width, s3.se_ratio, s3.expansion) == (40, 0.25, 6.0)
    assert (s4.expansion, s4.depth) == (3.0, 5)
    assert s5.width == 72
    assert spec.stages[0].block == "conv" and spec.stem.width == 32 and spec.head_width == 1280


def test_mnasnet_small_variant_is_small():
    space = get_space("MnasNet", resolution=28, in_channels=1, num_classes=10)
    assert space.frame.variant == "small"
    spec = space.to_spec(space.baseline_params())
    assert spec.stem.stride == 1 and spec.widths == [8, 12, 16, 32, 48, 80, 160] and spec.head_width == 640
    flops = [s.complexity["flops"] for s in space.sample(200, seed=0)]
    assert max(flops) < 40e6 and np.median(flops) < 15e6
    nas = get_space("NASNet", resolution=28, in_channels=1, num_classes=10)
    assert [c for c in nas.to_spec(nas.params_from_tokens([0] * 50)).cells()] == \
        [(False, 16), (True, 32), (False, 32), (True, 64), (False, 64)]
    flops = [s.complexity["flops"] for s in nas.sample(100, seed=0)]
    assert max(flops) < 120e6 and np.median(flops) < 70e6


@pytest.mark.parametrize("name", ["MnasNet", "NASNet"])
def test_tokens_round_trip(name):
    space = get_space(name, resolution=32, num_classes=10)
    tokens = space.tokens()
    assert len(tokens) == (42 if name == "MnasNet" else 50)  # NASNet: 5 decisions x 5 blocks x 2 cells
    assert all(isinstance(k, str) and isinstance(o, tuple) and o for k, o in tokens)
    rng = np.random.default_rng(0)
    for _ in range(50):
        idx = [int(rng.integers(len(o))) for _, o in tokens]
        params = space.params_from_tokens(idx)
        assert json.loads(json.dumps(params)) == params
        assert space.tokens_from_params(params) == idx
        spec = space.to_spec(params)
        assert spec_from_dict(json.loads(spec.to_json())) == spec
    for s in space.sample(10, seed=3):
        assert space.params_from_tokens(space.tokens_from_params(s.params)) == s.params
        assert space.to_spec(json.loads(json.dumps(s.params))) == s.spec
    json.dumps(space.describe())


def test_token_names_and_options():
    mnas = dict(MnasNetSpace().tokens())
    assert mnas["block3.op"] == ("conv", "sepconv", "mbconv3", "mbconv6")
    assert mnas["block7.layers"] == (-1, 0, 1) and mnas["block1.filters"] == (0.75, 1.0, 1.25)
    nas = dict(NASNetSpace().tokens())
    assert nas["normal.block1.input_a"] == (0, 1) and nas["reduction.block5.input_b"] == (0, 1, 2, 3, 4, 5)
    assert nas["normal.block2.op_a"] == CELL_OPS and len(CELL_OPS) >= 8


@pytest.mark.parametrize("name", ["MnasNet", "NASNet"])
def test_sampling_is_deterministic_windowed_and_distinct(name):
    space = get_space(name, resolution=28, in_channels=1, num_classes=10)
    a = space.sample(12, seed=5)
    assert [s.params for s in a] == [s.params for s in space.sample(12, seed=5)]
    assert [s.params for s in space.sample(5, seed=5)] == [s.params for s in a][:5]
    assert len({s.spec for s in a}) == 12
    flops = sorted(s.complexity["flops"] for s in a)
    lo, hi = flops[3], flops[8]
    w = space.sample(6, seed=1, flops=(lo, hi), params=(None, 5e6))
    assert all(lo <= s.complexity["flops"] <= hi for s in w) and w.windows["flops"]
    with pytest.raises(SamplingError, match="no network in flops"):
        space.sample(1, flops="1T:", max_candidates=300)


def test_cell_spec_json_round_trip_and_discriminator():
    space = NASNetSpace(drop_path=0.3, dropout=0.1)
    spec = space.sample(1, seed=0)[0].spec
    d = spec.to_dict()
    assert d["kind"] == "nasnet" and isinstance(d["normal"][0], list)
    text = json.dumps(d)
    back = spec_from_dict(json.loads(text))
    assert back == spec and back.to_dict() == d and CellNetSpec.from_json(spec.to_json()) == spec
    assert back.drop_path == 0.3 and back.dropout == 0.1
    # NetSpec dicts carry no kind and still load.
    ns = MnasNetSpace().sample(1)[0].spec
    assert spec_from_dict(json.loads(ns.to_json())) == ns
    # A stage spec written without "skip" reads back as skip=True, and writes back without it.
    assert "skip" not in json.dumps(get_space("RegNetX").sample(1)[0].spec.to_dict())


def test_cell_spec_for_input():
    spec = get_space("NASNet").sample(1)[0].spec
    small = for_input(spec, in_channels=1, resolution=28, num_classes=10)
    assert (small.stem_stride, small.in_channels, small.resolution, small.num_classes) == (1, 1, 28, 10)
    assert small.normal == spec.normal and small.stem_cells == spec.stem_cells


def test_scheduled_drop_path_rises_with_progress():
    space = NASNetSpace(Frame.for_data(resolution=12, in_channels=1, num_classes=4), filters=4, drop_path=0.4)
    model = build(space.sample(1, seed=2)[0].spec)
    rates = lambda: [c.drop_rate for c in model.cells]  # noqa: E731
    assert rates() == [0.0] * len(model.cells)
    model.set_drop_path_progress(0.5)
    assert rates()[-1] == pytest.approx(0.2) and rates()[0] == pytest.approx(0.2 / len(model.cells))
    model.set_drop_path_progress(2.0)
    assert rates()[-1] == pytest.approx(0.4)
    x = torch.randn(4, 1, 12, 12)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))  # no dropping in eval
    model.train()
    torch.manual_seed(0)
    a = model(x)
    torch.manual_seed(1)
    assert not torch.allclose(a, model(x))


def test_train_runs_on_a_cell_spec(tmp_path):
    from netspace.data import load_data
    from netspace.train import Schedule, TrainResult, train

    data = load_data("synthetic", synthetic_shape=(1, 12, 12), synthetic_classes=3, synthetic_size=(64, 32))
    space = NASNetSpace(Frame.for_data(resolution=12, in_channels=1, num_classes=3), filters=4, drop_path=0.2)
    spec = space.sample(1, seed=0)[0].spec
    result = train(spec, data, Schedule(epochs=1, batch_size=32, precision="fp32"), out_dir=tmp_path,
                   progress=False, handle_signals=False, device="cpu")
    assert result.status == "done" and result.spec == spec and result.complexity == complexity(spec)
    stored = json.loads((tmp_path / "result.json").read_text())
    assert TrainResult.from_json(stored, [], None).spec == spec


def test_registry_knows_the_nas_spaces():
    assert {"MnasNet", "NASNet", "NASNet-reduced", "NASNet-add"} <= set(space_names())
    assert get_space("nasnet_reduced").name == "NASNet-reduced" and get_space("nasnet-add").name == "NASNet-add"
    assert len(get_space("NASNet-add").tokens()) == 40
    assert get_space("mnas-net").name == "MnasNet" and get_space("nasnet").name == "NASNet"
    assert get_space("nasnet", resolution=64).frame.variant == "small"
    assert get_space("nasnet", resolution=32, variant="imagenet").frame.variant == "imagenet"
    with pytest.raises(UnknownSpaceError, match="NASNet"):
        get_space("DARTS")


@pytest.mark.parametrize("call, needle", [
    (lambda s: s.params_from_tokens([0] * 3), "expected 42 token indices"),
    (lambda s: s.params_from_tokens([0] * 41 + [3]), "token 'block7.layers' index must be an integer in [0, 2]"),
    (lambda s: s.params_from_tokens([0.5] * 42), "index must be an integer"),
    (lambda s: s.to_spec({**s.baseline_params(), "block8.op": "conv"}), "unknown parameter(s) block8.op"),
    (lambda s: s.to_spec({k: v for k, v in s.baseline_params().items() if k != "block2.kernel"}),
     "params need 'block2.kernel'"),
    (lambda s: s.to_spec({**s.baseline_params(), "block2.kernel": 7}), "block2.kernel=7 is not an option; choose"),
    (lambda s: s.tokens_from_params({**s.baseline_params(), "block1.op": "mbconv9"}), "block1.op='mbconv9'"),
    (lambda s: s.to_spec([1, 2]), "params must be an object"),
    (lambda s: s.sample(-1), "n must be an integer >= 0"),
    (lambda s: s.sample(1, max_candidates=0), "max_candidates must be >= 1"),
])
def test_mnasnet_errors_name_the_key(call, needle):
    with pytest.raises(NetspaceError) as e:
        call(MnasNetSpace())
    assert needle in str(e.value) and "\n" not in str(e.value)


GOOD = ((1, "sep_conv_3x3", 0, "identity"),)


@pytest.mark.parametrize("change, needle", [
    (dict(normal=((2, "identity", 0, "identity"),)), "normal cell block 1: input_a must be an integer in [0, 1]"),
    (dict(reduction=((0, "conv_7x7", 1, "identity"),)), "reduction cell block 1: unknown op_a 'conv_7x7'"),
    (dict(normal=()), "normal cell: must be a non-empty list"),
    (dict(normal=((0, "identity", 1),)), "block 1: must be [input_a, op_a, input_b, op_b]"),
    (dict(filters=0), "filters must be a positive integer"),
    (dict(stem_cells=2, filters=6), "filters 6 must be divisible by 2^stem_cells = 4"),
    (dict(stem_stride=3), "stem_stride must be 1 or 2"),
    (dict(drop_path=1.0), "drop_path must be in [0, 1)"),
])
def test_cell_spec_errors(change, needle):
    args = dict(normal=GOOD, reduction=GOOD, filters=8)
    args.update(change)
    with pytest.raises(SpecError) as e:
        CellNetSpec(**args)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_cell_spec_dict_errors():
    d = CellNetSpec(normal=GOOD, reduction=GOOD).to_dict()
    with pytest.raises(SpecError, match="unknown kind 'darts'"):
        spec_from_dict({**d, "kind": "darts"})
    with pytest.raises(SpecError, match="unknown key.*'cells'"):
        spec_from_dict({**d, "cells": 3})
    with pytest.raises(SpecError, match="missing required key.*reduction"):
        spec_from_dict({k: v for k, v in d.items() if k != "reduction"})


def test_nasnet_space_errors():
    with pytest.raises(SpaceError, match="filters must be a positive integer"):
        NASNetSpace(filters=0)
    with pytest.raises(SpaceError, match="filters must be a multiple of 4"):
        NASNetSpace(filters=10)
    with pytest.raises(SpaceError, match="drop_path must be in"):
        NASNetSpace(drop_path=1.5)
    with pytest.raises(SpaceError, match="unknown variant 'tiny'"):
        get_space("nasnet", variant="tiny")
    space = NASNetSpace()
    with pytest.raises(SpecError, match="normal.block3.input_a=4 is not an option; choose one of 0, 1, 2, 3"):
        space.to_spec({**space.params_from_tokens([0] * 50), "normal.block3.input_a": 4})
    with pytest.raises(SpaceError, match="the normal cell needs 5 blocks"):
        space.params_from_cells([GOOD[0]] * 4, [GOOD[0]] * 5)
    p = space.params_from_cells([GOOD[0]] * 5, [GOOD[0]] * 5)
    assert space.to_spec(p).normal == GOOD * 5


def test_conv_block_and_optional_skip_in_specs():
    from netspace.spec import Stage, Stem

    for bad, needle in [(dict(block="res_basic", skip=False), "skip=false applies only to mbconv and conv"),
                        (dict(block="conv", skip="yes"), 'skip must be true (identity), false (none) or "pool"'),
                        (dict(block="res_basic", skip="pool"), 'skip="pool" applies only to mbconv and conv'),
                        (dict(block="vanilla", kernel=5), "kernel applies only to mbconv and conv")]:
        with pytest.raises(SpecError, match=re.escape(needle)):
            NetSpec(stem=Stem(), stages=(Stage(depth=1, width=8, **bad),))
    spec = NetSpec(stem=Stem(width=8), stages=(Stage("conv", 2, 8, 1, kernel=5, skip=False),
                                               Stage("mbconv", 2, 8, 1, skip=False)), resolution=9, num_classes=3)
    assert NetSpec.from_dict(json.loads(spec.to_json())) == spec
    skips = lambda sp: [m.has_skip for m in build(sp).modules() if hasattr(m, "has_skip")]  # noqa: E731
    assert skips(spec) == [False] * 4
    with_skip = spec.replace(stages=tuple(dataclasses.replace(st, skip=True) for st in spec.stages))
    assert skips(with_skip) == [True] * 4
    assert complexity(with_skip) == complexity(spec)


# -- tokens of the paper's spaces ---------------------------------------------------

@pytest.mark.parametrize("name", ["AnyNetX_A", "AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E",
                                  "RegNet", "RegNetX", "RegNetY"])
def test_paper_spaces_as_tokens(name):
    space = get_space(name, resolution=32, num_classes=10)
    tokens = space.tokens()
    assert all(len(o) > 1 for _, o in tokens)
    rng = np.random.default_rng(1)
    valid = 0
    for _ in range(150):
        idx = [int(rng.integers(len(o))) for _, o in tokens]
        try:
            params = space.params_from_tokens(idx)
        except SpecError as e:
            assert "\n" not in str(e) and str(e).startswith(name)
            continue
        valid += 1
        assert json.loads(json.dumps(params)) == params
        again = space.tokens_from_params(params)
        assert space.params_from_tokens(again) == params
        if not name.endswith(("D", "E")):  # monotone values are sorted, so only those round-trip token by token
            assert again == idx
        spec = space.to_spec(params)
        assert complexity(spec)["flops"] > 0
    assert valid >= 2
    # Sampled params map to tokens (off-grid values to the nearest option); on-grid spaces round-trip exactly.
    for s in space.sample(10, seed=4):
        idx = space.tokens_from_params(s.params)
        assert all(0 <= i < len(o) for i, (_, o) in zip(idx, tokens))
        if name.startswith("AnyNet"):
            assert space.params_from_tokens(idx) == s.params


def test_paper_space_token_grids():
    a = dict(get_space("AnyNetX_A").tokens())
    assert list(a)[:4] == ["stage1.depth", "stage1.width", "stage1.bottleneck_ratio", "stage1.group_width"]
    assert a["stage1.depth"] == tuple(range(1, 17)) and a["stage4.width"] == tuple(range(8, 1025, 8))
    assert a["stage2.group_width"] == (1, 2, 4, 8, 16, 32) and a["stage3.bottleneck_ratio"] == (1.0, 2.0, 4.0)
    c = dict(get_space("AnyNetX_C").tokens())
    assert list(c)[:2] == ["bottleneck_ratio", "group_width"] and "stage1.group_width" not in c
    x = dict(get_space("RegNetX").tokens())
    assert list(x) == ["depth", "w0", "wa", "wm", "group_width"]
    assert x["w0"] == tuple(range(8, 249, 8)) and x["depth"] == tuple(range(12, 29))
    assert x["wa"][0] == 8.0 and x["wa"][-1] == 255.9 and len(x["wa"]) == 32
    assert x["wm"][0] == 2.0 and x["wm"][-1] == 3.0 and all(round(v, 2) == v for v in x["wm"])
    assert "bottleneck_ratio" in dict(get_space("RegNet").tokens())
    # AnyNetX_D sorts the widths it is given; RegNetX refuses a network outside its stage count.
    d = get_space("AnyNetX_D")
    idx = [0, 0] + [0, 20, 0, 10, 0, 30, 0, 5]
    assert d.params_from_tokens(idx)["widths"] == [48, 88, 168, 248]
    with pytest.raises(SpecError, match="RegNetX: depth=12, w0=8, wa=8.0, wm=2.0 give .* the space needs 4 stages"):
        get_space("RegNetX").params_from_tokens([0, 0, 0, 0, 0])
    # AnyNetX adjusts an incompatible group width (Appendix D): g = 4 on a bottleneck width of 2 becomes 2.
    a_space = get_space("AnyNetX_A")
    params = a_space.params_from_tokens([0, 0, 2, 2] + [0] * 12)
    assert params["group_widths"][0] == 4 and a_space.to_spec(params).stages[0].group_width == 2
    with pytest.raises(SpecError, match="expected 5 token indices"):
        get_space("RegNetX").params_from_tokens([0])
    with pytest.raises(SpecError, match="params need 'wa'"):
        get_space("RegNetX").tokens_from_params({"depth": 13, "w0": 24})
    with pytest.raises(SpecError, match="bottleneck_ratios is shared by all stages"):
        get_space("AnyNetX_B").tokens_from_params({"depths": [1] * 4, "widths": [8] * 4,
                                                   "bottleneck_ratios": [1.0, 2.0, 1.0, 1.0],
                                                   "group_widths": [1] * 4})


def test_worker_trains_a_stored_cell_spec(tmp_path):
    from netspace.run.worker import run_trial
    from netspace.train import Schedule

    space = NASNetSpace(Frame.for_data(resolution=12, in_channels=1, num_classes=3), filters=4)
    spec = space.sample(1, seed=1)[0].spec
    job = {"spec": json.loads(spec.to_json()), "out_dir": str(tmp_path),
           "data": {"name": "synthetic", "synthetic_shape": (1, 12, 12), "synthetic_classes": 3,
                    "synthetic_size": (64, 32)},
           "schedule": Schedule(epochs=1, batch_size=32, precision="fp32").to_dict()}
    result = run_trial(job)
    assert result["status"] == "done", result.get("message")
    assert json.loads((tmp_path / "result.json").read_text())["spec"] == spec.to_dict()


def test_cli_info_prints_a_cell_spec(tmp_path, capsys):
    from netspace.cli import main

    spec = get_space("nasnet", resolution=28, in_channels=1, num_classes=10).sample(1)[0].spec
    path = tmp_path / "cell.json"
    path.write_text(spec.to_json())
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "NASNet cells" in out and "N16 R32 N32 R64 N64" in out and f"{complexity(spec)['flops']:,}" in out
    blocks = [b for b in spec.normal if len(b) == 5] + [b for b in spec.normal if len(b) == 4]
    shown = [f"concat({b[0]}:{b[1]}, {b[2]}:{b[3]})" if len(b) == 5 else f"{b[0]}:{b[1]} + {b[2]}:{b[3]}"
             for b in blocks]
    assert all(text in out for text in shown)
    assert main(["info", str(path), "--json"]) == 0
    assert spec_from_dict(json.loads(capsys.readouterr().out)["spec"]) == spec


def test_zero_init_silences_no_block_without_a_skip():
    """Zero-init of the last BN applies to residual branches only: a block without a skip keeps its signal."""
    from netspace.models.mbconv import MBConv
    from netspace.models.net import init_weights

    space = get_space("mnasnet", resolution=28, in_channels=1, num_classes=10)
    for seed in range(4):
        spec = space.sample(1, seed=seed).samples[0].spec
        model = build(spec)
        init_weights(model, zero_init_last_bn=True)
        blocks = [m for m in model.modules() if isinstance(m, MBConv)]
        assert any(not b.has_skip for b in blocks) and any(b.has_skip for b in blocks)
        for b in blocks:
            if type(b) is not MBConv:  # the conv op's BN feeds an activation: never zero-initialized
                continue
            last_bn = [m for m in b.f if isinstance(m, torch.nn.BatchNorm2d)][-1]
            assert bool((last_bn.weight == 0).all()) == b.has_skip
        model.eval()
        with torch.no_grad():
            out = model(torch.randn(8, 1, 28, 28))
        assert out.std(dim=0).min() > 0  # the logits depend on the input
