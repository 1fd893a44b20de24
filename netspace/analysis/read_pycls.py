"""Reader of the reference implementation's sweep file (pycls ``tools/sweep_collect.py`` -> ``sweep.json``).

The file is a JSON list with one record per job: each record is the job's
``json_stats`` log lines grouped by ``_type`` (``cfg``, ``complexity``,
``train_epoch``, ``test_epoch``, ``test_ema_epoch``, ``epoch_times``; per-epoch
types hold a list per metric sorted by epoch, with ``epoch_ind``/``epoch_max``
split from ``"i/n"``), plus ``log_file``, ``err_file`` and ``err`` (the job's
stderr). Errors (``top1_err``) are percentages. A job is done when its last
test epoch is the last epoch; NaN losses (pycls stops with "NaN losses" on
stderr) mark it diverged; other stderr output of an unfinished job marks it
failed.

Design columns take netspace's names (those of its own spaces), so a pycls
sweep and a netspace sweep of the same space share them: RegNet ``depth``,
``w0``, ``wa``, ``wm``, ``group_width``, ``bottleneck_ratio`` (b = 1 /
``BOT_MUL``), ``se_ratio``; AnyNet ``depth1..K``, ``width1..K``,
``group_width1..K`` (channels per group, ``GROUP_WS``),
``bottleneck_ratio1..K`` (1 / ``BOT_MULS``) and the total ``depth``;
EfficientNet ``depth1..K``, ``width1..K``, ``expansions1..K``.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pandas as pd

from netspace.analysis._checks import AnalysisError
from netspace.analysis._json import is_bad, load_json, number, sweep_name
from netspace.errors import SpecError
from netspace.spaces.regnet import adjust_block_compatibility, quantized_widths, stages_from_widths
from netspace.schema import canonical

FORMAT = "a pycls sweep.json (a list of per-job log records from tools/sweep_collect.py)"


def _regnet(cfg: dict[str, Any]) -> tuple[dict[str, float], list[int] | None]:
    r = cfg.get("REGNET", {})
    params = {"depth": r.get("DEPTH"), "w0": r.get("W0"), "wa": r.get("WA"), "wm": r.get("WM"),
              "group_width": r.get("GROUP_W"), "bottleneck_ratio": 1.0 / r["BOT_MUL"] if r.get("BOT_MUL") else None}
    if r.get("SE_ON"):
        params["se_ratio"] = r.get("SE_R", 0.25)
    try:
        block_w, _ = quantized_widths(int(params["depth"]), int(params["w0"]), float(params["wa"]),
                                      float(params["wm"]))
        widths, depths = stages_from_widths(block_w)
        widths, _ = adjust_block_compatibility(widths, [params["bottleneck_ratio"] or 1.0] * len(widths),
                                               [int(params["group_width"] or 1)] * len(widths))
        blocks = [w for w, n in zip(widths, depths) for _ in range(n)]
    except (SpecError, TypeError, ValueError):
        blocks = None
    return params, blocks


def _stagewise(section: dict[str, Any], keys: dict[str, str]) -> tuple[dict[str, float], list[int] | None]:
    """Per-stage lists (DEPTHS, WIDTHS, ...) -> depths1..K, widths1..K, ... columns and the block widths."""
    params: dict[str, float] = {}
    for key, name in keys.items():
        for i, v in enumerate(section.get(key) or [], start=1):
            if key == "BOT_MULS":  # pycls's multiplier 1/b -> netspace's bottleneck ratio b
                v = 1.0 / number(v) if number(v) > 0 else None
            if v is not None:
                params[f"{name}{i}"] = v
    depths, widths = section.get("DEPTHS") or [], section.get("WIDTHS") or []
    if depths:
        params["depth"] = sum(depths)
    blocks = [int(w) for w, n in zip(widths, depths) for _ in range(int(n))] or None
    return params, blocks


def _record(rec: Any, index: int, sweep: str, path: str) -> dict[str, Any]:
    if not isinstance(rec, dict):
        raise AnalysisError(f"{path}: record {index} is a {type(rec).__name__}, expected a dict of log data; "
                            f"expected {FORMAT}")
    cfg = rec.get("cfg") or {}
    model = str((cfg.get("MODEL") or {}).get("TYPE", "")).lower()
    if model == "regnet":
        params, blocks = _regnet(cfg)
    elif model == "anynet":
        params, blocks = _stagewise(cfg.get("ANYNET", {}), {"DEPTHS": "depths", "WIDTHS": "widths",
                                                            "GROUP_WS": "group_widths", "BOT_MULS": "bottleneck_ratios"})
    elif model == "effnet":
        params, blocks = _stagewise(cfg.get("EN", {}), {"DEPTHS": "depths", "WIDTHS": "widths",
                                                       "EXP_RATIOS": "expansions"})
    else:
        params, blocks = {}, None
    optim = cfg.get("OPTIM") or {}
    params.update(lr=optim.get("BASE_LR"), wd=optim.get("WEIGHT_DECAY"))
    test = rec.get("test_epoch") or {}
    curve = [number(v) for v in test.get("top1_err", [])]
    ind, top = test.get("epoch_ind") or [0], test.get("epoch_max") or [1]
    stderr = str(rec.get("err") or "")
    train_loss = (rec.get("train_epoch") or {}).get("loss", [])
    if is_bad(curve) or is_bad(train_loss) or "nan loss" in stderr.lower():
        status = "diverged"
    elif curve and ind[-1] == top[-1]:
        status = "done"
    elif stderr.strip():
        status = "failed"
    else:
        status = "running" if curve else "pending"
    cx = rec.get("complexity") or {}
    times = [number(t) for t in (rec.get("train_epoch") or {}).get("time_epoch", [])]
    times += [number(t) for t in test.get("time_epoch", [])]
    log_file = str(rec.get("log_file") or "")
    return {
        "sweep": sweep,
        "trial": index,
        "name": os.path.basename(os.path.dirname(log_file)) if log_file else f"job{index}",
        "status": status,
        "eval_split": "test",  # published errors are test-set errors
        "error": curve[-1] if curve else math.nan,
        "best_error": min(curve) if curve and not is_bad(curve) else math.nan,
        "flops": number(cx.get("flops")),
        "params": number(cx.get("params")),
        "acts": number(cx.get("acts")),
        "wall_seconds": float(np.nansum(times)) if times else math.nan,
        "model": model,
        **{k: number(v) for k, v in params.items() if v is not None},
        "block_widths": blocks,
        "curve": curve,
    }


def read_pycls_sweep(path: str | os.PathLike, sweep: str | None = None) -> pd.DataFrame:
    """A trials DataFrame from a pycls sweep.json; ``sweep`` defaults to the sweep's folder name."""
    return pycls_frame(load_json(path, FORMAT), path, sweep)


def pycls_frame(data: Any, path: str | os.PathLike, sweep: str | None = None) -> pd.DataFrame:
    """``read_pycls_sweep`` of already-parsed JSON ``data`` (``path`` names it in errors and gives the default label)."""
    if not isinstance(data, list):
        raise AnalysisError(f"{os.fspath(path)} holds a JSON {type(data).__name__}, expected a list; expected {FORMAT}")
    if not data:
        raise AnalysisError(f"{os.fspath(path)} holds no jobs; expected {FORMAT}")
    name = sweep or sweep_name(path)
    frame = pd.DataFrame([_record(rec, i, name, os.fspath(path)) for i, rec in enumerate(data)])
    return frame.rename(columns=canonical)  # per-stage columns under today's names: depth1, group_width1
