"""One panel per design parameter across sweeps, and the best ranges of each panel's sweeps.

Sweeps of different spaces name one parameter differently: RegNet samples
one bottleneck ratio ``bottleneck_ratio``, AnyNetX_B one per network stored
per stage (``bottleneck_ratio1..4``, equal in every model), AnyNetX_A four
(``bottleneck_ratio1..4``, free). A :class:`Panel` is one parameter as the
RegNet paper plots it (a network-wide value, or the value of one stage),
with the column that holds it in each sweep that samples it: a per-stage
parameter whose stages are equal in every model of a sweep is that sweep's
network-wide parameter. A sweep where the parameter is fixed or missing is
not in the panel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from netspace.analysis.bootstrap import best_ranges
from netspace.schema import PARAMETERS, label, parameter_of, scale, stage_column

_ORDER = {p.name: i for i, p in enumerate(PARAMETERS)}


@dataclass(frozen=True)
class Panel:
    """One design parameter (``key``: ``bottleneck_ratio`` or ``depth3``) and its column in each sweep."""

    key: str
    columns: dict[str, str]  # sweep -> the column holding the parameter there

    @property
    def label(self) -> str:
        return label(self.key)

    @property
    def scale(self) -> str:
        return scale(self.key)


def _values(part: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(part[column], errors="coerce").to_numpy(float)


def _varies(part: pd.DataFrame, column: str) -> bool:
    v = _values(part, column)
    return np.unique(v[np.isfinite(v)]).size > 1


def _shared(part: pd.DataFrame, columns: list[str]) -> bool:
    """Whether every model of the sweep has one value in all these (per-stage) columns."""
    v = np.stack([_values(part, c) for c in columns], axis=1)
    if not np.isfinite(v).all():
        return False
    return bool((v == v[:, :1]).all())


def parameter_panels(groups: dict[str, pd.DataFrame], columns: list[str]) -> list[Panel]:
    """The panels of ``columns`` (design columns) over the sweeps ``groups`` (name -> its finished trials),
    in the order of ``netspace.schema.PARAMETERS`` (network-wide first, then stage by stage)."""
    found: dict[str, dict[str, str]] = {}
    for name, part in groups.items():
        stages: dict[str, list[str]] = {}
        for col in columns:
            if col not in part.columns:
                continue
            param, stage = parameter_of(col)
            if stage is None:
                if _varies(part, col):
                    found.setdefault(param, {})[name] = col
            else:
                stages.setdefault(param, []).append(col)
        for param, cols in stages.items():
            # shared or not is the sweep's own property: judged on all its stages, listed or not
            every = [c for c in part.columns if parameter_of(c)[0] == param and parameter_of(c)[1] is not None]
            if len(every) > 1 and _shared(part, every):
                if _varies(part, cols[0]) and name not in found.get(param, {}):
                    found.setdefault(param, {})[name] = cols[0]
                continue
            for col in cols:
                if _varies(part, col):
                    found.setdefault(stage_column(param, parameter_of(col)[1]), {})[name] = col

    def order(key: str) -> tuple[int, int, int]:
        param, stage = parameter_of(key)
        return (0 if stage is None else 1, _ORDER.get(param, len(_ORDER)), stage or 0)

    keys = sorted(found, key=order)  # stable: unknown parameters keep the order of ``columns``
    return [Panel(k, {s: found[k][s] for s in groups if s in found[k]}) for k in keys]


def panel_ranges(groups: dict[str, pd.DataFrame], panels: list[Panel], *, by: str = "flops", samples: int = 2500,
                 seed: int = 0) -> pd.DataFrame:
    """Bootstrap best range (RegNet paper sec. 3.1) of each panel's parameter in each of its sweeps.

    One row per (sweep, panel): ``sweep``, ``parameter`` (the panel), ``column``
    (where the sweep holds it), the sweep's median ``by``, ``low``, ``median``,
    ``high``. All columns of one sweep come from the same bootstrap draws.
    """
    rows = []
    for name, part in groups.items():
        mine = [(p.key, p.columns[name]) for p in panels if name in p.columns]
        if not mine:
            continue
        ranges = best_ranges(part, [c for _, c in mine], samples=samples, seed=seed)
        level = float(pd.to_numeric(part[by], errors="coerce").median()) if by in part.columns else np.nan
        for (key, col), r in zip(mine, ranges.itertuples(index=False)):
            rows.append({"sweep": name, "parameter": key, "column": col, by: level,
                         "low": r.low, "median": r.median, "high": r.high})
    return pd.DataFrame(rows, columns=["sweep", "parameter", "column", by, "low", "median", "high"])
