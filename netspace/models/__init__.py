"""Build a ``torch.nn.Module`` from a :class:`netspace.spec.NetSpec` or a ``CellNetSpec``."""

from __future__ import annotations

from torch import nn

from netspace.models.cells import CellNetwork
from netspace.models.net import Network, init_weights
from netspace.spec import NetSpec

__all__ = ["CellNetwork", "Network", "build", "init_weights"]


def build(spec: NetSpec, *, zero_init_last_bn: bool = False) -> nn.Module:
    """The network a spec (NetSpec or CellNetSpec) describes, initialized as in the reference implementation."""
    model = Network(spec) if isinstance(spec, NetSpec) else CellNetwork(spec)
    init_weights(model, zero_init_last_bn=zero_init_last_bn)
    return model
