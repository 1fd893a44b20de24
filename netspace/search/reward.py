"""Rewards: accuracy alone, or MnasNet's accuracy-latency trade-off.

MnasNet (Tan et al. 2019, eq. 2): reward(m) = ACC(m) x [LAT(m) / T]^w with
w = alpha if LAT(m) <= T else beta. The soft constraint (alpha = beta =
-0.07) trades about 5% relative accuracy for a 2x latency change on either
side of the target T; the hard one (alpha = 0, beta = -1) ignores latency
below T and divides the reward by LAT/T above it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from netspace.search.strategy import SearchError

REWARDS = ("accuracy", "mnas")
# (alpha, beta) of eq. 2 for each constraint mode.
CONSTRAINTS = {"soft": (-0.07, -0.07), "hard": (0.0, -1.0)}


def accuracy_reward(accuracy: float) -> float:
    return float(accuracy)


def mnas_reward(accuracy: float, latency: float, target: float, *, alpha: float = -0.07,
                beta: float = -0.07) -> float:
    """ACC x (LAT / T)^w, w = alpha when LAT <= T, else beta (MnasNet eq. 2)."""
    if not (math.isfinite(latency) and latency > 0):
        raise SearchError(f"mnas reward: latency must be a positive number, got {latency!r}")
    if not (math.isfinite(target) and target > 0):
        raise SearchError(f"mnas reward: target must be a positive number, got {target!r}")
    w = alpha if latency <= target else beta
    return float(accuracy) * (latency / target) ** w


@dataclass(frozen=True)
class Reward:
    """The reward of a search: ``kind`` accuracy or mnas; for mnas a ``target`` cost and a constraint.

    ``cost`` is whatever the target is measured in (milliseconds of latency,
    or multiply-adds for the flops proxy); the formula only uses LAT / T.
    """

    kind: str = "accuracy"
    target: float | None = None
    constraint: str = "soft"

    def __post_init__(self) -> None:
        if self.kind not in REWARDS:
            raise SearchError(f"unknown reward {self.kind!r}; choose one of {', '.join(REWARDS)}")
        if self.constraint not in CONSTRAINTS:
            raise SearchError(f"unknown constraint {self.constraint!r}; choose soft or hard")
        if self.kind == "mnas":
            t = self.target
            if t is None:
                raise SearchError("the mnas reward needs a target: --target-latency MS (or --target-flops "
                                  "with --latency flops)")
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
                raise SearchError(f"the mnas reward's target must be a positive number, got {t!r}")

    @property
    def needs_cost(self) -> bool:
        return self.kind == "mnas"

    @property
    def exponents(self) -> tuple[float, float]:
        return CONSTRAINTS[self.constraint]

    def __call__(self, accuracy: float, cost: float | None = None) -> float:
        """Reward of a model with ``accuracy`` (a fraction in [0, 1]) and, for mnas, its ``cost``."""
        if self.kind == "accuracy":
            return accuracy_reward(accuracy)
        if cost is None:
            raise SearchError("the mnas reward needs the model's latency (or flops)")
        alpha, beta = self.exponents
        return mnas_reward(accuracy, cost, float(self.target), alpha=alpha, beta=beta)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "constraint": self.constraint}
