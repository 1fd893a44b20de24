"""Weights in and out: other libraries' checkpoints to netspace's state dict and back, mapped by role.

:func:`to_netspace` takes a state dict in pycls's, timm's or torchvision's
naming (:mod:`netspace.interop.layouts`) and the spec of the network, and
returns netspace's state dict; :func:`from_netspace` goes the other way.
Every key is mapped by what its layer does (``Network.layer_roles``), never
by its position, and every shape is checked: a missing, left-over or
mis-shaped key is refused in one line naming the keys. A source's
``num_batches_tracked`` counters may be absent (older checkpoints); they are
then taken as 0. Where a library's BN epsilon differs from netspace's 1e-5
(torchvision's EfficientNet-B5..B7: 1e-3), the difference is folded into
``running_var``, which gives the same outputs exactly.

:func:`read_checkpoint` reads a file as each library saves it: pycls's
``{"model_state": ...}``, timm's bare state dict or ``{"state_dict": ...}``,
torchvision's bare state dict, netspace's training ``checkpoint.pt`` and the
weights files :func:`convert` writes (``{"format": "netspace-weights",
"spec": ..., "state_dict": ...}``). :func:`load_weights` puts any of them
into a built network, adapting what a new input needs (the stem's input
channels, a new classifier) and saying so.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from netspace.interop.layouts import BN_EPS, LAYOUTS, InteropError, Layout
from netspace.models import network
from netspace.spec import NetSpec, spec_from_dict

FORMAT = "netspace-weights"
LIBRARIES = ("pycls", "timm", "torchvision")
_OPTIONAL = "num_batches_tracked"
# Containers of a state dict, by the key each library saves it under; EMA copies beside them are ignored.
_CONTAINER_KEYS = ("model_state", "state_dict", "model")


@dataclass
class Checkpoint:
    """A file's state dict, and the spec it names when it is one of netspace's own files."""

    state_dict: dict[str, torch.Tensor]
    spec: NetSpec | None
    path: str


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """The state dict in ``path`` (any format in the module docstring), read with ``weights_only=True``."""
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise InteropError(f"no checkpoint file {name!r}")
    try:
        obj = torch.load(name, map_location="cpu", weights_only=True)
    except Exception as e:  # any unpickling failure means the same thing to the user
        first = (str(e).splitlines() or [""])[0][:160]
        raise InteropError(f"cannot read {name} as tensors only ({type(e).__name__}: {first}); "
                           f"save its state dict alone with torch.save(state_dict, path)") from None
    spec = None
    if isinstance(obj, Mapping) and obj.get("format") == FORMAT:
        spec = spec_from_dict(obj["spec"])
        obj = obj["state_dict"]
    elif isinstance(obj, Mapping) and isinstance(obj.get("settings"), Mapping) and "model" in obj:
        spec = spec_from_dict(obj["settings"]["spec"])  # netspace train's checkpoint.pt
        obj = obj["model"]
    elif isinstance(obj, Mapping) and not _is_state_dict(obj):
        found = [k for k in _CONTAINER_KEYS if _is_state_dict(obj.get(k))]
        if len(found) != 1:
            keys = ", ".join(map(str, list(obj)[:8]))
            what = f"both {' and '.join(found)}" if found else f"no state dict under {', '.join(_CONTAINER_KEYS)}"
            raise InteropError(f"{name}: holds {what} (keys: {keys}); save the one state dict to use alone")
        obj = obj[found[0]]
    if not _is_state_dict(obj):
        raise InteropError(f"{name}: not a state dict (a mapping of names to tensors)")
    state = dict(obj)
    if all(k.startswith("module.") for k in state):  # saved from a DistributedDataParallel wrapper
        state = {k[len("module."):]: v for k, v in state.items()}
    return Checkpoint(state, spec, name)


@functools.lru_cache(maxsize=16)
def _skeleton(spec: NetSpec) -> nn.Module:
    """The network of ``spec`` on the meta device: its layer roles and shapes, no memory."""
    with torch.device("meta"):
        return network(spec)


@functools.lru_cache(maxsize=64)
def key_map(spec: NetSpec, library: str) -> dict[str, str]:
    """netspace state-dict key -> ``library``'s key, for every parameter and buffer of ``spec``'s network."""
    layout: Layout = LAYOUTS[library]
    fam = layout.check(spec)
    model = _skeleton(spec)
    names = {id(m): n for n, m in model.named_modules()}
    out: dict[str, str] = {}
    for place, role, module in model.layer_roles():
        ours, theirs = names[id(module)], layout.prefix(fam, spec, place, role)
        for key in module.state_dict():
            out[f"{ours}.{key}"] = f"{theirs}.{key}"
    missing = set(model.state_dict()) - set(out)
    if missing:  # a layer without a role: a block that does not declare all its layers
        raise AssertionError(f"layers without a role: {', '.join(sorted(missing)[:4])}")
    return out


def expected_shapes(spec: NetSpec, library: str) -> dict[str, tuple[int, ...]]:
    """``library``'s state-dict keys for ``spec``'s network, with their shapes (what a manifest holds)."""
    shapes = {k: tuple(v.shape) for k, v in _skeleton(spec).state_dict().items()}
    return {theirs: shapes[ours] for ours, theirs in key_map(spec, library).items()}


def _listed(keys: list[str], limit: int = 4) -> str:
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _check_keys(spec: NetSpec, library: str, state: Mapping[str, torch.Tensor], what: str) -> dict[str, str]:
    kmap = key_map(spec, library)
    wanted = set(kmap.values())
    missing = sorted(k for k in wanted - set(state) if not k.endswith(_OPTIONAL))
    extra = sorted(set(state) - wanted)
    name = spec.name or "the model"
    if missing or extra:
        parts = ([f"missing {_listed(missing)}"] if missing else []) + ([f"left over {_listed(extra)}"]
                                                                        if extra else [])
        raise InteropError(f"{what}: not {library}'s {name}: {'; '.join(parts)}")
    return kmap


@functools.lru_cache(maxsize=16)
def _shapes_of(spec: NetSpec) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in _skeleton(spec).state_dict().items()}


def to_netspace(state: Mapping[str, torch.Tensor], spec: NetSpec, library: str, *,
                what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """netspace's state dict for ``spec`` from ``library``'s ``state`` (strict: keys, shapes; see module doc)."""
    kmap = _check_keys(spec, library, state, what)
    shapes = _shapes_of(spec)
    wrong = [f"{theirs} {tuple(state[theirs].shape)} (expected {shapes[ours]})"
             for ours, theirs in kmap.items() if theirs in state and tuple(state[theirs].shape) != shapes[ours]]
    if wrong:
        raise InteropError(f"{what}: shapes differ from {library}'s {spec.name or 'model'}: {_listed(wrong, 3)}")
    delta = LAYOUTS[library].bn_eps(spec) - BN_EPS
    out = {}
    for ours, theirs in kmap.items():
        if theirs in state:
            value = state[theirs].detach().clone()
        else:  # an absent num_batches_tracked
            value = torch.zeros((), dtype=torch.long)
        if delta and ours.endswith("running_var"):
            value = value + delta  # var + eps_theirs == (var + delta) + eps_ours
        out[ours] = value
    return out


def from_netspace(state: Mapping[str, torch.Tensor], spec: NetSpec, library: str) -> dict[str, torch.Tensor]:
    """``library``'s state dict for ``spec``'s network from netspace's ``state`` (keys and shapes checked)."""
    shapes = _shapes_of(spec)
    missing = sorted(set(shapes) - set(state))
    extra = sorted(set(state) - set(shapes))
    if missing or extra:
        parts = ([f"missing {_listed(missing)}"] if missing else []) + ([f"left over {_listed(extra)}"]
                                                                        if extra else [])
        raise InteropError(f"weights do not fit {spec.name or 'the model'}: {'; '.join(parts)}")
    wrong = [f"{k} {tuple(state[k].shape)} (expected {shapes[k]})" for k in shapes
             if tuple(state[k].shape) != shapes[k]]
    if wrong:
        raise InteropError(f"weights do not fit {spec.name or 'the model'}: {_listed(wrong, 3)}")
    delta = LAYOUTS[library].bn_eps(spec) - BN_EPS
    out = {}
    for ours, theirs in key_map(spec, library).items():
        value = state[ours].detach().clone()
        if delta and ours.endswith("running_var"):
            value = value - delta
        out[theirs] = value
    return out


def _head_and_stem(spec: NetSpec, library: str) -> tuple[str, str]:
    kmap = key_map(spec, library) if library != "netspace" else None
    fc, stem = "head.fc.weight", "stem.0.weight"
    return (kmap[fc], kmap[stem]) if kmap else (fc, stem)


def _fit_io(spec: NetSpec, library: str, state: Mapping[str, torch.Tensor]) -> NetSpec:
    """``spec`` with the class count and input channels of the checkpoint (read off its head and stem)."""
    fc, stem = _head_and_stem(spec, library)
    changes = {}
    if fc in state and state[fc].dim() == 2:
        changes["num_classes"] = int(state[fc].shape[0])
    if stem in state and state[stem].dim() == 4:
        changes["in_channels"] = int(state[stem].shape[1])
    return spec.replace(**changes) if changes else spec


def _wanted(spec: NetSpec, library: str) -> set[str]:
    return set(_shapes_of(spec)) if library == "netspace" else set(key_map(spec, library).values())


def _mismatch(spec: NetSpec, library: str, state: Mapping[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    """(missing, left-over) keys of ``state`` against ``library``'s naming of ``spec``."""
    wanted = _wanted(spec, library)
    return (sorted(k for k in wanted - set(state) if not k.endswith(_OPTIONAL)), sorted(set(state) - wanted))


def netspace_state(ck: Checkpoint, spec: NetSpec | None,
                   library: str | None = None) -> tuple[dict[str, torch.Tensor], NetSpec, str]:
    """``ck`` as netspace's state dict: (state, the spec it is for, the naming it came in).

    ``spec`` is the network the weights are for (at any class count and
    input channels: those are read off the checkpoint); a netspace file names
    its own. ``library`` is the file's naming (netspace, pycls, timm,
    torchvision); None finds it from the keys, and refuses where two namings
    fit with different results.
    """
    if ck.spec is not None and library in (None, "netspace"):
        if spec is not None and not _same_body(spec, ck.spec):
            raise InteropError(f"{ck.path} holds weights for {ck.spec.name or 'another network'}, not "
                               f"{spec.name or 'this network'}")
        return _netspace_from(ck, ck.spec, "netspace"), ck.spec, "netspace"
    if spec is None:
        raise InteropError(f"{ck.path}: name the model the weights are for (--model NAME)")
    if library is not None and library != "netspace":
        LAYOUTS[library].check(spec)  # says which networks the library has
    candidates = [library] if library else [lib for lib in ("netspace", *LIBRARIES)
                                            if lib == "netspace" or _builds(lib, spec)]
    misses = {lib: _mismatch(spec, lib, ck.state_dict) for lib in candidates}
    fits = [lib for lib, (missing, extra) in misses.items() if not missing and not extra]
    name = spec.name or "the model"
    if not fits:
        best = min(candidates, key=lambda lib: sum(map(len, misses[lib])))
        missing, extra = misses[best]
        parts = ([f"missing {_listed(missing)}"] if missing else []) + ([f"left over {_listed(extra)}"]
                                                                        if extra else [])
        how = f"{best}'s naming" if library else f"no naming fits; the closest, {best}'s,"
        raise InteropError(f"{ck.path}: not {name} in {how}: {'; '.join(parts)}")
    results = {}
    for lib in fits:
        fitted = _fit_io(spec, lib, ck.state_dict)
        results[lib] = (_netspace_from(ck, fitted, lib), fitted)
    first = fits[0]
    for lib in fits[1:]:
        a, b = results[first][0], results[lib][0]
        if a.keys() != b.keys() or any(not torch.equal(a[k], b[k]) for k in a):
            raise InteropError(f"{ck.path}: both {first}'s and {lib}'s naming fit and mean different weights; "
                               f"give --from {first} or --from {lib}")
    return results[first][0], results[first][1], first


def _builds(library: str, spec: NetSpec) -> bool:
    try:
        LAYOUTS[library].check(spec)
    except InteropError:
        return False
    return True


def _netspace_from(ck: Checkpoint, spec: NetSpec, library: str) -> dict[str, torch.Tensor]:
    if library != "netspace":
        return to_netspace(ck.state_dict, spec, library, what=ck.path)
    shapes = _shapes_of(spec)
    missing, extra = _mismatch(spec, "netspace", ck.state_dict)
    wrong = [f"{k} {tuple(v.shape)} (expected {shapes[k]})" for k, v in ck.state_dict.items()
             if k in shapes and tuple(v.shape) != shapes[k]]
    if missing or extra or wrong:
        parts = ([f"missing {_listed(missing)}"] if missing else []) + (
            [f"left over {_listed(extra)}"] if extra else []) + ([f"shapes {_listed(wrong, 3)}"] if wrong else [])
        raise InteropError(f"{ck.path}: does not fit {spec.name or 'the model'}: {'; '.join(parts)}")
    return {k: ck.state_dict.get(k, torch.zeros((), dtype=torch.long)) for k in shapes}


def _same_body(a: NetSpec, b: NetSpec) -> bool:
    """The same layers apart from input channels, classes, resolution and the stem's stride."""
    return (a.stages, a.head_width, a.stem.width) == (b.stages, b.head_width, b.stem.width)


def load_weights(model: nn.Module, path: str | os.PathLike, *, spec: NetSpec | None = None,
                 library: str | None = None) -> list[str]:
    """Load the weights in ``path`` into ``model`` (a netspace network); returns what was adapted, one line each.

    ``spec`` is the network the file holds weights for (by default the
    model's own); ``library`` its naming (default: found from the keys). The
    model may differ from the file in what a new input needs: its classifier
    (another class count: re-initialised), its stem's input channels (the
    RGB filters summed for one channel, or cycled and rescaled for others)
    and stem kernel (the small-image stem of ``for_input``: re-initialised).
    Anything else that does not fit is refused naming the keys.
    """
    target: NetSpec = model.spec
    state, _, source = netspace_state(read_checkpoint(path), spec or target, library)
    own = model.state_dict()
    notes, new, wrong = [], {}, []
    for key, current in own.items():
        value = state.get(key)
        if value is None:
            wrong.append(f"{key} (absent)")
        elif value.shape == current.shape:
            new[key] = value
        elif key.startswith("head.fc."):
            if key.endswith("weight"):
                notes.append(f"classifier re-initialised: the weights have {value.shape[0]} classes, "
                             f"the model {current.shape[0]}")
        elif key == "stem.0.weight" and value.shape[2:] == current.shape[2:] and value.shape[0] == current.shape[0]:
            c_in, c_new = value.shape[1], current.shape[1]
            if c_new == 1:
                new[key] = value.sum(dim=1, keepdim=True)
                notes.append(f"stem adapted from {c_in} input channels to 1 (filters summed over channels)")
            else:
                reps = -(-c_new // c_in)
                new[key] = value.repeat(1, reps, 1, 1)[:, :c_new] * (c_in / c_new)
                notes.append(f"stem adapted from {c_in} input channels to {c_new} (filters cycled, "
                             f"scaled by {c_in}/{c_new})")
        elif key == "stem.0.weight" and value.shape[0] == current.shape[0]:
            notes.append(f"stem conv re-initialised: the weights' is {tuple(value.shape[2:])}, this input's "
                         f"stem {tuple(current.shape[2:])}")
        else:
            wrong.append(f"{key} {tuple(value.shape)} (model {tuple(current.shape)})")
    extra = sorted(set(state) - set(own))
    if wrong or extra:
        parts = ([f"do not fit: {_listed(wrong, 3)}"] if wrong else []) + (
            [f"left over {_listed(extra)}"] if extra else [])
        raise InteropError(f"{os.fspath(path)} ({source}): {'; '.join(parts)}")
    own.update(new)
    model.load_state_dict(own)
    return notes


def convert(src: str | os.PathLike, out: str | os.PathLike, *, model: NetSpec | None = None,
            source: str | None = None, target: str = "netspace") -> dict[str, Any]:
    """Convert the checkpoint ``src`` to ``target``'s format in ``out``; returns a summary.

    ``source`` is ``src``'s naming (pycls, timm, torchvision or netspace;
    None: found from its keys); ``model`` the network it holds (needed
    unless ``src`` is a netspace file). ``target`` "netspace" writes a
    weights file ``create_model(weights=...)`` and ``train --init-from``
    read; a library name writes that library's state dict (pycls's inside
    ``{"epoch": 0, "model_state": ...}``, as pycls loads it). ``out`` is
    written atomically and never over ``src``.
    """
    if source is not None and source not in ("netspace", *LIBRARIES):
        raise InteropError(f"unknown source {source!r}; choose one of netspace, {', '.join(LIBRARIES)}")
    if target not in ("netspace", *LIBRARIES):
        raise InteropError(f"unknown target {target!r}; choose one of netspace, {', '.join(LIBRARIES)}")
    if Path(src).resolve() == Path(out).resolve():
        raise InteropError(f"--out {os.fspath(out)} is the source file; write the conversion elsewhere")
    state, spec, found = netspace_state(read_checkpoint(src), model, source)
    if target == "netspace":
        payload: Any = {"format": FORMAT, "spec": spec.to_dict(), "state_dict": state}
        keys = len(state)
    else:
        theirs = from_netspace(state, spec, target)
        payload = {"epoch": 0, "model_state": theirs} if target == "pycls" else theirs
        keys = len(theirs)
    from netspace.train.atomic import save_torch

    save_torch(payload, Path(out))
    return {"source": found, "target": target, "model": spec.name or "model", "keys": keys,
            "num_classes": spec.num_classes, "in_channels": spec.in_channels, "out": os.fspath(out)}
