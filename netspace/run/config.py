"""The settings of a sweep and of a search: what to propose, plus one :class:`TrialConfig` for every trial.

Both are frozen, nested dataclasses stored in the run's store (``to_dict``)
and compared on a rerun by :func:`netspace.train.settings.differences`, the
one settings-diff of netspace: a rerun must match, naming every differing
key as a dotted path (``trial.schedule.lr``) otherwise. Stores written by
netspace before the settings were nested hold them flat; :func:`upgrade`
reads those as the nested form they meant, so such runs still continue.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from netspace.data.config import DataConfig, evaluated_val_images
from netspace.errors import NetspaceError
from netspace.resources import max_threads
from netspace.search import STRATEGIES, Reward, SearchError
from netspace.spaces.space import MAX_SAMPLES
from netspace.train.config import TrialConfig
from netspace.train.schedule import Schedule

METRICS = ("flops", "params", "acts")
LATENCY_MODES = ("measure", "flops", "none")
# Searches select on a validation split carved from train, never on test.
SEARCH_TRIAL = TrialConfig(DataConfig(val_fraction=0.1), Schedule(eval_split="val"))


@dataclass(frozen=True)
class ComplexityWindow:
    """Complexity windows (``"LOW:HIGH"``, either side open) that every proposed model must lie in."""

    flops: str | None = None
    params: str | None = None
    acts: str | None = None

    def __post_init__(self) -> None:
        from netspace.spaces import as_window

        for m in METRICS:
            as_window(getattr(self, m), m)  # validates

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        return ", ".join(f"{m} {getattr(self, m)}" for m in METRICS if getattr(self, m)) or "no window"


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass(frozen=True)
class SweepConfig:
    """A sweep: ``samples`` models drawn from ``space`` inside ``window``, each trained with ``trial``.

    The sampling seed is the trial schedule's seed (one seed fixes a sweep).
    """

    space: str
    samples: int
    trial: TrialConfig = field(default_factory=TrialConfig)
    window: ComplexityWindow = field(default_factory=ComplexityWindow)
    variant: str | None = None

    def __post_init__(self) -> None:
        if not _is_int(self.samples) or self.samples < 1:
            raise NetspaceError(f"sweep: --samples must be an integer >= 1, got {self.samples!r}")
        if self.samples > MAX_SAMPLES:
            raise NetspaceError(f"sweep: --samples must be at most {MAX_SAMPLES:,}, got {self.samples:,}")

    @property
    def seed(self) -> int:
        return self.trial.seed

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "sweep", "space": self.space, "samples": self.samples, "variant": self.variant,
                "window": self.window.to_dict(), "trial": self.trial.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SweepConfig":
        d = upgrade(d)
        return cls(space=d["space"], samples=d["samples"], trial=TrialConfig.from_dict(d["trial"]),
                   window=ComplexityWindow(**d["window"]), variant=d.get("variant"))


@dataclass(frozen=True)
class SearchConfig:
    """A search: ``strategy`` proposes from ``space`` (inside ``window``) until ``budget`` trials exist.

    ``latency`` None means ``measure`` for the mnas reward and ``none`` for
    accuracy. ``batch`` is the number of candidates asked per round (the
    REINFORCE batch of one policy update; evolution's children per step).
    ``controller`` names REINFORCE's controller defaults (``nas-rl``: NAS-RL's
    2-layer LSTM of 35 units, Adam lr 6e-4, init U(-0.08, 0.08)); given
    ``controller_lr``/``hidden`` override them. Trials are evaluated on a
    validation split carved from train by default (``SEARCH_TRIAL``).
    """

    space: str
    strategy: str
    budget: int
    trial: TrialConfig = SEARCH_TRIAL
    window: ComplexityWindow = field(default_factory=ComplexityWindow)
    variant: str | None = None
    reward: str = "accuracy"
    target_latency: float | None = None
    target_flops: float | None = None
    constraint: str = "soft"
    latency: str | None = None
    latency_device: str = "cpu"
    latency_threads: int | None = 1
    batch: int = 4
    population: int = 16
    sample_size: int = 4
    controller: str = "netspace"
    controller_lr: float | None = None
    entropy_weight: float = 1e-3
    baseline_decay: float = 0.8
    hidden: int | None = None

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise SearchError(f"search: {message}")

        need(self.strategy in STRATEGIES, f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        need(_is_int(self.budget) and self.budget >= 1, f"--budget must be an integer >= 1, got {self.budget!r}")
        need(self.budget <= MAX_SAMPLES, f"--budget must be at most {MAX_SAMPLES:,}, got {self.budget:,}")
        need(_is_int(self.batch) and self.batch >= 1, f"--batch must be an integer >= 1, got {self.batch!r}")
        if isinstance(self.target_flops, str):  # "20M", as the CLI gives it
            from netspace.spaces.window import parse_count

            object.__setattr__(self, "target_flops", parse_count(self.target_flops, what="--target-flops"))
        two_objectives = self.strategy == "optuna-nsga2"
        latency = self.latency or ("measure" if self.reward == "mnas" else "flops" if two_objectives else "none")
        object.__setattr__(self, "latency", latency)
        need(latency in LATENCY_MODES, f"--latency must be one of {', '.join(LATENCY_MODES)}, got {latency!r}")
        for name in ("target_latency", "target_flops"):
            v = getattr(self, name)
            need(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0),
                 f"--{name.replace('_', '-')} must be a positive number, got {v!r}")
        if self.reward == "mnas":
            need(latency != "none", "the mnas reward needs a cost: --latency measure or --latency flops")
            if latency == "measure":
                need(self.target_latency is not None,
                     "the mnas reward needs --target-latency MS (the latency target T, in milliseconds)")
                need(self.target_flops is None, "--target-flops goes with --latency flops; give --target-latency MS")
            else:
                need(self.target_flops is not None, "--latency flops needs --target-flops N (e.g. 20M)")
                need(self.target_latency is None, "--target-latency goes with --latency measure; give --target-flops")
        else:
            need(self.target_latency is None and self.target_flops is None,
                 "a latency or flops target applies only to --reward mnas")
        need(self.latency_threads is None or (_is_int(self.latency_threads)
                                              and 1 <= self.latency_threads <= max_threads()),
             f"--latency-threads must be an integer in [1, {max_threads()}] (4 per core), got {self.latency_threads!r}")
        if two_objectives:
            need(self.reward == "accuracy", "optuna-nsga2 trades error against the cost itself; use --reward "
                 "accuracy (the mnas reward folds both into one number: use it with optuna-tpe)")
            need(latency != "none", "optuna-nsga2 needs a cost: --latency flops (the default) or measure")
        self.reward_fn()  # validates reward and constraint
        from netspace.search import Strategy, make_strategy

        if issubclass(STRATEGIES[self.strategy], Strategy):
            make_strategy(self.strategy, [("x", (0, 1))], seed=0, **self.strategy_options())  # validates options
        else:
            STRATEGIES[self.strategy].check_options(**self.strategy_options())

    @property
    def seed(self) -> int:
        return self.trial.seed

    def reward_fn(self) -> Reward:
        target = self.target_latency if self.latency == "measure" else self.target_flops
        return Reward(self.reward, target if self.reward == "mnas" else None, self.constraint)

    def strategy_options(self) -> dict[str, Any]:
        if self.strategy == "reinforce":
            return {"batch_size": self.batch, "lr": self.controller_lr, "entropy_weight": self.entropy_weight,
                    "baseline_decay": self.baseline_decay, "hidden": self.hidden, "preset": self.controller}
        if self.strategy == "evolution":
            return {"population": self.population, "sample_size": self.sample_size}
        if self.strategy.startswith("optuna-"):
            return {"population": self.population, "cost": "latency_ms" if self.latency == "measure" else "flops"}
        return {}

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"kind": "search", **d, "window": self.window.to_dict(), "trial": self.trial.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SearchConfig":
        d = dict(upgrade(d))
        d.pop("kind", None)
        return cls(**{**d, "trial": TrialConfig.from_dict(d["trial"]), "window": ComplexityWindow(**d["window"])})


# -- stores written before the settings were nested ---------------------------
_OLD_DATA = {"data": "name", "data_dir": "data_dir", "val_fraction": "val_fraction", "limit_train": "limit_train",
             "limit_test": "limit_test"}
_OLD_SCHEDULE = ("epochs", "batch_size", "lr", "precision", "eval_split", "seed", "zero_init_last_bn")


def upgrade(stored: Mapping[str, Any], kind: str | None = None) -> dict[str, Any]:
    """A stored sweep or search config in the nested form; flat configs of earlier versions are converted.

    A flat config named the trial settings it changed and took the
    schedule's other fields at their defaults of the time, which are today's
    (weight decay, label smoothing, warmup, momentum, augmentation); its
    ``zero_init_last_bn`` was stored explicitly. A config that records no
    data resolution gets the one it trained at: 224 for imagefolder (the
    fixed size of the time), None (the data's own size) otherwise.
    """
    if "trial" in stored:
        return with_val_limit(_with_resolution(dict(stored)))
    d = dict(stored)
    kind = kind or d.get("kind") or ("search" if "strategy" in d else "sweep")
    data = {new: d.pop(old) for old, new in _OLD_DATA.items() if old in d}
    data["resolution"] = _OLD_RESOLUTION.get(data.get("name", DataConfig.name))
    schedule = {k: d.pop(k) for k in _OLD_SCHEDULE if k in d}
    base = SEARCH_TRIAL if kind == "search" else TrialConfig()
    trial = TrialConfig(dataclasses.replace(base.data, **data), dataclasses.replace(base.schedule, **schedule))
    window = {m: d.pop(m, None) for m in METRICS}
    if kind == "search":  # searches had no window; their controller options were explicit
        d.setdefault("controller", "netspace")
    trial_dict = trial.to_dict()
    trial_dict["data"].pop("limit_val")  # flat configs predate it: with_val_limit says what they evaluated
    return with_val_limit(_with_resolution({"kind": kind, **d, "window": window, "trial": trial_dict}))


# Before the data config had a resolution, imagefolder ran at 224 px and every other dataset at its own size.
_OLD_RESOLUTION = {"imagefolder": 224}


def with_val_limit(config: dict[str, Any]) -> dict[str, Any]:
    """A stored config whose data records no ``limit_val``, with what it evaluated: before 2026-12-01
    ``limit_test`` did not bound the validation split, so a store with both a validation split and
    ``limit_test`` evaluated all of its validation images ("all")."""
    data = (config.get("trial") or {}).get("data")
    if not isinstance(data, Mapping) or "limit_val" in data:
        return config
    val = data.get("val_fraction") or 0
    old = "all" if isinstance(val, (int, float)) and val > 0 and data.get("limit_test") is not None else None
    return {**config, "trial": {**config["trial"], "data": {**data, "limit_val": old}}}


def comparable_val_limit(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with ``trial.data.limit_val`` as the number of validation images it evaluates ("all", or
    None without a validation split), so two configs that evaluate the same images compare equal."""
    data = (config.get("trial") or {}).get("data")
    if not isinstance(data, Mapping):
        return config
    n = evaluated_val_images(data.get("val_fraction"), data.get("limit_test"), data.get("limit_val"))
    return {**config, "trial": {**config["trial"], "data": {**data, "limit_val": n}}}


def _with_resolution(config: dict[str, Any]) -> dict[str, Any]:
    """A stored config whose data records no resolution, with the one it trained at (None: the data's own)."""
    data = (config.get("trial") or {}).get("data")
    if not isinstance(data, Mapping) or "resolution" in data:
        return config
    data = {**data, "resolution": _OLD_RESOLUTION.get(data.get("name", DataConfig.name))}
    return {**config, "trial": {**config["trial"], "data": data}}



def sweep_config(space: str, samples: int, *, flops: str | None = None, params: str | None = None,
                 acts: str | None = None, variant: str | None = None, **trial: Any) -> SweepConfig:
    """``SweepConfig`` from flat keys: the window, the variant, and any data or schedule field
    (``sweep_config("RegNetX", 8, flops="10M:20M", epochs=1, limit_train=512)``)."""
    return SweepConfig(space=space, samples=samples, trial=TrialConfig().replace(**trial),
                       window=ComplexityWindow(flops, params, acts), variant=variant)


def search_config(space: str, strategy: str, budget: int, *, flops: str | None = None, params: str | None = None,
                  acts: str | None = None, **flat: Any) -> SearchConfig:
    """``SearchConfig`` from flat keys: its own fields, the window, and any data or schedule field over
    ``SEARCH_TRIAL`` (``search_config("mnasnet", "evolution", 20, epochs=1, population=8)``)."""
    own = {f.name for f in dataclasses.fields(SearchConfig)} - {"trial", "window"}
    mine = {k: v for k, v in flat.items() if k in own}
    trial = SEARCH_TRIAL.replace(**{k: v for k, v in flat.items() if k not in own})
    return SearchConfig(space=space, strategy=strategy, budget=budget, trial=trial,
                        window=ComplexityWindow(flops, params, acts), **mine)
