"""Constrained sampling: vectorized complexity is exact, windows hold, seeds reproduce, no duplicates, clear failures."""

from __future__ import annotations

import time

import numpy as np
import pytest

from netspace.complexity import complexity
from netspace.errors import NetspaceError
from netspace.spaces import (
    Frame, SamplingError, SpaceError, StageBatch, Window, adjust_block_compatibility, batch_complexity, get_space,
    parse_window, quantized_widths, space_from_yaml,
)
from netspace.spaces.regnet import stages_from_widths
from netspace.spaces.regnet_batch import adjust_block_compatibility_batch, regnet_stages_batch


def _random_batch(rng: np.random.Generator, n: int, s: int) -> StageBatch:
    """Valid X/Y-block stages of every kind the spaces emit: b < 1 and > 1, no groups, SE, trailing padding."""
    depth = rng.integers(1, 4, (n, s))
    present = rng.integers(1, s + 1, n)
    depth[np.arange(s)[None, :] >= present[:, None]] = 0
    b = rng.choice([0.5, 1.0, 2.0, 4.0], (n, s))
    g = rng.choice([0, 1, 2, 4, 8, 16], (n, s))
    inner = np.maximum(g, 1) * rng.integers(1, 5, (n, s))
    width = (inner * b).astype(np.int64)
    bad = np.round(width / b) != inner
    width[bad], b[bad] = inner[bad], 1.0
    se = rng.choice([0.0, 0.25, 0.5], (n, s))
    return StageBatch(depth, width, b, g, se, rng.choice([1, 2], s))


@pytest.mark.parametrize("resolution, variant", [(224, "imagenet"), (28, "small"), (37, "imagenet"), (9, "small")])
def test_batch_complexity_equals_scalar(resolution, variant):
    rng = np.random.default_rng(resolution)
    frame = Frame(variant, resolution, int(rng.integers(1, 4)), int(rng.integers(2, 20)), int(rng.integers(1, 5)) * 8)
    batch = _random_batch(rng, 1500, 4)
    assert batch.valid().all()
    cx = batch_complexity(batch, frame)
    for i in range(len(batch)):
        spec = frame.spec(batch.stages(i))
        assert complexity(spec) == {k: int(v[i]) for k, v in cx.items()}


def test_partial_complexity_is_a_lower_bound():
    rng = np.random.default_rng(0)
    batch, frame = _random_batch(rng, 500, 4), Frame()
    full, part = batch_complexity(batch, frame), batch_complexity(batch, frame, stages=1)
    for k in full:
        assert (part[k] <= full[k]).all() and (part[k] < full[k]).any()


def test_sampled_complexity_equals_scalar_for_thousands():
    checked = 0
    for name, kw in (("AnyNetX_A", {}), ("AnyNetX_E", {}), ("RegNet", {}), ("RegNetY", {"resolution": 32})):
        for s in get_space(name, **kw).sample(1000, seed=7):
            assert s.complexity == complexity(s.spec)
            checked += 1
    assert checked == 4000


def test_vectorized_regnet_generation_equals_scalar():
    rng = np.random.default_rng(1)
    n = 5000
    depth = rng.integers(1, 40, n)
    w0 = rng.integers(1, 32, n) * 8
    wa = np.round(rng.uniform(0, 256, n), 2)
    wm = np.round(rng.uniform(1.1, 3.5, n), 3)
    depths, widths, count, steps = regnet_stages_batch(depth, w0, wa, wm, max_stages=12)
    b = rng.choice([1.0, 2.0, 4.0, 0.5], n)
    g = rng.choice([1, 3, 8, 24, 64], n)
    adj_w, adj_g = adjust_block_compatibility_batch(widths, np.repeat(b[:, None], 12, 1), np.repeat(g[:, None], 12, 1))
    cut = 0
    for i in range(n):
        block_w, _ = quantized_widths(int(depth[i]), int(w0[i]), float(wa[i]), float(wm[i]))
        ws, ds = stages_from_widths(block_w)
        k = len(ws)
        assert count[i] == k and steps[i] >= k
        if k > 12:  # more stages than asked for: cut (the sampler rejects such rows by count)
            cut += 1
            continue
        assert depths[i, :k].tolist() == ds and widths[i, :k].tolist() == ws and not depths[i, k:].any()
        ref_w, ref_g = adjust_block_compatibility(ws, [float(b[i])] * k, [int(g[i])] * k)
        assert adj_w[i, :k].tolist() == ref_w and adj_g[i, :k].tolist() == ref_g
    assert cut < n / 10


@pytest.mark.parametrize("name, windows", [
    ("RegNetX", {"flops": "360M:400M"}),
    ("AnyNetX_A", {"flops": "360M:400M"}),
    ("AnyNetX_C", {"flops": "0.2G:0.4G", "params": ":3M"}),
    ("RegNetY", {"params": "1e6:2e6", "acts": "2M:"}),
])
def test_window_holds_for_every_accepted_spec(name, windows):
    result = get_space(name).sample(300, seed=2, **windows)
    assert len(result) == 300
    for s in result:
        cx = complexity(s.spec)
        assert cx == s.complexity
        for metric, text in windows.items():
            assert parse_window(text).contains(cx[metric]), (metric, cx)
    assert result.windows == {m: str(parse_window(t)) for m, t in windows.items()}
    assert 0 < result.acceptance_rate < 1
    assert result.acceptance_rate == len(result) / result.candidates
    assert sum(result.rejected.values()) + len(result) == result.candidates
    assert result.rejected["window"] > 0


def test_same_seed_same_samples_different_seed_different():
    space = get_space("RegNetX")
    a = space.sample(50, seed=4, flops="360M:400M")
    b = space.sample(50, seed=4, flops="360M:400M")
    c = space.sample(50, seed=5, flops="360M:400M")
    assert [s.params for s in a] == [s.params for s in b] and [s.spec for s in a] == [s.spec for s in b]
    assert a.candidates == b.candidates
    assert not {s.spec for s in a} & {s.spec for s in c}
    # Fewer samples from the same seed are a prefix of more.
    assert [s.spec for s in space.sample(20, seed=4, flops="360M:400M")] == [s.spec for s in a][:20]
    anynet = get_space("AnyNetX_D")
    assert [s.params for s in anynet.sample(30, seed=9)] == [s.params for s in anynet.sample(30, seed=9)]


def test_no_duplicate_specs_in_a_sample():
    # RegNetX in a narrow window repeats networks often (nearby wa, wm give the same widths).
    result = get_space("RegNetX", resolution=32).sample(600, seed=0, flops="20M:30M")
    specs = [s.spec for s in result]
    assert len(set(specs)) == len(specs) == 600
    assert result.rejected["duplicate"] > 0
    # A space with exactly 36 networks gives each once, then says it has no more.
    tiny_yaml = """
stages: 2
params:
  depth: {sampler: uniform, range: [1, 2]}
  width: {sampler: choice, values: [8, 16, 24]}
  group_width: {value: 8}
"""
    small = space_from_yaml(tiny_yaml)
    all_ = small.sample(36, seed=0)  # 2 depths ^ 2 stages x 3 widths ^ 2 stages = 36
    assert len({s.spec for s in all_}) == 36
    with pytest.raises(SamplingError, match="only 36 of 37"):
        small.sample(37, seed=0, max_candidates=20_000)
    assert get_space("AnyNetX_C").sample(0).samples == []


def test_impossible_window_fails_clearly_and_quickly():
    space = get_space("RegNetX")
    start = time.perf_counter()
    with pytest.raises(NetspaceError) as e:
        space.sample(10, seed=0, flops="1k:2k")
    elapsed = time.perf_counter() - start
    message = str(e.value)
    assert "RegNetX: no network in flops 1k:2k after 1,000,000 candidates" in message
    assert "flops of valid candidates ranged" in message
    assert "move the flops window into that range or raise max_candidates" in message
    assert isinstance(e.value, SamplingError) and e.value.result.candidates == 1_000_000
    assert elapsed < 30
    with pytest.raises(SamplingError, match=r"no network in flops 396M:396\.001M .* widen the window \(e\.g\. flops="):
        space.sample(1, flops="396M:396.001M", max_candidates=20_000)
    with pytest.raises(SamplingError, match="after 5,000 candidates"):
        get_space("AnyNetX_A").sample(1, flops="10G:10.001G", params=":1M", max_candidates=5000)


@pytest.mark.parametrize("text, low, high", [
    ("360M:400M", 360e6, 400e6),
    ("0.2G:0.4G", 0.2e9, 0.4e9),
    ("1e6:2e6", 1e6, 2e6),
    (":400M", None, 400e6),
    ("1.5G:", 1.5e9, None),
    ("360MF:400MF", 360e6, 400e6),
    (" 250k : 1m ", 250e3, 1e6),
    ("0:10", 0.0, 10.0),
])
def test_parse_window(text, low, high):
    w = parse_window(text)
    assert (w.low, w.high) == (low, high)


@pytest.mark.parametrize("text, message", [
    ("400M", "expected LOW:HIGH"),
    ("1:2:3", "expected LOW:HIGH"),
    (":", "bounds nothing"),
    ("400M:360M", "low 400M exceeds high 360M"),
    ("abc:1G", "cannot read 'abc' as a count; write e.g. 360M, 0.4G, 1e6"),
    ("1Q:2Q", "cannot read '1Q'"),
    ("-1:5", "cannot read '-1'"),
])
def test_parse_window_errors(text, message):
    with pytest.raises(SpaceError, match=message) as e:
        parse_window(text, metric="flops")
    assert isinstance(e.value, NetspaceError) and str(e.value).startswith("flops window")


def test_window_forms_accepted_by_sample():
    space = get_space("AnyNetX_E")
    by_text = space.sample(5, seed=1, flops="300M:600M")
    assert [s.spec for s in space.sample(5, seed=1, flops=(300e6, 600e6))] == [s.spec for s in by_text]
    assert [s.spec for s in space.sample(5, seed=1, flops=Window(300e6, 600e6))] == [s.spec for s in by_text]
    assert [s.spec for s in space.sample(5, seed=1, flops=("300M", "600M"))] == [s.spec for s in by_text]
    with pytest.raises(SpaceError, match="flops window"):
        space.sample(5, flops=42)
    with pytest.raises(SpaceError, match="n must be an integer"):
        space.sample(-1)
    with pytest.raises(SpaceError, match="seed must be an integer"):
        space.sample(1, seed="x")
