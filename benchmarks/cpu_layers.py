"""The CPU layers one by one: each against the plain PyTorch op it replaces, same process.

Forward + backward at shapes from RegNetX-200MF and EfficientNet-B0 at 32px,
batch 128, channels_last, bf16 autocast (the engine's default), best of a
few repeats; and the SGD step, fused against per-parameter, on RegNetX-200MF's
parameters. Each line prints both times and the ratio plain / ours (above 1:
ours is faster). These are the figures the layers' docstrings quote.

    python benchmarks/cpu_layers.py
"""

from __future__ import annotations

import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from netspace import zoo
from netspace.models import build, fused
from netspace.models.layers import BatchNormAct2d, DepthwiseConv, GroupedConv, PointwiseConv
from netspace.spec import for_input

CL = torch.channels_last
N = 128


def best_ms(fn: Callable[[], None], reps: int = 10) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def step(module: nn.Module, x: torch.Tensor, *extra: torch.Tensor) -> Callable[[], None]:
    """Forward + backward of ``module`` under CPU bf16 autocast, gradient of ones."""
    def run() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = module(x, *extra)
        y.backward(torch.ones_like(y))
    return run


def compare(name: str, ours: nn.Module, plain: nn.Module, x: torch.Tensor, *extra: torch.Tensor) -> None:
    plain.load_state_dict(ours.state_dict())
    ours.train(), plain.train()
    a, b = best_ms(step(ours, x, *extra)), best_ms(step(plain, x, *extra))
    print(f"  {name:<44} plain {b:7.2f} ms  ours {a:7.2f} ms  {b / a:5.2f}x")


class PlainBNAct(nn.BatchNorm2d):
    """PyTorch's BN, then the shortcut and ReLU as separate ops."""

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        y = super().forward(x)
        return F.relu(y if residual is None else y + residual)


def act(c: int, size: int) -> torch.Tensor:
    return torch.randn(N, c, size, size).bfloat16().contiguous(memory_format=CL).requires_grad_()


def main() -> None:
    print(f"batch {N}, channels_last, bf16 autocast, {torch.get_num_threads()} threads; {fused.check()}")
    print("BN + (shortcut) + ReLU (BatchNormAct2d):")
    for c, size in [(24, 32), (32, 32), (152, 4), (368, 2)]:
        compare(f"{c} ch at {size}x{size}", BatchNormAct2d(c, "relu"), PlainBNAct(c), act(c, size))
        compare(f"{c} ch at {size}x{size}, with shortcut", BatchNormAct2d(c, "relu"), PlainBNAct(c),
                act(c, size), act(c, size))
    print("1x1 conv (PointwiseConv):")
    for c_in, c_out, size, stride in [(368, 368, 2, 1), (152, 368, 4, 2), (152, 152, 4, 1), (128, 128, 8, 1),
                                      (128, 128, 16, 1)]:
        compare(f"{c_in}->{c_out} at {size}x{size}, stride {stride}",
                PointwiseConv(c_in, c_out, 1, stride=stride, bias=False),
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), act(c_in, size))
    print("grouped 3x3 conv, group width 8 (GroupedConv):")
    for c, size, stride in [(368, 2, 1), (368, 4, 2), (152, 4, 1), (152, 8, 2)]:
        compare(f"{c} ch at {size}x{size}, stride {stride}",
                GroupedConv(c, c, 3, stride=stride, padding=1, groups=c // 8, bias=False),
                nn.Conv2d(c, c, 3, stride=stride, padding=1, groups=c // 8, bias=False), act(c, size))
    print("depthwise conv (DepthwiseConv):")
    for c, size, stride, k in [(144, 16, 2, 3), (240, 8, 2, 5), (672, 4, 2, 5), (1152, 2, 1, 3), (32, 32, 1, 3)]:
        compare(f"{c} ch at {size}x{size}, stride {stride}, {k}x{k}",
                DepthwiseConv(c, c, k, stride=stride, padding=k // 2, groups=c, bias=False),
                nn.Conv2d(c, c, k, stride=stride, padding=k // 2, groups=c, bias=False), act(c, size))
    print("SGD step, Nesterov momentum, RegNetX-200MF's parameters:")
    model = build(for_input(zoo.resolve("RegNetX-200MF"), in_channels=3, resolution=32, num_classes=10))
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    times = {}
    for fused_step in (False, True):
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4,
                              fused=fused_step)
        times[fused_step] = best_ms(opt.step, reps=30)
    print(f"  {'fused against per-parameter':<44} plain {times[False]:7.2f} ms  ours {times[True]:7.2f} ms  "
          f"{times[False] / times[True]:5.2f}x")


if __name__ == "__main__":
    main()
