"""Grouped 3x3 convs at RegNet's shapes: oneDNN (channels_last and NCHW) against the C++ kernel.

Forward + backward (input and weight gradients) at batch 128, in == out channels,
padding 1, best of N repeats, all in one process so the three are measured under
the same load. GFLOP/s counts the nominal work of the three passes, padding taps
included: 3 * 2 * N * Ho * Wo * C * group_width * k * k.

    python benchmarks/grouped_conv.py [--dtype bf16] [--group-width 16] [--reps 20] [--threads 1]
"""

from __future__ import annotations

import argparse
from typing import Callable

import torch
import torch.nn.functional as F

from cpu_layers import best_ms  # this directory's shared timer (the script's own folder is on sys.path)

from netspace.models import fused
from netspace.models.cpu import cpu_info

# (channels, spatial size, stride): RegNetX-200MF's grouped convs at 32px input
SHAPES = [(24, 32, 2), (56, 16, 2), (152, 8, 2), (152, 4, 1), (368, 4, 2), (368, 2, 1)]


def step(conv: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor, w: torch.Tensor,
         gy: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        x.grad = w.grad = None
        conv(x, w).backward(gy)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--group-width", type=int, default=8)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = torch.float32 if args.dtype == "fp32" else torch.bfloat16
    assert fused.kernel() is not None, "the kernel did not build"
    print(f"CPU: {cpu_info().describe()}, {torch.get_num_threads()} threads, torch {torch.__version__}, {args.dtype}, "
          f"group width {args.group_width}, batch {args.batch}, best of {args.reps}")
    print(f"{'shape':<18} {'oneDNN CL':>10} {'oneDNN NCHW':>12} {'kernel':>8} {'CL/kernel':>10} "
          f"{'NCHW/kernel':>12} {'GFLOP/s CL':>11} {'kernel':>7}")
    torch.manual_seed(0)
    for c, size, stride in SHAPES:
        gw, k = args.group_width, 3
        c = -(-c // gw) * gw  # widths rounded up to a multiple of the group width, as RegNet does
        groups = c // gw
        x = torch.randn(args.batch, c, size, size).to(dtype)
        w = (torch.randn(c, gw, k, k) / (gw * k * k) ** 0.5).requires_grad_()
        out = (size + 2 - k) // stride + 1
        gy = torch.randn(args.batch, c, out, out).to(dtype)
        cl = x.contiguous(memory_format=torch.channels_last).requires_grad_()
        nchw = x.contiguous().requires_grad_()
        gy_cl, gy_nchw = gy.contiguous(memory_format=torch.channels_last), gy.contiguous()

        def onednn(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            return F.conv2d(x, w.to(x.dtype), None, stride, 1, 1, groups)

        def ours(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            return fused.grouped_conv(x, w, stride, 1, groups)

        # interleave the three so a burst of load from elsewhere hits them alike
        runs = {"cl": step(onednn, cl, w, gy_cl), "nchw": step(onednn, nchw, w, gy_nchw), "ours": step(ours, cl, w, gy_cl)}
        best = {name: float("inf") for name in runs}
        for _ in range(3):
            for name, fn in runs.items():
                best[name] = min(best[name], best_ms(fn, max(1, args.reps // 3)))
        flop = 3 * 2 * args.batch * out * out * c * gw * k * k
        name = f"{c}ch {size}x{size} s{stride}"
        print(f"{name:<18} {best['cl']:8.2f}ms {best['nchw']:10.2f}ms {best['ours']:6.2f}ms "
              f"{best['cl'] / best['ours']:9.2f}x {best['nchw'] / best['ours']:11.2f}x "
              f"{flop / best['cl'] / 1e6:11.1f} {flop / best['ours'] / 1e6:7.1f}")


if __name__ == "__main__":
    main()
