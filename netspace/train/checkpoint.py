"""Checkpoint files: plain tensors and containers only, so ``torch.load(weights_only=True)`` reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from netspace.train.atomic import save_torch
from netspace.train.schedule import TrainError

FORMAT = 1
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
RESULT = "result.json"


def save_checkpoint(state: dict[str, Any], out_dir: Path) -> None:
    """Atomic: a SIGKILL mid-write leaves the previous checkpoint intact."""
    save_torch({"format": FORMAT, **state}, out_dir / CHECKPOINT)


def load_checkpoint(out_dir: Path) -> dict[str, Any] | None:
    """The checkpoint in ``out_dir``, or None if there is none."""
    path = out_dir / CHECKPOINT
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unpickling failure means the same thing to the user
        first = (str(e).splitlines() or [""])[0]
        raise TrainError(f"cannot read checkpoint {path} ({type(e).__name__}: {first}); "
                         f"delete it to start the run over") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise TrainError(f"{path} is not a netspace checkpoint of format {FORMAT}; delete it or use another --out")
    return state
