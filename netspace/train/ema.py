"""An exponential moving average of the weights, evaluated in place of the raw model."""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightEma:
    """``ema = d * ema + (1 - d) * weights`` after every optimizer step.

    The decay ramps up as ``min(decay, (1 + t) / (10 + t))`` so the average is
    not dominated by the random initialization on short runs. BN running
    statistics are averaged like the weights (they are floats in the state
    dict); integer buffers (``num_batches_tracked``) are copied.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_floats, new_floats = [], []
        for (_, e), (_, m) in zip(self.module.state_dict().items(), model.state_dict().items()):
            if e.is_floating_point():
                ema_floats.append(e)
                new_floats.append(m.detach())
            else:
                e.copy_(m)
        torch._foreach_lerp_(ema_floats, new_floats, 1.0 - d)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
