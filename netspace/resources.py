"""How much memory this process can still get, and refusing work that cannot fit before it starts.

Every bound here compares a size known *before* allocating (from a spec's
exact complexity, a file header, an image count and resolution) with what
the machine has, and fails with one line instead of growing until the
operating system kills the process.
"""

from __future__ import annotations

import os
from typing import Any

from netspace.errors import NetspaceError


def available_bytes(device: Any = "cpu") -> int | None:
    """Memory this process can still get on ``device``: free memory on CUDA; on a CPU, MemAvailable, or less
    where an address-space limit (``ulimit -v``) leaves less room."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        import torch

        try:
            free, _ = torch.cuda.mem_get_info(device)
            return int(free)
        except Exception:  # no such device, or no driver: the allocation will say
            return None
    have = _system_available()
    room = _address_space_left()
    if room is not None:
        have = room if have is None else min(have, room)
    return have


def _address_space_left() -> int | None:
    """RLIMIT_AS minus this process's current virtual size, when a limit is set."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return max(0, soft - int(line.split()[1]) * 1024)
    except (ImportError, OSError, ValueError):
        pass
    return None


def _system_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def max_threads() -> int:
    """The most CPU threads a command may ask for: 4 per core of this machine."""
    return 4 * (os.cpu_count() or 1)


def gib(n: float) -> str:
    """``n`` bytes as '1,234.5 GiB'."""
    return f"{n / 2**30:,.1f} GiB"


def minimum_model_bytes(cx: dict[str, int], batch: int, in_channels: int, resolution: int,
                        mode: str = "inference") -> int:
    """The least memory running a network of complexity ``cx`` on a batch of this input can take.

    A lower bound, never an estimate that could refuse a network that fits:
    inference holds at least the fp32 weights and the input batch; a training
    step (``mode="train"``) also holds every counted activation of the batch,
    the gradients and the optimizer's momentum.
    """
    need = int(cx["params"]) * 4 + int(batch) * int(in_channels) * int(resolution) ** 2 * 4
    if mode == "train":
        need += int(cx["acts"]) * int(batch) * 4 + int(cx["params"]) * 8
    return need


def check_bytes(need: int, what: str, fix: str, device: Any = "cpu") -> None:
    """A one-line NetspaceError when ``need`` bytes exceed the memory available on ``device``."""
    have = available_bytes(device)
    if have is not None and need > have:
        raise NetspaceError(f"{what} needs at least {gib(need)}, more than the {gib(have)} available on {device}; "
                            f"{fix}")
