"""One trial row: the columns of every trials table, what each one is, and the one function that makes a row.

Every table of trials (``netspace sweep export``, the analysis DataFrame of
``netspace.run.frame.load``, the demo data of ``netspace.analysis.demo``) is
made of rows from :func:`trial_row`, so the three have the same columns.

Each column has one *role*, told by its name (:func:`role`):

==========  ===============================================================
id          which trial and how its run went: ``sweep``, ``trial``, ``space``,
            ``status``, ``eval_split``, ``message``
design      a sampled design parameter, under the space's own name (``depth``,
            ``w0``, ``wa``, ``wm``, ``group_width``, ...; a per-stage list
            parameter ``depths`` becomes ``depth1..depthK``, one column per
            stage under the singular name). The only role analysis plots
            error against by default. Published results are read into the
            same names (``netspace.analysis.read_external``); a group *count*
            is ``groups1..K`` (NDS's ``num_gs``), never a ``group_width``
            (channels per group).
structure   derived from the spec, not sampled: ``depth_s1..``, ``width_s1..``
            (per stage), ``block_widths``, ``spec``
complexity  ``flops``, ``params``, ``acts``: exact, from the spec
measured    a result of training or timing: ``error``, ``best_error``,
            ``curve`` (percent, on ``eval_split``), ``epochs``, ``wall_seconds``,
            ``images_per_second``, ``reward``, and everything ``latency_*``
fitted      computed afterwards from other columns: ``fit_*`` (the RegNet
            fit of a model's widths: ``fit_w0``, ``fit_wa``, ``fit_wm``, ...),
            ``pred_*`` (runtime-model predictions), ``latency_predicted_ms``
==========  ===============================================================

Every name the pipeline writes outside the design parameters is declared
here (:data:`COLUMNS`, :data:`PREFIXES`, the per-stage pattern), and a
sampled parameter whose name would fall in another role is refused, so a
design parameter and a measurement never share a name. To add a column, add
it to :data:`COLUMNS` (or give it a registered prefix) and set it in
:func:`trial_row`.

One name per design parameter (:data:`PARAMETERS`): the table below gives
each its readable axis label (:func:`label`) and the axis it is drawn on
(:func:`scale`); the names of earlier exports (``depths1``,
``bottleneck_ratios2``) still read, as their canonical names
(:func:`canonical`).

Stdlib only: both ``netspace.run`` (which writes rows) and
``netspace.analysis`` (which must not import ``run``) use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from netspace.errors import NetspaceError

# Lifecycle order. A trial is stored "pending" when sampled; the driver marks it
# "running" when a worker takes it; a finished trial is one of the last three.
STATUSES = ("pending", "running", "done", "diverged", "failed")
STATUS_MEANINGS = {
    "pending": "sampled and stored, not started",
    "running": "handed to a worker (a driver killed meanwhile restarts it from its last epoch checkpoint)",
    "done": "trained every epoch; error is the final error on eval_split",
    "diverged": "the loss became NaN/inf; error is recorded as 100 (worst, not missing)",
    "failed": "raised an error; message says which; no error",
}
FINISHED = ("done", "diverged", "failed")

ROLES = ("id", "design", "structure", "complexity", "measured", "fitted")


@dataclass(frozen=True)
class Column:
    name: str
    role: str
    meaning: str


COLUMNS: tuple[Column, ...] = (
    Column("sweep", "id", "the input's label: its directory name (made unique) or LABEL of LABEL=DIR"),
    Column("trial", "id", "trial number in its sweep, in sampling order"),
    Column("space", "id", "the design space the trial was sampled from"),
    Column("status", "id", "pending | running | done | diverged | failed (STATUS_MEANINGS)"),
    Column("eval_split", "id", "the split error, best_error and curve are measured on: test or val"),
    Column("message", "id", "why a failed trial failed"),
    Column("name", "id", "a model's name in published data (NDS job id, pycls job folder)"),
    Column("model", "id", "block type (NDS) or model type (pycls) in published data"),
    Column("seed", "id", "a trial's random seed, where published data records one"),
    Column("block_widths", "structure", "per-block output widths (one entry per block)"),
    Column("spec", "structure", "the network spec as a dict (netspace.spec)"),
    Column("flops", "complexity", "multiply-adds of one forward pass of one image"),
    Column("params", "complexity", "trainable parameters"),
    Column("acts", "complexity", "activations: output elements of every conv layer"),
    Column("error", "measured", "final top-1 error (%) on eval_split"),
    Column("best_error", "measured", "lowest per-epoch top-1 error (%) on eval_split"),
    Column("curve", "measured", "top-1 error (%) on eval_split after each epoch"),
    Column("epochs", "measured", "epochs trained"),
    Column("wall_seconds", "measured", "wall-clock seconds of the trial's training"),
    Column("images_per_second", "measured", "training throughput, mean over epochs"),
    Column("reward", "measured", "a search's reward of the trial (netspace search)"),
    Column("latency_ms", "measured", "median latency (netspace latency DIR; or the mnas reward's measurement)"),
    Column("latency_p10_ms", "measured", "10th percentile latency"),
    Column("latency_p90_ms", "measured", "90th percentile latency"),
    Column("latency_device", "measured", "setting of the latency measurement: device"),
    Column("latency_batch", "measured", "setting of the latency measurement: batch size"),
    Column("latency_resolution", "measured", "setting of the latency measurement: input resolution"),
    Column("latency_threads", "measured", "setting of the latency measurement: CPU threads"),
    Column("latency_mode", "measured", "setting of the latency measurement: inference or train"),
    Column("latency_predicted_ms", "fitted", "latency predicted by a per-block lookup table"),
)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
# A name under one of these prefixes has that role, whatever follows.
PREFIXES = {"latency_": "measured", "fit_": "fitted", "pred_": "fitted"}
_STAGE = re.compile(r"(depth|width)_s(\d+)")  # structure: per-stage depth and width

COMPLEXITY = tuple(c.name for c in COLUMNS if c.role == "complexity")
# The RegNet fit of a model's block widths (analysis.regnet_fit), one column per RegNetFit field.
FIT_COLUMNS = {"w0": "fit_w0", "wa": "fit_wa", "wm": "fit_wm", "d": "fit_depth", "e_fit": "fit_e",
               "linear_w0": "fit_linear_w0", "linear_wa": "fit_linear_wa"}



@dataclass(frozen=True)
class Parameter:
    """A design parameter: its one column name, its words and symbol for axis labels, and its axis scales.

    ``scale`` is the axis of the network-wide value, ``stage_scale`` that of a
    per-stage value (``depth1``); "log2" for the parameters the spaces draw
    from powers of two or log-uniformly (the RegNet paper's plots of b, g, w0
    and wa are on log axes).
    """

    name: str
    words: str
    symbol: str = ""
    scale: str = "linear"
    stage_scale: str = "linear"

    @property
    def label(self) -> str:
        return f"{self.words} {self.symbol}".strip()


# In the order the report shows them: RegNet's parameters (paper sec. 3.3), then the per-stage ones of AnyNet.
PARAMETERS: tuple[Parameter, ...] = (
    Parameter("depth", "depth", "d", "linear", "log2"),
    Parameter("w0", "initial width", "w_0", "log2"),
    Parameter("wa", "slope", "w_a", "log2"),
    Parameter("wm", "width multiplier", "w_m"),
    Parameter("width", "width", "w", "log2", "log2"),
    Parameter("bottleneck_ratio", "bottleneck ratio", "b", "log2", "log2"),
    Parameter("group_width", "group width", "g", "log2", "log2"),
    Parameter("se_ratio", "SE ratio", "", "linear", "linear"),
)
PARAMETER: dict[str, Parameter] = {p.name: p for p in PARAMETERS}
_PER_STAGE = re.compile(r"([a-z_]+)(\d+)")  # depth3, bottleneck_ratio2 (and the old depths3)


def stage_column(name: str, stage: int) -> str:
    """The column of stage ``stage`` (from 1) of the per-stage parameter ``name``: ``depth3``."""
    return f"{name}{stage}"


def canonical(name: str) -> str:
    """The column's current name: a per-stage column of an earlier export (``depths3``, ``group_widths1``)
    becomes ``depth3``, ``group_width1``; every other name is returned unchanged."""
    m = _PER_STAGE.fullmatch(name)
    if m and m.group(1).endswith("s") and m.group(1)[:-1] in PARAMETER:
        return stage_column(m.group(1)[:-1], int(m.group(2)))
    return name


def parameter_of(name: str) -> tuple[str, int | None]:
    """(parameter, stage) of a design column: ``("depth", 3)`` for ``depth3`` (or ``depths3``), ``("wm", None)``
    for ``wm``; a name the table does not know is its own parameter, network-wide."""
    name = canonical(name)
    if name in PARAMETER:
        return name, None
    m = _PER_STAGE.fullmatch(name)
    if m and m.group(1) in PARAMETER:
        return m.group(1), int(m.group(2))
    return name, None


def label(name: str) -> str:
    """A readable axis label of a column: "bottleneck ratio b", "depth, stage 3", "width multiplier w_m";
    a column the table does not know is labelled by its name."""
    built = _STAGE.fullmatch(name)
    if built:  # structure: the spec's value, which compatibility adjustment may have moved off the draw
        return f"{built.group(1)}, stage {built.group(2)} (as built)"
    param, stage = parameter_of(name)
    if param not in PARAMETER:
        return name
    p = PARAMETER[param]
    return p.label if stage is None else f"{p.words}, stage {stage}"


def scale(name: str) -> str:
    """The axis a design column is drawn on: "log2" or "linear" (:data:`PARAMETERS`)."""
    param, stage = parameter_of(name)
    if param not in PARAMETER:
        return "linear"
    return PARAMETER[param].scale if stage is None else PARAMETER[param].stage_scale


class SchemaError(NetspaceError, ValueError):
    """A trial cannot be written as a row: an unknown status, or a parameter named like another role's column."""


def role(name: str) -> str:
    """The role of a column (one of ROLES); a name no rule claims is a design parameter."""
    column = BY_NAME.get(name)
    if column is not None:
        return column.role
    for prefix, r in PREFIXES.items():
        if name.startswith(prefix):
            return r
    if _STAGE.fullmatch(name):
        return "structure"
    return "design"


def columns_with_role(names: Iterable[str], wanted: str) -> list[str]:
    """The names in ``names`` whose role is ``wanted``, in order."""
    if wanted not in ROLES:
        raise SchemaError(f"unknown role {wanted!r}; roles are {', '.join(ROLES)}")
    return [str(n) for n in names if role(str(n)) == wanted]


def eval_split(config: Mapping[str, Any] | None) -> str | None:
    """The evaluated split of a stored run config: flat ``{"eval_split": ...}`` or nested
    ``{"trial": {"schedule": {"eval_split": ...}}}``; None where it records none."""
    config = config or {}
    split = config.get("eval_split")
    trial = config.get("trial")
    if split is None and isinstance(trial, Mapping) and isinstance(trial.get("schedule"), Mapping):
        split = trial["schedule"].get("eval_split")
    return None if split is None else str(split)


def _epoch_error(m: Mapping[str, Any], split: str | None) -> Any:
    for key in (f"{split}_error", "error", "test_error", "val_error"):
        if key in m:
            return m[key]
    return None


def design_columns(params: Mapping[str, Any]) -> dict[str, Any]:
    """A params dict as design columns: a per-stage list ``depths`` as ``depth1..depthK`` (the singular of a
    known parameter's plural), scalars by their names; nested dicts are left out. Keys sorted, as the store
    keeps them, so every source of rows gets the same column order."""
    out: dict[str, Any] = {}
    for k in sorted(params):
        v = params[k]
        if isinstance(v, (list, tuple)):
            base = k[:-1] if k.endswith("s") and k[:-1] in PARAMETER else k
            out.update({stage_column(base, i): x for i, x in enumerate(v, 1)})
        elif not isinstance(v, dict):
            out[k] = v
    return out


def _design(trial: int, params: Mapping[str, Any]) -> dict[str, Any]:
    out = design_columns(params)
    clash = [k for k in out if role(k) != "design"]
    if clash:
        raise SchemaError(f"trial {trial}: design parameter(s) {', '.join(clash)} have the name of a "
                          f"{role(clash[0])} column; rename them in the space")
    return out


def latency_columns(figures: Mapping[str, Any]) -> dict[str, Any]:
    """A stored latency measurement (``Store.latency()`` row) as ``latency_*`` columns."""
    return {
        "latency_ms": figures["median_ms"], "latency_p10_ms": figures.get("p10_ms"),
        "latency_p90_ms": figures.get("p90_ms"), "latency_predicted_ms": figures.get("predicted_ms"),
        "latency_device": figures.get("device"), "latency_batch": figures.get("batch"),
        "latency_resolution": figures.get("resolution"), "latency_threads": figures.get("threads") or None,
        "latency_mode": figures.get("mode"),
    }


def trial_row(sweep: str, config: Mapping[str, Any] | None, trial: Mapping[str, Any],
              metrics: Sequence[Mapping[str, Any]] = (), *, search: Mapping[str, Any] | None = None,
              latency: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One trial as a row.

    ``config`` is the run's stored config (space, eval_split); ``trial`` has the
    fields of ``netspace.run.store.Trial`` (trial, params, spec, flops,
    num_params, acts, status, error, best_error, epochs, wall_seconds,
    images_per_second, message); ``metrics`` its per-epoch rows; ``search``
    the search table's row (reward, latency_ms), ``latency`` the latest
    ``netspace latency`` measurement, where there are any.
    """
    config = config or {}
    number, status = trial["trial"], trial["status"]
    if status not in STATUSES:
        raise SchemaError(f"trial {number}: unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    split = eval_split(config)
    row: dict[str, Any] = {"sweep": sweep, "trial": number, "space": config.get("space"), "status": status,
                           "eval_split": split}
    row.update(_design(number, trial.get("params") or {}))
    spec = trial.get("spec") or {}
    stages = spec.get("stages", [])
    for i, st in enumerate(stages, 1):
        row[f"depth_s{i}"], row[f"width_s{i}"] = st["depth"], st["width"]
    row.update(flops=trial.get("flops"), params=trial.get("num_params"), acts=trial.get("acts"),
               error=trial.get("error"), best_error=trial.get("best_error"), epochs=trial.get("epochs"),
               wall_seconds=trial.get("wall_seconds"), images_per_second=trial.get("images_per_second"))
    if search is not None:
        row.update(reward=search.get("reward"), latency_ms=search.get("latency_ms"))
    if latency is not None:  # a measurement of its own wins over the search's
        row.update(latency_columns(latency))
    row["curve"] = [_epoch_error(m, split) for m in metrics]
    row["block_widths"] = [st["width"] for st in stages for _ in range(st["depth"])]
    row["spec"] = dict(spec)
    row["message"] = trial.get("message")
    return row
