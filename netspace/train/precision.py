"""Numeric precision and memory layout: what "auto" means on each device.

CPU: "auto" is the fastest correct path on the CPU at hand, never an
emulated dtype (:func:`netspace.models.cpu.cpu_info` decides what is native):

* bf16 autocast + channels_last where bf16 is native (AVX512-BF16/AMX).
  Measured on a 2-core Xeon with AMX, RegNetX-200MF at 32px, batch 128,
  forward+backward+SGD (``benchmarks/train_throughput.py``): fp32 NCHW 504
  img/s, fp32 channels_last 971, bf16 channels_last with the CPU layers
  1,338 (2.66x); ResNet-20 on Fashion-MNIST matched fp32's accuracy.
* fp32 + channels_last elsewhere (AVX2-only x86, most laptops and AMD
  servers, ARM without bf16). There bf16 is emulated: on a 2-core AMD EPYC
  (Zen 3) the same step ran 63 img/s in bf16 against 432 in fp32 NCHW and
  679 in fp32 channels_last.

channels_last is the base on CPU in both cases (oneDNN's convolutions are
NHWC; NCHW makes it reorder every activation), and with it the model's CPU
layers (``netspace.models.layers``) take over: BN(+shortcut)(+ReLU) as one
fused kernel, 1x1 convs as matmuls, grouped and depthwise convs by the
implementation the autotuner (:mod:`netspace.models.tune`) measured fastest
on this machine. ``precision="fp32"`` is the plain reference path (fp32,
NCHW, PyTorch's ops throughout); ``precision="bf16"`` is honoured where it
is emulated, with a warning in the reason.

CUDA: autocast to bf16 where the GPU supports it (no loss scaling needed),
fp16 with a GradScaler otherwise; channels_last for the tensor-core kernels.
The CPU layers check the device and step aside.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from netspace.models.cpu import BF16_FLAGS, cpu_info
from netspace.train.schedule import TrainError


@dataclass(frozen=True)
class Precision:
    """How to run forward passes: autocast dtype (None = fp32), loss scaling, layout."""

    name: str                      # "bf16" | "fp16" | "fp32"
    dtype: torch.dtype | None
    channels_last: bool
    device_type: str
    reason: str = ""               # why this path, in one line (printed once per run, kept in result.json)

    @property
    def layout(self) -> str:
        return "channels_last" if self.channels_last else "contiguous"

    @property
    def needs_scaler(self) -> bool:
        # fp16's 5-bit exponent underflows small gradients; bf16 has fp32's range.
        return self.dtype is torch.float16

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)


def resolve_precision(name: str, device: torch.device, channels_last: bool | None) -> Precision:
    """Turn the user's choice ("auto", "bf16", "fp16", "fp32") into a :class:`Precision` with its reason."""
    kind = device.type
    requested = name
    reason = ""
    if name == "auto":
        if kind == "cuda":
            name = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
            reason = f"auto on CUDA: {name} autocast + channels_last"
        elif kind == "cpu":
            cpu = cpu_info()
            if cpu.native_bf16:
                name = "bf16"
                reason = f"auto: bf16 + channels_last, bf16 is native on this CPU ({cpu.describe()})"
            else:
                name = "fp32"
                if channels_last is None:
                    channels_last = True
                reason = (f"auto: fp32 + channels_last with the CPU layers; bf16 would be emulated here "
                          f"(no {'/'.join(BF16_FLAGS)}; {cpu.describe()})")
        else:
            name = "fp32"
            reason = f"auto on {kind}: fp32"
    if name == "fp16" and kind != "cuda":
        raise TrainError(f"precision fp16 needs a CUDA device (this run is on {kind}); use bf16 or fp32")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[name]
    if channels_last is None:
        # An explicit "fp32" is one switch back to the plain path (NCHW, PyTorch's ops);
        # pass channels_last=True for fp32 + NHWC with the CPU layers.
        channels_last = dtype is not None
    if requested != "auto":
        reason = f"{name} + {'channels_last' if channels_last else 'contiguous'} as requested"
        if kind == "cpu" and name == "bf16" and not cpu_info().native_bf16:
            reason += (f"; warning: bf16 is emulated on this CPU ({cpu_info().describe()}) and runs several "
                       "times slower than fp32; --precision auto picks fp32 + channels_last here")
    return Precision(name=name, dtype=dtype, channels_last=channels_last, device_type=kind, reason=reason)
