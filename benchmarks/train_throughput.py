"""Training throughput of the engine's default path against a plain fp32 PyTorch model, on the CPU at hand.

For each model (default RegNetX-200MF and EfficientNet-B0, small-image stem
at 32px, 10 classes), batch 128, forward + backward + SGD step, in one run:

* baseline: the same network written as plain PyTorch, the way the
  reference implementation writes it: ``nn.Conv2d``, ``nn.BatchNorm2d``,
  ``nn.ReLU``/``nn.SiLU`` modules, the residual add as its own op, fp32,
  contiguous NCHW, eager, on pre-made tensors;
* the netspace model in fp32 channels_last, and in bf16 channels_last only
  where bf16 is native (where it is emulated the row is skipped and says so:
  it would be several times slower and tell nothing);
* the engine: ``netspace.train.train`` with the default Schedule (precision
  ``auto``) on synthetic 32px data, training images/s of its second epoch
  (augmentation and batching included, evaluation excluded), and the
  precision it chose and why; the headline ratio is the median of
  ``--rounds`` (3) pairs of a baseline loop and an engine run measured back
  to back, with its range, because a shared host's speed drifts within a run;
* the engine with each CPU piece the model uses forced to PyTorch's op in
  turn (BN, 1x1 convs, grouped convs, depthwise gradients), and with the
  autotuner off (the fixed rules), to show what each buys.

Every row in this process runs with the engine's allocator setting
(``netspace.train.memory.keep_freed_memory``: freed tensor memory is reused,
not returned to the kernel), which ``train`` makes anyway, so the ratios
compare models and layers under one allocator. For the first model, the
plain baseline and the engine are then timed in fresh processes with and
without it (glibc's default, as a plain PyTorch script runs), which shows
what it is worth to each.

Also: the CPU model and ISA, the matmul peak of the engine's dtype (and of
the other dtype only where native), the engine's training FLOP/s (3 x 2 x
forward multiply-adds x images/s) as a fraction of that peak, the dense 1x1
convs' share of the multiply-adds and the FLOP/s of exactly their matmuls at
the model's shapes (a ceiling for the whole step), the autotuner's work, and
peak RSS. About 2-3 minutes on 2 cores.

    python benchmarks/train_throughput.py [--models RegNetX-200MF,EfficientNet-B0] [--steps 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn

from netspace import zoo
from netspace.complexity import complexity
from netspace.data import load_data
from netspace.models import build, fused, tune
from netspace.models.cpu import cpu_info
from netspace.models.layers import BatchNormAct2d, DepthwiseConv, GroupedConv, PointwiseConv
from netspace.spec import for_input
from netspace.train import Schedule, train
from netspace.train.memory import keep_freed_memory

NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16"}


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """Best-of FLOP/s of an n x n x n matmul: the machine's practical ceiling for this dtype."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


class PlainBN(nn.Module):
    """nn.BatchNorm2d, then the shortcut add and the activation as separate ops (the reference's order)."""

    def __init__(self, layer: BatchNormAct2d) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.momentum)
        self.bn.load_state_dict(layer.state_dict())
        self.act = {"relu": nn.ReLU(inplace=True), "silu": nn.SiLU(), None: nn.Identity()}[layer.act]

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        x = self.bn(x)
        if residual is not None:
            x = x + residual
        return self.act(x)


def plain_model(model: nn.Module) -> nn.Module:
    """The same network with every netspace layer swapped for the plain PyTorch module (same weights)."""
    for name, child in model.named_children():
        if isinstance(child, BatchNormAct2d):
            setattr(model, name, PlainBN(child))
        elif isinstance(child, (PointwiseConv, DepthwiseConv, GroupedConv)):
            conv = nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride, child.padding,
                             groups=child.groups, bias=child.bias is not None)
            conv.load_state_dict(child.state_dict())
            setattr(model, name, conv)
        else:
            plain_model(child)
    return model


def loop_throughput(model: nn.Module, spec, batch: int, steps: int, dtype: torch.dtype, channels_last: bool) -> float:
    """Images/s of forward+backward+step, after 2 warmup steps (which also let the tuner decide)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(batch, spec.in_channels, spec.resolution, spec.resolution).contiguous(memory_format=fmt)
    y = torch.randint(0, spec.num_classes, (batch,))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t)


def pointwise_matmul_ceiling(spec, batch: int, dtype: torch.dtype, reps: int = 3) -> tuple[float, float]:
    """(share of the model's multiply-adds in dense 1x1 convs, FLOP/s of exactly those matmuls in ``dtype``).

    The dense 1x1 convs are the model's largest matmuls; their forward and two
    backward matmuls alone, at the shapes the model gives them, bound what any
    implementation built on this machine's matmul can reach.
    """
    model = build(spec).train()
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append((i[0].shape, m)))
             for m in model.modules() if isinstance(m, PointwiseConv)]
    model(torch.randn(2, spec.in_channels, spec.resolution, spec.resolution))
    for h in hooks:
        h.remove()
    macs, seconds = 0, 0.0
    for shape, m in shapes:
        rows = batch * (shape[2] // m.stride[0]) * (shape[3] // m.stride[1])
        x = torch.randn(rows, m.in_channels, dtype=dtype)
        w = torch.randn(m.out_channels, m.in_channels, dtype=dtype)
        g = torch.randn(rows, m.out_channels, dtype=dtype)

        def three() -> None:
            x @ w.t()  # forward
            g @ w      # input gradient
            g.t() @ x  # weight gradient

        three()
        seconds += min(_timed(three) for _ in range(reps))
        macs += 3 * rows * m.in_channels * m.out_channels
    share = (macs / 3 / batch) / complexity(spec)["flops"]
    return share, 2 * macs / seconds


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def engine_throughput(spec, batch: int, steps: int, **force: str) -> tuple[float, str, str]:
    """(training images/s of epoch 2, precision name, why) of ``train`` with the default schedule."""
    data = load_data("synthetic", synthetic_shape=(3, spec.resolution, spec.resolution),
                     synthetic_classes=spec.num_classes, synthetic_size=(batch * steps, batch))
    with tempfile.TemporaryDirectory() as out, tune.force(**force):
        result = train(spec, data, Schedule(epochs=2, batch_size=batch), out_dir=out, progress=False,
                       handle_signals=False)
    return result.metrics[-1]["images_per_second"], result.precision, result.precision_reason


# Each CPU piece of the engine, the layer class that has it, and the choice that turns it off.
PIECES = {
    "PyTorch BN + act": (BatchNormAct2d, {"bn": "torch"}),
    "1x1 convs as convs": (PointwiseConv, {"pointwise": "conv"}),
    "grouped convs by oneDNN": (GroupedConv, {"grouped": "conv"}),
    "depthwise grads by oneDNN": (DepthwiseConv, {"depthwise": "onednn"}),
}


def reference_model(name: str):
    """A constructor of the reference implementation's model (pycls, CIFAR stem, 10 classes) where
    pycls is installed and knows the model; None otherwise."""
    if name != "RegNetX-200MF":
        return None
    try:
        from pycls.core.config import cfg
        from pycls.models.regnet import RegNet
    except ImportError:
        return None

    def make():
        cfg.REGNET.DEPTH, cfg.REGNET.W0, cfg.REGNET.WA, cfg.REGNET.WM, cfg.REGNET.GROUP_W = 13, 24, 36.44, 2.49, 8
        cfg.REGNET.STEM_TYPE, cfg.MODEL.NUM_CLASSES = "res_stem_cifar", 10
        return RegNet()
    return make


def fresh_process(row: str, name: str, batch: int, steps: int, keep: bool) -> float:
    """Images/s of ``row`` ("baseline" or "engine") in a fresh process, with freed memory kept for reuse
    (``keep``, what train() sets) or under glibc's default allocator (``NETSPACE_MALLOC=0``)."""
    out = subprocess.run([sys.executable, __file__, "--one-row", row, "--models", name, "--batch-size", str(batch),
                          "--steps", str(steps)], capture_output=True, text=True, check=True,
                         env={**os.environ, "NETSPACE_MALLOC": "1" if keep else "0"})
    return float(out.stdout.split()[-1])


def allocator_compare(name: str, batch: int, steps: int) -> None:
    """What keeping freed memory is worth: the baseline and the engine each in fresh processes with and
    without it, interleaved (one process per row: the setting cannot be undone within one)."""
    ips = {(row, keep): fresh_process(row, name, batch, steps, keep)
           for row in ("baseline", "engine") for keep in (False, True)}
    print(f"  allocator ({name}, one fresh process per figure): the baseline {ips['baseline', False]:.0f} img/s "
          f"under glibc's default, {ips['baseline', True]:.0f} with freed memory kept "
          f"({ips['baseline', True] / ips['baseline', False]:.2f}x); the engine {ips['engine', False]:.0f} and "
          f"{ips['engine', True]:.0f} ({ips['engine', True] / ips['engine', False]:.2f}x); the engine with it "
          f"against the baseline without it: {ips['engine', True] / ips['baseline', False]:.2f}x")


def plain_baseline(name: str, batch: int, steps: int) -> float:
    spec = for_input(zoo.resolve(name), in_channels=3, resolution=32, num_classes=10)
    torch.manual_seed(0)
    return max(loop_throughput(plain_model(build(spec)), spec, batch, steps, torch.float32, False) for _ in range(2))


def bench_model(name: str, batch: int, steps: int, native_bf16: bool, peaks: dict, rounds: int) -> None:
    spec = for_input(zoo.resolve(name), in_channels=3, resolution=32, num_classes=10)
    flops = complexity(spec)["flops"]
    print(f"\n{name} at 32px: {flops / 1e6:.1f}M multiply-adds/image, batch {batch}")
    torch.manual_seed(0)
    loops = {"netspace model fp32 channels_last": lambda: (build(spec), torch.float32, True)}
    if native_bf16:
        loops["netspace model bf16 channels_last"] = lambda: (build(spec), torch.bfloat16, True)
    reference = reference_model(name)
    if reference is not None:
        loops["reference implementation (pycls), fp32 NCHW"] = lambda: (reference(), torch.float32, False)
    rows: dict[str, float] = {"plain PyTorch fp32 NCHW (baseline)": 0.0}  # the median of the paired rounds below
    for _ in range(2):  # interleaved, best of two: the first run of a process is often slow
        for row, make in loops.items():
            model, dtype, cl = make()
            rows[row] = max(rows.get(row, 0.0), loop_throughput(model, spec, batch, steps, dtype, cl))
    used = {type(m) for m in build(spec).modules()}
    for piece, (cls, force) in PIECES.items():
        if cls in used:
            rows[f"engine, {piece}"] = engine_throughput(spec, batch, steps, **force)[0]
    saved = os.environ.get(tune.ENV_TUNE)
    os.environ[tune.ENV_TUNE] = "0"
    try:
        rows["engine, autotuner off (fixed rules)"] = engine_throughput(spec, batch, steps)[0]
    finally:
        if saved is None:
            os.environ.pop(tune.ENV_TUNE)
        else:
            os.environ[tune.ENV_TUNE] = saved
    # The headline ratio: the baseline loop and the engine default measured back to back, in
    # ``rounds`` pairs, so a host whose speed drifts during the run moves both sides of each ratio.
    ratios, engines, bases = [], [], []
    for _ in range(rounds):
        base_ips = loop_throughput(plain_model(build(spec)), spec, batch, steps, torch.float32, False)
        engine_ips, precision, reason = engine_throughput(spec, batch, steps)
        bases.append(base_ips)
        engines.append(engine_ips)
        ratios.append(engine_ips / base_ips)
    engine, base = statistics.median(engines), statistics.median(bases)
    rows[f"engine default ({precision})"] = engine
    rows["plain PyTorch fp32 NCHW (baseline)"] = base
    if not native_bf16:
        print("  netspace model bf16 channels_last: skipped, bf16 is emulated on this CPU")
    for row, ips in rows.items():
        print(f"  {row:<38} {ips:8.0f} img/s  {ips / base:5.2f}x")
    print(f"  engine precision: {reason}")
    pairs = ", ".join(f"{e:.0f}/{b:.0f}" for e, b in zip(engines, bases))
    print(f"speedup (engine default / plain fp32 eager), {rounds} paired rounds: median "
          f"{statistics.median(ratios):.2f}x, range {min(ratios):.2f}-{max(ratios):.2f}x ({pairs} img/s)")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    peak = peaks[dtype]
    achieved = 3 * 2 * flops * engine
    print(f"training FLOP/s: {achieved / 1e9:.1f} G = {100 * achieved / peak:.1f}% of the {NAMES[dtype]} matmul peak "
          f"({peak / 1e9:.0f} GFLOP/s); the baseline reaches {100 * 3 * 2 * flops * base / peak:.1f}%")
    pw_share, pw_flops = pointwise_matmul_ceiling(spec, batch, dtype)
    pw_eff = min(pw_flops / peak, 1.0)
    bound = 1 / (pw_share / pw_eff + (1 - pw_share))
    print(f"dense 1x1 convs: {100 * pw_share:.0f}% of the multiply-adds; as bare {NAMES[dtype]} matmuls at the "
          f"model's shapes they reach {100 * pw_eff:.0f}% of the peak, so the whole step is capped at "
          f"{100 * bound:.0f}% of it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="RegNetX-200MF,EfficientNet-B0")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="paired baseline/engine rounds of the headline ratio")
    parser.add_argument("--one-row", choices=["baseline", "engine"], help=argparse.SUPPRESS)  # in its own process
    args = parser.parse_args()
    if args.one_row:
        name = args.models.split(",")[0].strip()
        if args.one_row == "baseline":
            if os.environ.get("NETSPACE_MALLOC") == "1":
                keep_freed_memory()
            print(f"{plain_baseline(name, args.batch_size, args.steps):.1f}")
        else:
            spec = for_input(zoo.resolve(name), in_channels=3, resolution=32, num_classes=10)
            print(f"{max(engine_throughput(spec, args.batch_size, args.steps)[0] for _ in range(2)):.1f}")
        return
    keep_freed_memory()  # every row of this process under the allocator setting train() makes

    started = time.perf_counter()
    cpu = cpu_info()
    print(f"CPU: {cpu.describe()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(fused.check())
    peaks = {torch.float32: matmul_peak(torch.float32)}
    line = f"matmul peak: fp32 {peaks[torch.float32] / 1e9:.0f} GFLOP/s"
    if cpu.native_bf16:
        peaks[torch.bfloat16] = matmul_peak(torch.bfloat16)
        line += f", bf16 {peaks[torch.bfloat16] / 1e9:.0f} GFLOP/s"
    else:
        line += " (bf16 emulated on this CPU: not measured)"
    print(line)
    names = [name.strip() for name in args.models.split(",")]
    for name in names:
        bench_model(name, args.batch_size, args.steps, cpu.native_bf16, peaks, args.rounds)
    print("\nThe allocator: every row above ran with freed memory kept for reuse (train() sets it process-wide)")
    allocator_compare(names[0], args.batch_size, args.steps)
    stats = tune.stats()
    if stats.get("enabled"):
        print(f"\nautotuner: {stats['measured']} decisions measured, {stats['reused']} reused from "
              f"{stats['cache']}, {stats['seconds']:.1f} s measuring")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
          f"benchmark wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
