"""Numeric precision and memory layout: what "auto" means on each device.

CPU, measured on this project's 2-core Xeon (AMX/AVX512-BF16) with
RegNetX-200MF at 32px, batch 128, forward+backward+SGD (see
benchmarks/train_throughput.py): fp32 NCHW 504 img/s, fp32 channels_last
971, bf16 NCHW 621, bf16 channels_last 1,281, the engine's default 1,338
(2.66x). channels_last is the base (oneDNN's convolutions are NHWC; NCHW
makes it reorder every activation). bf16 alone buys little for networks this
narrow, whose time goes to memory-bound BN and ReLU and to small conv
kernels rather than to matmul; the model's CPU layers
(``netspace.models.layers``) take most of the rest: BN(+shortcut)(+ReLU) as
one fused kernel, small 1x1 convs as matmuls, float32 weight gradients for
small grouped convs, and depthwise gradients that avoid oneDNN's slow bf16
cases (EfficientNet-B0: 374 img/s against 135 for fp32 NCHW, where plain
bf16 channels_last made it no faster). "auto" picks bf16 + channels_last on
such CPUs; the accuracy matched fp32 in our runs. ``precision="fp32"`` turns
both off (the plain reference path, PyTorch's ops throughout).

CUDA: autocast to bf16 where the GPU supports it (no loss scaling needed),
fp16 with a GradScaler otherwise; channels_last for the tensor-core kernels.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from netspace.train.schedule import TrainError


@dataclass(frozen=True)
class Precision:
    """How to run forward passes: autocast dtype (None = fp32), loss scaling, layout."""

    name: str                      # "bf16" | "fp16" | "fp32"
    dtype: torch.dtype | None
    channels_last: bool
    device_type: str

    @property
    def needs_scaler(self) -> bool:
        # fp16's 5-bit exponent underflows small gradients; bf16 has fp32's range.
        return self.dtype is torch.float16

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)


def _cpu_has_fast_bf16() -> bool:
    # oneDNN reports bf16 support only where the ISA has it (AVX512-BF16/AMX);
    # elsewhere bf16 is emulated and slower than fp32.
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(name: str, device: torch.device, channels_last: bool | None) -> Precision:
    """Turn the user's choice ("auto", "bf16", "fp16", "fp32") into a :class:`Precision`."""
    kind = device.type
    if name == "auto":
        if kind == "cuda":
            name = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        elif kind == "cpu":
            name = "bf16" if _cpu_has_fast_bf16() else "fp32"
        else:
            name = "fp32"
    if name == "fp16" and kind != "cuda":
        raise TrainError(f"precision fp16 needs a CUDA device (this run is on {kind}); use bf16 or fp32")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[name]
    if channels_last is None:
        # Layout follows precision so that "--precision fp32" is one switch
        # back to the plain path; pass channels_last=True for fp32 + NHWC.
        channels_last = dtype is not None
    return Precision(name=name, dtype=dtype, channels_last=channels_last, device_type=kind)
