"""Whether a network can train here at all, decided from its spec before anything is allocated.

The spec's complexity is exact and cheap (``netspace.complexity``), so a
network whose *smallest possible* training footprint exceeds this machine's
available memory is refused with one line instead of growing until the
operating system kills it. The bound is a lower bound, never an estimate
that could refuse a network that fits: every counted activation of a batch
held once in the training dtype (backward needs at least the conv outputs),
plus the weights, their gradients and the optimizer's momentum in fp32.
"""

from __future__ import annotations

from typing import Any

from netspace.errors import NetspaceError
from netspace.resources import available_bytes, gib

__all__ = ["PARAM_COPIES", "available_bytes", "check_fits", "minimum_training_bytes"]

PARAM_COPIES = 3  # weights, gradients, momentum


def minimum_training_bytes(cx: dict[str, int], batch: int, act_bytes: int = 4) -> int:
    """The least memory training ``cx`` (flops, params, acts of one image) on ``batch`` images can take."""
    return int(cx["acts"]) * int(batch) * act_bytes + int(cx["params"]) * 4 * PARAM_COPIES


def check_fits(cx: dict[str, int], batch: int, device: Any = "cpu", *, act_bytes: int = 4, what: str = "train") -> None:
    """A one-line NetspaceError when even the minimum footprint exceeds the memory available on ``device``."""
    need = minimum_training_bytes(cx, batch, act_bytes)
    have = available_bytes(device)
    if have is not None and need > have:
        raise NetspaceError(
            f"{what}: this network needs at least {gib(need)} to train on a batch of {batch} "
            f"({cx['params']:,} params, {cx['acts']:,} activations per image), more than the {gib(have)} "
            f"available on {device}; use a smaller model or input, or a smaller --batch-size")
