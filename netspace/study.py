"""A design-space study: the RegNet paper's progression AnyNetX_A -> B -> C -> D -> E
-> RegNet -> RegNetX -> RegNetY, at a scale chosen by a preset, on the user's data.

Every space is swept with the same complexity window, the same number of
samples and the same short schedule, each in its own sweep directory
(``OUT/<space>/``, a normal sweep store that ``sweep status``, ``sweep export``
and ``analyze`` read). One executor trains the trials of all spaces,
interleaved, so the workers never idle at a space boundary and a study that
is stopped early still holds about as many results per space. Rerunning the
same command resumes it; when every trial has finished, the report
(``OUT/report.html``, written by :mod:`netspace.report.study`, with the full
per-space analysis in ``OUT/analysis.html`` and the claims as numbers in
``OUT/summary.json``) is rewritten.

This module sits above ``run`` and ``report``: it drives sweeps and then
writes the reports, so that the whole study is one call in the Python API.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netspace.errors import NetspaceError
from netspace.run.drive import Entry, drive
from netspace.run.executors import make_executor
from netspace.run.lock import DriverLock
from netspace.run.sweep import SweepConfig, open_sweep

# The paper's progression (Sections 3.2-4): AnyNetX_A..E, the unconstrained RegNet space of Section 3.3
# (Figure 9 compares it with AnyNetX_E), its restriction RegNetX, and RegNetY.
STUDY_SPACES = ("AnyNetX_A", "AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E", "RegNet", "RegNetX", "RegNetY")
STUDY_FILE = "study.json"


@dataclass(frozen=True)
class Preset:
    """The scale of a study: samples per space, schedule, complexity window and data subset."""

    samples: int
    epochs: int
    flops: str
    limit_train: int | None
    limit_test: int | None
    about: str


# Windows for 28-32px data with the small-image frame (stride-1 stem): a
# network's flops there are about 1/16 of the same body at 224px, so the
# paper's 360M:400M window corresponds to about 22M:25M.
PRESETS: dict[str, Preset] = {
    "tiny": Preset(3, 1, "2M:4M", 512, 256, "3 models per space, 1 epoch on 512 images: a smoke test (minutes)"),
    "quick": Preset(16, 2, "8M:10M", 6000, 2000,
                    "16 models per space, 2 epochs on 6,000 images: about 30 minutes on 2 CPU cores"),
    "paper": Preset(100, 10, "22M:25M", None, None,
                    "100 models per space, 10 epochs on the full data, the paper's window scaled to small "
                    "images: for a big machine or a Ray cluster"),
}


@dataclass(frozen=True)
class StudyConfig:
    """A study's settings (stored in ``OUT/study.json``; a rerun must match)."""

    preset: str = "quick"
    data: str = "fashion-mnist"
    data_dir: str | None = None
    seed: int = 0
    spaces: tuple[str, ...] = STUDY_SPACES
    samples: int | None = None  # overrides of the preset
    epochs: int | None = None
    flops: str | None = None

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise NetspaceError(f"unknown preset {self.preset!r}; choose {', '.join(PRESETS)}")
        if not self.spaces:
            raise NetspaceError("a study needs at least one design space")
        object.__setattr__(self, "spaces", tuple(self.spaces))

    @property
    def resolved(self) -> Preset:
        p = PRESETS[self.preset]
        return dataclasses.replace(p, samples=self.samples or p.samples, epochs=self.epochs or p.epochs,
                                   flops=self.flops or p.flops)

    def sweep_config(self, space: str) -> SweepConfig:
        p = self.resolved
        return SweepConfig(space=space, samples=p.samples, epochs=p.epochs, data=self.data, flops=p.flops,
                           seed=self.seed, data_dir=self.data_dir, limit_train=p.limit_train,
                           limit_test=p.limit_test)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["spaces"] = list(self.spaces)
        return d


def space_dir(out: Path, space: str) -> Path:
    return out / space


def _set_aside(out: Path, spaces: list[str]) -> Path:
    old = out / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
    old.mkdir()
    for name in [STUDY_FILE, "report.html", "report_plots", "summary.json", "analysis.html", "analysis_plots",
                 *spaces]:
        if (out / name).exists():
            (out / name).rename(old / name)
    return old


def _check_settings(out: Path, config: StudyConfig, force_new: bool, log) -> None:
    path = out / STUDY_FILE
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise NetspaceError(f"{path} is unreadable ({e}); move it away or use another --out") from None
        if stored != config.to_dict():
            if not force_new:
                diff = sorted(k for k in set(stored) | set(config.to_dict())
                              if stored.get(k) != config.to_dict().get(k))
                raise NetspaceError(
                    f"{out} holds a study with other settings ({', '.join(diff)}); rerun with the same settings "
                    "to continue, use another --out, or add --force-new to start over (the old study is kept in "
                    "a previous-* folder)")
            log(f"previous study moved to {_set_aside(out, list(stored.get('spaces', [])))}")
    elif force_new and any(space_dir(out, s).exists() for s in config.spaces):
        log(f"previous study moved to {_set_aside(out, list(config.spaces))}")
    out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config.to_dict(), indent=1) + "\n")
    tmp.replace(path)


def run_study(config: StudyConfig, out_dir: str | Path, *, workers: int | None = None, executor: str = "local",
              address: str | None = None, force_new: bool = False, report: bool = True, log=None) -> dict[str, Any]:
    """Run (or continue) the study in ``out_dir`` and write its report.

    Returns ``{"counts": {space: {status: n}}, "report": path or None}``; the
    report is written once every trial has finished.
    """
    out = Path(out_dir)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    ex = make_executor(executor, workers, address)  # validates before anything is written
    with DriverLock(out):
        _check_settings(out, config, force_new, log)
        locks = [DriverLock(space_dir(out, s)) for s in config.spaces]
        entries: list[Entry] = []
        try:
            for lock in locks:
                lock.__enter__()
            for space in config.spaces:
                sc = config.sweep_config(space)
                store = open_sweep(sc, space_dir(out, space), log=lambda m, s=space: log(f"{s}: {m}"))
                entries.append(Entry(space, store, sc.schedule_dict(), sc.data_settings(), space_dir(out, space)))
            drive(entries, ex, log)
            counts = {e.name: e.store.counts() for e in entries}
        finally:
            for e in entries:
                e.store.close()
            for lock in locks:
                lock.__exit__(None, None, None)
        path = None
        unfinished = sum(c["pending"] + c["running"] for c in counts.values())
        if report and not unfinished:
            path = write_study_reports(out, config)
            log(f"report: {path}")
        return {"counts": counts, "report": path}


def write_study_reports(out_dir: str | Path, config: StudyConfig) -> str:
    """The study page (``report.html``) and the full per-space analysis (``analysis.html``) of a study directory."""
    from netspace.report import write_report
    from netspace.report.study import write_study_report
    from netspace.run.frame import load

    out = Path(out_dir)
    df = load([space_dir(out, s) for s in config.spaces])
    p = config.resolved
    analysis = write_report(df, out / "analysis.html", title="netspace study: per-space analysis")
    settings = {"data": config.data, "preset": config.preset, "flops window": p.flops,
                "models per space": p.samples, "epochs": p.epochs,
                "training images": p.limit_train or "all", "test images": p.limit_test or "all", "seed": config.seed}
    sc = config.sweep_config(config.spaces[0])
    recipe = {"schedule": sc.schedule_dict(), "data": config.data, "flops": p.flops, "models_per_space": p.samples,
              "limit_train": p.limit_train, "limit_test": p.limit_test, "seed": config.seed}
    return write_study_report(df, out / "report.html", spaces=config.spaces, settings=settings,
                              analysis_page=analysis, preset=config.preset, recipe=recipe)
