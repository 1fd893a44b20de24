"""A per-block latency lookup table: time each distinct block once, predict networks as sums.

As Once-for-All and ProxylessNAS do for their search spaces, a network's
latency is predicted as the sum of the latencies of its parts (stem, every
block, head), each timed alone on an input of its own shape. Blocks are keyed
by a :class:`BlockSignature` holding everything that decides their cost
(kind, input/output widths, input size, stride, groups, kernel, inner width,
SE width, activation), so the many repeated blocks of a stage, and blocks
shared between networks of a population, are timed once.

The prediction leaves out what happens between blocks (Python dispatch of
the container, memory traffic of a block's output reaching the next block
cold or warm); :func:`lookup_error` measures how much that matters on a
population of networks.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, astuple, dataclass, fields
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from scipy import stats
from torch import nn

from netspace.blocks import BLOCKS, POOL_SKIP
from netspace.latency.measure import DEFAULT_REL_TOLERANCE, MODES, LatencyError, check_device, measure
from netspace.models import build
from netspace.spec import NetSpec, Stage


@dataclass(frozen=True, order=True)
class BlockSignature:
    """What decides one part's cost. ``kind`` is a block kind, ``stem:<kind>`` or ``head``.

    ``size`` is the input's height (= width); ``inner`` the bottleneck or
    expanded width (the head conv's width for the head, 0 if none); ``se``
    the SE width (0: no SE); for the head ``w_out`` is the class count.
    ``skip`` is the stage's (``True``, ``False`` or ``"pool"``), written as
    ``True`` for a pooled shortcut where it is the identity (stride 1, same width).
    """

    kind: str
    w_in: int
    w_out: int
    size: int
    stride: int
    groups: int
    kernel: int
    inner: int
    se: int
    activation: str
    skip: bool | str = True


def _entry_order(entry: tuple[BlockSignature, float]) -> tuple:
    """Sort key of a table entry: the signature's fields, ``skip`` as text (it may be a bool or ``"pool"``)."""
    sig = entry[0]
    return (*astuple(sig)[:-1], str(sig.skip))


def _out_size(size: int, stride: int) -> int:
    return (size - 1) // stride + 1


def _signature(st: Stage, w_in: int, size: int, stride: int, act: str) -> BlockSignature:
    """The cost-deciding description of one block of stage ``st`` with input width ``w_in`` at ``size``."""
    groups, kernel, inner, se = BLOCKS[st.block].latency_key(st, w_in)
    skip = True if st.skip == POOL_SKIP and stride == 1 and w_in == st.width else st.skip
    return BlockSignature(st.block, w_in, st.width, size, stride, groups, kernel, inner, se, act, skip)


def parts(spec: NetSpec, net: nn.Module | None = None) -> list[tuple[BlockSignature, Callable[[], nn.Module]]]:
    """Every part of the network (stem, each block, head) in order, with a function returning that part.

    The parts are the modules of ``net`` (default: a network built from
    ``spec``), so they are exactly what runs when the whole network runs.
    """
    net = build(spec) if net is None else net
    act = spec.activation
    stem = spec.stem
    size = spec.resolution
    out: list[tuple[BlockSignature, Callable[[], nn.Module]]] = [(
        BlockSignature(f"stem:{stem.kind}", spec.in_channels, stem.width, size, stem.total_stride, 1,
                       7 if stem.kind == "resnet" else 3, 0, 0, act, False),
        lambda: net.stem,
    )]
    size = _out_size(_out_size(size, stem.stride), 2) if stem.kind == "resnet" else _out_size(size, stem.stride)
    w_in = stem.width
    for i, st in enumerate(spec.stages, 1):
        stage = getattr(net, f"s{i}")
        for j in range(st.depth):
            stride = st.stride if j == 0 else 1
            out.append((_signature(st, w_in, size, stride, act), lambda m=stage[j]: m))
            size = _out_size(size, stride)
            w_in = st.width
    head = BlockSignature("head", w_in, spec.num_classes, size, 1, 1, 1, spec.head_width, 0, act, False)
    out.append((head, lambda: net.head))
    return out


_SETTINGS = ("batch", "device", "threads", "mode", "statistic")
# Which statistic of a block's step times the table keeps: the median, or the
# 10th percentile or minimum, which a machine busy with other work disturbs less.
STATISTICS = ("median", "p10", "min")


class LatencyTable:
    """Median latency (ms) of each distinct block signature at one setting (batch, device, threads, mode).

    ``predict(spec)`` sums the table over the spec's parts, timing any part
    not yet in the table first (``measure_missing=False`` makes that an
    error instead). ``save``/``load`` keep a table as JSON, so it is built
    once per machine.
    """

    def __init__(self, *, batch: int = 1, device: str = "cpu", threads: int | None = None,
                 mode: str = "inference", warmup: int = 3, max_seconds: float = 2.0,
                 rel_tolerance: float = DEFAULT_REL_TOLERANCE, statistic: str = "median",
                 entries: dict[BlockSignature, float] | None = None) -> None:
        check_device(device)
        if statistic not in STATISTICS:
            raise LatencyError(f"statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")
        if mode not in MODES:
            raise LatencyError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < (2 if mode == "train" else 1):
            raise LatencyError(f"batch must be an integer >= {2 if mode == 'train' else 1} for {mode}, got {batch!r}")
        self.batch, self.device, self.threads, self.mode = batch, str(device), threads, mode
        self.warmup, self.max_seconds, self.rel_tolerance = warmup, max_seconds, rel_tolerance
        self.statistic = statistic
        self.entries: dict[BlockSignature, float] = dict(entries or {})

    def __len__(self) -> int:
        return len(self.entries)

    def settings(self) -> dict[str, Any]:
        return {"batch": self.batch, "device": self.device, "threads": self.threads, "mode": self.mode,
                "statistic": self.statistic}

    def _time(self, sig: BlockSignature, make: Callable[[], nn.Module]) -> float:
        result = measure(make(), batch=self.batch, resolution=sig.size, in_channels=sig.w_in, device=self.device,
                         threads=self.threads, mode=self.mode, warmup=self.warmup, max_seconds=self.max_seconds,
                         rel_tolerance=self.rel_tolerance)
        return getattr(result, f"{self.statistic}_ms")

    def add(self, spec: NetSpec) -> int:
        """Time the parts of ``spec`` missing from the table; returns how many were timed."""
        timed = 0
        for sig, make in parts(spec):
            if sig not in self.entries:
                self.entries[sig] = self._time(sig, make)
                timed += 1
        return timed

    def breakdown(self, spec: NetSpec, *, measure_missing: bool = True) -> list[tuple[BlockSignature, float]]:
        """(signature, ms) of every part of ``spec``, in order."""
        if measure_missing:
            self.add(spec)
        out = []
        for sig, _ in parts(spec):
            if sig not in self.entries:
                raise LatencyError(f"block {sig.kind} (w_in {sig.w_in}, w_out {sig.w_out}, size {sig.size}) is not "
                                   "in the lookup table; call predict with measure_missing=True to time it")
            out.append((sig, self.entries[sig]))
        return out

    def predict(self, spec: NetSpec, *, measure_missing: bool = True) -> float:
        """Predicted latency of ``spec`` in ms: the sum over its parts."""
        return float(sum(ms for _, ms in self.breakdown(spec, measure_missing=measure_missing)))

    # -- persistence -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"settings": self.settings(),
                "entries": [{**asdict(sig), "ms": ms} for sig, ms in sorted(self.entries.items(), key=_entry_order)]}

    def save(self, path: str | os.PathLike) -> None:
        """Write the table as JSON (atomically: write a temporary file, then rename)."""
        path = os.fspath(path)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike, **settings: Any) -> "LatencyTable":
        """A saved table; ``settings`` given here must match the saved ones (else a LatencyError)."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            saved = data["settings"]
            names = {f.name for f in fields(BlockSignature)}
            entries = {BlockSignature(**{k: e[k] for k in names}): float(e["ms"]) for e in data["entries"]}
        except OSError as e:
            raise LatencyError(f"cannot read lookup table {path!r}: {e.strerror}") from None
        except (ValueError, KeyError, TypeError) as e:
            raise LatencyError(f"{path}: not a latency lookup table ({type(e).__name__}: {e}); "
                               "delete it or pass another path") from None
        differ = [k for k in _SETTINGS if k in settings and settings[k] != saved.get(k)]
        if differ:
            raise LatencyError(f"{path}: lookup table was measured with other settings ("
                               + ", ".join(f"{k}={saved.get(k)!r}, asked {settings[k]!r}" for k in differ)
                               + "); use another table file")
        extra = {k: v for k, v in settings.items() if k not in _SETTINGS}
        return cls(**{k: saved[k] for k in _SETTINGS if k in saved}, **extra, entries=entries)


def lookup_error(specs: Iterable[NetSpec], table: LatencyTable, *, warmup: int = 5,
                 max_seconds: float = 5.0) -> dict[str, Any]:
    """Lookup-table prediction against direct measurement on a population of networks.

    Direct timings use the table's statistic (median, p10 or min). Returns ``{"rows": [{"index", "name", "measured_ms", "predicted_ms", "rel_error"}, ...],
    "median_abs_rel_error", "mean_abs_rel_error", "spearman", "n"}``, where
    ``rel_error = predicted / measured - 1``.
    """
    rows = []
    for i, spec in enumerate(specs):
        direct = measure(spec, batch=table.batch, device=table.device, threads=table.threads, mode=table.mode,
                         warmup=warmup, max_seconds=max_seconds, rel_tolerance=table.rel_tolerance)
        predicted = table.predict(spec)
        rows.append({"index": i, "name": spec.name, "measured_ms": getattr(direct, f"{table.statistic}_ms"), "predicted_ms": predicted,
                     "rel_error": predicted / direct.median_ms - 1.0})
    if not rows:
        raise LatencyError("lookup_error needs at least one network")
    return {"rows": rows, **prediction_error([r["measured_ms"] for r in rows], [r["predicted_ms"] for r in rows])}


def prediction_error(measured: Sequence[float], predicted: Sequence[float]) -> dict[str, Any]:
    """``n``, median and mean of |predicted / measured - 1|, and the Spearman rank correlation."""
    m, p = np.asarray(measured, dtype=float), np.asarray(predicted, dtype=float)
    rel = np.abs(p / m - 1.0)
    rho = float(stats.spearmanr(m, p).statistic) if m.size > 2 else float("nan")
    return {"n": int(m.size), "median_abs_rel_error": float(np.median(rel)), "mean_abs_rel_error": float(rel.mean()),
            "spearman": rho}
