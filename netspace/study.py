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

After the sweeps, a stratified subset of the trained models is trained again
with a schedule several times longer (:class:`FidelityConfig`), each space's
in ``OUT/fidelity/<space>/`` (a sweep store of the chosen models, driven by the
same driver, so it resumes and never retrains a finished model): the report
says how far the short schedule ranks models and spaces as the longer one
does (:mod:`netspace.analysis.fidelity`).

This module sits above ``run`` and ``report``: it drives sweeps and then
writes the reports, so that the whole study is one call in the Python API.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from netspace.errors import NetspaceError
from netspace.fields import help_meta
from netspace.run.config import ComplexityWindow, SweepConfig, comparable_val_limit, with_val_limit
from netspace.run.driver import drive, duration
from netspace.run.executors import make_executor
from netspace.run.lock import DriverLock
from netspace.run.sweep import sweep_run
from netspace.train.config import TrialConfig, split_fields, trial_config
from netspace.train.settings import differences

# The paper's progression (Sections 3.2-4): AnyNetX_A..E, the unconstrained RegNet space of Section 3.3
# (Figure 9 compares it with AnyNetX_E), its restriction RegNetX, and RegNetY.
STUDY_SPACES = ("AnyNetX_A", "AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E", "RegNet", "RegNetX", "RegNetY")
STUDY_FILE = "study.json"


@dataclass(frozen=True)
class Preset:
    """The scale of a study: models per space, complexity window, and the trial configuration (data + recipe)."""

    samples: int
    flops: str
    trial: TrialConfig
    about: str

    @property
    def epochs(self) -> int:
        return self.trial.schedule.epochs


# The RegNet paper's Section 3.1 protocol: SGD with momentum 0.9 (not Nesterov), lr 0.05 with a half-period
# cosine and no warmup, weight decay 5e-5, batch 128, 10 epochs, no label smoothing, 500 models per space; the
# reference implementation leaves the last BN of a block at its usual init (its ZERO_INIT_FINAL_GAMMA is off).
PAPER_RECIPE = dict(epochs=10, batch_size=128, lr=0.05, momentum=0.9, nesterov=False, weight_decay=5e-5,
                    warmup_epochs=0.0, label_smoothing=0.0, zero_init_last_bn=False)

# Windows for 28-32px data with the small-image frame (stride-1 stem): a
# network's flops there are about 1/16 of the same body at 224px, so the
# paper's 360M:400M window corresponds to about 22M:25M.
PRESETS: dict[str, Preset] = {
    "tiny": Preset(3, "2M:4M", trial_config(epochs=1, limit_train=512, limit_test=256),
                   "3 models per space, 1 epoch on 512 images: a smoke test (minutes)"),
    "quick": Preset(16, "8M:10M", trial_config(epochs=2, limit_train=6000, limit_test=2000),
                    "16 models per space, 2 epochs on 6,000 images: 20-40 minutes on 2 CPU cores"),
    "paper": Preset(500, "22M:25M", trial_config(**PAPER_RECIPE),
                    "the paper's Section 3 protocol: 500 models per space, 10 epochs of SGD (lr 0.05, cosine, "
                    "weight decay 5e-5, batch 128) on the full data, the paper's window scaled to small images: "
                    "for a big machine or a Ray cluster"),
}


@dataclass(frozen=True)
class FidelityConfig:
    """The fidelity stage: which trained models are retrained with a longer schedule, and how much longer.

    The subset (:func:`netspace.analysis.fidelity.choose_subset`) is at least
    ``min_models`` and ``fraction`` of the trained models, at least one per
    space, stratified over the spaces and over the error range in each, drawn
    with the study's seed. The longer schedule is the study's with
    ``epochs_factor`` times the epochs (rounded up; everything else equal).
    A field's ``flag`` is its study option.
    """

    enabled: bool = field(default=True, metadata={**help_meta(
        "after the sweeps, retrain a subset of the models with a longer schedule to measure how far the short "
        "schedule's ranking holds (0: off)"), "flag": "--fidelity"})
    fraction: float = field(default=0.1, metadata={**help_meta(
        "share of the trained models retrained (rounded up)"), "flag": "--fidelity-fraction"})
    min_models: int = field(default=8, metadata={**help_meta(
        "retrain at least this many models (all of them if fewer were trained)"), "flag": "--fidelity-min"})
    epochs_factor: float = field(default=4.0, metadata={**help_meta(
        "the longer schedule's epochs as a multiple of the study's"), "flag": "--fidelity-epochs-factor"})

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            if self.enabled not in (0, 1):
                raise NetspaceError(f"study: --fidelity takes 1 (on) or 0 (off), got {self.enabled!r}")
            object.__setattr__(self, "enabled", bool(self.enabled))
        if isinstance(self.fraction, bool) or not isinstance(self.fraction, (int, float)) \
                or not 0 <= self.fraction <= 1:
            raise NetspaceError(f"study: --fidelity-fraction must be between 0 and 1, got {self.fraction!r}")
        if isinstance(self.min_models, bool) or not isinstance(self.min_models, int) or self.min_models < 0:
            raise NetspaceError(f"study: --fidelity-min must be an integer >= 0, got {self.min_models!r}")
        if isinstance(self.epochs_factor, bool) or not isinstance(self.epochs_factor, (int, float)) \
                or not 1 < self.epochs_factor <= 100:
            raise NetspaceError(f"study: --fidelity-epochs-factor must be above 1 (a longer schedule) and at most "
                                f"100, got {self.epochs_factor!r}")
        if self.enabled and self.fraction == 0 and self.min_models == 0:
            raise NetspaceError("study: --fidelity-fraction 0 with --fidelity-min 0 retrains nothing; "
                                "give --fidelity 0 to turn the stage off")

    def long_epochs(self, epochs: int) -> int:
        """The longer schedule's epochs: ``epochs_factor`` times ``epochs``, rounded up, at least one more."""
        return max(epochs + 1, math.ceil(epochs * self.epochs_factor - 1e-9))

    def models(self, trained: int, spaces: int) -> int:
        """How many of ``trained`` models this stage retrains (0 when off)."""
        from netspace.analysis.fidelity import subset_size

        return subset_size(trained, spaces, self.fraction, self.min_models) if self.enabled else 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) if self.enabled else {"enabled": False}


@dataclass(frozen=True)
class StudyConfig:
    """A study's settings (stored in ``OUT/study.json``; a rerun must match).

    ``trial`` holds flat overrides of the preset's trial configuration (any
    data or schedule field: ``{"epochs": 5, "lr": 0.1, "data": "cifar10"}``).
    """

    preset: str = "quick"
    spaces: tuple[str, ...] = STUDY_SPACES
    samples: int | None = None  # overrides of the preset
    flops: str | None = None
    trial: Mapping[str, Any] = field(default_factory=dict)
    time: float | None = None  # seconds: choose the models per space from the measured cost per model
    fidelity: FidelityConfig = field(default_factory=FidelityConfig)

    def __post_init__(self) -> None:
        if isinstance(self.fidelity, Mapping):
            from netspace.fields import from_mapping

            object.__setattr__(self, "fidelity", from_mapping(FidelityConfig, self.fidelity, NetspaceError,
                                                              "study: fidelity"))
        if self.preset not in PRESETS:
            raise NetspaceError(f"study: unknown preset {self.preset!r}; choose {', '.join(PRESETS)}")
        spaces = tuple(self.spaces)
        if not spaces:
            raise NetspaceError("study: a study needs at least one design space")
        unknown = [s for s in spaces if s not in STUDY_SPACES]
        if unknown:
            raise NetspaceError(f"study: unknown space(s) {', '.join(unknown)}; choose from {', '.join(STUDY_SPACES)}")
        twice = sorted({s for s in spaces if spaces.count(s) > 1})
        if twice:
            raise NetspaceError(f"study: space(s) {', '.join(twice)} given twice; name each space once")
        object.__setattr__(self, "spaces", spaces)
        object.__setattr__(self, "trial", dict(self.trial))
        if self.samples is not None and (isinstance(self.samples, bool) or not isinstance(self.samples, int)
                                         or self.samples < 1):
            raise NetspaceError(f"study: --samples must be an integer >= 1, got {self.samples!r}")
        if self.time is not None:
            if isinstance(self.time, bool) or not isinstance(self.time, (int, float)) or not self.time > 0 \
                    or self.time > 30 * 86400:
                raise NetspaceError(f"study: --time must be a duration between 1s and 30 days, got {self.time!r}")
            if self.samples is not None:
                raise NetspaceError("study: give --samples N or --time DURATION, not both (--time chooses N)")
        split_fields(self.trial)  # names every unknown key
        self.sweep_config(spaces[0])  # validates the resolved trial configuration and window

    @property
    def resolved(self) -> Preset:
        p = PRESETS[self.preset]
        return dataclasses.replace(p, samples=self.samples or p.samples, flops=self.flops or p.flops,
                                   trial=p.trial.replace(**self.trial))

    @property
    def seed(self) -> int:
        return self.resolved.trial.seed

    def sweep_config(self, space: str) -> SweepConfig:
        p = self.resolved
        return SweepConfig(space=space, samples=p.samples, trial=p.trial, window=ComplexityWindow(flops=p.flops))

    def to_dict(self) -> dict[str, Any]:
        p = self.resolved
        d = {"preset": self.preset, "spaces": list(self.spaces), "samples": p.samples, "flops": p.flops,
             "trial": p.trial.to_dict(), "fidelity": self.fidelity.to_dict()}
        if self.time is not None:  # N is chosen by the plan (OUT/plan.json), not stored here
            d.update(samples=None, time=self.time)
        return d


def _upgrade_study(stored: dict[str, Any]) -> dict[str, Any]:
    """study.json of earlier versions (flat: data, data_dir, seed, samples, epochs, flops) in today's form."""
    if "trial" in stored or stored.get("preset") not in PRESETS:
        return stored
    over = {k: stored[k] for k in ("data", "data_dir", "seed", "epochs") if stored.get(k) is not None}
    return StudyConfig(preset=stored["preset"], spaces=tuple(stored.get("spaces", STUDY_SPACES)),
                       samples=stored.get("samples"), flops=stored.get("flops"), trial=over).to_dict()


def space_dir(out: Path, space: str) -> Path:
    return out / space


def _set_aside(out: Path, spaces: list[str]) -> Path:
    old = out / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
    old.mkdir()
    for name in [STUDY_FILE, PLAN_FILE, "report.html", "report_plots", "summary.json", "analysis.html", "analysis_plots",
                 FIDELITY_DIR, *spaces]:
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
        stored = _upgrade_study(stored)
        # Studies written before the fidelity stage existed gain it on a rerun; nothing they hold changes.
        stored.setdefault("fidelity", config.fidelity.to_dict())
        diff = differences(comparable_val_limit(with_val_limit(stored)), comparable_val_limit(config.to_dict()))
        if diff or force_new:
            if not force_new:
                raise NetspaceError(
                    f"{out} holds a study with other settings ({'; '.join(diff)}); rerun with the same settings "
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

    Returns ``{"counts": {space: {status: n}}, "fidelity": {space: {status: n}}, "report": path or None}``;
    the fidelity stage starts once every trial of the sweeps has finished, the report once the fidelity
    stage has too.
    """
    out = Path(out_dir)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    ex = make_executor(executor, workers, address)  # validates before anything is written
    with DriverLock(out):
        _check_settings(out, config, force_new, log)
        locks = [DriverLock(space_dir(out, s)) for s in config.spaces]
        try:
            for lock in locks:
                lock.__enter__()
            effective = config
            if config.time is not None:
                plan = _plan(out, config, ex, log)
                effective = dataclasses.replace(config, samples=plan["samples"], time=None)
            counts = _drive_spaces(out, effective, ex, log)
            unfinished = sum(c["pending"] + c["running"] for c in counts.values())
            fidelity: dict[str, dict[str, int]] = {}
            if config.fidelity.enabled and not unfinished:
                fidelity = _drive_fidelity(out, effective, ex, log)
                unfinished = sum(c["pending"] + c["running"] for c in fidelity.values())
        finally:
            for lock in locks:
                lock.__exit__(None, None, None)
        path = None
        if report and not unfinished:
            path = write_study_reports(out, effective)
            log(f"report: {path}")
        return {"counts": counts, "fidelity": fidelity, "report": path}


def _drive_spaces(out: Path, config: StudyConfig, ex, log) -> dict[str, dict[str, int]]:
    runs = []
    try:
        for space in config.spaces:
            runs.append(sweep_run(config.sweep_config(space), space_dir(out, space),
                                  log=lambda m, s=space: log(f"{s}: {m}"), name=space))
        drive(runs, ex, log)
        return {r.name: r.store.counts() for r in runs}
    finally:
        for r in runs:
            r.store.close()


FIDELITY_DIR = "fidelity"


def fidelity_dir(out: Path, space: str) -> Path:
    return out / FIDELITY_DIR / space


def _trained_errors(out: Path, spaces: tuple[str, ...]) -> dict[str, dict[int, float]]:
    """Each space's trained models (trial -> short-schedule error), from its sweep store."""
    from netspace.run.store import Store

    errors = {}
    for space in spaces:
        with Store(space_dir(out, space)) as store:
            errors[space] = {t.trial: t.error for t in store.trials("done") if t.error is not None}
    return errors


def _fidelity_run(out: Path, config: StudyConfig, space: str, trials: list[int], log) -> Any:
    """The retraining of ``trials`` of ``space`` with the longer schedule, as a run of the driver."""
    from netspace.run.driver import Run
    from netspace.run.store import Store
    from netspace.run.sweep import open_checked
    from netspace.search.propose import Candidate, ListProposer
    from netspace.spec import spec_from_dict

    p = config.resolved
    long = p.trial.replace(epochs=config.fidelity.long_epochs(p.epochs))
    sweep = SweepConfig(space=space, samples=len(trials), trial=long, window=ComplexityWindow(flops=p.flops))
    settings = {**sweep.to_dict(), "retrain": {"source": f"../../{space}", "trials": list(trials),
                                               "short_epochs": p.epochs, **config.fidelity.to_dict()}}
    with Store(space_dir(out, space)) as source:
        by_trial = {t.trial: t for t in source.trials()}
    candidates = [Candidate(dict(t.params), spec_from_dict(t.spec),
                            {"flops": t.flops, "params": t.num_params, "acts": t.acts})
                  for t in (by_trial[i] for i in trials)]
    where = fidelity_dir(out, space)
    where.parent.mkdir(parents=True, exist_ok=True)
    store, new = open_checked(where, settings, log=log, what="fidelity retraining")
    try:
        run = Run(f"{FIDELITY_DIR}/{space}", store, where, ListProposer(candidates), budget=len(trials),
                  batch=len(trials), trial=long, log=log,
                  first_settings={"config": settings, "kind": "fidelity", "created": time.time()})
        if new:
            run.ask_round()  # every chosen model, with the settings, in one transaction
        return run
    except BaseException:
        store.close()
        raise


def _drive_fidelity(out: Path, config: StudyConfig, ex, log) -> dict[str, dict[str, int]]:
    """Retrain the chosen subset with the longer schedule (resumable: ``OUT/fidelity/<space>/``)."""
    from netspace.analysis.fidelity import choose_subset

    f, p = config.fidelity, config.resolved
    errors = _trained_errors(out, config.spaces)
    chosen = choose_subset(errors, fraction=f.fraction, min_models=f.min_models,
                           seed=config.seed)
    long = f.long_epochs(p.epochs)
    trained = sum(len(e) for e in errors.values())
    locks = [DriverLock(fidelity_dir(out, s)) for s in chosen]
    runs = []
    try:
        for lock in locks:
            lock.__enter__()
        for space, trials in chosen.items():
            runs.append(_fidelity_run(out, config, space, trials, lambda m, s=space: log(f"fidelity {s}: {m}")))
        total = sum(len(t) for t in chosen.values())
        log(f"fidelity: {total} of {trained} trained models retrained with {long} epochs instead of {p.epochs} "
            f"(in {out / FIDELITY_DIR})")
        drive(runs, ex, log)
        return {space: r.store.counts() for space, r in zip(chosen, runs)}
    finally:
        for r in runs:
            r.store.close()
        for lock in locks:
            lock.__exit__(None, None, None)


def fidelity_pairs(out: str | Path, spaces: tuple[str, ...] | list[str]) -> "Any":
    """One row per retrained model: space, trial (in the space's sweep), short_error, long_error, long_status."""
    import pandas as pd

    from netspace.run.store import Store

    out = Path(out)
    rows = []
    for space in spaces:
        where = fidelity_dir(out, space)
        if not (where / "sweep.sqlite").exists():
            continue
        with Store(where) as store:
            source = store.settings()["config"]["retrain"]["trials"]
            long = {t.trial: t for t in store.trials()}
        with Store(space_dir(out, space)) as store:
            short = {t.trial: t for t in store.trials()}
        for i, trial in enumerate(source):
            t = long.get(i)
            rows.append({"space": space, "trial": trial, "short_error": short[trial].error,
                         "long_error": t.error if t is not None and t.status == "done" else None,
                         "long_status": None if t is None else t.status, "flops": short[trial].flops})
    return pd.DataFrame(rows, columns=["space", "trial", "short_error", "long_error", "long_status", "flops"])


PLAN_FILE = "plan.json"


def samples_for(seconds: float, seconds_per_model: float, workers: int, spaces: int) -> int:
    """Models per space that ``workers`` train in ``seconds`` when one model takes ``seconds_per_model``."""
    return max(1, int(seconds * workers / (seconds_per_model * spaces)))


def plan_samples(seconds: float, seconds_per_model: float, workers: int, spaces: int,
                 fidelity: FidelityConfig, short_epochs: int) -> dict[str, Any]:
    """Models per space that fit ``seconds`` together with the fidelity retraining they lead to.

    A retrained model is costed at ``seconds_per_model`` times the ratio of the
    epochs (the time of a trial is about proportional to its epochs); the
    largest N with (spaces * N + fidelity models * ratio) * seconds_per_model
    / workers within the budget is chosen (at least 1).
    """
    ratio = fidelity.long_epochs(short_epochs) / short_epochs if fidelity.enabled else 0.0

    def wall(n: int) -> tuple[float, float, int]:
        k = fidelity.models(spaces * n, spaces)
        return spaces * n * seconds_per_model / workers, k * ratio * seconds_per_model / workers, k

    n = samples_for(seconds, seconds_per_model, workers, spaces)
    while n > 1 and sum(wall(n)[:2]) > seconds:
        n -= 1
    sweep_s, fid_s, k = wall(n)
    return {"samples": n, "sweep_seconds": sweep_s, "fidelity_models": k,
            "fidelity_epochs": fidelity.long_epochs(short_epochs) if fidelity.enabled else None,
            "fidelity_seconds": fid_s, "fidelity_share": fid_s / seconds}


def _plan(out: Path, config: StudyConfig, ex, log) -> dict[str, Any]:
    """The models per space of a time-budgeted study: measured once (a pilot of one model per space, which
    stays the first model of each space), stored in ``OUT/plan.json`` and reused by every rerun. The budget
    covers the fidelity retraining too (:func:`plan_samples`)."""
    from netspace.analysis.evidence import detectable_ks_d
    from netspace.run.store import Store

    path = out / PLAN_FILE
    if path.exists():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise NetspaceError(f"{path} is unreadable ({e}); move it away to plan the study again") from None
    pilot = dataclasses.replace(config, samples=1, time=None)
    log(f"time budget {duration(config.time)}: measuring the cost of one model per space here first")
    _drive_spaces(out, pilot, ex, log)
    seconds = []
    for space in config.spaces:
        with Store(space_dir(out, space)) as store:
            seconds += [t.wall_seconds for t in store.trials("done") if t.wall_seconds]
    if not seconds:
        raise NetspaceError("study: no pilot model finished training, so the cost per model is unknown; look at "
                            f"{out}/<space>/trials for why, or give --samples N instead of --time")
    per_model = float(sorted(seconds)[len(seconds) // 2])
    workers = ex.workers or 1
    budget = plan_samples(config.time, per_model, workers, len(config.spaces), config.fidelity,
                          config.resolved.epochs)
    n = budget["samples"]
    d = detectable_ks_d(n, n) if n >= 2 else 1.0
    plan = {"time": config.time, "seconds_per_model": per_model, "pilot_models": len(seconds), "workers": workers,
            **budget, "detectable_ks_d": d}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(plan, indent=1) + "\n")
    tmp.replace(path)
    log(f"time budget {duration(config.time)}: {per_model:.0f} s per model here (median of {len(seconds)} pilot "
        f"models), {workers} worker(s): {n} models per space; at n = {n} per space a KS test detects "
        f"D >= {d:.2f} at 80% power (alpha 0.05)")
    if config.fidelity.enabled:
        over = " (over the budget even at 1 model per space: add --fidelity 0 or a longer --time)" \
            if budget["sweep_seconds"] + budget["fidelity_seconds"] > config.time else ""
        log(f"time budget {duration(config.time)}: about {duration(budget['fidelity_seconds'])} "
            f"({100 * budget['fidelity_share']:.0f}%) of it retrains {budget['fidelity_models']} models with "
            f"{budget['fidelity_epochs']} epochs{over}")
    return plan


def parse_duration(text: str) -> float:
    """``"1h"``, ``"45m"``, ``"1h30m"``, ``"90s"`` or a number of seconds -> seconds."""
    import re

    t = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    m = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?", t)
    if not t or not m or not any(m.groups()):
        raise NetspaceError(f"study: --time takes a duration such as 1h, 45m, 1h30m or 600 (seconds), got {text!r}")
    h, mi, se = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + se


def write_study_reports(out_dir: str | Path, config: StudyConfig) -> str:
    """The study page (``report.html``) and the full per-space analysis (``analysis.html``) of a study directory."""
    from netspace.report import write_report
    from netspace.report.study import write_study_report
    from netspace.run.frame import load

    out = Path(out_dir)
    df = load([space_dir(out, s) for s in config.spaces])
    p = config.resolved
    data, sched, f = p.trial.data, p.trial.schedule, config.fidelity
    pairs = fidelity_pairs(out, config.spaces) if f.enabled else None
    epochs = (sched.epochs, f.long_epochs(sched.epochs))
    analysis = write_report(df, out / "analysis.html", title="netspace study: per-space analysis",
                            fidelity=None if pairs is None else (pairs, epochs))
    settings = {"data": data.name, "preset": config.preset, "flops window": p.flops,
                "models per space": p.samples, "epochs": sched.epochs,
                "recipe": (f"SGD lr {sched.lr:g} (momentum {sched.momentum:g}{', Nesterov' if sched.nesterov else ''}), "
                           f"cosine, warmup {sched.warmup_epochs:g} epochs, weight decay {sched.weight_decay:g}, "
                           f"batch {sched.batch_size}, label smoothing {sched.label_smoothing:g}, "
                           f"augmentation {'on' if sched.augment else 'off'}, zero-init last BN "
                           f"{'on' if sched.zero_init_last_bn else 'off'}"),
                "training images": data.limit_train or "all", "test images": data.limit_test or "all",
                "evaluated on": sched.eval_split, "seed": sched.seed}
    plan_path = out / PLAN_FILE
    if plan_path.exists():
        plan = json.loads(plan_path.read_text())
        settings["models per space"] = (
            f"{plan['samples']}, chosen for a time budget of {duration(plan['time'])} from {plan['seconds_per_model']:.0f} s "
            f"per model measured here ({plan['workers']} worker(s)); detectable KS D at 80% power: "
            f"{plan['detectable_ks_d']:.2f}")
        if plan.get("fidelity_models"):
            settings["models per space"] += (f"; {100 * plan['fidelity_share']:.0f}% of the budget planned for "
                                             f"retraining {plan['fidelity_models']} models")
    settings["fidelity stage"] = (f"{f.fraction:g} of the trained models (at least {f.min_models}) retrained with "
                                  f"{f.long_epochs(sched.epochs)} epochs" if f.enabled else "off")
    recipe = {"schedule": sched.to_dict(), "data": data.to_dict(), "flops": p.flops, "models_per_space": p.samples,
              "limit_train": data.limit_train, "limit_test": data.limit_test, "seed": sched.seed}
    return write_study_report(df, out / "report.html", spaces=config.spaces, settings=settings,
                              analysis_page=analysis, preset=config.preset, recipe=recipe, fidelity_pairs=pairs,
                              fidelity_epochs=epochs)
