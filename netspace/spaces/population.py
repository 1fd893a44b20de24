"""Draw a population from a space without training it: what ``netspace sample`` prints.

``sample_population("AnyNetX_C", 100, flops="8M:10M", resolution=28)`` uses
the very sampler sweeps use (``space.sample``), so a user can inspect the
networks a sweep of the same space, window and seed would train, before
paying for training. Each record is ``{"space", "design", "complexity",
"stages"}``: the sampled design parameters by name (the draw, before any
Appendix D adjustment), the exact ``flops``/``params``/``acts``, and the
per-stage objects of ``netspace info --json``.
"""

from __future__ import annotations

from typing import Any

from netspace.schema import design_columns
from netspace.spaces.registry import get_space
from netspace.spaces.samplers import SpaceError
from netspace.spaces.window import WindowLike
from netspace.spec import stage_summary

COMPLEXITY_KEYS = ("flops", "params", "acts")


def sample_population(space: str, n: int, *, flops: WindowLike = None, params: WindowLike = None,
                      acts: WindowLike = None, seed: int = 0, resolution: int = 224, in_channels: int = 3,
                      num_classes: int = 1000, variant: str | None = None) -> list[dict[str, Any]]:
    """``n`` distinct networks of ``space`` (no window: the space unconstrained), as plain records."""
    for name, v in (("n", n), ("resolution", resolution), ("channels", in_channels), ("classes", num_classes)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SpaceError(f"{name} must be a positive integer, got {v!r}")
    sp = get_space(space, resolution=resolution, in_channels=in_channels, num_classes=num_classes, variant=variant)
    result = sp.sample(n, seed=seed, flops=flops, params=params, acts=acts)
    return [{"space": sp.name, "design": s.params,
             "complexity": {k: s.complexity[k] for k in COMPLEXITY_KEYS},
             "stages": [stage_summary(st) for st in getattr(s.spec, "stages", ())]}
            for s in result]


def flat_record(record: dict[str, Any]) -> dict[str, Any]:
    """One record as a CSV row: list parameters per stage under the names of a sweep's rows (``depth1``..,
    ``netspace.schema.design_columns``), then complexity, then ``s1.width``.."""
    row: dict[str, Any] = {"space": record["space"]}
    for k, v in record["design"].items():
        row.update(design_columns({k: v}) if isinstance(v, (list, tuple)) else {k: v})
    row.update(record["complexity"])
    for i, st in enumerate(record["stages"], 1):
        row.update({f"s{i}.{k}": v for k, v in st.items()})
    return row
