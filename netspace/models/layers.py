"""Small layers shared by every block: conv, BN+activation, SE, drop connect."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from netspace.models import fused


def activation(name: str) -> nn.Module:
    """The network's nonlinearity ("relu" or "silu")."""
    return nn.ReLU(inplace=True) if name == "relu" else nn.SiLU(inplace=True)


def conv(w_in: int, w_out: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    """A "same"-padded conv; odd kernels only, so padding is exact."""
    if k == 1 and groups == 1:
        return PointwiseConv(w_in, w_out, 1, stride=stride, bias=bias)
    if groups == w_in == w_out:
        return DepthwiseConv(w_in, w_out, k, stride=stride, padding=k // 2, groups=groups, bias=bias)
    if groups > 1:
        return GroupedConv(w_in, w_out, k, stride=stride, padding=k // 2, groups=groups, bias=bias)
    return nn.Conv2d(w_in, w_out, k, stride=stride, padding=k // 2, groups=groups, bias=bias)


class PointwiseConv(nn.Conv2d):
    """A dense 1x1 conv that runs as one matrix multiply where that is faster.

    A channels_last tensor is an (N*H*W, C) matrix in memory, so a 1x1 conv on
    it is ``F.linear`` with no copy. On these CPUs (``benchmarks/cpu_layers.py``)
    that beats the conv kernel, forward plus backward, by 1.3-4.5x at 4x4 and
    below, and slightly (1.05x) in bf16 at 8x8 once both widths reach 128; at
    16x16 the conv kernel is 1.5x faster, and elsewhere it is used. Same parameters and state dict as ``nn.Conv2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._as_matmul(x):
            return super().forward(x)
        if self.stride[0] > 1:
            x = x[:, :, :: self.stride[0], :: self.stride[1]]
        n, c, h, w = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)
        out = F.linear(rows, self.weight.view(self.out_channels, c), self.bias)
        return out.view(n, h, w, self.out_channels).permute(0, 3, 1, 2)

    def _as_matmul(self, x: torch.Tensor) -> bool:
        if x.device.type != "cpu" or x.dim() != 4 or not x.is_contiguous(memory_format=torch.channels_last):
            return False  # measured on CPU only; CUDA keeps cuDNN's choice
        pixels = x.shape[2] * x.shape[3] // (self.stride[0] * self.stride[1])
        if pixels <= 16:
            return True
        wide = min(self.in_channels, self.out_channels) >= 128
        return wide and pixels <= 64 and x.dtype == torch.bfloat16


def _cpu_bf16_autocast() -> bool:
    return torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


class DepthwiseConv(nn.Conv2d):
    """A depthwise conv whose backward pass avoids oneDNN's slow CPU cases.

    On channels_last CPU tensors, where oneDNN's input gradient (bf16, stride
    2) or weight gradient (5x5, or below 4x4) would be pathologically slow,
    that gradient comes from the project's kernel
    (:func:`netspace.models.fused.depthwise`); the rest stays oneDNN's.
    ``benchmarks/cpu_layers.py``: 12-48x faster forward plus backward on
    EfficientNet-B0's strided and 5x5 shapes. Same parameters and state dict
    as ``nn.Conv2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and torch.is_grad_enabled() and fused.depthwise_usable(x, self):
            if torch.is_autocast_enabled("cpu"):
                if not _cpu_bf16_autocast():
                    return super().forward(x)
                x = x.to(torch.bfloat16)
            if any(fused.depthwise_routes(x, self.stride[0], self.kernel_size[0])):
                return fused.depthwise(x, self.weight, self.stride[0], self.padding[0])
        return super().forward(x)


class _Fp32WeightGrad(torch.autograd.Function):
    """A bf16 conv whose weight gradient oneDNN computes in float32 (inputs upcast)."""

    @staticmethod
    def forward(ctx, x, weight, stride: int, padding: int, groups: int):  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        ctx.conf = ([stride] * 2, [padding] * 2, [1, 1], False, [0, 0], groups)
        return F.conv2d(x, weight.to(x.dtype), None, stride, padding, 1, groups)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        grad = grad.to(x.dtype).contiguous(memory_format=torch.channels_last)
        dx = None
        if ctx.needs_input_grad[0]:
            dx = torch.ops.aten.convolution_backward(grad, x, weight.to(x.dtype), None, *ctx.conf,
                                                     [True, False, False])[0]
        dw = torch.ops.aten.convolution_backward(grad.float(), x.float(), weight, None, *ctx.conf,
                                                 [False, True, False])[1]
        return dx, dw, None, None, None


class GroupedConv(nn.Conv2d):
    """A grouped (not depthwise) conv whose bf16 weight gradient runs in float32 at small sizes.

    oneDNN's bf16 weight gradient for narrow groups is slow at small spatial
    sizes on these CPUs: RegNet's group-width-8 convs with up to 16 output
    pixels run forward plus backward 1.07-1.59x faster with the weight
    gradient in float32 (``benchmarks/cpu_layers.py``); from 8x8 outputs on it
    was slower, and those stay all-bf16. Same parameters as ``nn.Conv2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.training and torch.is_grad_enabled() and self.bias is None and x.device.type == "cpu"
                and _cpu_bf16_autocast()
                and x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
                and self.stride[0] == self.stride[1] and self.padding[0] == self.padding[1]
                and x.shape[2] * x.shape[3] <= 16 * self.stride[0] * self.stride[1]):
            return _Fp32WeightGrad.apply(x.to(torch.bfloat16), self.weight, self.stride[0], self.padding[0],
                                         self.groups)
        return super().forward(x)


def bn(w: int, final: bool = False, act: str | None = None) -> BatchNormAct2d:
    """BatchNorm, then ``act`` if given; ``final`` marks the last BN of a residual branch for zero-init."""
    layer = BatchNormAct2d(w, act)
    layer.final_bn = final  # read by init_weights
    return layer


class BatchNormAct2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` followed by an activation ("relu", "silu" or None), in one module;
    ``forward(x, residual)`` adds a block's shortcut before the activation.

    In training on channels_last CPU tensors, BN (and the shortcut, and ReLU)
    run as one fused kernel (:mod:`netspace.models.fused`): two passes over the
    tensor forward and two backward, where PyTorch's BN plus a separate add
    and ReLU make several more (1.1-3.3x faster, ``benchmarks/cpu_layers.py``);
    elsewhere (eval, contiguous, CUDA, or no compiler) it is PyTorch's BN then
    the activation. Parameters, buffers and state dict are BatchNorm2d's.
    """

    def __init__(self, w: int, act: str | None = None) -> None:
        super().__init__(w)
        if act not in (None, "relu", "silu"):
            raise ValueError(f"unknown activation {act!r}; use relu or silu")
        self.act = act

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        """act(BN(x) + residual), the residual (a block's shortcut) being optional."""
        if self.training and self.track_running_stats and fused.usable(x, self.weight, residual):
            relu = self.act == "relu"
            y, mean, var = fused.bn_act(x, self.weight, self.bias, self.eps, "relu" if relu else None, residual)
            self._track(mean, var)
            if relu:
                return y
        else:
            y = super().forward(x)
            if residual is not None:
                y = y + residual
            if self.act == "relu":
                return F.relu(y, inplace=True)
        # SiLU is PyTorch's (a fused one was tried and was no faster), out of place: in place
        # it would copy its input for the backward pass
        return F.silu(y) if self.act == "silu" else y

    @torch.no_grad()
    def _track(self, mean: torch.Tensor, var: torch.Tensor) -> None:
        """Running statistics, updated as nn.BatchNorm2d does (momentum, or a cumulative mean)."""
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.lerp_(mean, factor)
        self.running_var.lerp_(var, factor)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", act={self.act}" if self.act else "")


class SE(nn.Module):
    """Squeeze-and-excitation: global pool, 1x1 (w -> w_se), act, 1x1 back, sigmoid gate."""

    def __init__(self, w: int, w_se: int, act: str) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = conv(w, w_se, 1, bias=True)
        self.act = activation(act)
        self.expand = conv(w_se, w, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.expand(self.act(self.reduce(self.pool(x))))
        return x * torch.sigmoid(s)


def drop_connect(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Drop a residual branch per sample with probability ``rate`` (stochastic depth)."""
    if not training or rate <= 0.0:
        return x
    keep = 1.0 - rate
    mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * mask / keep
