"""The fused BN(+ReLU) CPU kernel: built on first use, with PyTorch's BN as the fallback.

``kernels/bn_act.cpp`` is compiled once per machine with the C++ compiler that
``torch.utils.cpp_extension`` finds (and ninja) into torch's extension cache
(``TORCH_EXTENSIONS_DIR``, by default ``~/.cache/torch_extensions``); later
processes load the cached build. Where it cannot be built, :func:`kernel`
returns None after one warning and :class:`BatchNormAct2d` runs PyTorch's BN,
which gives the same numbers more slowly. ``NETSPACE_FUSED=0`` turns it off.

``python -c "from netspace.models.fused import check; print(check())"`` builds
it now (setup does) and compares it with PyTorch's BN on a small tensor.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import warnings
from pathlib import Path
from types import ModuleType

import torch

SOURCE = Path(__file__).with_name("kernels") / "bn_act.cpp"


def enabled() -> bool:
    return os.environ.get("NETSPACE_FUSED", "1").strip().lower() not in ("0", "false", "no", "off")


def _machine_tag() -> str:
    """Builds use -march=native, so a shared cache keeps one build per CPU kind."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features", "model name")):
                flags += line
    except OSError:
        pass
    digest = hashlib.sha1((platform.machine() + flags + SOURCE.read_text()).encode()).hexdigest()
    return digest[:12]


@functools.lru_cache(maxsize=1)
def kernel() -> ModuleType | None:
    """The compiled extension, or None (one warning says why) where it cannot be built."""
    if not enabled():
        return None
    try:
        from torch.utils.cpp_extension import load

        native = ["-march=native"] if platform.machine() in ("x86_64", "AMD64") else ["-mcpu=native"]
        return load(name=f"netspace_bn_act_{_machine_tag()}", sources=[str(SOURCE)],
                    extra_cflags=["-O3", "-fopenmp", *native], extra_ldflags=["-fopenmp"], verbose=False)
    except Exception as exc:  # no compiler, no ninja, a failed build: the fallback is exact, only slower
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        warnings.warn(f"netspace: fused BN kernel not built ({reason}); using PyTorch's BN, which is slower "
                      "on CPU (install a C++ compiler and ninja, or set NETSPACE_FUSED=0 to silence)",
                      RuntimeWarning, stacklevel=2)
        return None


class _BNAct(torch.autograd.Function):
    """Training-mode BN over (N, H, W) per channel, plus a residual if given, then ReLU if asked."""

    @staticmethod
    def forward(ctx, x, weight, bias, residual, eps: float, relu: bool):  # type: ignore[override]
        y, mean, invstd, var = kernel().bn_forward(x, weight, bias, eps, relu, residual)
        # after a residual the ReLU mask comes from y (already kept alive by the next layer)
        ctx.mask_from_y = residual is not None and relu
        ctx.has_residual = residual is not None
        ctx.save_for_backward(x, weight, bias, mean, invstd, *([y] if ctx.mask_from_y else []))
        ctx.relu = relu
        ctx.mark_non_differentiable(mean, var)
        return y, mean, var

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad, _mean_grad, _var_grad):  # type: ignore[override]
        x, weight, bias, mean, invstd, *y = ctx.saved_tensors
        grad = grad.to(x.dtype).contiguous(memory_format=torch.channels_last)
        dx, dw, db, dres = kernel().bn_backward(grad, x, weight, bias, mean, invstd, ctx.relu,
                                                y[0] if y else None)
        if ctx.has_residual and dres is None:  # no ReLU: the residual's gradient is the incoming one
            dres = grad
        return dx, dw, db, dres, None, None


def bn_act(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float, relu: bool,
           residual: torch.Tensor | None = None):
    """(act(BN(x) [+ residual]), batch mean, unbiased batch variance) by the fused kernel; see :func:`usable`."""
    return _BNAct.apply(x, weight, bias, residual, eps, relu)


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


def check() -> str:
    """Build the kernel if needed; one line saying whether it is used and how far it is from PyTorch's BN."""
    import torch.nn.functional as F

    if kernel() is None:
        why = "turned off by NETSPACE_FUSED" if not enabled() else "could not be built (see the warning above)"
        return f"fused BN kernel: not available, {why}; PyTorch's BN is used"
    x = torch.randn(8, 24, 6, 6).contiguous(memory_format=torch.channels_last).requires_grad_()
    w, b = torch.rand(24, requires_grad=True), torch.randn(24, requires_grad=True)
    r = torch.randn_like(x).requires_grad_()
    y, _, _ = bn_act(x, w, b, 1e-5, True, r)
    g = torch.randn_like(y)
    got = torch.autograd.grad(y, (x, w, b, r), g)
    ref_y = F.relu(F.batch_norm(x, None, None, w, b, True, 0.1, 1e-5) + r)
    ref = torch.autograd.grad(ref_y, (x, w, b, r), g)
    diff = max([(y - ref_y).abs().max().item()] + [(a - r).abs().max().item() for a, r in zip(got, ref)])
    return f"fused BN kernel: built, max |difference| from PyTorch's BN {diff:.1e}"
