"""Small layers shared by every block: conv, BN+activation, SE, drop connect."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from netspace.models import fused, tune


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
    return DenseConv(w_in, w_out, k, stride=stride, padding=k // 2, groups=groups, bias=bias)


def _on_cpu_channels_last(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)


def _cpu_bf16_autocast() -> bool:
    return torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype a conv on ``x`` computes in: bf16 under CPU bf16 autocast, else x's own."""
    return torch.bfloat16 if _cpu_bf16_autocast() else x.dtype


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _training(module: nn.Module) -> bool:
    return module.training and torch.is_grad_enabled()


def _timed_pass(fn, inputs: list[torch.Tensor], grad: torch.Tensor | None):
    """A candidate for the tuner: ``fn(*inputs)``, then its backward with ``grad`` when given."""
    def run() -> None:
        if grad is None:
            with torch.no_grad():
                fn(*inputs)
            return
        for t in inputs:
            t.grad = None
        out = fn(*inputs)
        out.backward(grad)
    return run


def _conv_out(x: torch.Tensor, conv: nn.Conv2d) -> tuple[int, int, int, int]:
    (k, _), (s, _), (p, _) = conv.kernel_size, conv.stride, conv.padding
    h, w = ((x.shape[2] + 2 * p - k) // s + 1), ((x.shape[3] + 2 * p - k) // s + 1)
    return x.shape[0], conv.out_channels, h, w


def _timing_inputs(x: torch.Tensor, conv: nn.Conv2d, train: bool):
    """Random stand-ins for the layer's input, its weight (and bias) and the output's gradient."""
    xi = tune.randn(x.shape, x.dtype, channels_last=True, requires_grad=train)
    w = conv.weight.detach().clone().requires_grad_(train)
    b = None if conv.bias is None else conv.bias.detach().clone().requires_grad_(train)
    g = tune.randn(_conv_out(x, conv), _compute_dtype(x), channels_last=True) if train else None
    return xi, w, b, g


class PointwiseConv(nn.Conv2d):
    """A dense 1x1 conv that runs as one matrix multiply where that is faster.

    A channels_last tensor is an (N*H*W, C) matrix in memory, so a 1x1 conv on
    it is ``F.linear`` with no copy. Which of the two is faster depends on the
    CPU, dtype and shape, so on CPU the autotuner (:mod:`netspace.models.tune`)
    measures both per shape class and keeps the faster. The fixed rule (with
    ``NETSPACE_TUNE=0``), measured on an AMX Xeon in bf16: matmul at 4x4 and
    below (1.3-4.5x faster forward plus backward), and in bf16 at 8x8 when both
    widths reach 128 (1.05x); at 16x16 the conv kernel was 1.5x faster. Same
    parameters and state dict as ``nn.Conv2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._as_matmul(x):
            return super().forward(x)
        return self._matmul(x, self.weight, self.bias)

    def _matmul(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.stride[0] > 1:
            x = x[:, :, :: self.stride[0], :: self.stride[1]]
        n, c, h, w = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)
        out = F.linear(rows, weight.view(self.out_channels, c), bias)
        return out.view(n, h, w, self.out_channels).permute(0, 3, 1, 2)

    def _fixed_rule(self, x: torch.Tensor) -> bool:
        pixels = x.shape[2] * x.shape[3] // (self.stride[0] * self.stride[1])
        if pixels <= 16:
            return True
        wide = min(self.in_channels, self.out_channels) >= 128
        return wide and pixels <= 64 and x.dtype == torch.bfloat16

    def _as_matmul(self, x: torch.Tensor) -> bool:
        if not _on_cpu_channels_last(x):
            return False  # CUDA keeps cuDNN's choice; NCHW is the plain path
        train = _training(self)
        default = "matmul" if self._fixed_rule(x) else "conv"
        bf16 = _cpu_bf16_autocast()
        fast = (x.shape, x.dtype, bf16, train, self.out_channels, self.stride[0], self.bias is None)
        shape_class = lambda: (x.shape[0], tune.channels_class(self.in_channels),  # noqa: E731
                               tune.channels_class(self.out_channels), x.shape[2], x.shape[3], self.stride[0],
                               self.bias is not None, _dtype_name(torch.bfloat16 if bf16 else x.dtype), train)

        def candidates():
            xi, w, b, g = _timing_inputs(x, self, train)
            inputs = [xi, w] + ([b] if b is not None else [])
            return {"conv": _timed_pass(lambda xi, w, *b: F.conv2d(xi, w, b[0] if b else None, self.stride),
                                        inputs, g),
                    "matmul": _timed_pass(lambda xi, w, *b: self._matmul(xi, w, b[0] if b else None), inputs, g)}

        return tune.choose("pointwise", shape_class, candidates, default, fast=fast) == "matmul"


class DepthwiseConv(nn.Conv2d):
    """A depthwise conv whose backward pass avoids oneDNN's slow CPU cases.

    On channels_last CPU tensors in training, each gradient comes from oneDNN
    or from the project's kernel (:func:`netspace.models.fused.depthwise`),
    whichever the autotuner measured faster for the shape class; the forward
    pass is oneDNN's. The fixed rule (``NETSPACE_TUNE=0``, measured on an AMX
    Xeon): the kernel for the bf16 input gradient at stride 2 and for the
    weight gradient of 5x5 kernels or below 4x4, where oneDNN is
    pathologically slow (``benchmarks/cpu_layers.py``: 12-48x faster forward
    plus backward on EfficientNet-B0's strided and 5x5 shapes). Same
    parameters and state dict as ``nn.Conv2d``.
    """

    ROUTES = {"onednn": (False, False), "kernel_dx": (True, False), "kernel_dw": (False, True),
              "kernel": (True, True)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _training(self) and fused.depthwise_usable(x, self):
            if torch.is_autocast_enabled("cpu"):
                if not _cpu_bf16_autocast():
                    return super().forward(x)
                x = x.to(torch.bfloat16)
            routes = self._routes(x)
            if any(routes):
                return fused.depthwise(x, self.weight, self.stride[0], self.padding[0], routes)
        return super().forward(x)

    def _routes(self, x: torch.Tensor) -> tuple[bool, bool]:
        fixed = fused.depthwise_routes(x, self.stride[0], self.kernel_size[0])
        default = next(name for name, r in self.ROUTES.items() if r == tuple(fixed))
        fast = (x.shape, x.dtype, self.kernel_size[0], self.stride[0])
        shape_class = lambda: (x.shape[0], tune.channels_class(self.in_channels), x.shape[2],  # noqa: E731
                               x.shape[3], self.kernel_size[0], self.stride[0], _dtype_name(x.dtype))

        def candidates():
            xi, w, _, g = _timing_inputs(x, self, True)
            g = g.to(x.dtype)
            return {name: _timed_pass(lambda xi, w, r=r: fused.depthwise(xi, w, self.stride[0], self.padding[0], r)
                                      if any(r) else F.conv2d(xi, w.to(xi.dtype), None, self.stride, self.padding,
                                                              1, self.groups), [xi, w], g)
                    for name, r in self.ROUTES.items()}

        return self.ROUTES[tune.choose("depthwise", shape_class, candidates, default, fast=fast)]


class _Fp32WeightGrad(torch.autograd.Function):
    """A bf16 conv whose weight gradient oneDNN computes in float32 (inputs upcast).

    ``stride``, ``padding`` and ``dilation`` are ints or (h, w) pairs."""

    @staticmethod
    def forward(ctx, x, weight, stride, padding, groups: int, dilation=1):  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        pair = lambda v: list(v) if isinstance(v, (tuple, list)) else [v, v]  # noqa: E731
        ctx.conf = (pair(stride), pair(padding), pair(dilation), False, [0, 0], groups)
        return F.conv2d(x, weight.to(x.dtype), None, ctx.conf[0], ctx.conf[1], ctx.conf[2], groups)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        grad = grad.to(x.dtype).contiguous(memory_format=torch.channels_last)
        dx = None
        if ctx.needs_input_grad[0]:
            dx = torch.ops.aten.convolution_backward(grad, x, weight.to(x.dtype), None, *ctx.conf,
                                                     [True, False, False])[0]
        dw = torch.ops.aten.convolution_backward(grad.float(), x.float(), weight.float(), None, *ctx.conf,
                                                 [False, True, False])[1]
        return dx, dw.to(weight.dtype), None, None, None, None


def stride_exceeds_input(x: torch.Tensor, conv: nn.Conv2d) -> bool:
    """Whether a k x k conv (k > 1) meets oneDNN's bf16 weight-gradient bug on ``x``: in training under
    bf16 on CPU, where a stride exceeds the input's size along its axis (a 1x1 map at stride 2, a 2x2
    map at stride 4), oneDNN's bf16 weight gradient returns unwritten memory on the taps that touch
    only padding (seen up to 1e36 on AMX Xeons, intermittently; float32 is exact there). Plain,
    grouped and NASNet convs then take the float32 weight gradient (``tests/test_tune.py``)."""
    return (x.device.type == "cpu" and x.dim() == 4 and _training(conv)
            and max(conv.kernel_size) > 1 and _compute_dtype(x) == torch.bfloat16
            and (x.shape[2] < conv.stride[0] or x.shape[3] < conv.stride[1]))


class DenseConv(nn.Conv2d):
    """``nn.Conv2d`` (not grouped, k x k with k > 1; the stems, ResNet's 3x3 convs, NASNet's separable
    and dilated convs' dense parts), which stands aside for the float32 weight gradient where oneDNN's
    bf16 one is wrong (:func:`stride_exceeds_input`); everywhere else it is ``nn.Conv2d``, parameters
    and state dict included."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None and self.padding_mode == "zeros" and stride_exceeds_input(x, self):
            return _Fp32WeightGrad.apply(x.to(torch.bfloat16), self.weight, self.stride, self.padding,
                                         self.groups, self.dilation)
        return super().forward(x)


# A conv whose input and output grids are this small (input pixels x output pixels) can run
# as one dense matrix per group: see _dense_conv. 256 admits RegNet's 4 x 4 stage at stride 1
# (4x4 -> 4x4) besides 2x2 -> 2x2 and 4x4 -> 2x2; the autotuner decides where it is faster.
DENSE_MAX_PIXEL_PAIRS = 256
# ... and whose matrices (all groups) hold at most this many entries: wide groups make them quadratic
# (a 4x4 map of two 512-channel groups: 33.6M), where the grouped conv is no small problem anyway.
DENSE_MAX_MATRIX = 1 << 21


@functools.lru_cache(maxsize=64)
def _dense_pattern(h: int, w: int, k: int, stride: int, padding: int) -> tuple[torch.Tensor, int, int]:
    """(pattern, ho, wo): ``pattern[t, i * ho * wo + o]`` is 1 where kernel tap t (ky * k + kx) connects
    input pixel i to output pixel o of a k x k conv with this stride and zero padding, else 0; float32,
    (k * k, h * w * ho * wo). Each pixel pair has at most one tap, so ``weight @ pattern`` places every
    tap's value on its pairs exactly, and its gradient sums the pairs' gradients back onto the taps.

    Cached per process, so never an inference tensor: one made first in an evaluation pass (under
    ``torch.inference_mode``) could not be used by a later training step."""
    ho, wo = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    with torch.inference_mode(False):
        pattern = torch.zeros(k * k, h * w, ho * wo)
        for oy in range(ho):
            for ox in range(wo):
                for ky in range(k):
                    for kx in range(k):
                        iy, ix = oy * stride - padding + ky, ox * stride - padding + kx
                        if 0 <= iy < h and 0 <= ix < w:
                            pattern[ky * k + kx, iy * w + ix, oy * wo + ox] = 1.0
    return pattern.view(k * k, h * w * ho * wo), ho, wo


def _dense_usable(x: torch.Tensor, conv: nn.Conv2d) -> bool:
    """A square, undilated, bias-free, zero-padded conv (equal strides and paddings) on a grid small
    enough for :func:`_dense_conv`, with groups narrow enough that its matrices stay small."""
    k, s, p = conv.kernel_size, conv.stride, conv.padding
    if x.dim() != 4 or k[0] != k[1] or s[0] != s[1] or not isinstance(p, tuple) or p[0] != p[1] \
            or conv.dilation != (1, 1) or conv.padding_mode != "zeros" or conv.bias is not None:
        return False
    ho, wo = _conv_out(x, conv)[2:]
    pairs = x.shape[2] * x.shape[3] * ho * wo
    entries = pairs * conv.in_channels * conv.out_channels // conv.groups
    return ho > 0 and wo > 0 and pairs <= DENSE_MAX_PIXEL_PAIRS and entries <= DENSE_MAX_MATRIX


def _dense_conv(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int, groups: int) -> torch.Tensor:
    """``F.conv2d(x, weight, None, stride, padding, 1, groups)`` as one batched matmul over the groups.

    On an h x w input every group's conv is a linear map from its h*w*cg input
    values to its ho*wo*cg_out outputs: a (h*w*cg, ho*wo*cg_out) matrix whose
    blocks are the kernel's taps (zero where no tap connects two pixels). On
    RegNet's last stages (2 x 2 and 4 x 4, group width 8) that matrix is small
    and one ``bmm`` over the groups (AMX/oneDNN matmul) beats a grouped conv.
    The matrix is the weight times a fixed 0/1 pattern (:func:`_dense_pattern`),
    a float32 matmul even under autocast, so it holds the weight's values
    exactly and its backward (the pattern's transpose) sums each tap's pair
    gradients in float32; autograd gives both gradients. Under bf16 autocast
    the ``bmm`` runs in bf16, so each pair's gradient is rounded to bf16 once
    before that sum. (A gather and an index-put scatter built the same matrix
    before; ``benchmarks/cpu_layers.py`` times both: the matmul 1.36-2.06x
    faster forward plus backward at RegNet's shapes, 2-core AMX Xeon, bf16.)
    """
    n, c, h, w = x.shape
    c_out, cg, k, _ = weight.shape
    cgo = c_out // groups
    pattern, ho, wo = _dense_pattern(h, w, k, stride, padding)
    with torch.autocast(x.device.type, enabled=False):
        taps = torch.mm(weight.reshape(c_out * cg, k * k), pattern.to(weight.dtype))  # (G*cgo*cg, hw*howo)
    matrix = taps.view(groups, cgo, cg, h * w, ho * wo).permute(0, 3, 2, 4, 1).reshape(groups, h * w * cg,
                                                                                        ho * wo * cgo)
    rows = x.permute(0, 2, 3, 1).reshape(n, h * w, groups, cg).permute(2, 0, 1, 3).reshape(groups, n, h * w * cg)
    out = torch.bmm(rows, matrix)  # (G, n, ho*wo*cgo); autocast runs it in bf16 where enabled
    out = out.view(groups, n, ho, wo, cgo).permute(1, 2, 3, 0, 4).reshape(n, ho, wo, c_out)
    return out.permute(0, 3, 1, 2)  # NCHW view of channels_last memory


class GroupedConv(nn.Conv2d):
    """A grouped (not depthwise) conv with a choice of implementations on CPU.

    Candidates on channels_last CPU tensors: oneDNN's conv; under bf16, the
    same with the weight gradient in float32 (oneDNN's bf16 weight gradient
    for narrow groups is slow at small sizes on some CPUs); the project's
    grouped-conv kernel where it is built; and on grids of at most
    ``DENSE_MAX_PIXEL_PAIRS`` input x output pixels (2 x 2 -> 2 x 2, 4 x 4 ->
    2 x 2, 4 x 4 -> 4 x 4), one batched matmul over the groups (:func:`_dense_conv`). The
    autotuner measures them per shape class and keeps the fastest. Under bf16
    in training, where the stride exceeds the input's size (a 1x1 map at
    stride 2), oneDNN's bf16 weight gradient returns unwritten memory on AMX
    Xeons (``tests/test_tune.py``), so oneDNN's conv is not a candidate there
    and stands aside for its float32 weight gradient. The fixed
    rule (``NETSPACE_TUNE=0``, measured on an AMX Xeon): the float32 weight
    gradient for RegNet's group-width-8 convs with up to 16 output pixels
    (1.07-1.59x faster forward plus backward, ``benchmarks/cpu_layers.py``),
    oneDNN elsewhere. Same parameters as ``nn.Conv2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None and _on_cpu_channels_last(x) and self.stride[0] == self.stride[1] \
                and self.padding[0] == self.padding[1]:
            choice = self._choice(x)
            if choice == "fp32_wgrad":
                return _Fp32WeightGrad.apply(x.to(torch.bfloat16), self.weight, self.stride[0], self.padding[0],
                                             self.groups)
            if choice == "kernel":
                return self._kernel(x, self.weight)
            if choice == "dense":
                return _dense_conv(x, self.weight, self.stride[0], self.padding[0], self.groups)
        return super().forward(x)

    def _kernel(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if _cpu_bf16_autocast():
            x = x.to(torch.bfloat16)
        elif torch.is_autocast_enabled("cpu"):
            x = x.to(torch.get_autocast_dtype("cpu"))
        return fused.grouped_conv(x, weight, self.stride[0], self.padding[0], self.groups)

    def _fixed_rule(self, x: torch.Tensor, train: bool) -> str:
        small = x.shape[2] * x.shape[3] <= 16 * self.stride[0] * self.stride[1]
        return "fp32_wgrad" if train and small and _cpu_bf16_autocast() else "conv"

    def _choice(self, x: torch.Tensor) -> str:
        train = _training(self)
        dtype = _compute_dtype(x)
        kernel_ok = fused.grouped_usable(x, self)
        dense_ok = _dense_usable(x, self)
        fast = (x.shape, x.dtype, dtype, train, self.kernel_size[0], self.stride[0], self.groups)
        shape_class = lambda: (x.shape[0], tune.channels_class(self.in_channels),  # noqa: E731
                               self.in_channels // self.groups, x.shape[2], x.shape[3], self.kernel_size[0],
                               self.stride[0], _dtype_name(dtype), train)

        def candidates():
            xi, w, _, g = _timing_inputs(x, self, train)
            conv = lambda xi, w: F.conv2d(xi, w, None, self.stride, self.padding, 1, self.groups)  # noqa: E731
            out = {"conv": _timed_pass(conv, [xi, w], g)} if conv_ok else {}
            if train and dtype == torch.bfloat16:
                out["fp32_wgrad"] = _timed_pass(
                    lambda xi, w: _Fp32WeightGrad.apply(xi.to(torch.bfloat16), w, self.stride[0], self.padding[0],
                                                        self.groups), [xi, w], g)
            if kernel_ok:
                out["kernel"] = _timed_pass(self._kernel, [xi, w], g)
            if dense_ok:
                out["dense"] = _timed_pass(
                    lambda xi, w: _dense_conv(xi, w, self.stride[0], self.padding[0], self.groups), [xi, w], g)
            return out

        bf16_train = train and dtype == torch.bfloat16
        conv_ok = not stride_exceeds_input(x, self)  # there oneDNN's float32 weight gradient stands in
        default = self._fixed_rule(x, train) if conv_ok else "fp32_wgrad"
        if not kernel_ok and not dense_ok and not bf16_train:
            return default  # one candidate: nothing to measure
        choice = tune.choose("grouped", shape_class, candidates, default, fast=fast)
        if (choice == "kernel" and not kernel_ok) or (choice == "dense" and not dense_ok) \
                or (choice == "fp32_wgrad" and not bf16_train):
            choice = "conv"  # forced where it does not apply
        return choice if choice != "conv" or conv_ok else "fp32_wgrad"


def bn(w: int, final: bool = False, act: str | None = None) -> BatchNormAct2d:
    """BatchNorm, then ``act`` if given; ``final`` marks the last BN of a residual branch for zero-init."""
    layer = BatchNormAct2d(w, act)
    layer.final_bn = final  # read by init_weights
    return layer


class BatchNormAct2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` followed by an activation ("relu", "silu" or None), in one module;
    ``forward(x, residual)`` adds a block's shortcut before the activation.

    In training on channels_last CPU tensors, BN (and the shortcut, and ReLU)
    can run as one fused kernel (:mod:`netspace.models.fused`): two passes over
    the tensor forward and two backward, where PyTorch's BN plus a separate add
    and ReLU make several more (1.1-3.3x faster on an AMX Xeon,
    ``benchmarks/cpu_layers.py``). The autotuner checks that per shape class
    against PyTorch's ops (the fused kernel is the default). In evaluation
    without autograd (a study evaluates every model every epoch) the running
    statistics make BN an affine map, which the kernel applies with the
    shortcut and ReLU in one pass (1.3-3.2x faster than PyTorch's eval BN, add
    and ReLU in bf16, 1.5-2.4x in fp32, on an AMX Xeon). Elsewhere (contiguous, CUDA, SiLU in eval, or
    no compiler) it is PyTorch's BN then the activation.
    Parameters, buffers and state dict are BatchNorm2d's.
    """

    def __init__(self, w: int, act: str | None = None) -> None:
        super().__init__(w)
        if act not in (None, "relu", "silu"):
            raise ValueError(f"unknown activation {act!r}; use relu or silu")
        self.act = act

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        """act(BN(x) + residual), the residual (a block's shortcut) being optional."""
        if self.training and self.track_running_stats and fused.usable(x, self.weight, residual) \
                and self._fused_faster(x, residual):
            relu = self.act == "relu"
            y, mean, var = fused.bn_act(x, self.weight, self.bias, self.eps, "relu" if relu else None, residual)
            self._track(mean, var)
            if relu:
                return y
        elif not self.training and self.running_mean is not None and not torch.is_grad_enabled() \
                and self.act != "silu" and fused.usable(x, self.weight, residual):
            # evaluation: BN with the running statistics is a per-channel affine map; the kernel
            # applies it, the shortcut and the ReLU in one pass (PyTorch's ops make two or three)
            scale = self.weight * torch.rsqrt(self.running_var + self.eps)
            shift = self.bias - self.running_mean * scale
            return fused.bn_eval(x, scale, shift, self.act, residual)
        else:
            y = super().forward(x)
            if residual is not None:
                y = y + residual
            if self.act == "relu":
                return F.relu(y, inplace=True)
        # SiLU is PyTorch's (a fused one was tried and was no faster), out of place: in place
        # it would copy its input for the backward pass
        return F.silu(y) if self.act == "silu" else y

    def _fused_faster(self, x: torch.Tensor, residual: torch.Tensor | None) -> bool:
        if not torch.is_grad_enabled():
            return True  # training-mode statistics without a backward: the kernel's forward is one pass less
        fast = (x.shape, x.dtype, self.act, residual is None)
        shape_class = lambda: (x.shape[0], tune.channels_class(self.num_features), x.shape[2],  # noqa: E731
                               x.shape[3], _dtype_name(x.dtype), self.act, residual is not None)

        def candidates():
            xi = tune.randn(x.shape, x.dtype, channels_last=True, requires_grad=True)
            ri = None if residual is None else tune.randn(x.shape, x.dtype, channels_last=True, requires_grad=True)
            w, b = self.weight.detach().clone().requires_grad_(), self.bias.detach().clone().requires_grad_()
            g = tune.randn(x.shape, x.dtype, channels_last=True)
            inputs = [xi, w, b] + ([ri] if ri is not None else [])
            relu = self.act == "relu"

            def fused_pass(xi, w, b, *r):
                y = fused.bn_act(xi, w, b, self.eps, "relu" if relu else None, r[0] if r else None)[0]
                return F.silu(y) if self.act == "silu" else y

            def torch_pass(xi, w, b, *r):
                y = F.batch_norm(xi, None, None, w, b, True, 0.0, self.eps)
                y = y + r[0] if r else y
                return F.relu(y) if relu else (F.silu(y) if self.act == "silu" else y)

            return {"fused": _timed_pass(fused_pass, inputs, g), "torch": _timed_pass(torch_pass, inputs, g)}

        return tune.choose("bn", shape_class, candidates, "fused", fast=fast) == "fused"

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
