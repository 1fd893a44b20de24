"""Complexity of a built module counted by running it: the check the analytic accounting is held to.

flops: multiply-adds of convs and linears (``FlopCounterMode`` / 2) plus one
per output element of a layer with a bias; params: every parameter; acts:
output elements of every conv, linear and max-pool.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def counted(model: nn.Module, x: torch.Tensor) -> tuple[int, int, int]:
    """(params, flops, acts) of ``model`` (in eval mode) on the single image batch ``x``."""
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    bias_adds, acts = 0, 0

    def hook(module, _inp, out):
        nonlocal bias_adds, acts
        acts += out.numel()
        if getattr(module, "bias", None) is not None:
            bias_adds += out.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear, nn.MaxPool2d))]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        for h in handles:
            h.remove()
    return params, counter.get_total_flops() // 2 + bias_adds, acts
