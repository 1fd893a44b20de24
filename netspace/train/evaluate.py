"""Error rate of a model on a split, sharded over DDP ranks without double counting."""

from __future__ import annotations

import torch
from torch import nn

from netspace.data import Augment, Split
from netspace.train import distributed
from netspace.train.distributed import DistContext
from netspace.train.precision import Precision


@torch.inference_mode()
def error_rate(model: nn.Module, split: Split, augment: Augment, precision: Precision, device: torch.device,
               ctx: DistContext, batch_size: int) -> float:
    """Top-1 error in percent, under the same autocast as training.

    Ranks evaluate disjoint strided shards. The data layer pads the last
    shard by repeating samples so all ranks run equally many batches; those
    repeats are masked out here, so the error is exact for any world size.
    """
    was_training = model.training
    model.eval()
    n = len(split)
    wrong = torch.zeros((), dtype=torch.int64, device=device)
    seen = torch.zeros((), dtype=torch.int64, device=device)
    batches = split.batches(batch_size, shuffle=False, rank=ctx.rank, world_size=ctx.world_size)
    for k, (images, labels) in enumerate(batches):
        images = augment(images.to(device, non_blocking=True))
        labels = labels.to(device, non_blocking=True)
        with precision.autocast():
            predicted = model(images).argmax(1)
        # Element j of this rank's shard sits at position rank + j * world_size
        # of the padded epoch order; positions >= n are the padding.
        j = k * batch_size + torch.arange(len(labels), device=device)
        real = ctx.rank + j * ctx.world_size < n
        wrong += ((predicted != labels) & real).sum()
        seen += real.sum()
    model.train(was_training)
    total_wrong, total_seen = distributed.all_sum(ctx, [float(wrong), float(seen)], device)
    return 100.0 * total_wrong / max(total_seen, 1.0)
