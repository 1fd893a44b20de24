"""Reader of the published "On Network Design Spaces" data (facebookresearch/nds, ``data/<space>.json``).

Each file is one design space: a JSON list of model records (some files wrap
it as ``{"top": [...], "mid": [...]}``). A record holds ``job_id``,
``rng_seed``, ``net`` (for ResNet/ResNeXt/Vanilla spaces: ``block_type``,
per-stage ``ds``, ``ws``, ``ss``, ``bot_muls``, ``num_gs``; for cell spaces
NASNet/Amoeba/PNAS/ENAS/DARTS: ``genotype``, ``width``, ``depth``, ``aux``),
``optim`` (``base_lr``, ``wd``, ``max_ep``, ...), ``flops``, ``params``,
per-epoch ``train_ep_top1``, ``train_ep_loss``, ``test_ep_top1`` (percent
errors), ``min_test_top1``, and timing/memory fields.

A model's ``error`` is its minimum test error (``min_test_top1``) by
default: the NDS paper compares design spaces by the EDFs of that error (its
released notebooks plot ``min_test_top1``). ``error="last"`` takes the last
epoch's test error instead, as netspace's own sweeps record it.

Columns, in netspace's names (those of its own spaces): ``depth1..K``,
``width1..K``, ``strides1..K``, ``bottleneck_ratio1..K`` (b = 1 / the
file's ``bot_muls``, the RegNet paper's convention), ``groups1..K`` (the
file's ``num_gs``: the *number* of groups of each stage's 3x3 conv), and,
where the bottleneck width divides evenly, ``group_width1..K`` (channels per
group, the quantity netspace's spaces sample); ``depth`` is the total number
of blocks, ``lr`` and ``wd`` the optimizer's.
"""

from __future__ import annotations

import math
import os
from typing import Any

import pandas as pd

from netspace.analysis._checks import AnalysisError
from netspace.analysis._json import is_bad, load_json, number, sweep_name
from netspace.schema import canonical

FORMAT = "an NDS sweep file (a JSON list of records with net, flops, params and test_ep_top1)"
_STAGEWISE = {"ds": "depths", "ws": "widths", "ss": "strides", "num_gs": "groups"}
ERRORS = ("min", "last")


def _stages(net: dict[str, Any]) -> dict[str, float]:
    """Per-stage columns of a ResNet/ResNeXt/Vanilla record (see the module docstring)."""
    params: dict[str, float] = {}
    for key, name in _STAGEWISE.items():
        for i, v in enumerate(net.get(key) or [], start=1):
            params[f"{name}{i}"] = v
    widths, groups = net.get("ws") or [], net.get("num_gs") or []
    for i, m in enumerate(net.get("bot_muls") or [], start=1):
        m = number(m)
        if not m > 0:
            continue
        params[f"bottleneck_ratios{i}"] = 1.0 / m
        if i <= min(len(widths), len(groups)):
            inner, g = number(widths[i - 1]) * m, number(groups[i - 1])
            if g > 0 and inner == int(inner) and int(inner) % int(g) == 0:
                params[f"group_widths{i}"] = int(inner) // int(g)
    return params


def _record(rec: Any, index: int, sweep: str, path: str, error: str) -> dict[str, Any]:
    if not isinstance(rec, dict) or "test_ep_top1" not in rec:
        raise AnalysisError(f"{path}: record {index} has no test_ep_top1; expected {FORMAT}")
    net = rec.get("net") or {}
    optim = rec.get("optim") or {}
    params: dict[str, float] = {}
    blocks = None
    if "genotype" in net:
        params.update(width=net.get("width"), depth=net.get("depth"))
    else:
        params.update(_stages(net))
        ds, ws = net.get("ds") or [], net.get("ws") or []
        if ds:
            params["depth"] = sum(ds)
        blocks = [int(w) for w, n in zip(ws, ds) for _ in range(int(n))] or None
    params.update(lr=optim.get("base_lr"), wd=optim.get("wd"))
    curve = [number(v) for v in rec.get("test_ep_top1") or []]
    max_ep = optim.get("max_ep")
    if is_bad(curve) or is_bad(rec.get("train_ep_loss") or []):
        status = "diverged"
    elif curve and (max_ep is None or len(curve) >= int(max_ep)):
        status = "done"
    else:
        status = "failed"  # published data: a short curve is a run that stopped
    best = number(rec.get("min_test_top1")) if "min_test_top1" in rec else (min(curve) if curve else math.nan)
    last = curve[-1] if curve else math.nan
    return {
        "sweep": sweep,
        "trial": index,
        "name": str(rec.get("job_id", index)),
        "status": status,
        "eval_split": "test",  # published errors are test-set errors
        "error": best if error == "min" else last,
        "best_error": best,
        "flops": number(rec.get("flops")),
        "params": number(rec.get("params")),
        "acts": math.nan,  # NDS records do not count activations
        "wall_seconds": math.nan,
        "model": str(net.get("block_type", "cell" if "genotype" in net else "")),
        **{k: number(v) for k, v in params.items() if v is not None},
        "block_widths": blocks,
        "curve": curve,
    }


def read_nds(path: str | os.PathLike, sweep: str | None = None, *, error: str = "min") -> pd.DataFrame:
    """A trials DataFrame from one NDS design-space file; ``sweep`` defaults to the file's stem (e.g. ResNeXt-A).

    ``error``: "min" (each model's minimum test error, ``min_test_top1``, what
    the NDS paper's EDFs use) or "last" (the last epoch's test error).
    """
    if error not in ERRORS:
        raise AnalysisError(f"NDS error must be one of {', '.join(ERRORS)}, got {error!r}")
    data = load_json(path, FORMAT)
    return nds_frame(data, path, sweep, error=error)


def nds_frame(data: Any, path: str | os.PathLike, sweep: str | None = None, *, error: str = "min") -> pd.DataFrame:
    """``read_nds`` of already-parsed JSON ``data`` (``path`` names it in errors and gives the default label)."""
    if isinstance(data, dict) and ("top" in data or "mid" in data):
        data = list(data.get("top") or []) + list(data.get("mid") or [])
    if not isinstance(data, list):
        raise AnalysisError(f"{os.fspath(path)} holds a JSON {type(data).__name__}, expected a list; expected {FORMAT}")
    if not data:
        raise AnalysisError(f"{os.fspath(path)} holds no models; expected {FORMAT}")
    name = sweep or sweep_name(path)
    frame = pd.DataFrame([_record(rec, i, name, os.fspath(path), error) for i, rec in enumerate(data)])
    return frame.rename(columns=canonical)  # per-stage columns under today's names: depth1, group_width1
