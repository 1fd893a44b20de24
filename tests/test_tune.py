"""The layers' autotuner: measured decisions, their cache on disk, and that every candidate computes the same."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from netspace.models import cpu, fused, tune
from netspace.models.layers import (BatchNormAct2d, DenseConv, DepthwiseConv, GroupedConv, PointwiseConv, _dense_conv,
                                    _dense_pattern, _dense_usable, conv, stride_exceeds_input)
from netspace.train import precision as precision_module
from netspace.train.precision import resolve_precision

CL = torch.channels_last


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache directory and a fresh in-memory tuner."""
    monkeypatch.setenv("NETSPACE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("NETSPACE_TUNE", "1")
    tune.reset()
    yield tmp_path
    tune.reset()


def _decisions(path) -> dict:
    return json.loads(path.read_text())["decisions"]


def _pointwise_step(layer, x):
    x = x.clone().requires_grad_()
    layer(x).sum().backward()


def test_decisions_are_measured_written_and_reused(cache):
    layer = PointwiseConv(32, 48, 1).train()
    x = torch.randn(16, 32, 4, 4).contiguous(memory_format=CL)
    _pointwise_step(layer, x)
    path = tune.cache_path()
    assert path.parent == cache and path.exists()
    decisions = _decisions(path)
    (name, entry), = decisions.items()
    assert name.startswith("pointwise:") and entry["choice"] in ("conv", "matmul")
    assert set(entry["ms"]) == {"conv", "matmul"} and all(v > 0 for v in entry["ms"].values())
    assert json.loads(path.read_text())["key"] == tune.machine_key()
    assert tune.stats()["measured"] == 1

    # a second layer of the same shape class (channels 31 -> 32, 47 -> 48) measures nothing more
    _pointwise_step(PointwiseConv(31, 47, 1).train(), torch.randn(16, 31, 4, 4).contiguous(memory_format=CL))
    assert tune.stats()["measured"] == 1 and len(_decisions(path)) == 1

    # a new process reads the file instead of measuring
    code = ("import torch; from netspace.models import tune; from netspace.models.layers import PointwiseConv\n"
            "x = torch.randn(16, 32, 4, 4).contiguous(memory_format=torch.channels_last).requires_grad_()\n"
            f"torch.set_num_threads({torch.get_num_threads()})\n"
            "PointwiseConv(32, 48, 1).train()(x).sum().backward(); s = tune.stats()\n"
            "print(s['measured'], s['reused'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "1"]


def test_a_changed_key_is_a_new_file(cache, monkeypatch):
    layer = PointwiseConv(16, 16, 1).train()
    x = torch.randn(8, 16, 2, 2).contiguous(memory_format=CL)
    _pointwise_step(layer, x)
    first = tune.cache_path()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if threads > 1 else 2)
        second = tune.cache_path()
        assert second != first  # the thread count is part of the key
        _pointwise_step(layer, x)
        assert second.exists() and len(_decisions(second)) == 1
    finally:
        torch.set_num_threads(threads)
    real = tune.machine_key
    monkeypatch.setattr(tune, "machine_key", lambda: {**real(), "torch": "0.0.0"})  # a torch upgrade
    tune.reset()
    assert tune.cache_path() not in (first, second)
    _pointwise_step(layer, x)
    assert tune.stats()["measured"] == 1  # remeasured, nothing stale read
    assert len(list(cache.glob("tune-*.json"))) == 3


def test_a_new_candidate_makes_earlier_decisions_stale(monkeypatch):
    before = tune.cache_path()
    monkeypatch.setitem(tune.CANDIDATES, "pointwise", (*tune.CANDIDATES["pointwise"], "another"))
    assert tune.cache_path() != before


def test_damaged_cache_is_remade(cache):
    path = tune.cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ not json")
    _pointwise_step(PointwiseConv(16, 24, 1).train(), torch.randn(8, 16, 2, 2).contiguous(memory_format=CL))
    assert len(_decisions(path)) == 1


def test_tuning_off_writes_nothing_and_uses_the_fixed_rule(cache, monkeypatch):
    monkeypatch.setenv("NETSPACE_TUNE", "0")
    layer = PointwiseConv(16, 16, 1).train()
    big = torch.randn(2, 16, 32, 32).contiguous(memory_format=CL)
    assert not layer._as_matmul(big) and layer._as_matmul(big[:, :, :4, :4].contiguous(memory_format=CL))
    assert not list(cache.iterdir())
    assert tune.stats() == {"enabled": False}


def test_tuning_leaves_the_global_rng_alone(cache):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    model = nn.Sequential(PointwiseConv(8, 16, 1), BatchNormAct2d(16, "relu"),
                          GroupedConv(16, 16, 3, padding=1, groups=2, bias=False)).train()
    torch.manual_seed(5)
    model(torch.zeros(4, 8, 3, 3).contiguous(memory_format=CL)).sum()
    assert tune.stats()["measured"] >= 2
    assert torch.equal(torch.rand(3), expected)


def test_no_measuring_under_a_flop_counter(cache):
    from torch.utils.flop_counter import FlopCounterMode

    layer = PointwiseConv(16, 32, 1).train()
    x = torch.randn(4, 16, 2, 2).contiguous(memory_format=CL)
    with FlopCounterMode(display=False) as counter:
        layer(x)
    assert counter.get_total_flops() == 2 * 4 * 4 * 16 * 32  # only the layer's own multiply-adds
    assert tune.stats()["measured"] == 0


def test_force_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown layer kind"):
        with tune.force(conv3="x"):
            pass
    with pytest.raises(ValueError, match="unknown bn implementation 'fast'"):
        with tune.force(bn="fast"):
            pass


def test_pick_keeps_the_default_within_the_margin():
    assert tune.pick({"conv": 1.00, "matmul": 0.97}, "conv") == "conv"
    assert tune.pick({"conv": 1.00, "matmul": 0.90}, "conv") == "matmul"
    assert tune.pick({"conv": 1.00, "matmul": 0.90}, "missing") == "matmul"


def test_channels_class_grid():
    assert [tune.channels_class(c) for c in (1, 2, 3, 5, 8, 9, 13, 24, 25, 368)] == [1, 2, 3, 6, 8, 12, 16, 24,
                                                                                       32, 384]


# -- every candidate computes the same -------------------------------------------------------------

def _run(layer, x, residual=None, dtype=None):
    """Output and gradients (input, weight, residual) of one training step, under bf16 autocast if asked."""
    xa = x.clone().requires_grad_()
    ra = None if residual is None else residual.clone().requires_grad_()
    layer.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        y = layer(xa) if ra is None else layer(xa, ra)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(3)).to(y.dtype).contiguous(memory_format=CL)
    y.backward(g)
    grads = [xa.grad, layer.weight.grad] + ([ra.grad] if ra is not None else [])
    return [y.float()] + [t.float() for t in grads]


def _close(outs, refs, dtype):
    tol = 1e-4 if dtype == torch.float32 else 4e-2
    for a, b in zip(outs, refs, strict=True):
        scale = max(b.abs().max().item(), 1e-6)
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * scale)


def _shapes(seed: int, n: int):
    rng = random.Random(seed)
    return [(rng.randint(1, 6), rng.choice([8, 16, 24, 40]), rng.choice([1, 2, 3, 4, 5, 7, 8]),
             rng.choice([1, 2])) for _ in range(n)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("batch,c,size,stride", _shapes(1, 4))
def test_pointwise_candidates_agree(dtype, batch, c, size, stride):
    torch.manual_seed(0)
    layer = PointwiseConv(c, c + 8, 1, stride=stride).train()
    x = torch.randn(batch, c, size, size).contiguous(memory_format=CL)
    results = {}
    for choice in tune.CANDIDATES["pointwise"]:
        with tune.force(pointwise=choice):
            assert layer._as_matmul(x) == (choice == "matmul")
            results[choice] = _run(layer, x, dtype=dtype)
    _close(results["matmul"], results["conv"], dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("batch,c,size,stride", _shapes(2, 4))
def test_grouped_candidates_agree(dtype, batch, c, size, stride):
    torch.manual_seed(0)
    layer = GroupedConv(c, c, 3, stride=stride, padding=1, groups=c // 8 if c > 8 else 2, bias=False).train()
    ref = nn.Conv2d(c, c, 3, stride=stride, padding=1, groups=layer.groups, bias=False).train()
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(batch, c, size, size).contiguous(memory_format=CL)
    # the reference in float32: oneDNN's own bf16 weight gradient is wrong on some grids (see below)
    expected = _run(ref, x.to(dtype).float())
    for choice in tune.CANDIDATES["grouped"]:
        with tune.force(grouped=choice):
            _close(_run(layer, x, dtype=dtype), expected, dtype)


@pytest.mark.parametrize("size,stride", [(1, 2), (1, 3), (2, 4)])
def test_grouped_weight_gradient_right_where_onednn_bf16_is_not(size, stride):
    """Where the stride exceeds the input, oneDNN's bf16 weight gradient returns unwritten memory
    (seen up to 1e36 on an AMX Xeon, intermittently); every choice the layer makes, a forced
    ``conv`` included, gives the float64 gradient there: zero on taps that touch only padding."""
    layer = GroupedConv(16, 16, 3, stride=stride, padding=1, groups=2, bias=False).train()
    w64 = layer.weight.detach().double().requires_grad_()
    for trial in range(6):
        x = torch.randn(4, 16, size, size, generator=torch.Generator().manual_seed(trial)).bfloat16()
        x = x.contiguous(memory_format=CL)
        for choice in tune.CANDIDATES["grouped"]:
            layer.zero_grad(set_to_none=True)
            with tune.force(grouped=choice), torch.autocast("cpu", dtype=torch.bfloat16):
                y = layer(x)
            g = torch.ones(y.shape, dtype=y.dtype).contiguous(memory_format=CL)
            y.backward(g)
            w64.grad = None
            F.conv2d(x.double(), w64, None, stride, 1, 1, 2).backward(g.double())
            scale = w64.grad.abs().max().item()
            assert (layer.weight.grad.double() - w64.grad).abs().max().item() <= 2e-2 * scale, (choice, trial)


@pytest.mark.parametrize("make,size", [
    (lambda: conv(64, 16, 3, stride=2), (1, 1)),  # a ResNet block's 3x3 or a stem
    (lambda: conv(32, 16, 3, stride=4), (2, 2)),
    (lambda: DenseConv(32, 16, (1, 7), stride=(1, 2), padding=(0, 3), bias=False), (5, 1)),  # NASNet's 1x7
    (lambda: DenseConv(32, 16, 3, stride=2, padding=2, dilation=2, bias=False), (1, 1)),  # NASNet's dilated
])
def test_dense_weight_gradient_right_where_onednn_bf16_is_not(make, size):
    """The same oneDNN bug in plain (not grouped) convs: the layers ``conv`` and the NASNet cells build
    give the float64 weight gradient where the stride exceeds the input, over ten inputs (without the
    guard, 35 of 100 such gradients on an AMX Xeon were wrong, up to inf)."""
    torch.manual_seed(0)
    layer = make().train()
    assert isinstance(layer, DenseConv)
    w64 = layer.weight.detach().double().requires_grad_()
    for trial in range(10):
        x = torch.randn(4, layer.in_channels, *size, generator=torch.Generator().manual_seed(trial)).bfloat16()
        x = x.contiguous(memory_format=CL)
        layer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = layer(x)
        g = torch.ones(y.shape, dtype=y.dtype).contiguous(memory_format=CL)
        y.backward(g)
        w64.grad = None
        F.conv2d(x.double(), w64, None, layer.stride, layer.padding, layer.dilation).backward(g.double())
        scale = max(w64.grad.abs().max().item(), 1e-12)
        assert (layer.weight.grad.double() - w64.grad).abs().max().item() <= 2e-2 * scale, trial


def test_dense_conv_is_plain_conv_elsewhere():
    """Off those grids (and in fp32, and in eval) the layer is nn.Conv2d: the same outputs and gradients."""
    torch.manual_seed(0)
    layer = conv(8, 16, 3, stride=2).train()
    ref = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(4, 8, 9, 9).contiguous(memory_format=CL)
    for dtype in (torch.float32, torch.bfloat16):
        assert not stride_exceeds_input(x, layer)
        torch.testing.assert_close(_run(layer, x, dtype=dtype), _run(ref, x, dtype=dtype), rtol=0, atol=0)


def test_dense_grouped_form_trains_after_an_evaluation_saw_its_grid_first():
    """The tap pattern is cached per process: made first under ``torch.inference_mode`` (a study's evaluation
    pass) it must still serve a later training step (this failed two of a quick study's fidelity trials)."""
    _dense_pattern.cache_clear()
    layer = GroupedConv(24, 24, 3, stride=1, padding=1, groups=3, bias=False)
    x = torch.randn(4, 24, 2, 2).contiguous(memory_format=CL)
    with tune.force(grouped="dense"):
        with torch.inference_mode():
            layer.eval()(x)
        y = layer.train()(x.clone().requires_grad_())
        y.sum().backward()
    assert layer.weight.grad is not None and torch.isfinite(layer.weight.grad).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("c,groups,size,stride", [(64, 8, 2, 1), (48, 6, 4, 2), (32, 1, 1, 1), (24, 3, 2, 2),
                                                  (48, 6, 4, 1), (16, 2, 3, 1)])
def test_dense_grouped_candidate_agrees_where_it_applies(dtype, c, groups, size, stride):
    """The one-matmul-per-group form on the grids it is a candidate for (2x2 -> 2x2, 4x4 -> 2x2, 4x4 -> 4x4,
    3x3 -> 3x3, 1x1)."""
    torch.manual_seed(0)
    layer = GroupedConv(c, c, 3, stride=stride, padding=1, groups=groups, bias=False).train()
    ref = nn.Conv2d(c, c, 3, stride=stride, padding=1, groups=groups, bias=False).train()
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(5, c, size, size).contiguous(memory_format=CL)
    assert _dense_usable(x, layer)
    expected = _run(ref, x, dtype=dtype)
    with tune.force(grouped="dense"):
        _close(_run(layer, x, dtype=dtype), expected, dtype)


@pytest.mark.parametrize("h,w,k,stride,padding,groups", [(2, 2, 3, 1, 1, 4), (4, 4, 3, 2, 1, 2), (1, 1, 3, 1, 1, 1),
                                                          (3, 2, 3, 1, 1, 2), (4, 4, 5, 2, 2, 4), (2, 2, 1, 1, 0, 2),
                                                          (4, 4, 3, 1, 1, 8), (3, 3, 3, 1, 1, 1), (4, 3, 5, 1, 2, 2)])
def test_dense_conv_is_the_conv_in_float64(h, w, k, stride, padding, groups):
    """Forward and both gradients of the dense form against F.conv2d, exactly up to float64 rounding."""
    torch.manual_seed(1)
    x = torch.randn(3, 8, h, w, dtype=torch.float64).contiguous(memory_format=CL).requires_grad_()
    weight = torch.randn(8, 8 // groups, k, k, dtype=torch.float64, requires_grad=True)
    y = _dense_conv(x, weight, stride, padding, groups)
    expected = F.conv2d(x, weight, None, stride, padding, 1, groups)
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)
    g = torch.randn(expected.shape, dtype=torch.float64)
    grads = torch.autograd.grad(y, (x, weight), g)
    expected_grads = torch.autograd.grad(expected, (x, weight), g)
    for a, b in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_dense_candidate_only_on_small_grids():
    layer = GroupedConv(32, 32, 3, stride=1, padding=1, groups=4, bias=False)
    assert _dense_usable(torch.randn(2, 32, 2, 2), layer)  # 4 x 4 pixel pairs
    assert _dense_usable(torch.randn(2, 32, 4, 4), layer)  # 16 x 16 pixel pairs: RegNet's 4 x 4 stage
    assert not _dense_usable(torch.randn(2, 32, 5, 5), layer)  # 625 > 256
    assert not _dense_usable(torch.randn(2, 32, 8, 8), GroupedConv(32, 32, 3, stride=2, padding=1, groups=4,
                                                                   bias=False))  # 64 x 16 > 256
    assert _dense_usable(torch.randn(2, 32, 4, 4), GroupedConv(32, 32, 3, stride=2, padding=1, groups=4, bias=False))
    assert not _dense_usable(torch.randn(2, 32, 2, 2), GroupedConv(32, 32, 3, padding=1, groups=4, bias=True))
    # RegNet's widest dense shapes (368 ch 2x2, 368 ch 4x4 s2, 152 ch 4x4; group width 8) stay in; two
    # 512-channel groups at 4x4 would need 33.6M matrix entries and stay out
    for c, size, stride in [(368, 2, 1), (368, 4, 2), (152, 4, 1)]:
        assert _dense_usable(torch.randn(2, c, size, size),
                             GroupedConv(c, c, 3, stride=stride, padding=1, groups=c // 8, bias=False))
    assert not _dense_usable(torch.randn(2, 1024, 4, 4), GroupedConv(1024, 1024, 3, padding=1, groups=2, bias=False))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("batch,c,size,stride", _shapes(3, 3))
def test_depthwise_candidates_agree(dtype, k, batch, c, size, stride):
    torch.manual_seed(0)
    layer = DepthwiseConv(c, c, k, stride=stride, padding=k // 2, groups=c, bias=False).train()
    ref = nn.Conv2d(c, c, k, stride=stride, padding=k // 2, groups=c, bias=False).train()
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(batch, c, size, size).contiguous(memory_format=CL)
    expected = _run(ref, x, dtype=dtype)
    for choice in tune.CANDIDATES["depthwise"]:
        with tune.force(depthwise=choice):
            assert layer._routes(x.to(dtype)) == DepthwiseConv.ROUTES[choice]
            _close(_run(layer, x, dtype=dtype), expected, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("act", ["relu", "silu", None])
@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batch,c,size,_", _shapes(4, 2))
def test_bn_candidates_agree(dtype, act, residual, batch, c, size, _):
    if batch * size * size < 2:
        batch = 2
    torch.manual_seed(0)
    x = (torch.randn(batch, c, size, size) * 2 + 1).to(dtype).contiguous(memory_format=CL)
    r = torch.randn(x.shape).to(dtype).contiguous(memory_format=CL) if residual else None
    results, stats = {}, {}
    for choice in tune.CANDIDATES["bn"]:
        torch.manual_seed(0)
        layer = BatchNormAct2d(c, act).train()
        with torch.no_grad():
            layer.weight.uniform_(0.5, 1.5)
        with tune.force(bn=choice):
            results[choice] = _run(layer, x, r)
        stats[choice] = (layer.running_mean.clone(), layer.running_var.clone())
    _close(results["fused"], results["torch"], dtype)
    for a, b in zip(stats["fused"], stats["torch"]):
        torch.testing.assert_close(a, b, rtol=1e-2 if dtype == torch.bfloat16 else 1e-5, atol=1e-3)


def test_whole_network_same_with_measured_and_fixed_choices(cache, monkeypatch):
    """A RegNet step with the tuner's choices against the fixed rules: same loss and gradients."""
    from netspace import zoo
    from netspace.models import build
    from netspace.spec import for_input

    spec = for_input(zoo.resolve("RegNetX-200MF"), in_channels=1, resolution=16, num_classes=10)
    torch.manual_seed(0)
    state = build(spec).state_dict()
    x = torch.randn(8, 1, 16, 16).contiguous(memory_format=CL)
    y = torch.randint(0, 10, (8,))

    def step():
        model = build(spec).train().to(memory_format=CL)
        model.load_state_dict(state)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss.item(), [p.grad for p in model.parameters()]

    tuned_loss, tuned = step()
    assert tune.stats()["measured"] > 0
    monkeypatch.setenv("NETSPACE_TUNE", "0")
    fixed_loss, fixed = step()
    assert abs(tuned_loss - fixed_loss) < 1e-5
    # per tensor, the largest difference relative to the tensor's largest gradient (floored for ~0 tensors):
    # the implementations sum in different orders, and a deep network carries that rounding along
    floor = 1e-3 * max(b.abs().max().item() for b in fixed)
    worst = max((a - b).abs().max().item() / max(b.abs().max().item(), floor) for a, b in zip(tuned, fixed))
    assert worst < 2e-3


# -- auto never picks an emulated dtype --------------------------------------------------------------

def _fake_cpu(native: bool) -> cpu.CpuInfo:
    return cpu.CpuInfo(model="Test CPU", isa=("avx2", "fma") + (("avx512_bf16",) if native else ()),
                       capability="AVX512" if native else "AVX2", native_bf16=native, cores=2)


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_with_detection_mocked(native, monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_info", lambda: _fake_cpu(native))
    p = resolve_precision("auto", torch.device("cpu"), None)
    assert p.channels_last  # the CPU layers' layout either way
    if native:
        assert p.name == "bf16" and p.dtype is torch.bfloat16 and "native" in p.reason
    else:
        assert p.name == "fp32" and p.dtype is None and "emulated" in p.reason
    assert "Test CPU" in p.reason


def test_auto_precision_on_this_machine():
    p = resolve_precision("auto", torch.device("cpu"), None)
    native = cpu.cpu_info().native_bf16
    assert native == (cpu.onednn_bf16_supported() and any(f in open("/proc/cpuinfo").read()
                                                           for f in cpu.BF16_FLAGS))
    assert p.name == ("bf16" if native else "fp32") and p.channels_last
    assert cpu.cpu_info().model in p.reason


def test_explicit_choices_are_kept_and_warned(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_info", lambda: _fake_cpu(False))
    p = resolve_precision("bf16", torch.device("cpu"), None)
    assert p.name == "bf16" and p.channels_last and "emulated" in p.reason
    plain = resolve_precision("fp32", torch.device("cpu"), None)
    assert plain.name == "fp32" and not plain.channels_last  # the plain reference path


def test_cuda_auto_unchanged(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    p = resolve_precision("auto", torch.device("cuda"), None)
    assert p.name == "bf16" and p.channels_last and p.device_type == "cuda"


def test_layers_step_aside_off_cpu():
    """On a non-CPU tensor every layer takes PyTorch's op (the device check, testable without a GPU)."""
    x = torch.randn(2, 16, 4, 4, device="meta").contiguous(memory_format=CL)
    layer = PointwiseConv(16, 16, 1).to("meta")
    assert not layer._as_matmul(x)
    bn = BatchNormAct2d(16, "relu").to("meta").train()
    assert not fused.usable(x, bn.weight)
