"""What identifies a run, so a resume can be refused when any of it changed."""

from __future__ import annotations

import zlib
from typing import Any

from netspace.data import Data, Split
from netspace.spec import NetSpec
from netspace.train.schedule import Schedule


def _labels_crc(split: Split) -> int:
    # Same size is not same data: --limit-train or --val-fraction with another
    # seed picks other samples. The label sequence is cheap to read and
    # changes with any such choice.
    return zlib.crc32(split.labels.numpy().tobytes())


def run_settings(spec: NetSpec, data: Data, schedule: Schedule, eval_split: Split) -> dict[str, Any]:
    """A plain dict of everything that fixes the trajectory (JSON- and checkpoint-safe)."""
    info = data.info
    return {
        "spec": spec.to_dict(),
        "schedule": schedule.to_dict(),
        "data": {
            "name": info.name,
            "in_channels": info.in_channels,
            "resolution": info.resolution,
            "num_classes": info.num_classes,
            "mean": list(info.mean),
            "std": list(info.std),
            "hflip": info.hflip,
            "pad": info.pad,
            "train_size": len(data.train),
            "train_labels_crc": _labels_crc(data.train),
            "eval_size": len(eval_split),
            "eval_labels_crc": _labels_crc(eval_split),
        },
    }


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in value):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}[{i}]", out)
        out[f"{prefix}.length"] = len(value)
    else:
        out[prefix] = list(value) if isinstance(value, tuple) else value


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every leaf that differs, keys as dotted paths."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(old, "", a)
    _flatten(new, "", b)
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            out.append(f"{key}: {a.get(key, '<absent>')!r} -> {b.get(key, '<absent>')!r}")
    return out
