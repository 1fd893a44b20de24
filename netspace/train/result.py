"""The outcome of one training run, as returned by ``train`` and stored in ``result.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from netspace.spec import NetSpec, spec_from_dict
from netspace.train.schedule import Schedule

# status values: "done" (all epochs), "diverged" (NaN/inf loss; error is 100),
# "interrupted" (SIGINT/SIGTERM; a checkpoint was written, rerun to resume).
STATUSES = ("done", "diverged", "interrupted")
DIVERGED_ERROR = 100.0


@dataclass
class TrainResult:
    """Errors are percentages on ``eval_split`` ("test", or "val" for search)."""

    status: str
    epochs: int
    error: float
    best_error: float
    eval_split: str
    wall_seconds: float
    metrics: list[dict[str, Any]]
    complexity: dict[str, int]
    spec: NetSpec
    schedule: Schedule
    data: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None
    world_size: int = 1
    precision: str = ""
    layout: str = ""             # "channels_last" or "contiguous"
    precision_reason: str = ""   # why this precision and layout (e.g. bf16 emulated on this CPU)
    device: str = ""             # the CPU model (with ISA) or the GPU's name
    tuning: dict[str, Any] = field(default_factory=dict)  # the layers' autotuner in this run: decisions, seconds
    signal: int | None = None
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def test_error(self) -> float | None:
        """Final test error (%), or None when the run evaluated on the validation split."""
        return self.error if self.eval_split == "test" else None

    @property
    def val_error(self) -> float | None:
        return self.error if self.eval_split == "val" else None

    def to_json(self) -> dict[str, Any]:
        split = self.eval_split
        return {
            "status": self.status,
            "epochs": self.epochs,
            f"{split}_error": self.error,
            f"best_{split}_error": self.best_error,
            "error": self.error,
            "best_error": self.best_error,
            "eval_split": split,
            "wall_seconds": self.wall_seconds,
            "world_size": self.world_size,
            "precision": self.precision,
            "layout": self.layout,
            "precision_reason": self.precision_reason,
            "device": self.device,
            "tuning": self.tuning,
            "complexity": self.complexity,
            "spec": self.spec.to_dict(),
            "schedule": self.schedule.to_dict(),
            "data": self.data,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any], metrics: list[dict[str, Any]], out_dir: Path | None) -> "TrainResult":
        return cls(status=d["status"], epochs=d["epochs"], error=d["error"], best_error=d["best_error"],
                   eval_split=d["eval_split"], wall_seconds=d["wall_seconds"], metrics=metrics,
                   complexity=d["complexity"], spec=spec_from_dict(d["spec"]),
                   schedule=Schedule.from_dict(d["schedule"]), data=d.get("data", {}), out_dir=out_dir,
                   world_size=d.get("world_size", 1), precision=d.get("precision", ""),
                   layout=d.get("layout", ""), precision_reason=d.get("precision_reason", ""),
                   device=d.get("device", ""), tuning=d.get("tuning", {}))
