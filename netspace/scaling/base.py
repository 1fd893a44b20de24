"""The model to scale: a zoo name, RegNet parameters, a spec or result JSON, or a sweep/search directory.

:func:`scale_model` is the one call behind ``netspace scale``: that model,
compound-scaled, with the RegNet trend of given sweeps to compare with.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

from netspace import zoo
from netspace.run.frame import load
from netspace.run.store import STORE_NAME, Store
from netspace.scaling.compound import CompoundResult, compound_scale
from netspace.scaling.regnet_trend import fit_regnet_trend
from netspace.scaling.rules import ScalingError
from netspace.spec import NetSpec, spec_from_dict


def base_spec(model: str | os.PathLike) -> NetSpec:
    """The spec ``model`` names; for a sweep or search directory, its finished trial with the lowest error."""
    path = os.fspath(model)
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, STORE_NAME)):
            raise ScalingError(f"{path}: a directory must hold a sweep or search ({STORE_NAME}); "
                               "or give a zoo name or a spec JSON")
        with Store(path) as store:
            done = [t for t in store.trials("done") if t.error is not None]
        if not done:
            raise ScalingError(f"{path}: no finished trial yet; let the sweep or search finish some trials")
        best = min(done, key=lambda t: t.error)
        spec = spec_from_dict(best.spec)
        if not isinstance(spec, NetSpec):
            raise ScalingError(f"{path}: the best trial is a cell network; compound scaling needs a network of "
                               "stages (depth, width, resolution), e.g. a MnasNet, AnyNet or RegNet search")
        return spec.replace(name=f"{os.path.basename(os.path.abspath(path))}#{best.trial}")
    return zoo.resolve(path)


def scale_model(model: str | os.PathLike | NetSpec, data: str, *,
                regnet_sweeps: Iterable[str | os.PathLike] | None = None, **options: Any) -> CompoundResult:
    """:func:`~netspace.scaling.compound_scale` of ``model`` (a spec, or anything :func:`base_spec` takes) on
    ``data``; ``options`` are compound_scale's. With ``regnet_sweeps`` (RegNet sweep directories) the RegNet
    their trend of good models gives at each family member's flops is built (and trained) too."""
    trend = fit_regnet_trend(load(list(regnet_sweeps))) if regnet_sweeps else None
    base = model if isinstance(model, NetSpec) else base_spec(model)
    return compound_scale(base, data, regnet_trend=trend, **options)
