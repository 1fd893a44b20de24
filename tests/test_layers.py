"""The fast layers: 1x1 convs as matmuls, and the fused BN(+residual)(+act) kernel, against PyTorch's."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from netspace import zoo
from netspace.models import build, fused, tune
from netspace.models.layers import BatchNormAct2d, DepthwiseConv, GroupedConv, PointwiseConv
from netspace.spec import for_input

CL = torch.channels_last


@pytest.fixture(autouse=True)
def fixed_rules(monkeypatch):
    """These tests check each layer's paths by its fixed rules; tests/test_tune.py covers measured choices."""
    monkeypatch.setenv("NETSPACE_TUNE", "0")


def _grads(out: torch.Tensor, inputs, seed: int = 1):
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed)).to(out.dtype)
    return torch.autograd.grad(out, inputs, g.contiguous(memory_format=CL))


def test_kernel_builds_here():
    # setup installs ninja and these machines have a C++ compiler: a missing kernel is a regression
    assert fused.kernel() is not None, "the CPU training kernels did not build; see the RuntimeWarning"
    assert "built" in fused.check()


@pytest.mark.parametrize("c_in,c_out,size,stride,bias", [
    (32, 48, 4, 1, False),     # small spatial: matmul path
    (24, 40, 8, 2, True),      # stride 2 to 4x4: matmul path on the subsampled input
    (16, 24, 16, 1, False),    # narrow and large: conv path
])
def test_pointwise_conv_matches_conv2d(c_in, c_out, size, stride, bias):
    torch.manual_seed(0)
    mine = PointwiseConv(c_in, c_out, 1, stride=stride, bias=bias)
    ref = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=bias)
    ref.load_state_dict(mine.state_dict())
    x = torch.randn(4, c_in, size, size).contiguous(memory_format=CL).requires_grad_()
    out, expected = mine(x), ref(x)
    assert out.shape == expected.shape and out.is_contiguous(memory_format=CL)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    params = [x, mine.weight] + ([mine.bias] if bias else [])
    ref_params = [x, ref.weight] + ([ref.bias] if bias else [])
    for a, b in zip(_grads(out, params), _grads(expected, ref_params)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_pointwise_conv_path_choice():
    """The fixed rule (NETSPACE_TUNE=0)."""
    small = torch.randn(2, 64, 4, 4).contiguous(memory_format=CL)
    big = torch.randn(2, 16, 32, 32).contiguous(memory_format=CL)
    wide = torch.randn(2, 128, 8, 8, dtype=torch.bfloat16).contiguous(memory_format=CL)
    assert PointwiseConv(64, 64, 1)._as_matmul(small)
    assert not PointwiseConv(16, 16, 1)._as_matmul(big)
    assert PointwiseConv(128, 128, 1)._as_matmul(wide)
    assert not PointwiseConv(128, 128, 1)._as_matmul(wide.float())  # fp32 at 8x8: the conv kernel wins
    assert not PointwiseConv(64, 64, 1)._as_matmul(small.contiguous())  # NCHW: always the conv


def _reference(bn: BatchNormAct2d, x, residual):
    ref = nn.BatchNorm2d(bn.num_features, momentum=bn.momentum)
    ref.load_state_dict(bn.state_dict())
    ref.train()
    y = ref(x)
    if residual is not None:
        y = y + residual
    y = {"relu": F.relu, "silu": F.silu, None: lambda t: t}[bn.act](y)
    return y, ref


@pytest.mark.parametrize("act", ["relu", None, "silu"])
@pytest.mark.parametrize("with_residual", [False, True])
# the second leaves rows outside whole vectors; the third groups 64 rows into a super-row and leaves 9 over
@pytest.mark.parametrize("shape", [(8, 24, 6, 6), (3, 7, 3, 3), (17, 8, 11, 11)])
def test_fused_bn_matches_pytorch_fp32(act, with_residual, shape):
    torch.manual_seed(0)
    c = shape[1]
    bn = BatchNormAct2d(c, act)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_()
    x = (torch.randn(shape) * 3 + 1).contiguous(memory_format=CL).requires_grad_()
    r = torch.randn(shape).contiguous(memory_format=CL).requires_grad_() if with_residual else None
    assert fused.usable(x, bn.weight, r)
    y = bn(x, r)
    expected, ref = _reference(_copy(bn), x, r)
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)
    inputs = [x, bn.weight, bn.bias] + ([r] if with_residual else [])
    ref_inputs = [x, ref.weight, ref.bias] + ([r] if with_residual else [])
    for a, b in zip(_grads(y, inputs), _grads(expected, ref_inputs)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(bn.running_mean, ref.running_mean)
    torch.testing.assert_close(bn.running_var, ref.running_var)
    assert int(bn.num_batches_tracked) == int(ref.num_batches_tracked) == 1


def _copy(bn: BatchNormAct2d) -> BatchNormAct2d:
    """The layer as it was before its forward pass updated the running statistics."""
    fresh = BatchNormAct2d(bn.num_features, bn.act)
    fresh.load_state_dict(bn.state_dict())
    fresh.running_mean.zero_()
    fresh.running_var.fill_(1.0)
    fresh.num_batches_tracked.zero_()
    fresh.momentum = bn.momentum
    return fresh


def test_fused_bn_cumulative_average_and_sum_gradient():
    torch.manual_seed(0)
    bn = BatchNormAct2d(16, "relu")
    bn.momentum = None  # cumulative moving average, as nn.BatchNorm2d does
    ref = nn.BatchNorm2d(16, momentum=None)
    xs = [torch.randn(4, 16, 5, 5).contiguous(memory_format=CL) for _ in range(3)]
    for x in xs:
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        bn(xa).sum().backward()  # an expanded (stride-0) incoming gradient
        F.relu(ref(xb)).sum().backward()
        torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bn.running_mean, ref.running_mean)
    torch.testing.assert_close(bn.running_var, ref.running_var)


def test_fused_bn_bf16_close_to_fp32():
    torch.manual_seed(0)
    bn = BatchNormAct2d(40, "relu")
    x32 = torch.randn(16, 40, 8, 8).contiguous(memory_format=CL)
    r32 = torch.randn_like(x32)
    x16, r16 = x32.bfloat16().requires_grad_(), r32.bfloat16().requires_grad_()
    y16 = bn(x16, r16)
    assert y16.dtype == torch.bfloat16 and y16.is_contiguous(memory_format=CL)
    expected, _ = _reference(_copy(bn), x32, r32)
    torch.testing.assert_close(y16.float(), expected, rtol=2e-2, atol=2e-2)
    dx, dr = _grads(y16, [x16, r16])
    assert dx.dtype == torch.bfloat16 and torch.isfinite(dx.float()).all()


@pytest.mark.parametrize("with_residual", [False, True])
@pytest.mark.parametrize("shape", [(17, 8, 11, 11), (9, 24, 10, 10), (5, 720, 3, 3)])
def test_fused_bn_bf16_is_its_fp32_math_rounded(shape, with_residual):
    """The bf16 kernel computes in float32 from the bf16 values and rounds once to nearest even (on
    AVX512-BF16 CPUs with the native conversion, a chunk of 16 values at a time): its outputs and input
    gradients are exactly the fp32 kernel's on the same values, rounded, over super-rows of several
    conversion chunks and the rows left over."""
    torch.manual_seed(0)
    c = shape[1]
    w, b = torch.rand(c) + 0.5, torch.randn(c)
    x16 = (torch.randn(shape) * 2).bfloat16().contiguous(memory_format=CL).requires_grad_()
    r16 = torch.randn(shape).bfloat16().contiguous(memory_format=CL).requires_grad_() if with_residual else None
    g16 = torch.randn(shape).bfloat16().contiguous(memory_format=CL)
    x32 = x16.detach().float().requires_grad_()
    r32 = r16.detach().float().requires_grad_() if with_residual else None
    y16 = fused.bn_act(x16, w, b, 1e-5, "relu", r16)[0]
    y32 = fused.bn_act(x32, w, b, 1e-5, "relu", r32)[0]
    assert torch.equal(y16, y32.bfloat16())
    (dx16,) = torch.autograd.grad(y16, [x16], g16)
    (dx32,) = torch.autograd.grad(y32, [x32], g16.float())
    assert torch.equal(dx16, dx32.bfloat16())


@pytest.mark.parametrize("act", ["relu", None, "silu"])
@pytest.mark.parametrize("with_residual", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_eval_bn_matches_pytorch(act, with_residual, dtype):
    """In evaluation without autograd, BN from the running statistics (+ shortcut) (+ ReLU) is the kernel's
    one pass: it equals PyTorch's eval BN, add and activation (fp32 within float rounding, bf16 within one
    rounding of each), and is the kernel's output where it applies (not SiLU)."""
    torch.manual_seed(0)
    shape = (17, 24, 9, 9)
    bn = BatchNormAct2d(24, act)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_()
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    bn.eval()
    x = (torch.randn(shape) * 2).to(dtype).contiguous(memory_format=CL)
    r = torch.randn(shape).to(dtype).contiguous(memory_format=CL) if with_residual else None
    ref = nn.BatchNorm2d(24).eval()
    ref.load_state_dict({k: v for k, v in bn.state_dict().items()})
    with torch.inference_mode():
        y = bn(x, r)
        expected = ref(x.float()) + (r.float() if with_residual else 0)
        expected = {"relu": F.relu, "silu": F.silu, None: lambda t: t}[act](expected)
    assert y.dtype == dtype and y.is_contiguous(memory_format=CL)
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(y.float(), expected, rtol=tol, atol=tol)
    if act != "silu":
        scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
        with torch.inference_mode():
            assert torch.equal(y, fused.bn_eval(x, scale, bn.bias - bn.running_mean * scale, act, r))
    with torch.no_grad():  # the same path under no_grad; with autograd on, PyTorch's ops (which have a backward)
        torch.testing.assert_close(bn(x, r), y, rtol=0, atol=0)
    xg = x.float().requires_grad_()
    bn.float()(xg, None if r is None else r.float()).sum().backward()
    assert xg.grad is not None


@pytest.mark.parametrize("act", ["relu", "silu", None])
def test_fused_bn_propagates_nan(act):
    bn = BatchNormAct2d(8, act)
    x = torch.randn(2, 8, 4, 4).contiguous(memory_format=CL)
    x[0, 0, 0, 0] = float("nan")
    for dtype in (torch.float32, torch.bfloat16):
        y = bn(x.to(dtype))
        assert torch.isnan(y[:, 0]).all() and torch.isfinite(y[:, 1:]).all()  # divergence detection sees it
    bn = BatchNormAct2d(8, act).eval()  # fresh: the training passes made channel 0's running statistics NaN
    for dtype in (torch.float32, torch.bfloat16):  # and in evaluation (the one-pass kernel): only where it was
        with torch.inference_mode():
            y = bn(x.to(dtype))
        assert torch.isnan(y[0, 0, 0, 0]) and torch.isfinite(y.flatten()[1:]).all()


@pytest.mark.parametrize("k,stride,size", [(3, 1, 7), (3, 2, 7), (5, 1, 6), (5, 2, 9), (3, 2, 2), (5, 1, 1)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_depthwise_kernels_match_pytorch(k, stride, size, dtype):
    """The C++ gradients on their own, at every stride/kernel/size edge, against float64."""
    torch.manual_seed(0)
    c, pad = 40, k // 2
    x = torch.randn(3, c, size, size).to(dtype).contiguous(memory_format=CL)
    w = torch.randn(c, 1, k, k)
    out = F.conv2d(x.double(), w.double(), stride=stride, padding=pad, groups=c)
    g = torch.randn(out.shape).to(dtype).contiguous(memory_format=CL)
    xr, wr = x.double().requires_grad_(), w.double().requires_grad_()
    F.conv2d(xr, wr, stride=stride, padding=pad, groups=c).backward(g.double())
    taps = w.reshape(c, k * k).t().contiguous()
    dx = fused.kernel().dw_input_grad(g, x, taps, k, stride, pad)
    dw = fused.kernel().dw_weight_grad(g, x, k, stride, pad).t().reshape(c, 1, k, k)
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    assert dx.dtype == dtype and dx.is_contiguous(memory_format=CL)
    torch.testing.assert_close(dx.double(), xr.grad, rtol=tol, atol=tol * xr.grad.abs().max().item())
    torch.testing.assert_close(dw.double(), wr.grad, rtol=1e-5, atol=1e-5 * wr.grad.abs().max().item())


@pytest.mark.parametrize("k,stride,size", [(3, 1, 8), (3, 2, 8), (5, 1, 8), (3, 1, 2)])
@pytest.mark.parametrize("bf16", [False, True])
def test_depthwise_conv_layer_matches_conv2d(k, stride, size, bf16):
    """Each (forward, input grad, weight grad) route the layer can take, against nn.Conv2d."""
    torch.manual_seed(0)
    c = 48
    mine = DepthwiseConv(c, c, k, stride=stride, padding=k // 2, groups=c, bias=False)
    ref = nn.Conv2d(c, c, k, stride=stride, padding=k // 2, groups=c, bias=False)
    ref.load_state_dict(mine.state_dict())
    x = torch.randn(4, c, size, size).contiguous(memory_format=CL)
    assert fused.depthwise_usable(x, mine)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y = mine(xa)
        expected = ref(xb)
    assert y.dtype == expected.dtype and y.shape == expected.shape
    g = torch.randn(y.shape).contiguous(memory_format=CL).to(y.dtype)
    y.backward(g)
    expected.backward(g)
    tol = 1e-5 if not bf16 else 3e-2
    torch.testing.assert_close(y.float(), expected.float(), rtol=tol, atol=tol)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=tol, atol=tol)
    torch.testing.assert_close(mine.weight.grad, ref.weight.grad, rtol=tol, atol=tol * ref.weight.grad.abs().max().item())


@pytest.mark.parametrize("size,stride", [(2, 1), (8, 2), (16, 1)])  # fp32 weight gradient, fp32, plain bf16
def test_grouped_conv_matches_conv2d_under_bf16(size, stride):
    torch.manual_seed(0)
    mine = GroupedConv(64, 64, 3, stride=stride, padding=1, groups=8, bias=False)
    ref = nn.Conv2d(64, 64, 3, stride=stride, padding=1, groups=8, bias=False)
    ref.load_state_dict(mine.state_dict())
    x = torch.randn(16, 64, size, size).bfloat16().contiguous(memory_format=CL)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, expected = mine(xa), ref(xb)
    assert y.dtype == expected.dtype == torch.bfloat16
    g = torch.randn(y.shape).bfloat16().contiguous(memory_format=CL)
    y.backward(g)
    expected.backward(g)
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(xa.grad, xb.grad)
    # the float32 weight gradient is the more exact one: compare with float64
    w64 = ref.weight.detach().double().requires_grad_()
    F.conv2d(x.double(), w64, stride=stride, padding=1, groups=8).backward(g.double())
    scale = w64.grad.abs().max().item()
    assert (mine.weight.grad.double() - w64.grad).abs().max().item() <= (ref.weight.grad.double() - w64.grad).abs().max().item() + 1e-6 * scale
    torch.testing.assert_close(mine.weight.grad.double(), w64.grad, rtol=2e-2, atol=2e-2 * scale)


def test_depthwise_layer_first_in_the_network_needs_no_input_grad():
    mine = DepthwiseConv(8, 8, 3, stride=2, padding=1, groups=8, bias=False)
    x = torch.randn(2, 8, 6, 6).contiguous(memory_format=CL)  # no requires_grad: the input gradient is skipped
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mine(x).float().sum().backward()
    assert mine.weight.grad is not None and torch.isfinite(mine.weight.grad).all()


@pytest.mark.parametrize("name", ["RegNetX-200MF", "EfficientNet-B0"])
def test_whole_network_gradients_match_float64(name):
    """An fp32 channels_last network on the kernels against the same network in float64 (PyTorch's ops).

    Per tensor, the largest gradient error relative to the tensor's largest
    gradient (or to 1/1000 of the network's largest, for tensors whose gradient is ~0). (PyTorch's own fp32 BN is no closer: deep in the net, where BN
    normalizes over a few values, it was measured 10-1000x further off.)
    """
    spec = for_input(zoo.resolve(name), in_channels=3, resolution=16, num_classes=10)
    spec = dataclasses.replace(spec, dropout=0.0, drop_connect=0.0)  # no random masks: runs must agree
    torch.manual_seed(0)
    state = build(spec).state_dict()
    x = torch.randn(8, 3, 16, 16)
    y = torch.randint(0, 10, (8,))

    def run(dtype):
        model = build(spec).train()
        model.load_state_dict(state)
        model = model.to(dtype=dtype, memory_format=CL)
        loss = F.cross_entropy(model(x.to(dtype).contiguous(memory_format=CL)), y)
        loss.backward()
        return loss.item(), [p.grad.double() for p in model.parameters()]

    loss, grads = run(torch.float32)
    again, grads_again = run(torch.float32)
    assert again == loss and all(torch.equal(a, b) for a, b in zip(grads, grads_again))  # deterministic
    exact_loss, exact = run(torch.float64)  # float64: the kernel does not apply, PyTorch's BN runs
    assert abs(loss - exact_loss) < 1e-5
    floor = 1e-3 * max(b.abs().max().item() for b in exact)  # tensors whose exact gradient is ~0
    worst = max((a - b).abs().max().item() / max(b.abs().max().item(), floor) for a, b in zip(grads, exact))
    assert worst < 2e-3


def test_disabled_kernel_falls_back_quietly():
    env = dict(os.environ, NETSPACE_FUSED="0")
    code = ("import warnings; warnings.simplefilter('error');"
            "from netspace.models import fused; assert fused.kernel() is None; print(fused.check())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "not available" in out.stdout


def test_batchnormact_rejects_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        BatchNormAct2d(8, "gelu")


def test_fused_silu_accurate_over_a_wide_range():
    """BN then SiLU far into both tails, and its gradient."""
    bn = BatchNormAct2d(16, "silu")
    with torch.no_grad():
        bn.weight.fill_(40.0)  # BN output spans about -160..160
    x = torch.randn(8, 16, 5, 5).contiguous(memory_format=CL).requires_grad_()
    y = bn(x)
    ref = F.silu(F.batch_norm(x, None, None, bn.weight, bn.bias, True, 0.1, 1e-5))
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-4)
    g = torch.randn_like(y)
    (dx,) = torch.autograd.grad(y, x, g)
    (ref_dx,) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(dx, ref_dx, rtol=1e-4, atol=1e-3)
