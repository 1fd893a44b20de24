"""Which implementation each CPU layer runs, decided by measurement on the machine at hand.

The CPU layers (:mod:`netspace.models.layers`) have several implementations
that compute the same numbers: a 1x1 conv as oneDNN's conv or as one matmul
over the channels_last view; a grouped conv by oneDNN, with a float32 weight
gradient, or by the project's kernel; a depthwise conv's two gradients by
oneDNN or by the kernel; BN(+shortcut)(+ReLU) fused or as PyTorch's ops.
Which is fastest depends on the CPU (AMX Xeon vs AVX2-only EPYC), the dtype,
the thread count and the shape, so no fixed threshold is right everywhere.

Like cuDNN's benchmark mode, the first time a layer meets a shape class it
times each candidate (forward, plus backward in training) a few times on
random tensors of that shape, keeps the fastest, and remembers it:

* in memory for the rest of the process, and
* on disk, in one JSON file per machine key (CPU model, ISA, PyTorch's CPU
  capability, torch version, thread count, the kernels' build), under
  ``$NETSPACE_CACHE_DIR`` (default ``$XDG_CACHE_HOME/netspace`` or
  ``~/.cache/netspace``); the key also holds a digest of the candidate
  lists, so a release that adds an implementation measures again. Writes
  merge under a file lock and replace the file atomically, so sweep workers
  share decisions and later runs reuse them. A change of any key part is a
  different file: nothing stale is read.

Shape classes: batch, spatial size, stride, kernel, group width and dtype
exact; channel counts rounded up to a half-octave grid (8, 12, 16, 24, 32,
48, ...), so the models of one sweep share most decisions. The default
candidate is kept unless another is at least ``MARGIN`` faster, so timing
noise does not flip decisions. Measuring uses its own random generator and
never the global RNG, so tuning does not change what a run computes beyond
the rounding of the implementation it picks.

``NETSPACE_TUNE=0`` turns measurement off: every layer uses its fixed rule
(thresholds measured on one Xeon; see the layers' docstrings).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Mapping

import torch

from netspace.models.cpu import cpu_info

ENV_TUNE = "NETSPACE_TUNE"
ENV_CACHE = "NETSPACE_CACHE_DIR"
VERSION = 2          # of the decisions' meaning; bump when a candidate changes (added ones are in the key)
MARGIN = 0.05        # another candidate must be this much faster than the default to be chosen
REPEATS = 3          # timed runs per candidate (after one warm-up), best kept


def enabled() -> bool:
    """Measurement on (default) unless ``NETSPACE_TUNE`` is 0/false/no/off."""
    raw = os.environ.get(ENV_TUNE, "1")
    on = _ENABLED.get(raw)
    if on is None:  # parsed once per distinct value: this runs in every layer's forward
        on = _ENABLED[raw] = raw.strip().lower() not in ("0", "false", "no", "off")
    return on


_ENABLED: dict[str, bool] = {}


def cache_dir() -> Path:
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "netspace"


def machine_key() -> dict[str, str]:
    """What a decision depends on besides the shape: change any of it and decisions are remade."""
    from netspace.models import fused  # the kernels' build name digests their sources and flags

    cpu = cpu_info()
    build = fused.build_name() if fused.kernel() is not None else "no-kernels"
    return {"cpu": cpu.model, "isa": " ".join(cpu.isa), "capability": cpu.capability,
            "torch": torch.__version__, "threads": str(torch.get_num_threads()), "kernels": build,
            "version": str(VERSION), "candidates": candidates_digest()}


def candidates_digest() -> str:
    """A digest of the candidate lists: adding an implementation makes earlier decisions stale."""
    return hashlib.sha1(json.dumps(CANDIDATES, sort_keys=True).encode()).hexdigest()[:12]


def cache_path(key: Mapping[str, str] | None = None) -> Path:
    key = machine_key() if key is None else key
    digest = hashlib.sha1(json.dumps(dict(key), sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / f"tune-{digest}.json"


def channels_class(c: int) -> int:
    """``c`` rounded up to the half-octave grid 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, ..."""
    if c <= 2:
        return max(c, 1)
    e = math.floor(math.log2(c))
    for v in (2 ** e, 3 * 2 ** (e - 1), 2 ** (e + 1)):
        if v >= c:
            return v
    return 2 ** (e + 1)  # pragma: no cover - the loop always returns


def _measuring_allowed() -> bool:
    """No measuring while tracing, compiling, exporting or under a dispatch mode (e.g. a flop counter):
    the timed candidates would be recorded or counted."""
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        return False
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling():
        return False
    onnx = getattr(torch, "onnx", None)
    if onnx is not None and hasattr(onnx, "is_in_onnx_export") and onnx.is_in_onnx_export():
        return False
    try:
        from torch.utils._python_dispatch import _get_current_dispatch_mode

        if _get_current_dispatch_mode() is not None:
            return False
    except ImportError:  # pragma: no cover - older torch
        pass
    return True


def time_candidates(candidates: Mapping[str, Callable[[], None]], repeats: int = REPEATS) -> dict[str, float]:
    """Best-of-``repeats`` milliseconds of each candidate, interleaved so a noisy moment hits all alike."""
    for fn in candidates.values():
        fn()  # warm-up: oneDNN builds its primitive, allocators settle
    best = {name: math.inf for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], 1e3 * (time.perf_counter() - start))
    return best


def pick(times: Mapping[str, float], default: str) -> str:
    """The fastest candidate, unless the default is within ``MARGIN`` of it."""
    fastest = min(times, key=times.__getitem__)
    if default in times and times[default] <= times[fastest] * (1 + MARGIN):
        return default
    return fastest


class Tuner:
    """Decisions of one process for one machine key, backed by one JSON file."""

    def __init__(self, path: Path, key: Mapping[str, str]) -> None:
        self.path = path
        self.key = dict(key)
        self.decisions: dict[str, dict] = {}
        self._mtime: float | None = None
        self.measured = 0       # decisions this process measured
        self.reused = 0         # decisions read from the cache file
        self.seconds = 0.0      # spent measuring
        self.writable = True
        self._counted: set[str] = set()
        self._lock = threading.Lock()
        self._reload()

    def _reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return
        if mtime == self._mtime:
            return
        try:
            data = json.loads(self.path.read_text())
            if data.get("key") == self.key and isinstance(data.get("decisions"), dict):
                self.decisions.update(data["decisions"])
        except (OSError, ValueError):
            pass  # unreadable or damaged: decisions are remade and the file rewritten
        self._mtime = mtime

    def lookup(self, name: str) -> str | None:
        entry = self.decisions.get(name)
        if entry is None:
            self._reload()  # another worker may have decided it meanwhile
            entry = self.decisions.get(name)
        if entry is None:
            return None
        if name not in self._counted:  # decided by an earlier run or another worker
            self._counted.add(name)
            self.reused += 1
        return entry["choice"]

    def decide(self, name: str, make: Callable[[], Mapping[str, Callable[[], None]]], default: str) -> str:
        with self._lock:
            choice = self.lookup(name)
            if choice is not None:
                return choice
            start = time.perf_counter()
            candidates = make()
            if len(candidates) < 2:
                choice, times = next(iter(candidates), default), {}
            else:
                with _private_rng():
                    times = time_candidates(candidates)
                choice = pick(times, default)
            self.seconds += time.perf_counter() - start
            self.measured += 1
            self._counted.add(name)
            entry = {"choice": choice, "ms": {k: round(v, 4) for k, v in times.items()}}
            self.decisions[name] = entry
            self._write(name, entry)
            return self.decisions[name]["choice"]  # another worker's earlier decision, if it wrote first

    def _write(self, name: str, entry: dict) -> None:
        """Merge this decision into the file under an exclusive lock; atomic replace."""
        if not self.writable:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_suffix(".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    on_disk: dict = {}
                    try:
                        data = json.loads(self.path.read_text())
                        if data.get("key") == self.key and isinstance(data.get("decisions"), dict):
                            on_disk = data["decisions"]
                    except (OSError, ValueError):
                        pass
                    on_disk.setdefault(name, entry)  # the first decision written stays: workers agree
                    self.decisions.update(on_disk)
                    fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tune-", suffix=".tmp")
                    with os.fdopen(fd, "w") as f:
                        json.dump({"key": self.key, "decisions": on_disk}, f, indent=1, sort_keys=True)
                    os.replace(tmp, self.path)
                    self._mtime = self.path.stat().st_mtime
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
        except OSError:
            self.writable = False  # read-only or full cache location: keep deciding in memory only


@contextlib.contextmanager
def _private_rng():
    """Candidates draw their inputs from :func:`randn`; the global RNG is left exactly as it was."""
    state = torch.get_rng_state()
    try:
        yield
    finally:
        torch.set_rng_state(state)


_GEN = torch.Generator().manual_seed(1234)


def randn(shape, dtype: torch.dtype, channels_last: bool = False, requires_grad: bool = False) -> torch.Tensor:
    """A random input for timing, from the tuner's own generator."""
    t = torch.randn(tuple(shape), generator=_GEN).to(dtype)
    if channels_last and t.dim() == 4:
        t = t.contiguous(memory_format=torch.channels_last)
    return t.requires_grad_(requires_grad)


_forced: dict[str, str] = {}   # kind -> choice, set by :func:`force`
_tuners: dict[str, Tuner] = {}
_by_threads: dict[int, Tuner] = {}
_memo: dict[tuple, str] = {}  # (kind, shape class, threads) -> choice: the per-forward fast path


def tuner() -> Tuner:
    """This process's tuner for the current machine key (the thread count is part of it)."""
    threads = torch.get_num_threads()
    t = _by_threads.get(threads)
    if t is None:
        key = machine_key()
        path = cache_path(key)
        t = _tuners.get(str(path))
        if t is None:
            t = _tuners[str(path)] = Tuner(path, key)
        _by_threads[threads] = t
    return t


def choose(kind: str, shape_class: tuple | Callable[[], tuple], make: Callable[[], Mapping[str, Callable[[], None]]],
           default: str, *, fast: tuple | None = None) -> str:
    """The implementation to run for a layer of ``kind`` at ``shape_class``.

    ``make()`` returns the candidates, each a callable running one forward
    (and backward, in training) of that implementation at the layer's shape;
    it is only called when the decision has to be measured. ``fast``, when
    given, is a cheap exact key (raw shape, dtype, layer settings) that
    determines the shape class: a known decision is then found without
    computing ``shape_class``, which may be a callable. With tuning off,
    or where measuring is not allowed (tracing, compiling, a dispatch mode),
    a known decision is still used and otherwise ``default``.
    """
    if kind in _forced:
        return _forced[kind]
    if not enabled():
        return default
    memo = (kind, fast if fast is not None else shape_class, torch.get_num_threads())
    choice = _memo.get(memo)
    if choice is not None:
        return choice
    if callable(shape_class):
        shape_class = shape_class()
    name = kind + ":" + ",".join(str(p) for p in shape_class)
    t = tuner()
    if not _measuring_allowed():
        return t.lookup(name) or default
    choice = _memo[memo] = t.decide(name, make, default)
    return choice


@contextlib.contextmanager
def force(**choices: str):
    """Run one implementation for a layer kind, measured or not: ``with force(bn="torch", pointwise="conv")``.

    For tests (every candidate against PyTorch) and benchmarks (each piece turned off in turn).
    Kinds: ``pointwise`` (conv, matmul), ``grouped`` (conv, fp32_wgrad, kernel), ``depthwise``
    (onednn, kernel_dx, kernel_dw, kernel), ``bn`` (fused, torch).
    """
    unknown = set(choices) - set(CANDIDATES)
    if unknown:
        raise ValueError(f"unknown layer kind(s) {sorted(unknown)}; known: {sorted(CANDIDATES)}")
    for kind, choice in choices.items():
        if choice not in CANDIDATES[kind]:
            raise ValueError(f"unknown {kind} implementation {choice!r}; known: {CANDIDATES[kind]}")
    saved = dict(_forced)
    _forced.update(choices)
    try:
        yield
    finally:
        _forced.clear()
        _forced.update(saved)


# Every layer kind and its candidate implementations (the layers define what each runs).
CANDIDATES: dict[str, tuple[str, ...]] = {
    "pointwise": ("conv", "matmul"),
    "grouped": ("conv", "fp32_wgrad", "kernel", "dense"),
    "depthwise": ("onednn", "kernel_dx", "kernel_dw", "kernel"),
    "bn": ("fused", "torch"),
}


def stats() -> dict[str, object]:
    """What tuning did in this process: decisions measured and reused, seconds spent, the cache file."""
    if not enabled():
        return {"enabled": False}
    measured = sum(t.measured for t in _tuners.values())
    reused = sum(t.reused for t in _tuners.values())
    seconds = sum(t.seconds for t in _tuners.values())
    paths = [str(t.path) for t in _tuners.values()]
    return {"enabled": True, "measured": measured, "reused": reused, "seconds": round(seconds, 3),
            "cache": paths[-1] if paths else str(cache_path())}


def reset() -> None:
    """Forget in-memory decisions (tests; a changed environment)."""
    _tuners.clear()
    _by_threads.clear()
    _memo.clear()
