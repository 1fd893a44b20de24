"""The hyper-parameters of one training run, and the learning rate they imply at each step."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

from netspace.errors import NetspaceError

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
EVAL_SPLITS = ("test", "val")


class TrainError(NetspaceError):
    """A training run was asked for with impossible settings, or cannot resume."""


@dataclass(frozen=True)
class Schedule:
    """Everything that decides a run's trajectory besides the spec and the data.

    Defaults are tuned for small images (28-32px) and short runs (5-20 epochs);
    see the :mod:`netspace.train` docstring for why each value.
    """

    epochs: int = 10
    batch_size: int = 128           # global: split evenly over DDP ranks
    lr: float = 0.2                 # peak learning rate, reached after warmup
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    decay_norm_and_bias: bool = False   # False: no weight decay on BN and biases
    warmup_epochs: float = 1.0
    warmup_factor: float = 0.1      # lr starts at lr * warmup_factor
    final_lr_factor: float = 0.0    # cosine ends at lr * final_lr_factor
    label_smoothing: float = 0.1
    ema_decay: float = 0.0          # 0 disables the weight EMA
    zero_init_last_bn: bool = False
    augment: bool = True            # random crop + flip per the dataset's policy
    precision: str = "auto"         # auto | bf16 | fp16 | fp32
    channels_last: bool | None = None   # None: the faster layout for the device (see precision.py)
    eval_split: str = "test"        # "val" for search: never select on test
    seed: int = 0

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Schedule":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TrainError(f"schedule: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
        return cls(**data)

    def replace(self, **changes: Any) -> "Schedule":
        return dataclasses.replace(self, **changes)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _validate(s: Schedule) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise TrainError(f"schedule: {message}")

    need(_is_int(s.epochs) and s.epochs >= 1, f"epochs must be a positive integer, got {s.epochs!r}")
    need(_is_int(s.batch_size) and s.batch_size >= 1, f"batch_size must be a positive integer, got {s.batch_size!r}")
    need(_is_num(s.lr) and s.lr > 0, f"lr must be a positive number, got {s.lr!r}")
    need(_is_num(s.momentum) and 0 <= s.momentum < 1, f"momentum must be in [0, 1), got {s.momentum!r}")
    need(isinstance(s.nesterov, bool), f"nesterov must be true or false, got {s.nesterov!r}")
    need(not (s.nesterov and s.momentum == 0), "nesterov needs momentum > 0; set nesterov=False or momentum")
    need(_is_num(s.weight_decay) and s.weight_decay >= 0, f"weight_decay must be >= 0, got {s.weight_decay!r}")
    need(_is_num(s.warmup_epochs) and 0 <= s.warmup_epochs <= s.epochs,
         f"warmup_epochs must be in [0, epochs], got {s.warmup_epochs!r}")
    need(_is_num(s.warmup_factor) and 0 <= s.warmup_factor <= 1, f"warmup_factor must be in [0, 1], got {s.warmup_factor!r}")
    need(_is_num(s.final_lr_factor) and 0 <= s.final_lr_factor <= 1,
         f"final_lr_factor must be in [0, 1], got {s.final_lr_factor!r}")
    need(_is_num(s.label_smoothing) and 0 <= s.label_smoothing < 1,
         f"label_smoothing must be in [0, 1), got {s.label_smoothing!r}")
    need(_is_num(s.ema_decay) and 0 <= s.ema_decay < 1, f"ema_decay must be in [0, 1) (0 = off), got {s.ema_decay!r}")
    need(s.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got {s.precision!r}")
    need(s.channels_last in (None, True, False), f"channels_last must be true, false or null, got {s.channels_last!r}")
    need(s.eval_split in EVAL_SPLITS, f"eval_split must be one of {', '.join(EVAL_SPLITS)}, got {s.eval_split!r}")
    need(_is_int(s.seed) and s.seed >= 0, f"seed must be a non-negative integer, got {s.seed!r}")


def lr_at(s: Schedule, step: int, steps_per_epoch: int) -> float:
    """Learning rate for iteration ``step`` (0-based) of the whole run.

    Half-cosine from ``lr`` to ``lr * final_lr_factor`` over all iterations,
    multiplied during warmup by a factor rising linearly from ``warmup_factor``
    to 1 (the pycls form: warmup and cosine share the clock, so the schedule
    is one formula and stepping it per iteration avoids epoch-edge jumps).
    """
    total = s.epochs * steps_per_epoch
    final = s.lr * s.final_lr_factor
    lr = final + (s.lr - final) * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    warmup = s.warmup_epochs * steps_per_epoch
    if step < warmup:
        alpha = step / warmup
        lr *= s.warmup_factor * (1.0 - alpha) + alpha
    return lr
