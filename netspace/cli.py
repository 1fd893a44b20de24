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


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_zoo, _add_info]


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
