"""Build a ``torch.nn.Module`` from a :class:`netspace.spec.NetSpec`."""

from __future__ import annotations

from netspace.models.net import Network, init_weights
from netspace.spec import NetSpec

__all__ = ["Network", "build", "init_weights"]


def build(spec: NetSpec, *, zero_init_last_bn: bool = False) -> Network:
    """The network a spec describes, initialized as in the reference implementation."""
    model = Network(spec)
    init_weights(model, zero_init_last_bn=zero_init_last_bn)
    return model
