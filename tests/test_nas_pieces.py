"""The NAS baselines as their papers define them: MnasNet's skip ops and space size, NASNet's 13 ops,
NAS-RL's controller by name, EfficientNet's grid."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from counting import counted
from netspace.complexity import complexity
from netspace.errors import SpecError
from netspace.latency.lookup import LatencyTable, parts
from netspace.models import build
from netspace.models.mbconv import MBConv
from netspace.scaling import compound_grid
from netspace.scaling.rules import ScalingError
from netspace.search import Reinforce, SearchError
from netspace.search.reinforce import CONTROLLER_PRESETS
from netspace.spaces import Frame, MnasNetSpace, NASNetSpace, SpaceError, get_space
from netspace.spaces.nasnet import NASNET_OPS, NASNET_REDUCED_OPS
from netspace.spec import NetSpec, Stage, Stem, spec_from_dict
from netspace.spec_cells import CELL_OPS, CellNetSpec


pytestmark = pytest.mark.usefixtures("one_thread")


def _assert_exact(spec):
    params, flops, acts = counted(build(spec), torch.randn(1, spec.in_channels, spec.resolution, spec.resolution))
    assert complexity(spec) == {"flops": flops, "params": params, "acts": acts}


# -- MnasNet: SkipOp in {pooling, identity residual, no skip}, S = 432 per block ----------------------

def test_mnasnet_block_has_the_papers_432_choices():
    space = MnasNetSpace()
    tokens = dict(space.tokens())
    assert tokens["block4.skip"] == ("none", "identity", "pool")
    # ConvOp 4 x KernelSize 2 x SERatio 2 x SkipOp 3 x filters 3 x layers 3 (Tan et al. 2019, Section 4.1).
    assert [len(tokens[f"block1.{k}"]) for k in ("op", "kernel", "se_ratio", "skip", "filters", "layers")] == \
        [4, 2, 2, 3, 3, 3]
    assert space.block_choices() == 432 == space.describe()["block_choices"]
    assert space.space_size() == 432 ** 7
    assert 1e13 <= 432 ** 5 < 1e14  # the paper's example, B = 5 blocks: "about 10^13"


def test_mnasnet_pool_skip_maps_to_the_spec_and_adds_a_shortcut_on_every_layer():
    space = MnasNetSpace(Frame.for_data(resolution=28, in_channels=1, num_classes=10))
    p = space.baseline_params()
    p.update({"block3.skip": "pool", "block4.skip": "none", "block4.op": "conv"})
    spec = space.to_spec(p)
    assert [st.skip for st in spec.stages][2:4] == ["pool", False]
    model = build(spec)
    blocks3 = list(model.s3)
    assert all(b.has_skip for b in blocks3) and isinstance(blocks3[0].shortcut, nn.Sequential)
    assert all(b.shortcut is None for b in blocks3[1:])  # stride 1, same width: the identity
    assert not any(b.has_skip for b in model.s4)
    identity = build(space.to_spec({**p, "block3.skip": "identity"}))
    assert [b.has_skip for b in identity.s3] == [False, True, True]
    _assert_exact(spec)
    # The first layer's shortcut costs one 1x1 conv + BN (12 -> 16 channels at 7x7, 28px / 4).
    delta = {k: complexity(spec)[k] - complexity(space.to_spec({**p, "block3.skip": "identity"}))[k]
             for k in ("flops", "params", "acts")}
    assert delta == {"flops": 12 * 16 * 7 * 7, "params": 12 * 16 + 2 * 16, "acts": 16 * 7 * 7}


@pytest.mark.parametrize("block", ["mbconv", "conv"])
@pytest.mark.parametrize("w_in, w_out, stride, res", [(8, 8, 2, 9), (8, 12, 2, 7), (8, 12, 1, 5), (8, 8, 1, 6),
                                                      (12, 8, 2, 11)])
def test_pooled_shortcut_is_avg_pool_then_projection(block, w_in, w_out, stride, res):
    """The shortcut is a stride x stride average pool (odd edges: the mean of the pixels the window holds),
    then a 1x1 conv + BN only where widths differ; exact complexity at odd sizes."""
    fields = dict(kernel=3, expansion=3.0) if block == "mbconv" else dict(kernel=3)
    st = Stage(block, 2, w_out, stride, se_ratio=0.25, skip="pool", **fields)
    spec = NetSpec(stem=Stem("simple", w_in, 1), stages=(st,), num_classes=3, resolution=res)
    _assert_exact(spec)
    model = build(spec).eval()
    first = model.s1[0]
    assert isinstance(first, MBConv) and first.has_skip
    x = torch.randn(2, w_in, res, res)
    with torch.no_grad():
        y = first(x)
        short = y - first.f(x)
    out = (res - 1) // stride + 1
    assert y.shape == (2, w_out, out, out)
    pooled = F.avg_pool2d(x, stride, stride, ceil_mode=True) if stride > 1 else x
    if stride > 1 and res % 2:  # the last window holds one pixel at the corner
        assert torch.allclose(pooled[:, :, -1, -1], x[:, :, -1, -1])
    if w_in == w_out:
        assert first.shortcut is None or not any(isinstance(m, nn.Conv2d) for m in first.shortcut.modules())
        assert torch.allclose(short, pooled, atol=1e-5)
    else:
        conv1x1 = [m for m in first.shortcut.modules() if isinstance(m, nn.Conv2d)]
        assert len(conv1x1) == 1 and conv1x1[0].kernel_size == (1, 1) and conv1x1[0].stride == (1, 1)
        with torch.no_grad():
            assert torch.allclose(short, first.shortcut[-1](first.shortcut[-2](pooled)), atol=1e-5)


def test_pool_skip_spec_round_trip_errors_and_latency_keys():
    st = Stage("mbconv", 2, 16, 2, expansion=6.0, skip="pool")
    spec = NetSpec(stem=Stem("simple", 8, 1), stages=(st,), num_classes=3, resolution=9)
    assert spec.to_dict()["stages"][0]["skip"] == "pool"
    assert spec_from_dict(json.loads(spec.to_json())) == spec
    for bad, needle in [(dict(skip="avg"), 'skip must be true (identity), false (none) or "pool", got \'avg\''),
                        (dict(skip=1), "skip must be true (identity), false (none)")]:
        with pytest.raises(SpecError) as e:
            NetSpec(stem=Stem(), stages=(Stage("mbconv", 1, 8, **bad),))
        assert needle in str(e.value) and "\n" not in str(e.value)
    # A latency key tells the pooled first block from an identity-skip one; the later blocks are the identity.
    sigs = [sig for sig, _ in parts(spec) if sig.kind == "mbconv"]
    assert [sig.skip for sig in sigs] == ["pool", True]
    other = spec.replace(stages=(Stage("mbconv", 2, 16, 2, expansion=6.0),))
    keys = [sig for sig, _ in parts(other) if sig.kind == "mbconv"]
    assert keys[1] == sigs[1] and keys[0] != sigs[0]
    table = LatencyTable(entries={sigs[0]: 1.0, keys[0]: 2.0, sigs[1]: 0.5})
    # Signatures differing only in skip (True against "pool") sort without comparing a bool to a str.
    assert [e["skip"] for e in table.to_dict()["entries"]] == [True, "pool", True]


# -- NASNet: the paper's 13 ops; netspace's 8-op subset under its own name ----------------------------

def test_nasnet_space_offers_the_papers_13_ops():
    assert NASNET_OPS == CELL_OPS == (
        "identity", "conv_1x3_3x1", "conv_1x7_7x1", "dil_conv_3x3", "avg_pool_3x3", "max_pool_3x3",
        "max_pool_5x5", "max_pool_7x7", "conv_1x1", "conv_3x3", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7")
    full = get_space("NASNet")
    assert dict(full.tokens())["reduction.block4.op_b"] == NASNET_OPS
    assert full.describe()["paper_ops_missing"] == [] and full.op_set == "paper"
    reduced = get_space("nasnet-reduced")
    assert reduced.name == "NASNet-reduced" and dict(reduced.tokens())["normal.block1.op_a"] == NASNET_REDUCED_OPS
    assert set(reduced.describe()["paper_ops_missing"]) == {"conv_1x3_3x1", "conv_1x7_7x1", "max_pool_5x5",
                                                            "max_pool_7x7", "sep_conv_7x7"}
    # Per block: inputs (j + 1 options each) x ops, two of each; the op part is 13^2 against 8^2.
    sizes = {s.name: s.space_size() for s in (full, reduced)}
    assert sizes["NASNet"] / sizes["NASNet-reduced"] == pytest.approx((13 / 8) ** 20)  # 20 op tokens
    custom = NASNetSpace(ops=("identity", "max_pool_7x7"))
    assert custom.op_set == "custom" and dict(custom.tokens())["normal.block1.op_a"] == ("identity", "max_pool_7x7")
    assert NASNetSpace(ops=list(NASNET_REDUCED_OPS)).name == "NASNet-reduced"
    for ops, needle in [("tiny", "unknown op set 'tiny'; choose one of paper, reduced"),
                        (("identity", "conv_5x5"), "unknown op(s) 'conv_5x5'"),
                        ((), "ops must be distinct and non-empty")]:
        with pytest.raises(SpaceError) as e:
            NASNetSpace(ops=ops)
        assert needle in str(e.value) and "\n" not in str(e.value)
    # A reduced-space sample is a valid cell spec; a full-set op is refused by a reduced space's params.
    with pytest.raises(SpecError, match="op_a='sep_conv_7x7' is not an option"):
        reduced.to_spec({**reduced.params_from_tokens([0] * 50), "normal.block1.op_a": "sep_conv_7x7"})


def test_every_nasnet_op_builds_with_exact_complexity_at_both_strides():
    """All 13 ops read a cell input (stride 2 in the reduction cell) and a block output, at odd sizes."""
    ops = list(CELL_OPS)
    on_inputs = tuple((j % 2, ops[(2 * j) % 13], (j + 1) % 2, ops[(2 * j + 1) % 13]) for j in range(7))
    on_blocks = tuple((0, ops[j], j + 1, ops[(j + 5) % 13]) for j in range(13))
    for normal, reduction, res in ((on_blocks, on_inputs, 13), (on_inputs, on_blocks, 11)):
        spec = CellNetSpec(normal=normal, reduction=reduction, filters=4, repeats=1, stem_width=6,
                           num_classes=3, resolution=res)
        _assert_exact(spec)
        model = build(spec)
        model.train()
        out = model(torch.randn(2, 3, res, res))
        assert out.shape == (2, 3) and torch.isfinite(out).all()
    assert {op for cell in (on_inputs, on_blocks) for b in cell for op in (b[1], b[3])} == set(CELL_OPS)


def test_nasnet_blocks_choose_add_or_concat_as_the_papers_step_5():
    """Each block's fifth decision (Zoph et al. 2018, Section 3, step 5): 2 x 5B = 50 predictions."""
    space = get_space("NASNet")
    tokens = dict(space.tokens())
    assert len(tokens) == 50 and tokens["reduction.block5.combine"] == ("add", "concat")
    names = [k for k, _ in space.tokens()][:5]
    assert names == [f"normal.block1.{slot}" for slot in ("input_a", "op_a", "input_b", "op_b", "combine")]
    assert space.describe()["combine"] == ["add", "concat"]
    # The add-only space is a named option (the pre-2026-12-01 space): 40 tokens, 2^10 times smaller.
    add_only = NASNetSpace(combine="add")
    assert len(add_only.tokens()) == 40 and space.space_size() == add_only.space_size() * 2 ** 10
    with pytest.raises(SpaceError, match="unknown combine 'max'; choose one of paper, add"):
        NASNetSpace(combine="max")
    # Four elements mean add; "add" written out is the same block; "concat" is kept.
    cell = ((0, "identity", 1, "identity", "add"), (1, "conv_1x1", 2, "identity", "concat"))
    spec = CellNetSpec(normal=cell, reduction=cell[:1], filters=4, repeats=1, num_classes=2, resolution=8)
    assert spec.normal == ((0, "identity", 1, "identity"), (1, "conv_1x1", 2, "identity", "concat"))
    assert spec_from_dict(json.loads(spec.to_json())) == spec
    with pytest.raises(SpecError, match="normal cell block 1: unknown combine 'mul'; choose one of add, concat"):
        CellNetSpec(normal=((0, "identity", 1, "identity", "mul"),), reduction=cell[:1])
    concat = (0, "conv_1x1", 1, "identity", "concat")
    params = space.params_from_cells([list(concat)] * 5, [cell[0][:4]] * 5)
    assert params["normal.block1.combine"] == "concat" and params["reduction.block1.combine"] == "add"
    assert space.to_spec(params).normal[0] == concat and space.to_spec(params).reduction[0] == cell[0][:4]


def test_concatenated_states_are_read_by_every_op_with_exact_complexity():
    """A concat block's output is 2F wide: every op reads it (at stride 1 and, from a cell input, stride 2),
    the cell's output width is the sum of its unread blocks, and the counted cost is exact."""
    from netspace.spec_cells import cell_width

    ops = list(CELL_OPS)
    # Block 1 concatenates; blocks 2.. read it (index 2) with every op, some concatenating again.
    chain = ((0, "conv_1x1", 1, "identity", "concat"),) + tuple(
        (2, ops[j], j % 2, ops[(j + 4) % 13]) + (("concat",) if j % 3 == 0 else ()) for j in range(13))
    assert {b[1] for b in chain[1:]} == set(CELL_OPS)
    f = 4
    assert cell_width(chain, f) == sum(2 * f if len(b) == 5 else f for j, b in enumerate(chain)
                                       if all(j + 2 not in (c[0], c[2]) for c in chain))
    for res in (13, 11):
        spec = CellNetSpec(normal=chain, reduction=chain, filters=f, repeats=1, stem_width=6,
                           num_classes=3, resolution=res)
        _assert_exact(spec)
        model = build(spec)
        model.train()
        out = model(torch.randn(2, 3, res, res))
        out.sum().backward()
        assert out.shape == (2, 3) and torch.isfinite(out).all()
    # A concat block adds no parameters of its own; reading it with a pool adds the 1x1 projection.
    base = CellNetSpec(normal=((0, "identity", 1, "identity"), (2, "max_pool_3x3", 0, "identity")),
                       reduction=((0, "identity", 1, "identity"),), filters=f, repeats=1, stacks=1,
                       stem_width=f, num_classes=2, resolution=9)
    cat = base.replace(normal=((0, "identity", 1, "identity", "concat"), (2, "max_pool_3x3", 0, "identity")))
    d = {key: complexity(cat)[key] - complexity(base)[key] for key in ("flops", "params", "acts")}
    # max pool on 2F instead of F (+F x 9 x 9 acts), then 1x1 conv 2F -> F and BN.
    assert d == {"flops": 2 * f * f * 81, "params": 2 * f * f + 2 * f, "acts": f * 81 + f * 81}


def test_factorized_convs_and_large_pools_are_the_papers_layers():
    from netspace.models.cells import cell_op

    for name, k in (("conv_1x3_3x1", 3), ("conv_1x7_7x1", 7)):
        for stride in (1, 2):
            op = cell_op(name, 4, stride)
            convs = [m for m in op.modules() if isinstance(m, nn.Conv2d)]
            assert [(c.kernel_size, c.stride) for c in convs] == [((1, k), (1, stride)), ((k, 1), (stride, 1))]
            assert op(torch.randn(1, 4, 9, 9)).shape == (1, 4, (9 - 1) // stride + 1, (9 - 1) // stride + 1)
    for k in (5, 7):
        pool = cell_op(f"max_pool_{k}x{k}", 4, 2)
        assert isinstance(pool, nn.MaxPool2d) and pool.kernel_size == k and pool.padding == k // 2
        x = torch.randn(1, 4, 9, 9)
        assert torch.equal(pool(x)[0, :, 0, 0], x[0, :, : k // 2 + 1, : k // 2 + 1].amax(dim=(1, 2)))
    sep7 = [m for m in cell_op("sep_conv_7x7", 4, 1).modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in sep7] == [(7, 7), (1, 1), (7, 7), (1, 1)] and sep7[0].groups == 4
    # The per-op cost: a 1x7-then-7x1 conv on F channels at n x n (stride 1) is 2 * 7 * F^2 * n^2 multiply-adds.
    f, n = 4, 9
    base = CellNetSpec(normal=((0, "identity", 1, "identity"),), reduction=((0, "identity", 1, "identity"),),
                       filters=f, repeats=1, stacks=1, stem_width=f, num_classes=2, resolution=n)
    fac = base.replace(normal=((0, "identity", 1, "conv_1x7_7x1"),))
    d = {key: complexity(fac)[key] - complexity(base)[key] for key in ("flops", "params", "acts")}
    assert d == {"flops": 2 * 7 * f * f * n * n, "params": 2 * 7 * f * f + 2 * f, "acts": 2 * f * n * n}

DECISIONS = [("op", ("a", "b", "c", "d")), ("k", (3, 5, 7)), ("se", (0, 1))]


def test_nas_rl_controller_by_name():
    s = Reinforce(DECISIONS, seed=0, preset="nas-rl")
    c = s.controller
    assert (c.hidden, c.layers, len(c.cells)) == (35, 2, 2)
    assert s.optimizer.param_groups[0]["lr"] == pytest.approx(6e-4)
    weights = torch.cat([p.detach().flatten() for p in c.parameters()])
    assert weights.abs().max() <= 0.08 and weights.abs().max() > 0.07  # U(-0.08, 0.08)
    assert CONTROLLER_PRESETS["nas-rl"] == {"hidden": 35, "layers": 2, "lr": 6e-4, "init_range": 0.08}
    # An explicit option overrides the preset; the default preset is unchanged.
    assert Reinforce(DECISIONS, preset="nas-rl", lr=0.01).optimizer.param_groups[0]["lr"] == 0.01
    d = Reinforce(DECISIONS)
    assert (d.controller.hidden, d.controller.layers, d.lr) == (32, 1, 0.01)
    with pytest.raises(SearchError, match="unknown controller preset 'ppo'"):
        Reinforce(DECISIONS, preset="ppo")


def test_two_layer_controller_learns_and_round_trips():
    s = Reinforce(DECISIONS, seed=1, batch_size=8, preset="nas-rl", lr=0.05, entropy_weight=0.0)
    for _ in range(30):
        for t in s.ask(8):
            s.tell(t, 1.0 if t[0] == 3 else 0.0)
    assert s.controller.probabilities([], 0)[3] > 0.6
    restored = Reinforce(DECISIONS, seed=1, batch_size=8, preset="nas-rl", lr=0.05, entropy_weight=0.0)
    restored.load_state_dict(s.state_dict())
    assert torch.allclose(restored.controller.probabilities([3], 1), s.controller.probabilities([3], 1))
    with pytest.raises(SearchError, match="2 LSTM layer"):
        Reinforce(DECISIONS, seed=1, batch_size=8, hidden=35).load_state_dict(s.state_dict())


def test_compound_grid_tolerance_finds_efficientnets_factors():
    exact = compound_grid(2.0, 0.05)
    assert (1.2, 1.1, 1.15) not in exact  # product 1.92: never on the exact grid
    loose = compound_grid(2.0, 0.05, tolerance=0.05)
    assert (1.2, 1.1, 1.15) in loose
    assert all(abs(a * b ** 2 * g ** 2 - 2.0) <= 0.1 + 1e-9 and min(a, b, g) >= 1 for a, b, g in loose)
    assert len(set(loose)) == len(loose)
    with pytest.raises(ScalingError, match="tolerance must be"):
        compound_grid(2.0, 0.05, tolerance=1.5)
