"""The hyper-parameters of one training run, and the learning rate they imply at each step."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from netspace.errors import NetspaceError
from netspace.fields import from_mapping
from netspace.fields import help_meta as _help

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
EVAL_SPLITS = ("test", "val")
CHOICES = {"precision": PRECISIONS, "eval_split": EVAL_SPLITS}


# Zero-initialised last BN of every residual branch, the same default in
# train, sweep, search and study (see the netspace.train docstring for the
# measurement behind it).
ZERO_INIT_LAST_BN = True


class TrainError(NetspaceError):
    """A training run was asked for with impossible settings, or cannot resume."""


@dataclass(frozen=True)
class Schedule:
    """Everything that decides a run's trajectory besides the spec and the data.

    Defaults are tuned for small images (28-32px) and short runs (5-20 epochs);
    see the :mod:`netspace.train` docstring for why each value.
    """

    epochs: int = field(default=10, metadata=_help("epochs"))
    batch_size: int = field(default=128, metadata=_help("global batch size (split evenly over DDP ranks)"))
    lr: float = field(default=0.2, metadata=_help("peak learning rate, reached after warmup"))
    momentum: float = field(default=0.9, metadata=_help("SGD momentum"))
    nesterov: bool = field(default=True, metadata=_help("Nesterov momentum"))
    weight_decay: float = field(default=5e-4, metadata=_help("weight decay (not on BN and biases unless "
                                                             "--decay-norm-and-bias)"))
    decay_norm_and_bias: bool = field(default=False, metadata=_help("apply weight decay to BN and biases too"))
    warmup_epochs: float = field(default=1.0, metadata=_help("linear warmup length in epochs (0 = none)"))
    warmup_factor: float = field(default=0.1, metadata=_help("the lr starts at lr x this factor"))
    final_lr_factor: float = field(default=0.0, metadata=_help("the cosine ends at lr x this factor"))
    label_smoothing: float = field(default=0.1, metadata=_help("label smoothing"))
    ema_decay: float = field(default=0.0, metadata=_help("weight EMA decay per step (0 = off)"))
    zero_init_last_bn: bool = field(default=ZERO_INIT_LAST_BN, metadata=_help(
        "start each residual branch's last BN at zero, so blocks start as identities"))
    augment: bool = field(default=True, metadata=_help("random crop + flip per the dataset's policy"))
    precision: str = field(default="auto", metadata=_help(
        "auto: the fastest correct path on this machine (bf16 + channels_last where bf16 is native, "
        "fp32 + channels_last elsewhere); fp32: the plain NCHW path; bf16; fp16 (CUDA)"))
    channels_last: bool | None = field(default=None, metadata=_help(
        "memory layout (default: the faster one for the device and precision)"))
    eval_split: str = field(default="test", metadata=_help("split to evaluate on: test, or val (needs "
                                                           "--val-fraction > 0; searches select on val)"))
    seed: int = field(default=0, metadata=_help("seed of the sampling, data split and subset, init, data "
                                                "order and augmentation"))

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Schedule":
        return from_mapping(cls, data, TrainError, "schedule")

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
