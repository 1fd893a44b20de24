"""Reader of the published "On Network Design Spaces" data (facebookresearch/nds, ``data/<space>.json``).

Each file is one design space: a JSON list of model records (some files wrap
it as ``{"top": [...], "mid": [...]}``). A record holds ``job_id``,
``rng_seed``, ``net`` (for ResNet/ResNeXt/Vanilla spaces: ``block_type``,
per-stage ``ds``, ``ws``, ``ss``, ``bot_muls``, ``num_gs``; for cell spaces
NASNet/Amoeba/PNAS/ENAS/DARTS: ``genotype``, ``width``, ``depth``, ``aux``),
``optim`` (``base_lr``, ``wd``, ``max_ep``, ...), ``flops``, ``params``,
per-epoch ``train_ep_top1``, ``train_ep_loss``, ``test_ep_top1`` (percent
errors), ``min_test_top1``, and timing/memory fields.
"""

from __future__ import annotations

import math
import os
from typing import Any

import pandas as pd

from netspace.analysis._checks import AnalysisError
from netspace.analysis._json import is_bad, load_json, number, sweep_name

FORMAT = "an NDS sweep file (a JSON list of records with net, flops, params and test_ep_top1)"
_STAGEWISE = {"ds": "d", "ws": "w", "bot_muls": "bm", "num_gs": "g"}


def _record(rec: Any, index: int, sweep: str, path: str) -> dict[str, Any]:
    if not isinstance(rec, dict) or "test_ep_top1" not in rec:
        raise AnalysisError(f"{path}: record {index} has no test_ep_top1; expected {FORMAT}")
    net = rec.get("net") or {}
    optim = rec.get("optim") or {}
    params: dict[str, float] = {}
    blocks = None
    if "genotype" in net:
        params.update(width=net.get("width"), depth=net.get("depth"))
    else:
        for key, short in _STAGEWISE.items():
            for i, v in enumerate(net.get(key) or [], start=1):
                params[f"{short}{i}"] = v
        ds, ws = net.get("ds") or [], net.get("ws") or []
        if ds:
            params["d"] = sum(ds)
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
    return {
        "sweep": sweep,
        "trial": index,
        "name": str(rec.get("job_id", index)),
        "status": status,
        "eval_split": "test",  # published errors are test-set errors
        "error": curve[-1] if curve else math.nan,
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


def read_nds(path: str | os.PathLike, sweep: str | None = None) -> pd.DataFrame:
    """A trials DataFrame from one NDS design-space file; ``sweep`` defaults to the file's stem (e.g. ResNeXt-A)."""
    data = load_json(path, FORMAT)
    if isinstance(data, dict) and ("top" in data or "mid" in data):
        data = list(data.get("top") or []) + list(data.get("mid") or [])
    if not isinstance(data, list):
        raise AnalysisError(f"{os.fspath(path)} holds a JSON {type(data).__name__}, expected a list; expected {FORMAT}")
    if not data:
        raise AnalysisError(f"{os.fspath(path)} holds no models; expected {FORMAT}")
    name = sweep or sweep_name(path)
    return pd.DataFrame([_record(rec, i, name, os.fspath(path)) for i, rec in enumerate(data)])
