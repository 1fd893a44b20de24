"""The devices netspace runs on: "cpu", "cuda" or "cuda:N", checked before anything is built on them."""

from __future__ import annotations

import torch

from netspace.errors import NetspaceError


class DeviceError(NetspaceError, ValueError):
    """A device that does not exist here, or that netspace does not run on."""


def check_device(device: str | torch.device, *, error: type[NetspaceError] = DeviceError) -> torch.device:
    """A usable torch device from "cpu", "cuda" or "cuda:N"; ``error`` naming the fix otherwise."""
    text = str(device)
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise error(f"unknown device {text!r}; use cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise error(f"device {text!r} is not supported; use cpu, cuda or cuda:N")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise error(f"device {text!r}: CUDA is not available on this machine; use --device cpu")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise error(f"device {text!r}: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})")
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    return dev
