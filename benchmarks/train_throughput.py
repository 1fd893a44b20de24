"""Training throughput of the engine's default path against a plain fp32 loop.

Model: RegNetX-200MF's body with the small-image stem (``for_input`` at 32px,
10 classes; ~15M multiply-adds per image), batch 128. Measured in one run:

* baseline: fp32, contiguous NCHW, eager forward+backward+SGD step on
  pre-made float tensors (no augmentation, no data loading);
* the same loop in the other precision/layout combinations, to show which
  piece buys what;
* the engine: ``netspace.train.train`` with the default Schedule on synthetic
  32px data, reading the training images/s it reports for its second epoch
  (augmentation and batching included, evaluation excluded);
* the engine again with each of its CPU pieces that the model uses turned off
  in turn (the fused BN(+shortcut)(+ReLU) kernel, 1x1 convs as matmuls, float32
  weight gradients of small grouped convs, the depthwise gradient routing), to
  show what each buys.

The loops build the same model as the engine, whose layers pick their
kernels by layout: the fp32 contiguous baseline is plain PyTorch throughout.

Also prints achieved training FLOP/s (3 x 2 x forward multiply-adds x images/s)
as a fraction of this machine's bf16 matmul FLOP/s; the dense 1x1 convs' share
of the multiply-adds and the FLOP/s of exactly their matmuls (forward and both
gradients, bare, at the model's shapes), and from these a ceiling for the whole
step (everything else at the peak or free); the share of the step spent in
convolutions and matmuls (profiled) and the fraction of peak the step would
reach if everything else cost nothing; and peak RSS.

    python benchmarks/train_throughput.py [--model RegNetX-200MF] [--steps 12]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

import torch
import torch.nn.functional as F

from netspace import zoo
from netspace.complexity import complexity
from netspace.data import load_data
from netspace.models import build, fused
from netspace.models.layers import DepthwiseConv, GroupedConv, PointwiseConv
from netspace.spec import for_input
from netspace.train import Schedule, train


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 6) -> float:
    """Best-of FLOP/s of an n x n x n matmul: the machine's practical ceiling for this dtype."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def loop_throughput(spec, batch: int, steps: int, bf16: bool, channels_last: bool) -> float:
    """Images/s of forward+backward+step, after 3 warmup steps."""
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = build(spec).to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(batch, spec.in_channels, spec.resolution, spec.resolution).contiguous(memory_format=fmt)
    y = torch.randint(0, spec.num_classes, (batch,))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t)


COMPUTE_OPS = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::mm", "aten::addmm",
               "aten::_convolution", "aten::linear")


def compute_share(spec, batch: int, steps: int = 4) -> float:
    """Fraction of a bf16 channels_last training step spent inside conv and matmul kernels."""
    from torch.profiler import profile

    model = build(spec).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, spec.in_channels, spec.resolution, spec.resolution).contiguous(
        memory_format=torch.channels_last)
    y = torch.randint(0, spec.num_classes, (batch,))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    with profile() as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    compute = sum(e.self_cpu_time_total for e in events if e.key in COMPUTE_OPS)
    return compute / total


def pointwise_matmul_ceiling(spec, batch: int, reps: int = 5) -> tuple[float, float]:
    """(share of the model's multiply-adds in dense 1x1 convs, FLOP/s of exactly those matmuls).

    The dense 1x1 convs are the model's largest matmuls; timing their forward
    and two backward matmuls alone in bf16, at the shapes the model gives them,
    bounds what any implementation built on this machine's matmul can reach.
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
        x = torch.randn(rows, m.in_channels, dtype=torch.bfloat16)
        w = torch.randn(m.out_channels, m.in_channels, dtype=torch.bfloat16)
        g = torch.randn(rows, m.out_channels, dtype=torch.bfloat16)

        def three() -> None:
            x @ w.t()  # forward
            g @ w      # input gradient
            g.t() @ x  # weight gradient

        three()
        best = min(_timed(three) for _ in range(reps))
        macs += 3 * rows * m.in_channels * m.out_channels
        seconds += best
    share = (macs / 3 / batch) / complexity(spec)["flops"]
    return share, 2 * macs / seconds


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def engine_throughput(spec, batch: int, steps: int) -> tuple[float, str]:
    data = load_data("synthetic", synthetic_shape=(3, spec.resolution, spec.resolution),
                     synthetic_classes=spec.num_classes, synthetic_size=(batch * steps, batch))
    with tempfile.TemporaryDirectory() as out:
        result = train(spec, data, Schedule(epochs=2, batch_size=batch), out_dir=out, progress=False,
                       handle_signals=False)
    return result.metrics[-1]["images_per_second"], result.precision


# Each CPU piece of the engine, and how to turn it off for one measurement.
ABLATIONS = {
    "engine, PyTorch BN + ReLU": (fused, "usable", lambda *a, **k: False),
    "engine, 1x1 convs as convs": (PointwiseConv, "_as_matmul", lambda self, x: False),
    "engine, grouped all bf16": (GroupedConv, "forward", torch.nn.Conv2d.forward),
    "engine, oneDNN depthwise": (DepthwiseConv, "forward", torch.nn.Conv2d.forward),
}


def piece_used(piece, spec) -> bool:
    owner = piece[0]
    return not isinstance(owner, type) or any(isinstance(m, owner) for m in build(spec).modules())


def engine_throughput_without(piece, spec, batch: int, steps: int) -> float:
    owner, attr, replacement = piece
    original = getattr(owner, attr)
    setattr(owner, attr, replacement)
    try:
        return engine_throughput(spec, batch, steps)[0]
    finally:
        setattr(owner, attr, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="RegNetX-200MF")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()

    spec = for_input(zoo.resolve(args.model), in_channels=3, resolution=32, num_classes=10)
    flops = complexity(spec)["flops"]
    print(f"{args.model} at 32px: {flops / 1e6:.1f}M multiply-adds/image, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    peak_fp32 = matmul_peak(torch.float32)
    peak_bf16 = matmul_peak(torch.bfloat16)
    print(f"matmul peak: fp32 {peak_fp32 / 1e9:.0f} GFLOP/s, bf16 {peak_bf16 / 1e9:.0f} GFLOP/s")

    print(fused.check())
    results = {}
    for name, bf16, cl in [("fp32 contiguous (baseline)", False, False), ("fp32 channels_last", False, True),
                           ("bf16 contiguous", True, False), ("bf16 channels_last", True, True)]:
        results[name] = loop_throughput(spec, args.batch_size, args.steps, bf16, cl)
    engine, precision = engine_throughput(spec, args.batch_size, args.steps)
    ablations = {name: engine_throughput_without(piece, spec, args.batch_size, args.steps)
                 for name, piece in ABLATIONS.items() if piece_used(piece, spec)}
    base = results["fp32 contiguous (baseline)"]
    for name, ips in results.items():
        print(f"  {name:<28} {ips:8.0f} img/s  {ips / base:5.2f}x")
    for name, ips in ablations.items():
        print(f"  {name:<28} {ips:8.0f} img/s  {ips / base:5.2f}x")
    print(f"  {'engine default (' + precision + ')':<28} {engine:8.0f} img/s  {engine / base:5.2f}x")
    print(f"speedup (engine default / fp32 contiguous eager): {engine / base:.2f}x  (target >= 2.5)")
    achieved = 3 * 2 * flops * engine
    print(f"training FLOP/s: {achieved / 1e9:.1f} G = {100 * achieved / peak_bf16:.1f}% of bf16 matmul peak "
          f"(target >= 40%)")
    pw_share, pw_flops = pointwise_matmul_ceiling(spec, args.batch_size)
    pw_eff = pw_flops / peak_bf16
    print(f"dense 1x1 convs: {100 * pw_share:.0f}% of the multiply-adds; as bare bf16 matmuls at the model's shapes "
          f"they reach {100 * pw_eff:.0f}% of the matmul peak")
    # Even if every other multiply-add ran at the peak and BN, activations, data and the optimizer cost nothing:
    bound = 1 / (pw_share / pw_eff + (1 - pw_share))
    print(f"ceiling for the whole step on this machine's matmul: {100 * bound:.0f}% of the bf16 matmul peak")
    share = compute_share(spec, args.batch_size)
    print(f"convolutions and matmuls: {100 * share:.0f}% of a bf16 channels_last step; with everything else "
          f"free the step would reach {100 * achieved / share / peak_bf16:.1f}% of the bf16 matmul peak")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
