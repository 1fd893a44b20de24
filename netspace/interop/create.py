"""``create_model``: a zoo model by any library's name, adapted to an input, optionally with weights."""

from __future__ import annotations

import os
import sys

from torch import nn

from netspace import zoo
from netspace.errors import SpecError
from netspace.interop.weights import load_weights
from netspace.models import build
from netspace.spec import NetSpec, for_input


def create_model(name: str | NetSpec, *, num_classes: int = 1000, in_chans: int = 3, resolution: int | None = None,
                 weights: str | os.PathLike | None = None, weights_from: str | None = None) -> nn.Module:
    """The network ``name`` describes, initialised, in training mode.

    ``name`` is anything ``netspace.zoo.resolve`` takes (a zoo name or
    timm's, torchvision's or pycls's name for it, RegNet parameters, a spec
    JSON file) or a spec. The network is adapted to ``num_classes``,
    ``in_chans`` and ``resolution`` (default: the model's own) with
    ``netspace.spec.for_input``. ``weights`` is a checkpoint of this model in
    pycls's, timm's, torchvision's or netspace's format (``weights_from``
    names which; default: found from its keys), converted on load; a new
    classifier or stem input is adapted and said on stderr, one line each.

    The module has ``forward_features(x)`` (the features before pooling and
    the classifier), ``feature_info`` (per stage: ``stage``, ``width``,
    ``stride``) and ``spec``.
    """
    spec = zoo.resolve(os.fspath(name)) if isinstance(name, (str, os.PathLike)) else name
    if not isinstance(spec, NetSpec):
        raise SpecError(f"create_model: {getattr(spec, 'name', '') or 'this spec'} is a cell network; "
                        "create_model builds stage networks (use netspace.build for cells)")
    for opt, v in (("num_classes", num_classes), ("in_chans", in_chans), ("resolution", resolution)):
        if v is not None and (not isinstance(v, int) or v < 1):
            raise SpecError(f"create_model: {opt} must be a positive integer, got {v!r}")
    res = resolution or spec.resolution
    target = spec
    if (num_classes, in_chans, res) != (spec.num_classes, spec.in_channels, spec.resolution):
        target = for_input(spec, in_channels=in_chans, resolution=res, num_classes=num_classes)
    model = build(target)
    if weights is not None:
        for note in load_weights(model, weights, spec=spec, library=weights_from):
            print(f"netspace: {note}", file=sys.stderr)
    return model
