"""Export a trained (or named) network as a ``torch.export`` program or ONNX, checked against PyTorch.

``export_model(source, out, format="pt2")``: ``source`` is a sweep or
search directory (pick ``trial=K`` or ``best=True``: the highest reward of a
search, the lowest error of a sweep), a ``netspace train`` run directory, or
a model (zoo name, RegNet parameters or a spec JSON file; untrained weights).
The written file is loaded back and run on seeded random inputs of two batch
sizes; its outputs must match the PyTorch module's, or the export is refused
and nothing is left at ``out``.

- ``pt2``: ``torch.export.export`` with a dynamic batch dimension, written by
  ``torch.export.save`` and checked by running ``torch.export.load(out).module()``.
- ``onnx``: the current exporter, ``torch.onnx.export(..., dynamo=True)``
  (it captures the graph with ``torch.export``), input ``image`` and output
  ``logits`` with a dynamic batch dimension; it needs ``onnx`` and
  ``onnxscript`` (``pip install 'netspace[onnx]'``), and the check runs the
  file with ``onnxruntime`` when that is installed too.

TorchScript (``torch.jit.trace``) and the TorchScript-based ONNX exporter
(``dynamo=False``) are not offered: both are deprecated in torch 2.13, and
``torch.export`` is their replacement. No warning is silenced here.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from netspace.errors import NetspaceError

FORMATS = ("pt2", "onnx")
GONE = {"torchscript": "TorchScript export is gone (torch.jit is deprecated in torch 2.13); use --format pt2 "
                       "(torch.export, loaded with torch.export.load) or onnx"}
EXAMPLE_BATCH = 3  # the traced example; batch 1 (the other checked size) would be specialized by torch.export
ATOL, RTOL = 1e-4, 1e-3


class ExportError(NetspaceError):
    """A model cannot be exported as asked."""


@dataclass(frozen=True)
class ExportResult:
    path: str
    format: str
    source: str
    trial: int | None
    max_abs_diff: float | None   # None: written, not checked (onnx without onnxruntime)
    checked_with: str
    trained: bool


def _spec_from_dict(d: dict[str, Any]):
    from netspace.spec import spec_from_dict

    return spec_from_dict(d)


def _build(spec) -> nn.Module:
    """The module of ``spec``, refused from its complexity first when its weights and the check's inputs
    (a batch of 3) cannot fit in memory."""
    from netspace.complexity import complexity
    from netspace.models import build
    from netspace.resources import check_bytes, minimum_model_bytes

    need = minimum_model_bytes(complexity(spec), 3, spec.in_channels, spec.resolution)
    check_bytes(need, "building and checking this network", "export a smaller model")
    return build(spec)


def _from_run_dir(run: Path) -> tuple[nn.Module, Any] | None:
    """The trained module of a finished ``train`` run directory (result.json + checkpoint.pt)."""
    result, checkpoint = run / "result.json", run / "checkpoint.pt"
    if not result.exists() or not checkpoint.exists():
        return None
    from netspace.files import parse_json, read_text

    stored = parse_json(read_text(result, "result file"), str(result))
    if not isinstance(stored, dict) or not isinstance(stored.get("spec"), dict):
        raise ExportError(f"{result}: no 'spec' object; it is not a netspace train result")
    spec = _spec_from_dict(stored["spec"])
    model = _build(spec)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    weights = state.get("ema") or state["model"]
    if isinstance(weights, dict) and "module" in weights and isinstance(weights["module"], dict):
        weights = weights["module"]
    model.load_state_dict(weights)
    return model, spec


def load_model(source: str | os.PathLike, *, trial: int | None = None,
               best: bool = False) -> tuple[nn.Module, Any, int | None, bool]:
    """(module in eval mode, its spec, the trial it came from, whether its weights are trained)."""
    path = Path(source)
    if trial is not None and best:
        raise ExportError("give --trial K or --best, not both")
    if path.is_dir() and (path / "sweep.sqlite").exists():
        from netspace.run.store import Store

        with Store(path) as store:
            trials = {t.trial: t for t in store.trials()}
            rewards = {i: r["reward"] for i, r in store.search_rows().items() if r["reward"] is not None}
        done = {i: t for i, t in trials.items() if t.status == "done"}
        if trial is None:
            if not best:
                raise ExportError(f"{path} holds {len(trials)} trials; pick one with --trial K or --best")
            if not done:
                raise ExportError(f"{path} has no finished trial yet; wait for one or resume the run")
            if rewards:
                trial = max((i for i in done if i in rewards), key=lambda i: (rewards[i], -i))
            else:
                trial = min(done, key=lambda i: (done[i].error, i))
        if trial not in trials:
            raise ExportError(f"{path} has no trial {trial}; trials are 0..{len(trials) - 1}")
        if trial not in done:
            raise ExportError(f"trial {trial} of {path} is {trials[trial].status}, not done; export a finished "
                              "trial (--best picks one)")
        loaded = _from_run_dir(path / "trials" / f"{trial:04d}")
        if loaded is None:
            raise ExportError(f"trial {trial} of {path} has no weights (trials/{trial:04d}/checkpoint.pt); "
                              "its result was reused from an identical architecture: export that trial")
        return loaded[0].eval(), loaded[1], trial, True
    if trial is not None or best:
        raise ExportError(f"--trial/--best need a sweep or search directory; {path} is not one")
    if path.is_dir():
        loaded = _from_run_dir(path)
        if loaded is None:
            raise ExportError(f"{path} is neither a sweep/search directory nor a finished train run "
                              "(result.json and checkpoint.pt)")
        return loaded[0].eval(), loaded[1], None, True
    from netspace import zoo

    spec = zoo.resolve(str(source))
    torch.manual_seed(0)
    return _build(spec).eval(), spec, None, False


def _inputs(spec, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, spec.in_channels, spec.resolution, spec.resolution, generator=g) for n in (1, 3)]


def _check(reference: list[torch.Tensor], outputs: list[Any], what: str) -> float:
    worst = 0.0
    for ref, out in zip(reference, outputs):
        out = torch.as_tensor(out)
        if out.shape != ref.shape:
            raise ExportError(f"{what}: output shape {tuple(out.shape)} differs from PyTorch's {tuple(ref.shape)}")
        diff = (out - ref).abs()
        worst = max(worst, float(diff.max()))
        if not bool((diff <= ATOL + RTOL * ref.abs()).all()):
            raise ExportError(f"{what}: outputs differ from PyTorch's by up to {float(diff.max()):.3g}; "
                              "the model does not export faithfully")
    return worst


def export_model(source: str | os.PathLike, out: str | os.PathLike, *, format: str = "pt2",
                 trial: int | None = None, best: bool = False, seed: int = 0) -> ExportResult:
    """Write the model to ``out`` in ``format`` (pt2 or onnx) and check it reproduces PyTorch's outputs.

    ``out`` must be a file path in a directory that exists; an existing
    device or pipe there (``/dev/null``) is written in place.
    """
    from netspace.files import output_path, write_atomic

    if format in GONE:
        raise ExportError(GONE[format])
    if format not in FORMATS:
        raise ExportError(f"unknown format {format!r}; choose pt2 or onnx")
    out = output_path(out, "export", f"model.{format}")
    if format == "onnx":
        try:
            import onnx  # noqa: F401
            import onnxscript  # noqa: F401
        except ImportError as e:
            raise ExportError(f"ONNX export needs {e.name}: pip install 'netspace[onnx]' "
                              "(or use --format pt2)") from None
    model, spec, trial, trained = load_model(source, trial=trial, best=best)
    xs = _inputs(spec, seed)
    with torch.no_grad():
        reference = [model(x) for x in xs]
    # written and checked in a private temp directory: only a checked file reaches ``out``
    with tempfile.TemporaryDirectory(prefix="netspace-export-") as scratch:
        tmp = Path(scratch) / f"model.{format}"  # the exporters pick the writer by the suffix
        if format == "pt2":
            diff, checked = _pt2(model, xs, reference, tmp), "torch.export.load"
        else:
            diff, checked = _onnx(model, xs, reference, tmp)
        write_atomic(out, tmp.read_bytes())
    return ExportResult(str(out), format, str(source), trial, diff, checked, trained)


def _example(x: torch.Tensor) -> tuple[tuple[torch.Tensor], tuple[dict[int, Any]]]:
    """The traced example (``x``'s image shape, batch EXAMPLE_BATCH) and its dynamic batch dimension."""
    example = torch.randn(EXAMPLE_BATCH, *x.shape[1:], generator=torch.Generator().manual_seed(1))
    return (example,), ({0: torch.export.Dim("batch", min=1)},)


def _pt2(model: nn.Module, xs: list[torch.Tensor], reference: list[torch.Tensor], tmp: Path) -> float:
    example, dynamic = _example(xs[0])
    program = torch.export.export(model, example, dynamic_shapes=dynamic)
    torch.export.save(program, str(tmp))
    loaded = torch.export.load(str(tmp)).module()
    with torch.no_grad():
        return _check(reference, [loaded(x) for x in xs], "pt2")


ONNX_LIMIT = 2**31 - 2**24  # protobuf's 2 GiB, less room for the graph


def _onnx(model: nn.Module, xs: list[torch.Tensor], reference: list[torch.Tensor],
          tmp: Path) -> tuple[float | None, str]:
    import onnx

    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    if size >= ONNX_LIMIT:  # one self-contained file: protobuf holds at most 2 GiB
        raise ExportError(f"the weights take {size / 2**30:.1f} GiB, more than one ONNX file holds (2 GiB); "
                          "use --format pt2")
    example, dynamic = _example(xs[0])
    torch.onnx.export(model, example, str(tmp), dynamo=True, input_names=["image"], output_names=["logits"],
                      dynamic_shapes=dynamic, external_data=False, verbose=False)
    onnx.checker.check_model(onnx.load(str(tmp)))
    try:
        import onnxruntime
    except ImportError:
        return None, "onnx.checker (install onnxruntime to compare outputs)"
    session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    outputs = [session.run(None, {"image": x.numpy()})[0] for x in xs]
    return _check(reference, outputs, "onnx"), "onnxruntime"
