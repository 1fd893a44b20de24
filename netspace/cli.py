"""The ``netspace`` command: thin commands over the Python API.

Each ``_cmd_*`` function is parse -> one API call -> print: it turns its
arguments into the API's arguments (or config dataclass), calls one API
function (``zoo.table``, ``zoo.info``, ``sample_population``, ``train_trial``,
``run_sweep``, ``run.status``, ``export_table``, ``run_study``, ``run_search``,
``export_model``, ``write_report``, ``latency_report``, ``runtime_report``,
``scale_model``) and formats the plain data it returns. A
:class:`NetspaceError` becomes one line on stderr and exit status 2, and so do
the answers of the machine about a path (an ``OSError``: a full disk, a
permission, a file that vanished; the line names the file) and input nested
too deeply to parse (``RecursionError``). Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from typing import Callable, Sequence

from netspace import __version__
from netspace.errors import NetspaceError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _human(n: float, unit: str = "") -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{suffix}{unit}"
    return f"{n:g}{unit}"


# -- zoo ---------------------------------------------------------------------
def _add_zoo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zoo", help="list the named models with their complexity")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=_cmd_zoo)


def _cmd_zoo(args: argparse.Namespace) -> int:
    from netspace import zoo

    rows = zoo.table()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'model':<18} {'flops':>9} {'params':>9} {'acts':>9} {'resolution':>10}")
    for r in rows:
        print(f"{r['name']:<18} {_human(r['flops']):>9} {_human(r['params']):>9} "
              f"{_human(r['acts']):>9} {r['resolution']:>10}")
    return 0


# -- info --------------------------------------------------------------------
def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="per-stage structure and complexity of one model")
    p.add_argument("model", nargs="?", help="zoo name, RegNet parameters (d=..,w0=..), a spec JSON file or a pycls "
                   "model config (YAML)")
    p.add_argument("--regnet", metavar="PARAMS", help="RegNet parameters, e.g. d=13,w0=24,wa=36.44,wm=2.49,g=8")
    p.add_argument("--resolution", type=int, help="input resolution (small images get a stride-1 stem)")
    p.add_argument("--classes", type=int, help="number of classes")
    p.add_argument("--channels", type=int, help="input channels")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    from netspace import zoo

    info = zoo.info(args.model, regnet=args.regnet, resolution=args.resolution, classes=args.classes,
                    channels=args.channels)
    if args.json:
        print(json.dumps(info.to_dict(), indent=1))
        return 0
    spec, cx = info.spec, info.complexity
    if info.stages is None:  # a cell network (CellNetSpec)
        print(f"{info.name}: NASNet cells, {spec.resolution}px, {spec.in_channels} channel(s), "
              f"{spec.num_classes} classes")
        print(f"  stem: 3x3 conv, width {spec.stem_width}, stride {spec.stem_stride}; cells (R = reduction): "
              + " ".join(f"{'R' if r else 'N'}{f}" for r, f in spec.cells()))
        for kind in ("normal", "reduction"):
            blocks = "; ".join(f"concat({a}:{oa}, {b}:{ob})" if len(blk) == 5 else f"{a}:{oa} + {b}:{ob}"
                               for blk in getattr(spec, kind) for a, oa, b, ob in [blk[:4]])
            print(f"  {kind}: {blocks}")
    else:
        stem = spec.stem
        print(f"{info.name}: {spec.resolution}px, {spec.in_channels} channel(s), {spec.num_classes} classes, "
              f"activation {spec.activation}")
        print(f"  stem: {stem.kind}, width {stem.width}, stride {stem.stride}")
        print(f"  {'stage':<6}{'block':<16}{'depth':>6}{'width':>7}{'stride':>7}{'group_w':>8}{'b':>6}{'se':>6}")
        for i, s in enumerate(info.stages, 1):
            g = "-" if s["group_width"] is None else s["group_width"]
            print(f"  {i:<6}{s['block']:<16}{s['depth']:>6}{s['width']:>7}{s['stride']:>7}{g!s:>8}"
                  f"{s['bottleneck_ratio']:>6g}{s['se_ratio']:>6g}")
        if spec.head_width:
            print(f"  head: 1x1 conv to {spec.head_width}, pool, fc")
    print(f"  flops {_human(cx['flops'])} ({cx['flops']:,} multiply-adds), params {_human(cx['params'])} "
          f"({cx['params']:,}), acts {_human(cx['acts'])} ({cx['acts']:,})")
    return 0


# -- sample ------------------------------------------------------------------
def _add_sample(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw networks from a design space without training them "
                                      "(the sampler sweeps use)")
    p.add_argument("space", help="a design space name (netspace sweep lists them) or a YAML space file")
    p.add_argument("--n", type=int, required=True, help="how many distinct networks (required)")
    p.add_argument("--flops", metavar="MIN:MAX", help="flops window, e.g. 360M:400M (none: unconstrained)")
    p.add_argument("--params", metavar="MIN:MAX", help="params window")
    p.add_argument("--acts", metavar="MIN:MAX", help="activations window")
    p.add_argument("--seed", type=int, default=0, help="sampling seed: the same seed draws the same networks "
                   "(default 0)")
    p.add_argument("--resolution", type=int, default=224, help="input resolution (default 224; <= 64 uses the "
                                                               "small-image frame)")
    p.add_argument("--channels", type=int, default=3, help="input channels (default 3)")
    p.add_argument("--classes", type=int, default=1000, help="number of classes (default 1000)")
    p.add_argument("--format", choices=["json", "csv"], default="json",
                   help="json: one record per network; csv: one flat row per network (default json)")
    p.set_defaults(func=_cmd_sample)


def _cmd_sample(args: argparse.Namespace) -> int:
    from netspace.run import export_table
    from netspace.spaces import flat_record, sample_population

    records = sample_population(args.space, args.n, flops=args.flops, params=args.params, acts=args.acts,
                                seed=args.seed, resolution=args.resolution, in_channels=args.channels,
                                num_classes=args.classes)
    rows = records if args.format == "json" else [flat_record(r) for r in records]
    sys.stdout.write(export_table(rows, args.format))
    return 0


# -- trial options (data + schedule), shared by train, sweep, search and study ----------
# Generated from the fields of netspace.data.DataConfig and netspace.train.Schedule:
# one option per field, with that field's help and default, so every command
# that trains accepts the same options with the same defaults.
def _field_type(f) -> type:
    text = str(f.type)
    return bool if "bool" in text else int if "int" in text else float if "float" in text else str


def _shown(value) -> str:
    return "none" if value is None else ("on" if value is True else "off" if value is False else f"{value:g}"
                                        if isinstance(value, float) else str(value))


def _add_trial_options(p: argparse.ArgumentParser, base, *, defaults: str | None = None) -> None:
    """Options for every data and schedule field; ``defaults`` replaces '(default X)' (e.g. "the preset's")."""
    import dataclasses

    from netspace.train.schedule import CHOICES

    data = p.add_argument_group("data")
    sched = p.add_argument_group("training schedule")
    for group, obj in ((data, base.data), (sched, base.schedule)):
        for f in dataclasses.fields(obj):
            flag = "--data" if (obj is base.data and f.name == "name") else "--" + f.name.replace("_", "-")
            default = getattr(obj, f.name)
            note = defaults or f"default {_shown(default)}"
            text = f.metadata.get("help", f.name)
            if default is None and "default" in text and not defaults:
                note = ""
            kind = f.metadata.get("parse") or _field_type(f)
            kwargs: dict = {"dest": f"trial_{f.name if obj is base.schedule else 'data_' + f.name}",
                            "default": None, "help": f"{text} ({note})" if note else text}
            if kind is bool:
                group.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            else:
                metavar = f.metadata.get("metavar") or {int: "N", float: "X"}.get(
                    kind, "NAME" if flag == "--data" else None)
                group.add_argument(flag, type=kind, choices=CHOICES.get(f.name) if obj is base.schedule else None,
                                   metavar=metavar, **kwargs)


def _trial_overrides(args: argparse.Namespace) -> dict:
    """The trial options given on the command line, as flat keys (``data`` for the dataset name)."""
    out = {}
    for key, value in vars(args).items():
        if key.startswith("trial_") and value is not None:
            name = key[len("trial_"):]
            out["data" if name == "data_name" else name.removeprefix("data_")] = value
    return out


# -- train -------------------------------------------------------------------
def _add_train(sub: argparse._SubParsersAction) -> None:
    from netspace.train.config import TrialConfig

    p = sub.add_parser("train", help="train one model on one dataset (resumable; DDP under torchrun)")
    p.add_argument("model", help="zoo name, RegNet parameters (d=..,w0=..), a spec JSON file or a pycls model "
                   "config (YAML)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="run directory: metrics.jsonl, checkpoint.pt, result.json (required)")
    p.add_argument("--resume", action="store_true",
                   help="require a checkpoint in DIR to continue (a matching one is continued anyway)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress or per-epoch lines")
    p.add_argument("--init-from", metavar="FILE",
                   help="start from these weights (pycls, timm, torchvision or netspace checkpoint of MODEL, "
                        "converted on load; a new classifier or stem input is adapted and said); a resumed run "
                        "continues its own checkpoint")
    _add_trial_options(p, TrialConfig())
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    import os
    import signal

    from netspace import zoo
    from netspace.train import train_trial
    from netspace.train.config import trial_config

    trial = trial_config(**_trial_overrides(args))
    result = train_trial(zoo.resolve(args.model), trial, out_dir=args.out, resume=True if args.resume else None,
                         device=args.device, progress=not args.quiet, init_from=args.init_from)
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 speaks for all
        return 128 + result.signal if result.status == "interrupted" and result.signal else 0
    if result.status == "interrupted":
        name = signal.Signals(result.signal).name if result.signal else "a signal"
        print(f"netspace train: interrupted by {name} after epoch {result.epochs}; checkpoint in {args.out}; "
              f"rerun the same command to resume", file=sys.stderr)
        return 128 + (result.signal or signal.SIGINT)
    split = result.eval_split
    if result.status == "diverged":
        print(f"diverged: loss became NaN/inf after {result.epochs} epochs; recorded as {split} error "
              f"{result.error:.0f}% in {args.out}/result.json (try a lower --lr)")
        return 0
    print(f"{result.status}: {split} error {result.error:.2f}% (best {result.best_error:.2f}%) after "
          f"{result.epochs} epochs, {result.wall_seconds:.0f}s; results in {args.out}")
    return 0


# -- sweep -------------------------------------------------------------------
_SWEEP_SUBCOMMANDS = ("run", "status", "export")


def _add_executor_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--workers", type=int, metavar="N", help="concurrent trials (default: one per core)")
    p.add_argument("--executor", default="local", choices=["local", "ray"],
                   help="local worker processes, or Ray tasks (default local)")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--force-new", action="store_true", help=f"start over (the old {what} is kept aside)")


def _add_window_options(p: argparse.ArgumentParser, flops_default: str = "none") -> None:
    p.add_argument("--flops", metavar="LOW:HIGH",
                   help=f"flops (multiply-adds) window, e.g. 360M:400M (default {flops_default})")
    p.add_argument("--params", dest="params_window", metavar="LOW:HIGH", help="params window, e.g. :3M (default none)")
    p.add_argument("--acts", metavar="LOW:HIGH", help="activations window (default none)")


def _window(args: argparse.Namespace):
    from netspace.run import ComplexityWindow

    return ComplexityWindow(flops=args.flops, params=args.params_window, acts=args.acts)


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    from netspace.run.rows import EXPORT_FORMATS
    from netspace.train.config import TrialConfig

    p = sub.add_parser("sweep", help="sample, train and store N models of a design space "
                       "(sweep [run] SPACE ..., sweep status DIR, sweep export DIR)")
    sweep = p.add_subparsers(dest="sweep_command", required=True, parser_class=_Parser)
    r = sweep.add_parser("run", help="sample N models inside a complexity window and train each "
                         "(also spelled: netspace sweep SPACE ...)")
    r.add_argument("space", help="AnyNetX_A..E, RegNet, RegNetX, RegNetY, MnasNet, NASNet or a space YAML")
    r.add_argument("--samples", type=int, required=True, metavar="N", help="number of models to sample (required)")
    r.add_argument("--out", required=True, metavar="DIR", help="sweep directory (required)")
    _add_window_options(r)
    r.add_argument("--variant", choices=["imagenet", "small"], help="space variant (default: from the data)")
    _add_executor_options(r, "sweep")
    _add_trial_options(r, TrialConfig())
    r.set_defaults(func=_cmd_sweep_run)
    st = sweep.add_parser("status", help="counts by status, the best trial and an ETA of a sweep or search")
    st.add_argument("dir", help="sweep or search directory")
    st.set_defaults(func=_cmd_sweep_status)
    ex = sweep.add_parser("export", help="one row per trial (design parameters, complexity, results), or one "
                          "Optuna study per sweep")
    ex.add_argument("dir", nargs="+", help="sweep or search directories (DIR or LABEL=DIR; a study directory "
                    "stands for its sweeps)")
    ex.add_argument("--format", default="csv", choices=[*EXPORT_FORMATS, "optuna"],
                    help="export format: csv, json, parquet (rows), or optuna (an Optuna RDB storage, one study per "
                    "sweep, for optuna-dashboard and optuna.visualization; needs --out FILE.db) (default csv)")
    ex.add_argument("--out", metavar="FILE", help="file to write (default: standard output)")
    ex.set_defaults(func=_cmd_sweep_export)


# Exit status of a sweep, search or study that ended with trials still pending (a fault of the
# machine stopped them): EX_TEMPFAIL, "try again", so `until netspace sweep ...; do :; done` style
# loops and schedulers can tell it from success (0) and from bad input (2).
UNFINISHED = 75


def _unfinished(command: str, out: str, counts: list[dict]) -> int:
    left = sum(c.get("pending", 0) + c.get("running", 0) for c in counts)
    if not left:
        return 0
    print(f"netspace {command}: {left} trial(s) still pending; rerun the same command to train them ({out})",
          file=sys.stderr)
    return UNFINISHED


def _cmd_sweep_run(args: argparse.Namespace) -> int:
    from netspace.run import SweepConfig, run_sweep
    from netspace.train.config import trial_config

    config = SweepConfig(space=args.space, samples=args.samples, trial=trial_config(**_trial_overrides(args)),
                         window=_window(args), variant=args.variant)
    try:
        counts = run_sweep(config, args.out, workers=args.workers, executor=args.executor, address=args.address,
                           force_new=args.force_new)
    except KeyboardInterrupt:
        print(f"netspace sweep: interrupted; rerun the same command to resume {args.out}", file=sys.stderr)
        return 130
    print(", ".join(f"{k} {v}" for k, v in counts.items()))
    return _unfinished("sweep", args.out, [counts])


def _cmd_sweep_status(args: argparse.Namespace) -> int:
    from netspace.run import status

    st = status(args.dir)
    counts = ", ".join(f"{k} {v}" for k, v in st["counts"].items())
    print(f"{args.dir}: {st['space']}, {st['total']} trials: {counts}")
    if st["best"]:
        b = st["best"]
        print(f"best: trial {b['trial']}, error {b['error']:.2f}%, flops {_human(b['flops'])}")
    if st["eta_seconds_one_worker"] is not None and st["counts"]["pending"] + st["counts"]["running"]:
        print(f"ETA: {st['eta_seconds_one_worker'] / 60:.1f} min of single-worker time left")
    found = st["search"]
    if found:
        print(f"search: {found['strategy']}, reward {found['reward']}, {found['told']} of "
              f"{found['budget']} trials told to the strategy")
        _print_best(found)
    return 0


def _cmd_sweep_export(args: argparse.Namespace) -> int:
    from netspace.run import export_optuna, export_rows, export_table

    if args.format != "optuna":
        sys.stdout.write(export_table(export_rows(args.dir), args.format, args.out or None) or "")
        return 0
    if not args.out:
        raise NetspaceError("sweep export --format optuna needs --out FILE.db (an Optuna SQLite storage)")
    for name, n in export_optuna(args.dir, args.out).items():
        print(f"study {name!r}: {n['complete']} complete, {n['fail']} failed"
              + (f", {n['left_out']} unfinished left out" if n["left_out"] else ""))
    print(f"wrote sqlite:///{os.path.abspath(args.out)} (optuna-dashboard sqlite:///{args.out})")
    return 0


# -- study -------------------------------------------------------------------
def _add_study(sub: argparse._SubParsersAction) -> None:
    from netspace.study import PRESETS, STUDY_SPACES

    p = sub.add_parser("study", help="the paper's study, AnyNetX_A..E -> RegNet -> RegNetX/Y, swept and compared "
                       "in one report")
    p.add_argument("--preset", default="quick", choices=list(PRESETS),
                   help="; ".join(f"{k}: {v.about}" for k, v in PRESETS.items()) + " (default quick)")
    p.add_argument("--out", default="runs/study", metavar="DIR", help="study directory (default runs/study)")
    p.add_argument("--spaces", help=f"comma-separated subset of the spaces (default: all: {', '.join(STUDY_SPACES)})")
    p.add_argument("--samples", type=int, metavar="N", help="models per space (default: the preset's)")
    p.add_argument("--time", metavar="DURATION",
                   help="a time budget (1h, 45m, 1h30m, or seconds) instead of --samples: the models per space are "
                   "chosen from the cost of one model per space measured here first (stored in OUT/plan.json)")
    p.add_argument("--flops", metavar="LOW:HIGH", help="flops window (default: the preset's)")
    _add_fidelity_options(p)
    _add_executor_options(p, "study")
    _add_trial_options(p, PRESETS["quick"].trial, defaults="default: the preset's")
    p.set_defaults(func=_cmd_study)


def _add_fidelity_options(p: argparse.ArgumentParser) -> None:
    """One option per field of ``netspace.study.FidelityConfig`` (its ``flag``, help and default)."""
    import dataclasses

    from netspace.study import FidelityConfig

    group = p.add_argument_group("fidelity stage (a subset retrained with a longer schedule)")
    for f in dataclasses.fields(FidelityConfig):
        kind = _field_type(f)
        default = f.default
        group.add_argument(f.metadata["flag"], dest=f"fidelity_{f.name}", default=None,
                           type=int if kind is bool else kind, choices=[0, 1] if kind is bool else None,
                           metavar={bool: "{0,1}", int: "N", float: "X"}[kind],
                           help=f"{f.metadata['help']} (default {int(default) if kind is bool else _shown(default)})")


def _fidelity_options(args: argparse.Namespace) -> dict:
    return {k[len("fidelity_"):]: v for k, v in vars(args).items() if k.startswith("fidelity_") and v is not None}


def _cmd_study(args: argparse.Namespace) -> int:
    from netspace.study import STUDY_SPACES, StudyConfig, parse_duration, run_study

    spaces = STUDY_SPACES
    if args.spaces:
        spaces = tuple(s.strip() for s in args.spaces.split(",") if s.strip())
    config = StudyConfig(preset=args.preset, spaces=spaces, samples=args.samples, flops=args.flops,
                         trial=_trial_overrides(args), time=parse_duration(args.time) if args.time else None,
                         fidelity=_fidelity_options(args))
    try:
        result = run_study(config, args.out, workers=args.workers, executor=args.executor, address=args.address,
                           force_new=args.force_new)
    except KeyboardInterrupt:
        print(f"netspace study: interrupted; rerun the same command to resume {args.out}", file=sys.stderr)
        return 130
    for space, counts in result["counts"].items():
        print(f"{space}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    for space, counts in result.get("fidelity", {}).items():
        print(f"fidelity {space}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    if result["report"]:
        print(result["report"])
    return _unfinished("study", args.out, [*result["counts"].values(), *result.get("fidelity", {}).values()])


# -- search ------------------------------------------------------------------
def _add_search(sub: argparse._SubParsersAction) -> None:
    from netspace.run.config import SEARCH_TRIAL
    from netspace.search import STRATEGIES
    from netspace.search.reinforce import CONTROLLER_PRESETS

    p = sub.add_parser("search", help="architecture search (random, REINFORCE, evolution, Optuna's TPE and "
                       "NSGA-II) with an accuracy or MnasNet latency reward; resumable, read by sweep status and "
                       "analyze")
    p.add_argument("space", help="a design space; every strategy but random asks from its token form (tokens())")
    p.add_argument("--strategy", required=True, choices=list(STRATEGIES),
                   help="; ".join(f"{name}: {cls.about}" if cls.about else name for name, cls in STRATEGIES.items())
                   + " (required)")
    p.add_argument("--budget", type=int, required=True, metavar="N",
                   help="trials to train in all; a rerun with more continues (required)")
    p.add_argument("--out", required=True, metavar="DIR", help="search directory (required)")
    _add_window_options(p)
    p.add_argument("--reward", default="accuracy", choices=["accuracy", "mnas"],
                   help="accuracy, or mnas: ACC x (LAT/T)^w (default accuracy)")
    p.add_argument("--target-latency", type=float, metavar="MS", help="latency target T of the mnas reward (ms)")
    p.add_argument("--constraint", default="soft", choices=["soft", "hard"],
                   help="mnas exponents: soft alpha=beta=-0.07, hard alpha=0 beta=-1 (default soft)")
    p.add_argument("--latency", choices=["measure", "flops", "none"],
                   help="cost of the mnas reward and of optuna-nsga2's second objective: measure (batch-1 "
                   "inference here; the mnas default) or flops (exact multiply-adds; the optuna-nsga2 default)")
    p.add_argument("--target-flops", metavar="N", help="flops target of the mnas reward with --latency flops (e.g. 20M)")
    p.add_argument("--latency-device", default="cpu", help="device the latency is measured on (default cpu)")
    p.add_argument("--latency-threads", type=int, default=1, metavar="N", help="CPU threads for latency (default 1)")
    p.add_argument("--batch", type=int, default=4, metavar="N",
                   help="candidates per round; REINFORCE's batch (default 4)")
    p.add_argument("--population", type=int, default=16, metavar="N",
                   help="evolution: population size P; optuna-nsga2: its population (default 16)")
    p.add_argument("--sample-size", type=int, default=4, metavar="N", help="evolution: tournament sample S (default 4)")
    p.add_argument("--controller", default="netspace", choices=list(CONTROLLER_PRESETS),
                   help="REINFORCE controller defaults: " + "; ".join(
                       f"{k}: {v['layers']}-layer LSTM of {v['hidden']}, Adam lr {v['lr']:g}, init "
                       f"U(-{v['init_range']:g}, {v['init_range']:g})" for k, v in CONTROLLER_PRESETS.items())
                   + " (default netspace)")
    p.add_argument("--controller-lr", type=float, metavar="X", help="REINFORCE: controller Adam lr (default: the "
                   "controller's)")
    p.add_argument("--entropy-weight", type=float, default=1e-3, metavar="X",
                   help="REINFORCE: entropy bonus (default 0.001)")
    p.add_argument("--variant", choices=["imagenet", "small"], help="space variant (default: from the data)")
    _add_executor_options(p, "search")
    _add_trial_options(p, SEARCH_TRIAL)
    p.set_defaults(func=_cmd_search)


def _cmd_search(args: argparse.Namespace) -> int:
    from netspace.run.config import SEARCH_TRIAL, SearchConfig
    from netspace.run.search import run_search
    from netspace.train.config import trial_config

    config = SearchConfig(
        space=args.space, strategy=args.strategy, budget=args.budget,
        trial=trial_config(SEARCH_TRIAL, **_trial_overrides(args)), window=_window(args), variant=args.variant,
        reward=args.reward, target_latency=args.target_latency, target_flops=args.target_flops,
        constraint=args.constraint, latency=args.latency, latency_device=args.latency_device,
        latency_threads=args.latency_threads, batch=args.batch, population=args.population,
        sample_size=args.sample_size, controller=args.controller, controller_lr=args.controller_lr,
        entropy_weight=args.entropy_weight)
    try:
        summary = run_search(config, args.out, workers=args.workers, executor=args.executor, address=args.address,
                             force_new=args.force_new)
    except KeyboardInterrupt:
        print(f"netspace search: interrupted; rerun the same command to resume {args.out}", file=sys.stderr)
        return 130
    print(", ".join(f"{k} {v}" for k, v in summary["counts"].items()))
    _print_best(summary)
    return _unfinished("search", args.out, [summary["counts"]])


def _print_best(summary: dict) -> None:
    b = summary["best"]
    if not b:
        return
    err = f"{b['error']:.2f}%" if b["error"] is not None else "-"
    lat = f", latency {b['latency_ms']:.3f} ms" if b["latency_ms"] is not None else ""
    print(f"best: trial {b['trial']}, reward {b['reward']:.4f}, error {err}, flops {_human(b['flops'])}{lat}")


# -- export ------------------------------------------------------------------
def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a trained or named model as a torch.export program (.pt2) or ONNX, "
                       "checked against PyTorch")
    p.add_argument("source", help="sweep/search directory, train run directory, or model (zoo name, spec JSON)")
    p.add_argument("--trial", type=int, help="trial K of a sweep/search directory")
    p.add_argument("--best", action="store_true", help="the best trial (highest reward; lowest error for sweeps)")
    p.add_argument("--format", default="pt2", metavar="{pt2,onnx}",
                   help="pt2: torch.export program (torch.export.load reads it); onnx: the dynamo ONNX exporter "
                   "(needs netspace[onnx]) (default pt2; TorchScript is gone: torch.jit is deprecated in torch 2.13)")
    p.add_argument("--out", required=True, metavar="FILE", help="file to write (required)")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from netspace.export import export_model

    r = export_model(args.source, args.out, format=args.format, trial=args.trial, best=args.best)
    what = f"trial {r.trial} of {r.source}" if r.trial is not None else r.source
    check = f"max |diff| {r.max_abs_diff:.2e} ({r.checked_with})" if r.max_abs_diff is not None else r.checked_with
    print(f"{r.path}: {r.format} of {what}{'' if r.trained else ' (untrained weights)'}; outputs match PyTorch, {check}")
    return 0


# -- convert -----------------------------------------------------------------
def _add_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert weights between pycls, timm, torchvision and netspace, "
                                       "mapped by layer role with every key and shape checked")
    p.add_argument("src", help="checkpoint file (pycls .pyth, timm/torchvision state dict, netspace weights or "
                               "a train run's checkpoint.pt)")
    p.add_argument("--model", help="the model the weights are for: zoo name or timm's, torchvision's, pycls's "
                                   "name for it (required unless SRC is a netspace file)")
    p.add_argument("--from", dest="source", choices=["netspace", "pycls", "timm", "torchvision"],
                   help="SRC's naming (default: found from its keys)")
    p.add_argument("--to", dest="target", default="netspace", choices=["netspace", "pycls", "timm", "torchvision"],
                   help="format to write (default netspace: a weights file create_model and train --init-from "
                        "read)")
    p.add_argument("--out", required=True, metavar="DST", help="file to write (required)")
    p.set_defaults(func=_cmd_convert)


def _cmd_convert(args: argparse.Namespace) -> int:
    from netspace import zoo
    from netspace.interop import convert

    model = zoo.resolve(args.model) if args.model else None
    r = convert(args.src, args.out, model=model, source=args.source, target=args.target)
    print(f"{r['out']}: {r['model']} ({r['num_classes']} classes, {r['in_channels']} input channels), "
          f"{r['keys']} tensors, {r['source']} -> {r['target']}")
    return 0


# -- analyze -----------------------------------------------------------------
def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="compare sweeps: EDFs, KS tests, best ranges, RegNet fits, in one HTML page")
    p.add_argument("dirs", nargs="+", metavar="[LABEL=]INPUT", help="sweep or search directories, CSV tables "
                   "(sweep export), pycls sweep.json files or NDS design-space JSON files (the format is told from "
                   "the content), each labelled LABEL in the report (default: its name, with its parents' where two "
                   "inputs share one)")
    p.add_argument("--out", default="report.html", help="the HTML page to write (default report.html)")
    p.add_argument("--normalize", choices=["flops", "params"], help="complexity-normalize the EDFs")
    p.add_argument("--metrics", help="columns to plot error against, comma-separated (default: every design "
                   "parameter that varies)")
    p.add_argument("--nds-error", choices=["min", "last"], default="min",
                   help="an NDS file's error: min (each model's minimum test error, min_test_top1, as the NDS "
                   "paper's EDFs) or last (the last epoch's test error) (default min)")
    p.set_defaults(func=_cmd_analyze)


def _cmd_analyze(args: argparse.Namespace) -> int:
    from netspace.inputs import load_inputs
    from netspace.report import write_report

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    path = write_report(load_inputs(args.dirs, nds_error=args.nds_error), args.out, normalize=args.normalize,
                        metrics=metrics)
    print(path)
    return 0


# -- latency -----------------------------------------------------------------
def _add_latency(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("latency", help="measure a model's latency here (median, p10/p90, images/s); "
                       "on a sweep or search directory, every trial's, into its store")
    p.add_argument("model", help="zoo name, RegNet parameters (d=..,w0=..), a spec JSON file, "
                   "or a sweep/search directory")
    p.add_argument("--batch", type=int, default=1, help="images per step (default 1)")
    p.add_argument("--resolution", type=int, help="input resolution (default: the model's)")
    p.add_argument("--channels", type=int, help="input channels (default: the model's)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--threads", type=int, help="CPU threads for the measurement (default: torch's current)")
    p.add_argument("--mode", default="inference", choices=["inference", "train"],
                   help="inference: forward pass; train: forward, backward, SGD step (default inference)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    p.add_argument("--max-seconds", type=float, help="time limit of the timed phase per model "
                   "(default 10; 5 per trial for a directory)")
    p.add_argument("--lookup", metavar="FILE", help="per-block lookup table (JSON; created or extended): "
                   "also predict the latency as the sum of the model's blocks")
    p.add_argument("--force", action="store_true", help="directory: re-measure trials measured before")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_latency)


def _cmd_latency(args: argparse.Namespace) -> int:
    from netspace.run.latency import latency_report

    report = latency_report(args.model, batch=args.batch, resolution=args.resolution, channels=args.channels,
                            device=args.device, threads=args.threads, mode=args.mode, warmup=args.warmup,
                            max_seconds=args.max_seconds, lookup=args.lookup or None, force=args.force)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
        return 0
    if report.trials is not None:  # a sweep or search directory
        ms = sorted(r["median_ms"] for r in report.trials)
        print(f"{report.name}: {len(ms)} trials measured and stored; median latency {ms[0]:.3f}..{ms[-1]:.3f} ms")
        summary = report.lookup
        if summary:
            print(f"lookup table ({report.lookup_blocks} blocks): median |error| "
                  f"{100 * summary['median_abs_rel_error']:.1f}%, mean |error| "
                  f"{100 * summary['mean_abs_rel_error']:.1f}%, Spearman {summary['spearman']:.3f}")
        return 0
    r = report.result
    threads = f", {r['threads']} thread(s)" if r["threads"] else ""
    print(f"{report.name}: {r['resolution']}px, batch {r['batch']}, {r['device']}{threads}, {r['mode']}")
    print(f"  median {r['median_ms']:.3f} ms (p10 {r['p10_ms']:.3f}, p90 {r['p90_ms']:.3f}), "
          f"{r['images_per_second']:,.1f} images/s, {r['repeats']} repeats"
          + ("" if r["stable"] else f", not stable within {r['seconds']:.1f} s"))
    if "predicted_ms" in r:
        print(f"  lookup table: {r['predicted_ms']:.3f} ms ({100 * r['lookup_rel_error']:+.1f}%)")
    return 0


# -- runtime-fit -------------------------------------------------------------
def _add_runtime_fit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runtime-fit", help="which of flops, params, acts predicts measured latency "
                       "(held-out R^2, Spearman, relative error; HTML page)")
    p.add_argument("sources", nargs="+", metavar="DIR",
                   help="sweep/search directories measured with 'netspace latency DIR', or CSV files with "
                   "flops, params, acts and the target column")
    p.add_argument("--target", default="latency_ms", help="the measured time column (default latency_ms)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fold split (default 0)")
    p.add_argument("--out", default="runtime.html", help="the HTML page to write (default runtime.html)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=_cmd_runtime_fit)


def _cmd_runtime_fit(args: argparse.Namespace) -> int:
    from netspace.report.runtime import runtime_report
    from netspace.run.frame import load

    fit = runtime_report(load(args.sources), args.out, target=args.target, folds=args.folds, seed=args.seed)
    if args.json:
        print(json.dumps(fit.table.to_dict(orient="records"), indent=1))
        return 0
    print(f"{len(fit.predictions)} models, held-out ({args.folds}-fold) scores:")
    print(f"  {'model':<34}{'R^2':>8}{'Spearman':>10}{'rel.err':>9}")
    for r in fit.table.itertuples(index=False):
        print(f"  {r.formula:<34}{r.r2:>8.3f}{r.spearman:>10.3f}{100 * r.mean_rel_error:>8.1f}%")
    print(fit.path)
    return 0


# -- scale -------------------------------------------------------------------
def _add_scale(sub: argparse._SubParsersAction) -> None:
    from netspace.data import DATASETS

    p = sub.add_parser("scale", help="compound scaling (EfficientNet) on your data: grid-search alpha, beta, "
                       "gamma, then the family phi = 0..K; optionally RegNet-trend models at the same flops")
    p.add_argument("model", help="zoo name, RegNet parameters, a spec JSON or result.json, or a sweep/search "
                   "directory (its best trial)")
    p.add_argument("--data", required=True, metavar="NAME", help=f"dataset: {', '.join(DATASETS)} (required)")
    p.add_argument("--phi", type=int, required=True, metavar="K", help="largest family member (phi = 1..K) "
                   "(required)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (grid.csv, family.csv, "
                   "family.json, runs/) (required)")
    p.add_argument("--budget", type=float, default=2.0, help="flops multiplier per phi: alpha*beta^2*gamma^2 "
                   "(default 2)")
    p.add_argument("--step", type=float, default=0.1, help="grid step of beta and gamma (default 0.1)")
    p.add_argument("--tolerance", type=float, default=0.0, help="keep grid triples (alpha on the grid too) whose "
                   "product is within this fraction of --budget; 0.05 with --step 0.05 holds EfficientNet's "
                   "(1.2, 1.1, 1.15) (default 0: alpha = budget / (beta^2 gamma^2))")
    p.add_argument("--epochs", type=int, default=1, help="epochs per candidate and family member (default 1)")
    p.add_argument("--batch-size", type=int, default=128, help="global batch size (default 128)")
    p.add_argument("--lr", type=float, default=0.2, help="peak learning rate, reached after warmup (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data subsets and of training "
                   "(default 0)")
    p.add_argument("--data-dir", help="dataset directory")
    p.add_argument("--limit-train", type=int, metavar="N", help="train on a seeded subset of N images")
    p.add_argument("--limit-test", type=int, metavar="N", help="evaluate on a seeded subset of N images")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--regnet-sweep", nargs="+", metavar="DIR", help="RegNet sweep(s) whose trend of good models "
                   "gives a RegNet at each family member's flops, for comparison")
    p.add_argument("--no-train-family", action="store_true", help="build the family without training it")
    p.add_argument("--json", action="store_true", help="print family.json's content")
    p.set_defaults(func=_cmd_scale)


def _cmd_scale(args: argparse.Namespace) -> int:
    from netspace.scaling import scale_model
    from netspace.train import Schedule

    schedule = Schedule(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    result = scale_model(args.model, args.data, regnet_sweeps=args.regnet_sweep, phi=args.phi, budget=args.budget,
                         step=args.step, tolerance=args.tolerance, schedule=schedule, data_dir=args.data_dir,
                         limit_train=args.limit_train, limit_test=args.limit_test, seed=args.seed, device=args.device,
                         train_family=not args.no_train_family, out_dir=args.out)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1, default=str))
        return 0
    print(f"alpha {result.alpha:.3f} (depth), beta {result.beta:.2f} (width), gamma {result.gamma:.2f} "
          f"(resolution): alpha*beta^2*gamma^2 = {result.alpha * result.beta ** 2 * result.gamma ** 2:.3f}")
    print(f"{'family':<9}{'phi':>4}{'depth':>7}{'width':>7}{'res':>5}{'flops':>10}{'params':>10}{'acts':>10}"
          f"{'error':>8}")
    for r in result.family.itertuples(index=False):
        err = "-" if r.error != r.error else f"{r.error:.2f}"
        print(f"{r.family:<9}{r.phi:>4}{r.depth:>7}{r.width:>7}{r.resolution:>5}{_human(r.flops):>10}"
              f"{_human(r.params):>10}{_human(r.acts):>10}{err:>8}")
    print(f"specs and tables in {args.out} (family.json, family.csv, grid.csv)")
    return 0


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_zoo, _add_info, _add_sample, _add_train, _add_sweep, _add_study, _add_search, _add_analyze,
                                                                  _add_export, _add_convert, _add_latency, _add_runtime_fit,
                                                                  _add_scale]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netspace", description="Design spaces for convolutional networks.")
    parser.add_argument("--version", action="version", version=f"netspace {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in _COMMANDS:
        add(sub)
    return parser


def _spellings(argv: list[str]) -> list[str]:
    """``netspace sweep SPACE ...`` is ``netspace sweep run SPACE ...``."""
    if len(argv) >= 2 and argv[0] == "sweep" and argv[1] not in (*_SWEEP_SUBCOMMANDS, "-h", "--help"):
        return ["sweep", "run", *argv[1:]]
    return argv


_OS_FIXES = {errno.ENOSPC: "free space on that device, then rerun the same command",
             errno.EDQUOT: "free space in your quota, then rerun the same command",
             errno.EACCES: "check its permissions, or write elsewhere",
             errno.EPERM: "check its permissions, or write elsewhere",
             errno.EROFS: "write to a writable file system",
             errno.EISDIR: "give a file path, not a directory",
             errno.ENOENT: "check the path"}


def _os_message(e: OSError, where: str | None = None) -> str:
    """One line for an OSError: the file it is about, what the system said, and what to do."""
    where = e.filename if e.filename is not None else where
    what = e.strerror or str(e)
    fix = _OS_FIXES.get(e.errno, "")
    return " ".join(f"{where + ': ' if where else ''}{what}{'; ' + fix if fix else ''}".split())


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's flush at exit cannot fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _fail(command: str, message: str) -> int:
    print(f"netspace {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    argv = _spellings(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args) or 0)
    except NetspaceError as e:
        return _fail(args.command, str(e))
    except BrokenPipeError:
        _drop_stdout()
        return 0
    except OSError as e:
        return _fail(args.command, _os_message(e))
    except RecursionError:
        return _fail(args.command, "input nested too deeply to read (JSON or YAML thousands of levels deep); "
                                   "check the file")
    try:  # what was printed reaches its file now: a full device is reported here, not as a traceback at exit
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()
    except OSError as e:
        _drop_stdout()
        return _fail(args.command, _os_message(e, "standard output"))
    return code


if __name__ == "__main__":
    sys.exit(main())
