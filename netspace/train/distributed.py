"""Data-parallel context: one process per device, started by torchrun.

The trainer never asks whether it is distributed; it calls these helpers,
which are no-ops for a single process. ``torchrun`` sets ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK``; we read them here and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False   # we initialized the process group, so we tear it down

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def setup(device: torch.device | None) -> tuple[DistContext, torch.device]:
    """Join the process group torchrun describes (gloo on CPU, NCCL on CUDA), pick the device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        if device is None:
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return DistContext(), device
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        owns = True
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, owns_group=owns), device


def teardown(ctx: DistContext) -> None:
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def all_sum(ctx: DistContext, values: list[float], device: torch.device) -> list[float]:
    """Element-wise sum over ranks (fp64 so sums of many per-sample losses stay exact enough)."""
    if not ctx.active:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def any_rank(ctx: DistContext, flags: list[bool], device: torch.device) -> list[bool]:
    """Per flag, whether any rank raised it: ranks must agree when to stop or they deadlock."""
    if not ctx.active:
        return list(flags)
    t = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def gather_tensors(ctx: DistContext, tensor: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's copy of a same-shaped tensor (RNG states), ordered by rank."""
    if not ctx.active:
        return [tensor]
    parts = [torch.empty_like(tensor) for _ in range(ctx.world_size)]
    dist.all_gather(parts, tensor)
    return parts


def barrier(ctx: DistContext) -> None:
    if ctx.active:
        dist.barrier()
