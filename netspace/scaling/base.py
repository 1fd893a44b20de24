"""The model to scale: a zoo name, RegNet parameters, a spec or result JSON, or a sweep/search directory."""

from __future__ import annotations

import os

from netspace import zoo
from netspace.run.store import STORE_NAME, Store
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
