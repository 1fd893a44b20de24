"""The ``netspace`` command: thin commands over the Python API.

Each ``_cmd_*`` function parses nothing itself beyond argparse and calls one
API function. A :class:`NetspaceError` becomes one line on stderr and exit
status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Sequence

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
    from netspace.complexity import complexity

    rows = []
    for name in zoo.names():
        spec = zoo.get(name)
        rows.append({"name": name, "resolution": spec.resolution, **complexity(spec)})
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
    p.add_argument("model", nargs="?", help="zoo name, RegNet parameters (d=..,w0=..) or a spec JSON file")
    p.add_argument("--regnet", metavar="PARAMS", help="RegNet parameters, e.g. d=13,w0=24,wa=36.44,wm=2.49,g=8")
    p.add_argument("--resolution", type=int, help="input resolution (small images get a stride-1 stem)")
    p.add_argument("--classes", type=int, help="number of classes")
    p.add_argument("--channels", type=int, help="input channels")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    from netspace import zoo
    from netspace.complexity import complexity
    from netspace.spec import for_input

    if (args.model is None) == (args.regnet is None):
        raise NetspaceError("info: give exactly one of MODEL or --regnet PARAMS")
    spec = zoo.resolve(args.model) if args.model else zoo.regnet_spec(zoo.parse_regnet(args.regnet))
    for opt in ("resolution", "classes", "channels"):
        v = getattr(args, opt)
        if v is not None and v < 1:
            raise NetspaceError(f"info: --{opt} must be a positive integer, got {v}")
    if args.resolution or args.classes or args.channels:
        spec = for_input(spec, in_channels=args.channels or spec.in_channels,
                         resolution=args.resolution or spec.resolution,
                         num_classes=args.classes or spec.num_classes)
    cx = complexity(spec)
    name = spec.name or (args.model or f"regnet({args.regnet})")
    stages = [
        {"block": s.block, "depth": s.depth, "width": s.width, "stride": s.stride,
         "group_width": s.group_width, "bottleneck_ratio": s.bottleneck_ratio, "se_ratio": s.se_ratio,
         **({"kernel": s.kernel, "expansion": s.expansion} if s.block == "mbconv" else {})}
        for s in spec.stages
    ]
    if args.json:
        out = {"name": name, "resolution": spec.resolution, "num_classes": spec.num_classes,
               "in_channels": spec.in_channels, **cx, "stem": spec.to_dict()["stem"],
               "head_width": spec.head_width, "stages": stages, "spec": spec.to_dict()}
        print(json.dumps(out, indent=1))
        return 0
    stem = spec.stem
    print(f"{name}: {spec.resolution}px, {spec.in_channels} channel(s), {spec.num_classes} classes, "
          f"activation {spec.activation}")
    print(f"  stem: {stem.kind}, width {stem.width}, stride {stem.stride}")
    print(f"  {'stage':<6}{'block':<16}{'depth':>6}{'width':>7}{'stride':>7}{'group_w':>8}{'b':>6}{'se':>6}")
    for i, s in enumerate(stages, 1):
        g = "-" if s["group_width"] is None else s["group_width"]
        print(f"  {i:<6}{s['block']:<16}{s['depth']:>6}{s['width']:>7}{s['stride']:>7}{g!s:>8}"
              f"{s['bottleneck_ratio']:>6g}{s['se_ratio']:>6g}")
    if spec.head_width:
        print(f"  head: 1x1 conv to {spec.head_width}, pool, fc")
    print(f"  flops {_human(cx['flops'])} ({cx['flops']:,} multiply-adds), params {_human(cx['params'])} "
          f"({cx['params']:,}), acts {_human(cx['acts'])} ({cx['acts']:,})")
    return 0


# -- train -------------------------------------------------------------------
# Options that map one-to-one onto netspace.train.Schedule fields; left unset
# they take the Schedule defaults (documented in netspace.train).
_SCHEDULE_OPTIONS = {
    "epochs": int, "batch_size": int, "lr": float, "weight_decay": float, "label_smoothing": float,
    "ema_decay": float, "precision": str, "eval_split": str, "seed": int,
}


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one model on one dataset (resumable; DDP under torchrun)")
    p.add_argument("model", help="zoo name, RegNet parameters (d=..,w0=..) or a spec JSON file")
    p.add_argument("--data", required=True, metavar="NAME",
                   help="fashion-mnist, cifar10, imagefolder or synthetic")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="run directory: metrics.jsonl, checkpoint.pt, result.json")
    p.add_argument("--epochs", type=int, help="epochs (default 10)")
    p.add_argument("--batch-size", type=int, help="global batch size (default 128)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 0.2)")
    p.add_argument("--weight-decay", type=float, help="weight decay, not on BN/biases (default 5e-4)")
    p.add_argument("--label-smoothing", type=float, help="label smoothing (default 0.1)")
    p.add_argument("--ema-decay", type=float, help="weight EMA decay per step, 0 = off (default 0)")
    p.add_argument("--precision", choices=("auto", "bf16", "fp16", "fp32"),
                   help="auto (default): bf16 + channels_last where fast; fp32 turns it off")
    p.add_argument("--eval-split", choices=("test", "val"), help="split to evaluate on (default test)")
    p.add_argument("--seed", type=int, help="seed for init, data order and augmentation (default 0)")
    p.add_argument("--resume", action="store_true",
                   help="require a checkpoint in DIR to continue (a matching one is continued anyway)")
    p.add_argument("--data-dir", metavar="D", help="dataset directory")
    p.add_argument("--val-fraction", type=float, default=0.0, help="hold out this fraction of train as val")
    p.add_argument("--limit-train", type=int, metavar="N", help="train on a seeded subset of N images")
    p.add_argument("--limit-test", type=int, metavar="N", help="evaluate on a seeded subset of N images")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress or per-epoch lines")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    import os
    import signal

    from netspace import zoo
    from netspace.data import load_data
    from netspace.train import Schedule, train

    schedule = Schedule(**{k: getattr(args, k) for k in _SCHEDULE_OPTIONS if getattr(args, k) is not None})
    spec = zoo.resolve(args.model)
    data = load_data(args.data, data_dir=args.data_dir, val_fraction=args.val_fraction, seed=schedule.seed,
                     limit_train=args.limit_train, limit_test=args.limit_test)
    result = train(spec, data, schedule, out_dir=args.out, resume=True if args.resume else None,
                   device=args.device, progress=not args.quiet)
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
def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="sample, train and store N models of a design space "
                       "(also: sweep status DIR, sweep export DIR)")
    p.add_argument("space", help="AnyNetX_A..E, RegNet, RegNetX, RegNetY or a space YAML; or 'status'/'export'")
    p.add_argument("dir", nargs="?", help="sweep directory (for status/export)")
    p.add_argument("--samples", type=int, help="number of models to sample")
    p.add_argument("--flops", help="flops window, e.g. 360M:400M")
    p.add_argument("--params", dest="params_window", help="params window, e.g. :3M")
    p.add_argument("--acts", help="activations window")
    p.add_argument("--epochs", type=int, default=2, help="epochs per trial (default 2)")
    p.add_argument("--data", default="fashion-mnist", help="dataset (default fashion-mnist)")
    p.add_argument("--data-dir", help="dataset directory")
    p.add_argument("--out", help="sweep directory")
    p.add_argument("--workers", type=int, help="concurrent trials (default: one per core)")
    p.add_argument("--executor", default="local", choices=["local", "ray"])
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variant", choices=["imagenet", "small"], help="space variant (default: from the data)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--limit-train", type=int, help="train on the first N images (seeded subset)")
    p.add_argument("--limit-test", type=int, help="evaluate on the first N test images")
    p.add_argument("--val-fraction", type=float, default=0.0, help="hold out this fraction of train")
    p.add_argument("--eval-split", default="test", choices=["test", "val"])
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp16", "fp32"])
    p.add_argument("--force-new", action="store_true", help="start over (the old sweep is kept aside)")
    p.add_argument("--format", default="csv", choices=["csv", "json", "parquet"], help="export format")
    p.set_defaults(func=_cmd_sweep)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from netspace.run import SweepConfig, export_rows, run_sweep, sweep_status

    if args.space in ("status", "export"):
        directory = args.dir or args.out
        if not directory:
            raise NetspaceError(f"sweep {args.space}: give the sweep directory, e.g. netspace sweep {args.space} runs/x")
        if args.space == "status":
            st = sweep_status(directory)
            counts = ", ".join(f"{k} {v}" for k, v in st["counts"].items())
            print(f"{directory}: {st['space']}, {st['total']} trials: {counts}")
            if st["best"]:
                b = st["best"]
                print(f"best: trial {b['trial']}, error {b['error']:.2f}%, flops {_human(b['flops'])}")
            if st["eta_seconds_one_worker"] is not None and st["counts"]["pending"] + st["counts"]["running"]:
                print(f"ETA: {st['eta_seconds_one_worker'] / 60:.1f} min of single-worker time left")
            return 0
        return _export(export_rows(directory), args.format, args.out if args.dir else None)
    if args.dir:
        raise NetspaceError(f"sweep: unexpected argument {args.dir!r}; the directory goes in --out")
    if not args.samples or not args.out:
        raise NetspaceError("sweep: --samples N and --out DIR are required, e.g. "
                            "netspace sweep RegNetX --samples 8 --flops 10M:20M --epochs 1 --out runs/rx")
    config = SweepConfig(space=args.space, samples=args.samples, epochs=args.epochs, data=args.data,
                         flops=args.flops, params=args.params_window, acts=args.acts, seed=args.seed,
                         variant=args.variant, data_dir=args.data_dir, batch_size=args.batch_size, lr=args.lr,
                         limit_train=args.limit_train, limit_test=args.limit_test, val_fraction=args.val_fraction,
                         eval_split=args.eval_split, precision=args.precision)
    try:
        counts = run_sweep(config, args.out, workers=args.workers, executor=args.executor, address=args.address,
                           force_new=args.force_new)
    except KeyboardInterrupt:
        print(f"netspace sweep: interrupted; rerun the same command to resume {args.out}", file=sys.stderr)
        return 130
    print(", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _export(rows: list[dict], fmt: str, out: str | None) -> int:
    import pandas as pd

    frame = pd.DataFrame(rows)
    if fmt == "json":
        text = json.dumps(rows, indent=1)
        if out:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        else:
            print(text)
    elif fmt == "csv":
        frame.to_csv(out or sys.stdout, index=False)
    else:
        if not out:
            raise NetspaceError("sweep export: parquet needs --out FILE")
        try:
            frame.to_parquet(out, index=False)
        except ImportError:
            raise NetspaceError("sweep export: parquet needs pyarrow (pip install pyarrow); or use --format csv") from None
    return 0


# -- analyze -----------------------------------------------------------------
def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="compare sweeps: EDFs, KS tests, best ranges, RegNet fits, in one HTML page")
    p.add_argument("dirs", nargs="+", help="sweep directories")
    p.add_argument("--out", default="report.html", help="the HTML page to write (default report.html)")
    p.add_argument("--normalize", choices=["flops", "params"], help="complexity-normalize the EDFs")
    p.add_argument("--metrics", help="parameters to plot error against, comma-separated (default: all sampled)")
    p.set_defaults(func=_cmd_analyze)


def _cmd_analyze(args: argparse.Namespace) -> int:
    from netspace.report import write_report
    from netspace.run.frame import load

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    path = write_report(load(args.dirs), args.out, normalize=args.normalize, metrics=metrics)
    print(path)
    return 0


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_zoo, _add_info, _add_train, _add_sweep, _add_analyze]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netspace", description="Design spaces for convolutional networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except NetspaceError as e:
        print(f"netspace {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
