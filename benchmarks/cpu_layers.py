"""The CPU layers one by one: every candidate implementation against the plain PyTorch op, on this CPU.

Forward + backward at shapes from RegNetX-200MF and EfficientNet-B0 at 32px,
batch 128, channels_last, in the dtype the engine's ``auto`` picks here
(bf16 autocast where bf16 is native, fp32 elsewhere; ``--dtype`` overrides),
best of a few repeats. Each line prints the plain op's time, each
candidate's (forced with ``netspace.models.tune.force``), the ratio plain /
best (above 1: a netspace candidate is faster) and what the autotuner picks
for that shape. BN in evaluation (inference mode) is the kernel's one pass against PyTorch's eval BN,
add and ReLU. The grouped conv's dense form (one batched matmul over the
groups) with its matrix built as the layers build it (the weight times a
0/1 tap pattern, a matmul) against the same matrix built by a gather and an
index-put scatter (the construction it replaced, kept here as the
baseline). Then the SGD step, fused against per-parameter. These are
the figures the layers' docstrings quote.

    python benchmarks/cpu_layers.py [--dtype auto|fp32|bf16] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from netspace import zoo
from netspace.models import build, fused, tune
from netspace.models.cpu import cpu_info
from netspace.models.layers import (BatchNormAct2d, DepthwiseConv, GroupedConv, PointwiseConv, _conv_out, _dense_conv,
                                    _dense_pattern, _dense_usable)
from netspace.spec import for_input

CL = torch.channels_last
N = 128
DTYPE = torch.float32


def best_ms(fn: Callable[[], None], reps: int = 6) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def step(module: nn.Module, x: torch.Tensor, *extra: torch.Tensor) -> Callable[[], None]:
    """Forward + backward of ``module`` under the benchmark's dtype, gradient of ones."""
    def run() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=DTYPE == torch.bfloat16):
            y = module(x, *extra)
        y.backward(torch.ones_like(y))
    return run


def compare(name: str, kind: str, ours: nn.Module, plain: nn.Module, x: torch.Tensor, *extra: torch.Tensor) -> None:
    plain.load_state_dict(ours.state_dict())
    ours.train(), plain.train()
    base = best_ms(step(plain, x, *extra))
    times = {}
    for choice in applicable(kind, ours, x):
        with tune.force(**{kind: choice}):
            times[choice] = best_ms(step(ours, x, *extra))
    # what the tuner decides for this shape, in a fresh cache (the timing above is not reused)
    with tempfile.TemporaryDirectory() as cache:
        saved = os.environ.get(tune.ENV_CACHE)
        os.environ[tune.ENV_CACHE] = cache
        tune.reset()
        try:
            captured = []
            real = tune.choose

            def spy(kind_, shape_class, make, default, **kw):
                choice = real(kind_, shape_class, make, default, **kw)
                captured.append(choice)
                return choice

            tune.choose = spy
            step(ours, x, *extra)()
        finally:
            tune.choose = real
            tune.reset()
            if saved is None:
                os.environ.pop(tune.ENV_CACHE)
            else:
                os.environ[tune.ENV_CACHE] = saved
    picked = captured[0] if captured else "(fixed)"
    shown = "  ".join(f"{c} {t:6.2f}" for c, t in times.items())
    best = min(times.values())
    print(f"  {name:<36} plain {base:6.2f} ms | {shown} | {base / best:5.2f}x | tuner: {picked}")


def applicable(kind: str, layer: nn.Module, x: torch.Tensor) -> tuple[str, ...]:
    """The candidates that run at all for this layer and dtype (a forced one that does not apply falls back)."""
    if kind != "grouped":
        return tune.CANDIDATES[kind]
    out = ["conv"]
    if DTYPE == torch.bfloat16:
        out.append("fp32_wgrad")
    if fused.grouped_usable(x, layer):
        out.append("kernel")
    if _dense_usable(x, layer):
        out.append("dense")
    return tuple(out)


class PlainBNAct(nn.BatchNorm2d):
    """PyTorch's BN, then the shortcut and ReLU as separate ops."""

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        y = super().forward(x)
        return F.relu(y if residual is None else y + residual)


def eval_compare(name: str, c: int, size: int, shortcut: bool) -> None:
    """An evaluation pass's BN layer: the kernel's one pass (``fused.bn_eval``) against PyTorch's eval BN,
    add and ReLU, both under ``torch.inference_mode`` as the engine's evaluation runs."""
    ours, plain = BatchNormAct2d(c, "relu").eval(), PlainBNAct(c).eval()
    with torch.no_grad():
        ours.running_mean.normal_()
        ours.running_var.uniform_(0.5, 2.0)
    plain.load_state_dict(ours.state_dict())
    x = act(c, size).detach()
    extra = (act(c, size).detach(),) if shortcut else ()

    def run(module: nn.Module) -> Callable[[], None]:
        def go() -> None:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16,
                                                        enabled=DTYPE == torch.bfloat16):
                module(x, *extra)
        return go

    if not fused.usable(x, ours.weight, *extra):
        print(f"  {name:<36} the kernel does not apply here")
        return
    t_plain, t_ours = best_ms(run(plain), reps=10), best_ms(run(ours), reps=10)
    print(f"  {name:<36} plain {t_plain:6.2f} ms | kernel {t_ours:6.2f} | {t_plain / t_ours:5.2f}x")


def gathered_dense_conv(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int,
                        groups: int) -> torch.Tensor:
    """The dense form with its matrix gathered from the taps (an index table; the backward is an
    index-put scatter): the construction the layers used before, the baseline of that comparison."""
    n, c, h, w = x.shape
    c_out, cg, k, _ = weight.shape
    cgo = c_out // groups
    pattern, ho, wo = _dense_pattern(h, w, k, stride, padding)
    taps = torch.where(pattern.any(0), pattern.argmax(0), k * k).view(h * w, ho * wo)
    wt = weight.reshape(groups, cgo, cg, k * k)
    wt = torch.cat([wt, wt.new_zeros(groups, cgo, cg, 1)], 3)[:, :, :, taps]
    matrix = wt.permute(0, 3, 2, 4, 1).reshape(groups, h * w * cg, ho * wo * cgo)
    rows = x.permute(0, 2, 3, 1).reshape(n, h * w, groups, cg).permute(2, 0, 1, 3).reshape(groups, n, h * w * cg)
    out = torch.bmm(rows, matrix).view(groups, n, ho, wo, cgo).permute(1, 2, 3, 0, 4).reshape(n, ho, wo, c_out)
    return out.permute(0, 3, 1, 2)


def dense_compare(c: int, size: int, stride: int) -> None:
    x = act(c, size)
    weight = torch.randn(c, 8, 3, 3, requires_grad=True)
    g = torch.ones(_conv_out(x, nn.Conv2d(c, c, 3, stride, 1)))

    def run(fn) -> Callable[[], None]:
        def go() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=DTYPE == torch.bfloat16):
                y = fn(x, weight, stride, 1, c // 8)
            y.backward(g.to(y.dtype))
        return go

    t_gather, t_ours = best_ms(run(gathered_dense_conv)), best_ms(run(_dense_conv))
    print(f"  {f'{c} ch at {size}x{size}, stride {stride}':<36} gather {t_gather:6.2f} ms | pattern matmul "
          f"{t_ours:6.2f} | {t_gather / t_ours:5.2f}x")


def act(c: int, size: int) -> torch.Tensor:
    return torch.randn(N, c, size, size).to(DTYPE).contiguous(memory_format=CL).requires_grad_()


def main() -> None:
    global DTYPE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = cpu_info()
    native = cpu.native_bf16
    DTYPE = {"auto": torch.bfloat16 if native else torch.float32, "fp32": torch.float32,
             "bf16": torch.bfloat16}[args.dtype]
    note = "" if DTYPE == torch.float32 or native else " (bf16 EMULATED on this CPU)"
    print(f"CPU: {cpu.describe()}; batch {N}, channels_last, {str(DTYPE)[6:]}{note}, "
          f"{torch.get_num_threads()} threads; {fused.check()}")
    print("BN + (shortcut) + ReLU (BatchNormAct2d):")
    for c, size in [(24, 32), (32, 32), (152, 4), (368, 2)]:
        compare(f"{c} ch at {size}x{size}", "bn", BatchNormAct2d(c, "relu"), PlainBNAct(c), act(c, size))
        compare(f"{c} ch at {size}x{size}, with shortcut", "bn", BatchNormAct2d(c, "relu"), PlainBNAct(c),
                act(c, size), act(c, size))
    print("BN + (shortcut) + ReLU in evaluation (running statistics, inference mode; no tuner: always the kernel):")
    for c, size in [(24, 32), (32, 28), (152, 4), (368, 2)]:
        for shortcut in (False, True):
            eval_compare(f"{c} ch at {size}x{size}" + (", with shortcut" if shortcut else ""), c, size, shortcut)
    print("1x1 conv (PointwiseConv):")
    for c_in, c_out, size, stride in [(368, 368, 2, 1), (152, 368, 4, 2), (152, 152, 4, 1), (56, 152, 8, 1),
                                      (128, 128, 8, 1), (128, 128, 16, 1), (24, 56, 16, 1)]:
        compare(f"{c_in}->{c_out} at {size}x{size}, stride {stride}", "pointwise",
                PointwiseConv(c_in, c_out, 1, stride=stride, bias=False),
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), act(c_in, size))
    print("grouped 3x3 conv, group width 8 (GroupedConv):")
    for c, size, stride in [(368, 2, 1), (368, 4, 2), (152, 4, 1), (152, 8, 2), (56, 16, 2), (24, 32, 2)]:
        compare(f"{c} ch at {size}x{size}, stride {stride}", "grouped",
                GroupedConv(c, c, 3, stride=stride, padding=1, groups=c // 8, bias=False),
                nn.Conv2d(c, c, 3, stride=stride, padding=1, groups=c // 8, bias=False), act(c, size))
    print("grouped conv's dense form: its matrix by the tap pattern's matmul against a gather and scatter:")
    for c, size, stride in [(368, 2, 1), (368, 4, 2), (152, 4, 1)]:
        dense_compare(c, size, stride)
    print("depthwise conv (DepthwiseConv):")
    for c, size, stride, k in [(144, 16, 2, 3), (240, 8, 2, 5), (672, 4, 2, 5), (1152, 2, 1, 3), (32, 32, 1, 3)]:
        compare(f"{c} ch at {size}x{size}, stride {stride}, {k}x{k}", "depthwise",
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
    print(f"  {'fused against per-parameter':<36} plain {times[False]:6.2f} ms | fused {times[True]:6.2f} | "
          f"{times[False] / times[True]:5.2f}x")


if __name__ == "__main__":
    main()
