"""Timing one network: warm up, then repeat until the median stops moving.

``measure(model, ...)`` runs a forward pass (``mode="inference"``) or a
training step (forward, cross-entropy, backward, SGD step; ``mode="train"``)
on random inputs, one timed sample per step, in rounds. After each round the
median of all samples so far is compared with the median before that round;
when they agree to within ``rel_tolerance`` (and at least ``min_repeats``
samples exist) the result is called stable. ``max_seconds`` bounds the whole
timing phase; a result that ran out of time says ``stable=False``.

On CPU the thread count is set for the measurement and restored afterwards.
On CUDA each step is bracketed by CUDA events on the current stream, the
device is synchronized before timing starts and once per round, so queued
kernels are never mistaken for finished ones and no host sync sits between
the timed steps.

Bounds are checked before anything is built or allocated: ``threads`` at most
:func:`max_threads` (4 per core), ``warmup`` at most ``MAX_REPEATS`` steps, and
for a spec the least memory the measurement can take (its weights and the
input batch; for ``mode="train"`` also every counted activation of the batch,
gradients and momentum), from the spec's exact complexity, must fit in the
memory available on the device.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from functools import singledispatch
from typing import Any

import numpy as np
import torch
from torch import nn

from netspace import devices
from netspace.complexity import complexity
from netspace.errors import NetspaceError
from netspace.models import build
from netspace.resources import check_bytes, max_threads, minimum_model_bytes
from netspace.spec import NetSpec, Spec, for_input
from netspace.spec_cells import CellNetSpec

MODES = ("inference", "train")
DEFAULT_WARMUP = 5
DEFAULT_MAX_SECONDS = 10.0
DEFAULT_MIN_REPEATS = 10
DEFAULT_ROUND = 10
DEFAULT_REL_TOLERANCE = 0.02
MAX_REPEATS = 10_000


class LatencyError(NetspaceError, ValueError):
    """A latency measurement was asked for with impossible settings."""


@dataclass(frozen=True)
class LatencyResult:
    """Per-step latency statistics of one network at one setting (times in milliseconds)."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    images_per_second: float
    repeats: int
    batch: int
    resolution: int
    in_channels: int
    device: str
    threads: int | None
    mode: str
    warmup: int
    stable: bool
    seconds: float
    times_ms: tuple[float, ...] = field(default=(), repr=False, compare=False)

    @property
    def spread(self) -> float:
        """(p90 - p10) / median: the relative width of the middle 80% of samples."""
        return (self.p90_ms - self.p10_ms) / self.median_ms if self.median_ms > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Every statistic as plain JSON-able values (the raw samples are left out)."""
        d = asdict(self)
        d.pop("times_ms")
        return d


def check_device(device: str | torch.device) -> torch.device:
    """A usable torch device from "cpu", "cuda" or "cuda:N"; a LatencyError naming the fix otherwise."""
    return devices.check_device(device, error=LatencyError)


def _check_int(name: str, value: Any, low: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise LatencyError(f"{name} must be an integer >= {low}, got {value!r}")


@singledispatch
def _module_and_input(model: Any, resolution: int | None,
                      in_channels: int | None) -> tuple[Spec | nn.Module, int, int, int | None]:
    """The module (or the spec to build it from) to time, its input resolution and channels, and its class
    count if known."""
    raise LatencyError(f"model must be a NetSpec or a torch.nn.Module, got {type(model).__name__}")


@_module_and_input.register(NetSpec)
@_module_and_input.register(CellNetSpec)
def _(model: Spec, resolution: int | None, in_channels: int | None) -> tuple[nn.Module, int, int, int | None]:
    res = model.resolution if resolution is None else resolution
    ch = model.in_channels if in_channels is None else in_channels
    _check_int("resolution", res, 1)
    _check_int("in_channels", ch, 1)
    spec = model
    if (res, ch) != (model.resolution, model.in_channels):
        spec = for_input(model, in_channels=ch, resolution=res, num_classes=model.num_classes)
    return spec, res, ch, spec.num_classes


@_module_and_input.register(nn.Module)
def _(model: nn.Module, resolution: int | None, in_channels: int | None) -> tuple[Spec | nn.Module, int, int, int | None]:
    if resolution is None or in_channels is None:
        raise LatencyError("a torch module needs resolution= and in_channels= to make its input; "
                           "pass both, or pass a NetSpec")
    _check_int("resolution", resolution, 1)
    _check_int("in_channels", in_channels, 1)
    return model, resolution, in_channels, None


class _Step:
    """One timed unit of work: a forward pass, or a whole training step."""

    def __init__(self, module: nn.Module, x: torch.Tensor, mode: str, num_classes: int | None) -> None:
        self.module, self.x, self.mode = module, x, mode
        self.labels = None
        self.optimizer = None
        if mode == "train":
            params = [p for p in module.parameters() if p.requires_grad]
            self.optimizer = torch.optim.SGD(params, lr=1e-4, momentum=0.9) if params else None

    def __call__(self) -> None:
        if self.mode == "inference":
            self.module(self.x)
            return
        out = self.module(self.x)
        if out.dim() == 2:
            if self.labels is None:
                self.labels = torch.zeros(out.shape[0], dtype=torch.long, device=out.device)
            loss = nn.functional.cross_entropy(out, self.labels)
        else:  # a block or feature extractor: any scalar of the output trains it
            loss = out.float().square().mean()
        loss.backward()
        if self.optimizer is not None:
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)


def _time_round(step: _Step, n: int, dev: torch.device, deadline: float) -> list[float]:
    """Up to ``n`` per-step times in ms (on CPU the round ends early at ``deadline``, after one step)."""
    if dev.type == "cuda":
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        for s, e in zip(starts, ends):
            s.record()
            step()
            e.record()
        torch.cuda.synchronize(dev)
        return [s.elapsed_time(e) for s, e in zip(starts, ends)]
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        t1 = time.perf_counter()
        out.append((t1 - t0) * 1e3)
        if t1 >= deadline:
            break
    return out


def measure(
    model: Spec | nn.Module,
    *,
    batch: int = 1,
    resolution: int | None = None,
    in_channels: int | None = None,
    device: str = "cpu",
    threads: int | None = None,
    mode: str = "inference",
    warmup: int = DEFAULT_WARMUP,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    round_size: int = DEFAULT_ROUND,
    rel_tolerance: float = DEFAULT_REL_TOLERANCE,
    seed: int = 0,
) -> LatencyResult:
    """Latency of one network on random inputs: median, p10/p90 and images/s of ``batch`` images per step.

    ``model`` is a spec, NetSpec or CellNetSpec (built fresh; ``resolution``/``in_channels``
    default to the spec's, and other values adapt it with ``for_input``) or
    an ``nn.Module`` (then both must be given; it is moved to ``device`` and
    its train/eval mode, and after ``mode="train"`` its weights and BN
    statistics, are restored afterwards). ``threads`` sets the CPU
    thread count for the measurement (default: the current one).
    """
    if mode not in MODES:
        raise LatencyError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    _check_int("batch", batch, 1)
    if mode == "train" and batch < 2:
        raise LatencyError("train mode needs batch >= 2 (BatchNorm needs more than one value per channel); "
                           "pass batch=2 or more")
    _check_int("warmup", warmup, 0)
    _check_int("min_repeats", min_repeats, 1)
    _check_int("round_size", round_size, 1)
    if warmup > MAX_REPEATS:
        raise LatencyError(f"warmup must be at most {MAX_REPEATS:,} steps, got {warmup:,}")
    if threads is not None:
        _check_int("threads", threads, 1)
        if threads > max_threads():
            raise LatencyError(f"threads must be at most {max_threads()} (4 per core of this machine's "
                               f"{os.cpu_count() or 1}), got {threads:,}")
    if not isinstance(max_seconds, (int, float)) or not max_seconds > 0 or not math.isfinite(max_seconds):
        raise LatencyError(f"max_seconds must be a positive number, got {max_seconds!r}")
    if not isinstance(rel_tolerance, (int, float)) or not rel_tolerance > 0:
        raise LatencyError(f"rel_tolerance must be a positive number, got {rel_tolerance!r}")
    dev = check_device(device)
    module, res, ch, num_classes = _module_and_input(model, resolution, in_channels)
    if not isinstance(module, nn.Module):  # a spec: refused from its complexity before it is built
        need = minimum_model_bytes(complexity(module), batch, ch, res, mode)
        check_bytes(need, f"timing this network on a batch of {batch} at {res}px ({mode})",
                    "use a smaller model, --batch or --resolution", dev)
        module = build(module)
    else:
        check_bytes(batch * ch * res * res * 4, f"an input batch of {batch} at {res}px",
                    "use a smaller --batch or --resolution", dev)

    old_threads = torch.get_num_threads()
    was_training = module.training
    # A training step changes weights and BN statistics; a caller's module gets them back afterwards.
    saved = ({k: v.detach().clone() for k, v in module.state_dict().items()}
             if mode == "train" and isinstance(model, nn.Module) else None)
    if dev.type == "cpu" and threads is not None:
        torch.set_num_threads(int(threads))
    used_threads = torch.get_num_threads() if dev.type == "cpu" else None
    try:
        module.to(dev)
        module.train(mode == "train")
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(batch, ch, res, res, generator=gen).to(dev)
        step = _Step(module, x, mode, num_classes)
        grad = torch.enable_grad() if mode == "train" else torch.inference_mode()
        with grad:
            times, stable, seconds = _run(step, dev, warmup, max_seconds, min_repeats, round_size, rel_tolerance)
    finally:
        if dev.type == "cpu" and threads is not None:
            torch.set_num_threads(old_threads)
        module.train(was_training)
        if mode == "train":
            module.zero_grad(set_to_none=True)
        if saved is not None:
            module.load_state_dict(saved)
    arr = np.asarray(times)
    median = float(np.median(arr))
    return LatencyResult(
        median_ms=median, p10_ms=float(np.percentile(arr, 10)), p90_ms=float(np.percentile(arr, 90)),
        mean_ms=float(arr.mean()), min_ms=float(arr.min()), images_per_second=batch * 1e3 / median if median > 0 else math.inf,
        repeats=int(arr.size), batch=int(batch), resolution=int(res), in_channels=int(ch), device=str(dev),
        threads=used_threads, mode=mode, warmup=int(warmup), stable=stable, seconds=seconds,
        times_ms=tuple(float(t) for t in arr),
    )


def _run(step: _Step, dev: torch.device, warmup: int, max_seconds: float, min_repeats: int, round_size: int,
         rel_tolerance: float) -> tuple[list[float], bool, float]:
    """Warm up, then time rounds until the running median is stable or time runs out."""
    for _ in range(warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    start = time.perf_counter()
    deadline = start + max_seconds
    times: list[float] = []
    previous = math.nan
    stable = False
    while True:
        times += _time_round(step, round_size, dev, deadline)
        median = float(np.median(times))
        if len(times) >= min_repeats and abs(median - previous) <= rel_tolerance * median:
            stable = True
            break
        previous = median
        if time.perf_counter() >= deadline or len(times) >= MAX_REPEATS:
            break
    return times, stable, time.perf_counter() - start
