"""CPU training kernels: fused BN(+shortcut)(+ReLU) and depthwise conv gradients, built on first use.

The sources in ``kernels/`` are compiled once per machine with the C++
compiler that ``torch.utils.cpp_extension`` finds (and ninja) into torch's
extension cache (``TORCH_EXTENSIONS_DIR``, by default
``~/.cache/torch_extensions``), from a copy of the sources kept in the build's
directory, so that every install on the machine (a checkout, a wheel) shares
one build; later processes load the cached build. Where
they cannot be built, :func:`kernel` returns None after one warning and the
layers (``BatchNormAct2d``, ``DepthwiseConv``) run PyTorch's ops, which give
the same numbers more slowly. ``NETSPACE_FUSED=0`` turns them off.

``python -c "from netspace.models.fused import check; print(check())"`` builds
them now (setup does) and compares them with PyTorch on small tensors.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import shutil
import warnings
from pathlib import Path
from types import ModuleType

import torch
import torch.nn.functional as F

KERNELS = Path(__file__).with_name("kernels")
SOURCES = sorted(KERNELS.glob("*.cpp"))


def enabled() -> bool:
    return os.environ.get("NETSPACE_FUSED", "1").strip().lower() not in ("0", "false", "no", "off")


# 512-bit vectors where the CPU has them (GCC defaults to 256 on Intel; the BN loops are faster with
# them on an AVX512 Xeon); on AVX2-only CPUs the flag changes nothing.
NATIVE = ["-march=native", "-mprefer-vector-width=512"] if platform.machine() in ("x86_64", "AMD64") \
    else ["-mcpu=native"]
CFLAGS = ["-O3", "-fopenmp", *NATIVE]
LDFLAGS = ["-fopenmp"]


def _build_name() -> str:
    """The extension's name: a digest of everything its binary depends on.

    Builds use -march=native, so the CPU's flags are in it (a shared cache keeps
    one build per CPU kind), and so are the sources, the flags and torch's
    version: a build of that name that exists is current.
    """
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features", "model name")):
                cpu += line
    except OSError:
        pass
    code = "".join(p.read_text() for p in sorted(KERNELS.glob("*.[ch]*")))
    parts = [platform.machine(), cpu, code, " ".join(CFLAGS + LDFLAGS), torch.__version__, platform.python_version()]
    return "netspace_cpu_kernels_" + hashlib.sha1("\n".join(parts).encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def build_name() -> str:
    """The extension's name for these sources, flags, CPU and versions (see ``_build_name``)."""
    return _build_name()


@contextlib.contextmanager
def _build_lock(build_dir: Path):
    """Hold an flock for this build directory while torch builds or loads the extension.

    torch marks a build in progress with a plain ``lock`` file and waits for
    it to disappear; a build killed midway (a stopped sweep, a timeout) leaves
    it behind and every later process would wait forever. Every netspace
    build of this name holds this flock, which the kernel releases when its
    process dies, so a ``lock`` file found while holding it is stale: removed.
    """
    import fcntl

    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / "netspace.flock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            (build_dir / "lock").unlink(missing_ok=True)
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _staged_sources(build_dir: Path) -> list[Path]:
    """The kernel sources, copied into the build directory, for the build to compile from there.

    The build's commands then name the same files wherever netspace is installed (a checkout, a
    wheel in a virtualenv), so every install of these sources on this machine shares one build
    instead of compiling again. A copy is rewritten only when its content differs, so its mtime
    stays that of the build it belongs to. Headers are staged beside the sources they include.
    """
    staged = build_dir / "sources"
    staged.mkdir(parents=True, exist_ok=True)
    for src in sorted(KERNELS.glob("*.[ch]*")):
        dst = staged / src.name
        data = src.read_bytes()
        if not dst.is_file() or dst.read_bytes() != data:
            tmp = dst.with_name(dst.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(dst)
    return [staged / p.name for p in SOURCES]


def _ninja_on_path() -> None:
    """torch runs ``ninja`` from PATH; the ``ninja`` package (a dependency) puts it in its environment's
    scripts directory, which is not on PATH when that environment's python runs unactivated."""
    if shutil.which("ninja") is None:
        try:
            import ninja
        except ImportError:
            return
        if ninja.BIN_DIR:
            os.environ["PATH"] = os.environ.get("PATH", "") + os.pathsep + ninja.BIN_DIR


@functools.lru_cache(maxsize=1)
def kernel() -> ModuleType | None:
    """The compiled extension, or None (one warning says why) where it cannot be built."""
    if not enabled():
        return None
    try:
        from torch.utils.cpp_extension import _get_build_directory, load

        _ninja_on_path()
        name = _build_name()
        build_dir = Path(_get_build_directory(name, verbose=False))
        with _build_lock(build_dir):
            # copies: load() appends torch's libraries to the list it is given, which would change _build_name()
            return load(name=name, sources=[str(p) for p in _staged_sources(build_dir)], extra_cflags=list(CFLAGS),
                        extra_ldflags=list(LDFLAGS), verbose=False)
    except Exception as exc:  # no compiler, no ninja, a failed build: the fallback is exact, only slower
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        warnings.warn(f"netspace: CPU training kernels not built ({reason}); using PyTorch's ops, which are slower "
                      "on CPU (install a C++ compiler and ninja, or set NETSPACE_FUSED=0 to silence)",
                      RuntimeWarning, stacklevel=2)
        return None


ACTS = {None: 0, "relu": 1}  # the kernel's activation codes


class _BNAct(torch.autograd.Function):
    """Training-mode BN over (N, H, W) per channel, plus a residual if given, then the activation."""

    @staticmethod
    def forward(ctx, x, weight, bias, residual, eps: float, act: str | None):  # type: ignore[override]
        code = ACTS[act]
        y, mean, invstd, var = kernel().bn_forward(x, weight, bias, eps, code, residual)
        # after a residual the ReLU mask comes from y (already kept alive by the next layer)
        ctx.mask_from_y = residual is not None and act == "relu"
        ctx.has_residual = residual is not None
        ctx.save_for_backward(x, weight, bias, mean, invstd, *([y] if ctx.mask_from_y else []))
        ctx.code = code
        ctx.mark_non_differentiable(mean, var)
        return y, mean, var

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad, _mean_grad, _var_grad):  # type: ignore[override]
        x, weight, bias, mean, invstd, *y = ctx.saved_tensors
        grad = grad.to(x.dtype).contiguous(memory_format=torch.channels_last)
        dx, dw, db, dres = kernel().bn_backward(grad, x, weight, bias, mean, invstd, ctx.code,
                                                y[0] if y else None)
        if ctx.has_residual and dres is None:  # no activation: the residual's gradient is the incoming one
            dres = grad
        return dx, dw, db, dres, None, None


def bn_act(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float, act: str | None,
           residual: torch.Tensor | None = None):
    """(act(BN(x) [+ residual]), batch mean, unbiased batch variance) by the fused kernel; see :func:`usable`."""
    return _BNAct.apply(x, weight, bias, residual, eps, act)


def bn_eval(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, act: str | None,
            residual: torch.Tensor | None = None) -> torch.Tensor:
    """act(x * scale + shift [+ residual]) per channel in one pass, for inference (no autograd);
    ``scale``, ``shift``: float32 (C), from a BN's running statistics; see :func:`usable`."""
    return kernel().bn_eval(x, scale.float().contiguous(), shift.float().contiguous(), ACTS[act], residual)


def usable(x: torch.Tensor, weight: torch.Tensor | None, residual: torch.Tensor | None = None) -> bool:
    """Whether the fused kernel applies: a CPU channels_last float32/bf16 tensor, float32 affine,
    and a residual (if any) of the same shape, dtype and layout."""
    if residual is not None and (residual.shape != x.shape or residual.dtype != x.dtype
                                 or not residual.is_contiguous(memory_format=torch.channels_last)):
        return False
    return (x.device.type == "cpu" and x.dim() == 4 and x.dtype in (torch.float32, torch.bfloat16)
            and weight is not None and weight.dtype == torch.float32
            and x.is_contiguous(memory_format=torch.channels_last) and x.shape[0] * x.shape[2] * x.shape[3] > 1
            and kernel() is not None)


def depthwise_routes(x: torch.Tensor, stride: int, k: int) -> tuple[bool, bool]:
    """Which gradients of a depthwise conv the kernel computes: (input, weight).

    oneDNN's bf16 input gradient at stride 2, and its weight gradient for 5x5
    kernels or below 4x4 inputs, are pathologically slow on these CPUs; its
    other passes are fast and stay (``benchmarks/cpu_layers.py``).
    """
    return x.dtype == torch.bfloat16 and stride > 1, k >= 5 or x.shape[2] * x.shape[3] < 16


class _Depthwise(torch.autograd.Function):
    """Depthwise k x k conv (no bias, padding k // 2): oneDNN forward; each gradient from
    oneDNN or the kernel, as ``routes`` (input by kernel, weight by kernel) says."""

    @staticmethod
    def forward(ctx, x, weight, stride: int, padding: int, routes: tuple[bool, bool]):  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding)
        ctx.routes = routes
        return F.conv2d(x, weight.to(x.dtype), None, stride, padding, 1, weight.shape[0])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        stride, padding = ctx.conf
        c, k = weight.shape[0], weight.shape[-1]
        grad = grad.to(x.dtype).contiguous(memory_format=torch.channels_last)

        def onednn(mask: list[bool]) -> tuple:
            return torch.ops.aten.convolution_backward(grad, x, weight.to(x.dtype), None, [stride] * 2,
                                                       [padding] * 2, [1, 1], False, [0, 0], c, mask)

        input_by_kernel, weight_by_kernel = ctx.routes
        dx = None
        if ctx.needs_input_grad[0]:
            if input_by_kernel:
                taps = weight.detach().reshape(c, k * k).t().contiguous()  # (k*k, C): channels innermost
                dx = kernel().dw_input_grad(grad, x, taps, k, stride, padding)
            else:
                dx = onednn([True, False, False])[0]
        if weight_by_kernel:
            dw = kernel().dw_weight_grad(grad, x, k, stride, padding).t().reshape(c, 1, k, k)
        else:
            dw = onednn([False, True, False])[1].float()
        return dx, dw, None, None, None


def depthwise(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int,
              routes: tuple[bool, bool] | None = None) -> torch.Tensor:
    """Depthwise conv whose gradients come from the kernel where ``routes`` (input, weight) says,
    by default :func:`depthwise_routes`; see :func:`depthwise_usable`."""
    if routes is None:
        routes = depthwise_routes(x, stride, weight.shape[-1])
    return _Depthwise.apply(x, weight, stride, padding, tuple(routes))


def depthwise_usable(x: torch.Tensor, conv: torch.nn.Conv2d) -> bool:
    """A CPU channels_last float32/bf16 input, and a square, undilated, bias-free float32 depthwise conv."""
    k, s = conv.kernel_size, conv.stride
    return (x.device.type == "cpu" and x.dim() == 4 and x.dtype in (torch.float32, torch.bfloat16)
            and conv.groups == conv.in_channels == conv.out_channels and conv.bias is None
            and k[0] == k[1] and s[0] == s[1] and conv.dilation == (1, 1)
            and conv.padding == (k[0] // 2, k[0] // 2) and conv.weight.dtype == torch.float32
            and x.is_contiguous(memory_format=torch.channels_last) and kernel() is not None)


def check() -> str:
    """Build the kernels if needed; one line saying whether they are used and how far they are from PyTorch."""
    if kernel() is None:
        why = "turned off by NETSPACE_FUSED" if not enabled() else "could not be built (see the warning above)"
        return f"CPU training kernels: not available, {why}; PyTorch's ops are used"
    def max_diff(out, ref, inputs) -> float:
        g = torch.randn_like(out)
        pairs = zip(torch.autograd.grad(out, inputs, g), torch.autograd.grad(ref, inputs, g))
        return max([(out - ref).abs().max().item()] + [(a - b).abs().max().item() for a, b in pairs])

    x = torch.randn(8, 24, 6, 6).contiguous(memory_format=torch.channels_last).requires_grad_()
    w, b = torch.rand(24, requires_grad=True), torch.randn(24, requires_grad=True)
    r = torch.randn_like(x).requires_grad_()
    diff = max_diff(bn_act(x, w, b, 1e-5, "relu", r)[0],
                    F.relu(F.batch_norm(x, None, None, w, b, True, 0.1, 1e-5) + r), (x, w, b, r))
    wd = torch.randn(24, 1, 5, 5, requires_grad=True)  # 5x5 at stride 2: the kernel's weight gradient
    diff_dw = max_diff(depthwise(x, wd, 2, 2), F.conv2d(x, wd, stride=2, padding=2, groups=24), (x, wd))
    return (f"CPU training kernels: built; max |difference| from PyTorch: BN {diff:.1e}, "
            f"depthwise conv {diff_dw:.1e}")


class _Grouped(torch.autograd.Function):
    """Grouped k x k conv with as many output as input channels, no bias: forward and both
    gradients from the kernel (``kernels/grouped.cpp``)."""

    @staticmethod
    def forward(ctx, x, weight, stride: int, padding: int, groups: int):  # type: ignore[override]
        x = x.contiguous(memory_format=torch.channels_last)
        w = weight.detach().contiguous()
        ctx.save_for_backward(x, w)
        ctx.conf = (stride, padding, groups)
        return kernel().grouped_forward(x, w, stride, padding)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        x, w = ctx.saved_tensors
        stride, padding, groups = ctx.conf
        grad = grad.to(x.dtype).contiguous(memory_format=torch.channels_last)
        dx = kernel().grouped_input_grad(grad, x, w, stride, padding) if ctx.needs_input_grad[0] else None
        dw = (kernel().grouped_weight_grad(grad, x, w.shape[-1], stride, padding, groups)
              if ctx.needs_input_grad[1] else None)
        return dx, dw, None, None, None


def grouped_conv(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int, groups: int) -> torch.Tensor:
    """``F.conv2d(x, weight, None, stride, padding, 1, groups)`` with forward and gradients from the
    kernel: x (N, C, H, W) channels_last float32/bf16, weight (C, C // groups, k, k) float32, odd k.
    The weight gradient is float32. See :func:`grouped_usable`."""
    if weight.shape[0] != x.shape[1] or weight.shape[1] * groups != x.shape[1]:
        raise ValueError(f"grouped_conv: weight {tuple(weight.shape)} with groups={groups} does not map "
                         f"{x.shape[1]} channels onto as many (expected ({x.shape[1]}, {x.shape[1] // groups}, k, k))")
    return _Grouped.apply(x, weight, int(stride), int(padding), int(groups))


def grouped_usable(x: torch.Tensor, conv: torch.nn.Conv2d) -> bool:
    """A CPU channels_last float32/bf16 input, and a square, odd, undilated, bias-free float32 grouped
    conv with as many output as input channels and equal strides and paddings."""
    k, s, p = conv.kernel_size, conv.stride, conv.padding
    return (x.device.type == "cpu" and x.dim() == 4 and x.dtype in (torch.float32, torch.bfloat16)
            and conv.in_channels == conv.out_channels == x.shape[1] and conv.bias is None
            and k[0] == k[1] and k[0] % 2 == 1 and s[0] == s[1] and isinstance(p, tuple) and p[0] == p[1]
            and conv.dilation == (1, 1) and conv.padding_mode == "zeros" and conv.weight.dtype == torch.float32
            and x.shape[2] + 2 * p[0] >= k[0] and x.shape[3] + 2 * p[0] >= k[0]
            and x.is_contiguous(memory_format=torch.channels_last) and kernel() is not None)
