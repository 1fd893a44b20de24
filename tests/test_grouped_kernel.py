"""The grouped conv kernel (forward, input and weight gradients) against F.conv2d in float64."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from netspace.models import fused

CL = torch.channels_last

pytestmark = pytest.mark.skipif(fused.kernel() is None, reason="the CPU kernels did not build")


def reference(x: torch.Tensor, w: torch.Tensor, gy: torch.Tensor, stride: int, padding: int, groups: int):
    """(y, dx, dw) in float64 from the same (possibly bf16-rounded) values."""
    x64 = x.double().requires_grad_()
    w64 = w.double().requires_grad_()
    y = F.conv2d(x64, w64, None, stride, padding, 1, groups)
    dx, dw = torch.autograd.grad(y, (x64, w64), gy.double())
    return y.detach(), dx, dw


def close(ours: torch.Tensor, ref: torch.Tensor, rel: float) -> None:
    """Elementwise within rel of the reference's largest magnitude (sums of many terms of both signs)."""
    scale = ref.abs().max().item() or 1.0
    torch.testing.assert_close(ours.double(), ref, rtol=rel, atol=rel * scale)


def sample(group_width: int, stride: int, k: int, seed: int):
    rng = random.Random(seed)
    groups, batch = rng.randint(1, 3), rng.randint(1, 5)
    h, w = rng.randint(1, 17), rng.randint(1, 17)
    return groups * group_width, groups, batch, h, w


CASES = [(gw, s, k) for gw in (1, 2, 4, 8, 16, 24, 32, 48) for s in (1, 2) for k in (1, 3, 5)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("group_width,stride,k", CASES)
def test_matches_conv2d_in_float64(group_width, stride, k, dtype):
    c, groups, batch, h, w = sample(group_width, stride, k, seed=hash((group_width, stride, k)) % 10_000)
    torch.manual_seed(group_width * 100 + stride * 10 + k)
    pad = k // 2
    x = torch.randn(batch, c, h, w).to(dtype).contiguous(memory_format=CL)
    weight = torch.randn(c, group_width, k, k) / (group_width * k * k) ** 0.5
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    gy = torch.randn(batch, c, ho, wo).to(dtype).contiguous(memory_format=CL)
    y_ref, dx_ref, dw_ref = reference(x, weight, gy, stride, pad, groups)

    kern = fused.kernel()
    y = kern.grouped_forward(x, weight, stride, pad)
    dx = kern.grouped_input_grad(gy, x, weight, stride, pad)
    dw = kern.grouped_weight_grad(gy, x, k, stride, pad, groups)
    assert y.dtype == dx.dtype == dtype and dw.dtype == torch.float32
    assert y.shape == y_ref.shape and dx.shape == x.shape and dw.shape == weight.shape
    assert y.is_contiguous(memory_format=CL) and dx.is_contiguous(memory_format=CL)
    # bf16: outputs are rounded to 8 bits of mantissa; dw stays float32 from exactly represented inputs
    rel = 1e-5 if dtype == torch.float32 else 1e-2
    close(y, y_ref, rel)
    close(dx, dx_ref, rel)
    close(dw, dw_ref, 1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_autograd_function_gives_the_kernels_gradients(dtype):
    torch.manual_seed(0)
    x = torch.randn(3, 32, 7, 6).to(dtype).contiguous(memory_format=CL).requires_grad_()
    weight = (torch.randn(32, 8, 3, 3) / 8).requires_grad_()
    y = fused.grouped_conv(x, weight, 2, 1, 4)
    gy = torch.randn_like(y)
    y.backward(gy)
    y_ref, dx_ref, dw_ref = reference(x.detach(), weight.detach(), gy, 2, 1, 4)
    rel = 1e-5 if dtype == torch.float32 else 1e-2
    close(y.detach(), y_ref, rel)
    close(x.grad, dx_ref, rel)
    close(weight.grad, dw_ref, 1e-5)
    assert x.grad.dtype == dtype and weight.grad.dtype == torch.float32


def test_only_the_needed_gradient_is_computed():
    x = torch.randn(2, 16, 4, 4).contiguous(memory_format=CL)
    weight = torch.randn(16, 8, 3, 3, requires_grad=True)
    fused.grouped_conv(x, weight, 1, 1, 2).sum().backward()
    assert x.grad is None and weight.grad is not None


def test_odd_shape_at_regnet_width():
    """Batch not a multiple of the pixel block, 368 channels, 2x2 and 3x3 images, both strides."""
    torch.manual_seed(1)
    for size, stride in ((2, 1), (3, 2), (4, 2)):
        x = torch.randn(13, 368, size, size).contiguous(memory_format=CL)
        weight = torch.randn(368, 8, 3, 3) / 8
        y = fused.kernel().grouped_forward(x, weight, stride, 1)
        gy = torch.randn_like(y)
        y_ref, dx_ref, dw_ref = reference(x, weight, gy, stride, 1, 46)
        close(y, y_ref, 1e-5)
        close(fused.kernel().grouped_input_grad(gy, x, weight, stride, 1), dx_ref, 1e-5)
        close(fused.kernel().grouped_weight_grad(gy, x, 3, stride, 1, 46), dw_ref, 1e-5)


@pytest.mark.parametrize("group_width,c,h,w,stride,k,pad", [
    (8, 16, 7, 5, 1, 3, 0), (8, 16, 7, 5, 2, 3, 2), (4, 8, 6, 9, 3, 3, 1), (16, 32, 5, 5, 1, 5, 0),
    (8, 8, 3, 3, 2, 1, 1), (2, 4, 4, 4, 3, 3, 3)])
def test_other_paddings_and_strides(group_width, c, h, w, stride, k, pad):
    """Padding other than k // 2 (outputs whose window is all padding are 0) and stride 3."""
    torch.manual_seed(4)
    x = torch.randn(2, c, h, w).contiguous(memory_format=CL)
    weight = torch.randn(c, group_width, k, k)
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    gy = torch.randn(2, c, ho, wo).contiguous(memory_format=CL)
    y_ref, dx_ref, dw_ref = reference(x, weight, gy, stride, pad, c // group_width)
    kern = fused.kernel()
    close(kern.grouped_forward(x, weight, stride, pad), y_ref, 1e-5)
    close(kern.grouped_input_grad(gy, x, weight, stride, pad), dx_ref, 1e-5)
    close(kern.grouped_weight_grad(gy, x, k, stride, pad, c // group_width), dw_ref, 1e-5)


def passes(x, weight, gy, stride, groups):
    kern = fused.kernel()
    return (kern.grouped_forward(x, weight, stride, 1), kern.grouped_input_grad(gy, x, weight, stride, 1),
            kern.grouped_weight_grad(gy, x, 3, stride, 1, groups))


@pytest.mark.parametrize("group_width", [8, 16])
def test_deterministic_and_independent_of_thread_count(group_width):
    """Every output element is summed by one thread in a fixed order, so the results are bitwise the
    same from run to run and for any number of threads (no reduction across threads)."""
    torch.manual_seed(2)
    x = torch.randn(37, 64, 9, 9).contiguous(memory_format=CL)
    weight = torch.randn(64, group_width, 3, 3)
    gy = torch.randn(37, 64, 5, 5).contiguous(memory_format=CL)
    groups = 64 // group_width
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        first, second = passes(x, weight, gy, 2, groups), passes(x, weight, gy, 2, groups)
        torch.set_num_threads(1)
        single = passes(x, weight, gy, 2, groups)
    finally:
        torch.set_num_threads(threads)
    for a, b, c in zip(first, second, single):
        assert torch.equal(a, b)
        assert torch.equal(a, c)


def test_nan_propagates_where_it_should_and_nowhere_else():
    """A NaN reaches every output it takes part in. Taps that fall on padding are skipped, not
    multiplied by zero, so a NaN output gradient reaches dw only through real input pixels (F.conv2d
    also marks the padding taps NaN); the expected dw is marked by propagating NaN indicators."""
    torch.manual_seed(3)
    x = torch.randn(2, 32, 6, 6).contiguous(memory_format=CL)
    x[1, 9, 2, 3] = float("nan")  # group 1 of 4 (width 8), image 1
    weight = torch.randn(32, 8, 3, 3)
    gy = torch.randn(2, 32, 6, 6).contiguous(memory_format=CL)
    gy[0, 20, 0, 5] = float("nan")  # group 2, image 0, on the border
    y_ref, dx_ref, _ = reference(x, weight, gy, 1, 1, 4)
    bad_x, bad_gy = x.isnan().double(), gy.isnan().double()
    ones_w = torch.ones(32, 8, 3, 3, dtype=torch.float64)
    _, _, from_gy = reference(torch.ones_like(bad_x), ones_w, bad_gy, 1, 1, 4)
    _, _, from_x = reference(bad_x, ones_w, torch.ones_like(bad_gy), 1, 1, 4)
    dw_nan = (from_gy + from_x) > 0
    y, dx, dw = passes(x, weight, gy, 1, 4)
    for ours, expected in ((y, y_ref.isnan()), (dx, dx_ref.isnan()), (dw, dw_nan)):
        assert expected.any() and not expected.all()
        assert torch.equal(ours.isnan(), expected)
    assert y[1, 8:16, 1:4, 2:5].isnan().all() and not y[0].isnan().any() and not y[1, :8].isnan().any()
    assert dw[20].isnan().any() and dw[8:16, 1].isnan().all() and not dw[:8].isnan().any()


def test_refuses_what_it_does_not_compute():
    kern = fused.kernel()
    x = torch.randn(2, 16, 5, 5).contiguous(memory_format=CL)
    with pytest.raises(RuntimeError, match="as many output channels"):
        kern.grouped_forward(x, torch.randn(32, 8, 3, 3), 1, 1)
    with pytest.raises(RuntimeError, match="odd"):
        kern.grouped_forward(x, torch.randn(16, 8, 2, 2), 1, 1)
    with pytest.raises(RuntimeError, match="channels_last"):
        kern.grouped_forward(x.contiguous(), torch.randn(16, 8, 3, 3), 1, 1)
    with pytest.raises(RuntimeError, match="float32"):
        kern.grouped_forward(x, torch.randn(16, 8, 3, 3).double(), 1, 1)
    with pytest.raises(ValueError, match="groups"):
        fused.grouped_conv(x, torch.randn(16, 8, 3, 3), 1, 1, 4)


def test_usable_only_where_the_kernel_applies():
    x = torch.randn(2, 32, 6, 6).contiguous(memory_format=CL)
    conv = nn.Conv2d(32, 32, 3, 2, 1, groups=4, bias=False)
    assert fused.grouped_usable(x, conv)
    assert fused.grouped_usable(x.bfloat16(), conv)
    assert not fused.grouped_usable(x.contiguous(), conv)
    assert not fused.grouped_usable(x.double(), conv)
    assert not fused.grouped_usable(x, nn.Conv2d(32, 32, 3, 2, 1, groups=4, bias=True))
    assert not fused.grouped_usable(x, nn.Conv2d(32, 32, 3, 2, 2, dilation=2, groups=4, bias=False))
    assert not fused.grouped_usable(x, nn.Conv2d(32, 64, 3, 2, 1, groups=4, bias=False))
    assert not fused.grouped_usable(x, nn.Conv2d(32, 32, (3, 1), 2, (1, 0), groups=4, bias=False))
