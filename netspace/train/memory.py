"""Whether a network can train here at all, decided from its spec before anything is allocated.

The spec's complexity is exact and cheap (``netspace.complexity``), so a
network whose *smallest possible* training footprint exceeds this machine's
available memory is refused with one line instead of growing until the
operating system kills it. The bound is a lower bound, never an estimate
that could refuse a network that fits: every counted activation of a batch
held once in the training dtype (backward needs at least the conv outputs),
plus the weights, their gradients and the optimizer's momentum in fp32.

Also :func:`keep_freed_memory`, how a CPU training process's allocator
treats the buffers each step frees.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

from netspace.errors import NetspaceError
from netspace.resources import available_bytes, gib

__all__ = ["PARAM_COPIES", "available_bytes", "check_fits", "keep_freed_memory", "minimum_training_bytes"]

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


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20   # glibc's largest: blocks below it come from the heap and are reused
_TRIM_THRESHOLD = 1 << 30    # free memory at the heap's top kept up to this much
_kept: bool | None = None


def keep_freed_memory() -> bool:
    """Make this process's allocator reuse freed tensor memory instead of returning it to the OS.

    A CPU training step frees and reallocates the same activation and gradient
    buffers every step. glibc's default returns large freed blocks to the
    kernel (``mmap``/trim), so the next step takes them back as fresh pages:
    2,000-3,000 page faults per step of RegNetX-200MF at batch 128, each page
    zeroed by the kernel. With blocks up to 32 MiB served from the heap and
    up to 1 GiB of free heap kept, the faults drop to about zero; what that
    is worth is the allocator line of ``benchmarks/train_throughput.py`` (on
    a 2-core AMX Xeon: the engine 1.02x, a plain fp32 PyTorch loop 1.06x).
    The price: the process keeps its peak heap until it exits, which a
    training process does anyway. Process-wide and once; glibc (Linux) only;
    ``NETSPACE_MALLOC=0`` leaves the allocator alone.
    Returns whether the setting is in effect.
    """
    global _kept
    if _kept is not None:
        return _kept
    _kept = False
    if os.environ.get("NETSPACE_MALLOC", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - raises AttributeError where the C library is not glibc
        _kept = bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and \
            bool(libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    except (OSError, AttributeError):
        pass
    return _kept
