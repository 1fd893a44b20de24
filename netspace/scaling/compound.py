"""Compound scaling on the user's data: grid-search (alpha, beta, gamma), then build the family phi = 1..K.

EfficientNet (Tan & Le 2019, sec. 3.3) fixes phi = 1 (twice the flops),
grid-searches depth, width and resolution factors alpha, beta, gamma under
alpha * beta^2 * gamma^2 ~ 2 with short training, and scales the base model
by alpha^phi, beta^phi, gamma^phi for larger phi. Here every candidate is
trained with the same short schedule on the same data, the lowest error
wins, and the family is built with the EfficientNet rounding rules
(:mod:`netspace.scaling.rules`). The base is first adapted to the data's
channels, resolution and classes (``for_input``); resolutions are the data's
native one times gamma^phi, and the data is resized to each.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from netspace.complexity import complexity
from netspace.latency import check_device
from netspace.lock import DirectoryLock
from netspace.scaling.regnet_trend import regnet_for_flops
from netspace.scaling.rules import (
    ScalingError, check_family, compound_grid, compound_multipliers, scale_spec, scaled_resolution,
)
from netspace.spec import NetSpec, for_input


def describe(spec: NetSpec) -> dict[str, Any]:
    """The table columns of one model: depth, widths, resolution and its complexity."""
    return {"depth": spec.depth, "width": max(spec.widths), "widths": spec.widths, "depths": spec.depths,
            "resolution": spec.resolution, **complexity(spec)}


class _Trainer:
    """Short training of specs on one dataset at any resolution (data loaded once per resolution)."""

    def __init__(self, data: str, *, schedule, data_dir: str | None, limit_train: int | None,
                 limit_test: int | None, seed: int, device: str | None, out_dir: Path | None,
                 log: Callable[[str], None]) -> None:
        from netspace.data import load_data

        self.name, self.data_dir, self.seed = data, data_dir, seed
        self.limit_train, self.limit_test = limit_train, limit_test
        self.schedule, self.device, self.out, self.log = schedule, device, out_dir, log
        self._cache: dict[int, Any] = {}
        self._errors: dict[str, float] = {}
        native = load_data(data, data_dir=data_dir, seed=seed, limit_train=limit_train, limit_test=limit_test,
                           num_workers=0)
        self.info = native.info
        self._cache[native.info.resolution] = native

    def data(self, resolution: int):
        from netspace.data import load_data

        if resolution not in self._cache:
            self._cache[resolution] = load_data(self.name, data_dir=self.data_dir, resolution=resolution,
                                                seed=self.seed, limit_train=self.limit_train,
                                                limit_test=self.limit_test, num_workers=0)
        return self._cache[resolution]

    def error(self, spec: NetSpec, run_name: str) -> float:
        """Final error (%) of a short training of ``spec``; a spec met before (e.g. phi = 1) is not retrained."""
        from netspace.train import train

        key = spec.replace(name="").to_json()
        if key in self._errors:
            return self._errors[key]
        out = None if self.out is None else self.out / run_name
        result = train(spec, self.data(spec.resolution), self.schedule, out_dir=out, device=self.device,
                       progress=False, handle_signals=False)
        if result.status == "interrupted":
            raise ScalingError(f"training of {run_name} was interrupted; rerun the same command to resume")
        self._errors[key] = float(result.error)
        return self._errors[key]


@dataclass
class CompoundResult:
    """The grid (one row per candidate), the chosen factors and the scaled family (phi = 0..K)."""

    grid: pd.DataFrame
    alpha: float
    beta: float
    gamma: float
    family: pd.DataFrame
    specs: list[NetSpec] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma,
                "grid": self.grid.to_dict(orient="records"),
                "family": [{**row, "spec": spec.to_dict()}
                           for row, spec in zip(self.family.to_dict(orient="records"), self.specs)]}


def scale_family(base: NetSpec, alpha: float, beta: float, gamma: float, phis: list[int] | range, *,
                 resolution_multiple: int = 1) -> list[NetSpec]:
    """The base scaled by alpha^phi (depth), beta^phi (width), gamma^phi (resolution) for each phi."""
    out = []
    for phi in phis:
        d, w, r = compound_multipliers(alpha, beta, gamma, phi)
        out.append(scale_spec(base, width_mult=w, depth_mult=d,
                              resolution=scaled_resolution(base.resolution, r, resolution_multiple),
                              name=f"{base.name or 'model'}-phi{phi}"))
    return out


def compound_scale(base: NetSpec, data: str, *, phi: int = 3, budget: float = 2.0, step: float = 0.1,
                   tolerance: float = 0.0, schedule=None, data_dir: str | None = None, limit_train: int | None = None,
                   limit_test: int | None = None, seed: int = 0, device: str | None = None,
                   resolution_multiple: int = 1, train_family: bool = True, regnet_trend=None,
                   out_dir: str | os.PathLike | None = None,
                   log: Callable[[str], None] | None = None) -> CompoundResult:
    """Grid-search (alpha, beta, gamma) at phi = 1 on ``data``, then build (and train) the family phi = 0..K.

    ``budget`` is the flops multiplier of one step of phi (2 as in
    EfficientNet; must be > 1); ``tolerance`` (default 0: alpha = budget /
    (beta^2 gamma^2), the exact product) > 0 puts alpha on the grid and keeps
    every triple whose product is within that fraction of it (see
    ``compound_grid``). ``schedule`` (a ``netspace.train.Schedule``,
    default 1 epoch) is used for every candidate and family member. With
    ``out_dir`` every run keeps its directory there (reruns resume), and the
    results are written as ``grid.csv``, ``family.csv`` and ``family.json``.
    With ``regnet_trend`` (:func:`~netspace.scaling.fit_regnet_trend`), each
    family member's flops also get the trend's RegNet, trained the same way,
    as rows with ``family="regnet"``.
    """
    from netspace.train import Schedule

    check_family(budget, phi)
    grid = compound_grid(budget, step, tolerance=tolerance)  # validates budget and step first: no data is loaded for a bad call
    if device is not None:
        check_device(device)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    schedule = schedule if schedule is not None else Schedule(epochs=1)
    out = Path(out_dir) if out_dir is not None else None
    # one writer per output directory, as for train and sweeps
    with DirectoryLock(out, name=".driver.lock", what="netspace scale") if out is not None else nullcontext():
        return _compound_scale(base, data, grid, phi=phi, budget=budget, schedule=schedule, data_dir=data_dir,
                               limit_train=limit_train, limit_test=limit_test, seed=seed, device=device,
                               resolution_multiple=resolution_multiple, train_family=train_family,
                               regnet_trend=regnet_trend, out=out, log=log)


def _fits(specs: list[NetSpec], schedule, device: str | None, what: str) -> None:
    """Each spec's least training footprint fits on the device (refused from the spec, before any training)."""
    import torch

    from netspace.train.memory import check_fits

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    for spec in specs:
        # act_bytes 2: the least any precision takes, so a network that fits in bf16 is never refused
        check_fits(complexity(spec), schedule.batch_size, dev, act_bytes=2, what=f"scale: {what} {spec.name}")


def _compound_scale(base: NetSpec, data: str, grid: list[tuple[float, float, float]], *, phi: int, budget: float,
                    schedule, data_dir: str | None, limit_train: int | None, limit_test: int | None, seed: int,
                    device: str | None, resolution_multiple: int, train_family: bool, regnet_trend,
                    out: Path | None, log: Callable[[str], None]) -> CompoundResult:
    trainer = _Trainer(data, schedule=schedule, data_dir=data_dir, limit_train=limit_train,
                       limit_test=limit_test, seed=seed, device=device,
                       out_dir=None if out is None else out / "runs", log=log)
    info = trainer.info
    base = for_input(base, in_channels=info.in_channels, resolution=info.resolution, num_classes=info.num_classes)
    base_flops = complexity(base)["flops"]
    candidates = [scale_family(base, alpha, beta, gamma, [1], resolution_multiple=resolution_multiple)[0]
                  for alpha, beta, gamma in grid]
    _fits(candidates, schedule, device, "grid candidate")

    rows = []
    for i, ((alpha, beta, gamma), spec) in enumerate(zip(grid, candidates)):
        err = trainer.error(spec, f"grid-{i:03d}")
        row = {"alpha": alpha, "beta": beta, "gamma": gamma, "product": alpha * beta ** 2 * gamma ** 2,
               **describe(spec), "flops_ratio": complexity(spec)["flops"] / base_flops, "error": err}
        rows.append(row)
        log(f"[{i + 1}/{len(grid)}] alpha {alpha:.3f} beta {beta:.2f} gamma {gamma:.2f}: "
            f"flops x{row['flops_ratio']:.2f}, error {err:.2f}%")
    grid_df = pd.DataFrame(rows)
    best = grid_df.sort_values(["error", "flops"], kind="stable").iloc[0]
    alpha, beta, gamma = float(best["alpha"]), float(best["beta"]), float(best["gamma"])
    log(f"best: alpha {alpha:.3f}, beta {beta:.2f}, gamma {gamma:.2f} (error {best['error']:.2f}%)")

    specs = [base.replace(name=f"{base.name or 'model'}-phi0")]
    specs += scale_family(base, alpha, beta, gamma, range(1, phi + 1), resolution_multiple=resolution_multiple)
    if train_family:
        _fits(specs, schedule, device, "family member")
    family = []
    for k, spec in enumerate(list(specs)):
        d, w, r = compound_multipliers(alpha, beta, gamma, k)
        err = trainer.error(spec, f"phi-{k}") if train_family else float("nan")
        family.append({"family": "compound", "phi": k, "name": spec.name, "depth_mult": d, "width_mult": w,
                       "resolution_mult": r, **describe(spec), "error": err})
        if train_family:
            log(f"phi {k}: {describe(spec)['flops']:,} flops, error {err:.2f}%")
    if regnet_trend is not None:
        # RegNet-style scaling for comparison: same flops, native resolution, parameters from the trend.
        for k, row in enumerate(list(family)):
            params, spec = regnet_for_flops(regnet_trend, row["flops"], resolution=info.resolution,
                                            in_channels=info.in_channels, num_classes=info.num_classes)
            spec = spec.replace(name=f"RegNet-trend-phi{k}")
            err = trainer.error(spec, f"regnet-{k}") if train_family else float("nan")
            family.append({"family": "regnet", "phi": k, "name": spec.name, "depth_mult": None,
                           "width_mult": None, "resolution_mult": None, **describe(spec), "error": err,
                           "regnet": f"d={params.depth},w0={params.w0},wa={params.wa},wm={params.wm},"
                                     f"g={params.group_width}"})
            specs.append(spec)
            if train_family:
                log(f"RegNet at phi {k} flops: {params}, {describe(spec)['flops']:,} flops, error {err:.2f}%")
    result = CompoundResult(grid=grid_df, alpha=alpha, beta=beta, gamma=gamma, family=pd.DataFrame(family),
                            specs=specs)
    if out is not None:
        write_outputs(out, result.grid, result.family, specs, {"alpha": alpha, "beta": beta, "gamma": gamma,
                                                               "budget": budget, "data": data})
    return result


def write_outputs(out: Path, grid: pd.DataFrame | None, family: pd.DataFrame, specs: list[NetSpec],
                  meta: dict[str, Any]) -> None:
    """grid.csv, family.csv and family.json (the table rows with their specs), each written atomically."""
    out.mkdir(parents=True, exist_ok=True)

    def atomic(name: str, write: Callable[[str], None]) -> None:
        tmp = str(out / (name + ".tmp"))
        write(tmp)
        os.replace(tmp, out / name)

    if grid is not None:
        atomic("grid.csv", lambda p: grid.to_csv(p, index=False))
    atomic("family.csv", lambda p: family.to_csv(p, index=False))
    rows = [{**{k: _plain(v) for k, v in row.items()}, "spec": spec.to_dict()}
            for row, spec in zip(family.to_dict(orient="records"), specs)]

    def dump(p: str) -> None:
        with open(p, "w", encoding="utf-8") as f:
            json.dump({**meta, "models": rows}, f, indent=1)
            f.write("\n")

    atomic("family.json", dump)


def _plain(v: Any) -> Any:
    """JSON-able scalars: numpy numbers to Python, NaN to None."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    return v
