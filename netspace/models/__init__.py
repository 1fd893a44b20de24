"""Build a ``torch.nn.Module`` from a spec: :func:`network` dispatches on the spec's type.

Stage networks (:class:`netspace.spec.NetSpec`) are built by :class:`Network`,
each block by the module its kind declares (``netspace.blocks``); cell
networks (``CellNetSpec``) by :class:`CellNetwork`. A new spec kind adds one
``network.register`` line here.
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from torch import nn

from netspace.models.cells import CellNetwork
from netspace.models.net import Network, block_module, init_weights
from netspace.spec import NetSpec
from netspace.spec_cells import CellNetSpec

__all__ = ["CellNetwork", "Network", "block_module", "build", "init_weights", "network"]


@singledispatch
def network(spec: Any) -> nn.Module:
    """The (uninitialized) module a spec describes."""
    raise TypeError(f"build: expected a network spec (NetSpec or CellNetSpec), got {type(spec).__name__}")


network.register(NetSpec, Network)
network.register(CellNetSpec, CellNetwork)


def build(spec: Any, *, zero_init_last_bn: bool = False) -> nn.Module:
    """The network a spec (NetSpec or CellNetSpec) describes, initialized as in the reference implementation."""
    model = network(spec)
    init_weights(model, zero_init_last_bn=zero_init_last_bn)
    return model
