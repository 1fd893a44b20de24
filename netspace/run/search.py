"""Architecture search: a strategy asks for candidates, trials train them, rewards go back.

``run_search(SearchConfig(space="mnasnet", strategy="reinforce", budget=40, ...), out_dir)``
runs (or continues) a search in ``out_dir`` on the same SQLite store,
executors and driver lock as a sweep, so ``netspace sweep status``,
``sweep export`` and ``analyze`` read it too.

The driver works in rounds of ``batch`` candidates: ask the strategy, store
the candidates as pending trials, train them all (in parallel on the
executor), tell each reward, repeat until ``budget`` trials exist. Rewards are
told in trial order whatever order the workers finish in, so a search with
two workers asks exactly what it would with one.

Resuming: every write that changes what the strategy has seen carries its
state (the ``strategy_state`` setting) in the same transaction: the asked
round with the state after asking, each result with the state after telling
it. Killed at any instant, the store holds a state and the trials it has
seen; a rerun tells the finished-but-untold trials in order, trains the
pending ones (from their checkpoints) and continues the same policy. A
finished trial is never retrained.

Latency (mnas reward) is measured here, in the driver, not in the workers:
between rounds no trial is training, so the timing of a batch-1 forward pass
does not compete with training processes for the cores (timing in a worker
would measure the machine's load as much as the network). It is cached per
architecture (a hash of the spec) in the store, so a repeated or resumed
candidate is never timed twice. The device is ``latency_device`` of this
machine, the target the user asked about, which need not be where a Ray
cluster trains. ``latency="flops"`` replaces the measurement with the exact
multiply-add count (the target then is in flops).

An architecture that was already trained in this search is not trained again:
its result is copied (training is seeded, so it would repeat it) and the
trial's message names the original.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from netspace.complexity import complexity
from netspace.errors import NetspaceError
from netspace.run.drive import duration
from netspace.run.executors import make_executor
from netspace.run.lock import DriverLock
from netspace.run.settings import TrialSettings
from netspace.run.store import Store
from netspace.run.sweep import open_checked
from netspace.search import STRATEGIES, Reward, SearchError, make_strategy

LATENCY_MODES = ("measure", "flops", "none")
FINISHED = ("done", "diverged", "failed")


@dataclass(frozen=True)
class SearchConfig(TrialSettings):
    """Everything that defines a search's results (stored; a rerun must match, except a larger budget).

    ``latency`` None means ``measure`` for the mnas reward and ``none`` for
    accuracy. ``batch`` is the number of candidates asked per round (the
    REINFORCE batch of one policy update; evolution's children per step).
    Trials are evaluated on a validation split carved from train
    (``val_fraction``), never on test.
    """

    space: str
    strategy: str
    budget: int
    epochs: int = 1
    data: str = "fashion-mnist"
    reward: str = "accuracy"
    target_latency: float | None = None
    target_flops: float | None = None
    constraint: str = "soft"
    latency: str | None = None
    latency_device: str = "cpu"
    latency_threads: int | None = 1
    seed: int = 0
    batch: int = 4
    population: int = 16
    sample_size: int = 4
    controller_lr: float = 0.01
    entropy_weight: float = 1e-3
    baseline_decay: float = 0.8
    hidden: int = 32
    variant: str | None = None
    data_dir: str | None = None
    batch_size: int = 128
    lr: float = 0.2
    limit_train: int | None = None
    limit_test: int | None = None
    val_fraction: float = 0.1
    eval_split: str = "val"
    precision: str = "auto"
    # Short schedules need the residual branches to start as identities: with
    # the last BN of each branch at zero, deep or narrow models that otherwise
    # blow up in their first epoch (error 80-90% after 2 epochs) train normally.
    zero_init_last_bn: bool = True

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise SearchError(f"search: {message}")

        need(self.strategy in STRATEGIES, f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        need(_is_int(self.budget) and self.budget >= 1, f"--budget must be an integer >= 1, got {self.budget!r}")
        need(_is_int(self.epochs) and self.epochs >= 1, f"--epochs must be an integer >= 1, got {self.epochs!r}")
        need(_is_int(self.batch) and self.batch >= 1, f"--batch must be an integer >= 1, got {self.batch!r}")
        latency = self.latency or ("measure" if self.reward == "mnas" else "none")
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
        need(self.latency_threads is None or (_is_int(self.latency_threads) and self.latency_threads >= 1),
             f"--latency-threads must be an integer >= 1, got {self.latency_threads!r}")
        need(not (self.eval_split == "val" and self.val_fraction <= 0),
             "evaluating on 'val' needs --val-fraction > 0")
        self.reward_fn()  # validates reward and constraint
        make_strategy(self.strategy, [("x", (0, 1))], seed=self.seed, **self.strategy_options())  # validates options

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def reward_fn(self) -> Reward:
        target = self.target_latency if self.latency == "measure" else self.target_flops
        return Reward(self.reward, target if self.reward == "mnas" else None, self.constraint)

    def strategy_options(self) -> dict[str, Any]:
        if self.strategy == "reinforce":
            return {"batch_size": self.batch, "lr": self.controller_lr, "entropy_weight": self.entropy_weight,
                    "baseline_decay": self.baseline_decay, "hidden": self.hidden}
        if self.strategy == "evolution":
            return {"population": self.population, "sample_size": self.sample_size}
        return {}


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def space_for(config: SearchConfig):
    """The design space of a search, for the input of its data."""
    from netspace.data import load_data
    from netspace.spaces import get_space

    info = load_data(**config.data_settings(), num_workers=0).info
    space = get_space(config.space, resolution=info.resolution, in_channels=info.in_channels,
                      num_classes=info.num_classes, variant=config.variant)
    if not callable(getattr(space, "tokens", None)):
        raise SearchError(f"search: the {space.name} space has no token form (tokens()); search a space "
                          "made of categorical decisions, e.g. mnasnet or nasnet")
    return space


def arch_key(spec: dict[str, Any]) -> str:
    """A short stable hash of a spec: two candidates with the same key are the same network."""
    text = json.dumps({k: v for k, v in spec.items() if k != "name"}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def run_search(config: SearchConfig, out_dir: str | Path, *, workers: int | None = None, executor: str = "local",
               address: str | None = None, force_new: bool = False, log: Callable[[str], None] | None = None,
               space: Any = None) -> dict[str, Any]:
    """Run (or continue) the search in ``out_dir``; returns ``search_summary`` of it.

    ``space`` overrides the space named in the config (any object with
    ``tokens``, ``params_from_tokens``, ``to_spec``, ``name`` and ``describe``).
    A rerun with a larger ``budget`` continues the search; a smaller one than
    the trials already asked is refused.
    """
    out = Path(out_dir)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    with DriverLock(out):
        store, new = open_checked(out, config.to_dict(), force_new=force_new, log=log, what="search",
                                  ignore=("budget",))
        try:
            space = space if space is not None else space_for(config)
            strategy = make_strategy(config.strategy, space, seed=config.seed, **config.strategy_options())
            if new:
                store.put_settings({"config": config.to_dict(), "kind": "search", "space": space.describe(),
                                    "created": time.time(), "strategy_state": strategy.state_dict()})
            else:
                settings = store.settings()
                if settings.get("kind") != "search":
                    raise SearchError(f"{out} holds a sweep, not a search; use another --out")
                strategy.load_state_dict(settings["strategy_state"])
                asked = len(store.trials())
                if config.budget < asked:
                    raise SearchError(f"search: --budget {config.budget} is below the {asked} trials {out} already "
                                      f"holds; give --budget {asked} or more to continue it")
                store.put_settings({"config": config.to_dict()})
            _Search(store, config, space, strategy, out, make_executor(executor, workers, address), log).run()
        finally:
            store.close()
    return search_summary(out)


class _Search:
    """One driver session over a search store."""

    def __init__(self, store: Store, config: SearchConfig, space: Any, strategy, out: Path, executor,
                 log: Callable[[str], None]) -> None:
        self.store, self.config, self.space, self.strategy = store, config, space, strategy
        self.out, self.executor, self.log = out, executor, log
        self.reward = config.reward_fn()
        self.schedule, self.data = config.schedule_dict(), config.data_settings()
        self.start = time.monotonic()
        self.trained_here = 0

    # -- the loop --------------------------------------------------------------
    def run(self) -> None:
        keep_alive = getattr(self.executor, "keep_alive", contextlib.nullcontext)
        with keep_alive():  # one pool of workers for all rounds
            self._rounds()
        best = search_summary(self.out)["best"]
        shown = "-" if best is None else f"trial {best['trial']}, reward {best['reward']:.4f}"
        self.log(f"search complete: {self.config.budget} trials | best {shown}")

    def _rounds(self) -> None:
        self._tell_ready()
        while True:
            todo = self.store.trials(("pending", "running"))
            if todo:
                self._train(todo)
                self._tell_ready()
                continue
            asked = len(self.store.trials())
            if asked >= self.config.budget:
                break
            self._ask_round(min(self.config.batch, self.config.budget - asked))
            self._tell_ready()

    def _state(self) -> dict[str, Any]:
        return {"strategy_state": self.strategy.state_dict()}

    def _tell_ready(self) -> None:
        """Tell the strategy every finished trial it has not seen, in trial order, and store its state."""
        rows = self.store.search_rows()
        told = False
        while self.strategy.told in rows and rows[self.strategy.told]["reward"] is not None:
            row = rows[self.strategy.told]
            self.strategy.tell(row["tokens"], row["reward"])
            told = True
        if told:
            self.store.put_settings(self._state())

    # -- asking ----------------------------------------------------------------
    def _ask_round(self, n: int) -> None:
        first = len(self.store.trials())
        if self.strategy.asked != first:
            raise NetspaceError(f"{self.out}: the stored strategy state has asked {self.strategy.asked} "
                                f"candidates but the store holds {first} trials; the store was changed by hand")
        candidates = self.strategy.ask(n)
        trials = {t.trial: t for t in self.store.trials()}
        rows_by_arch = {}
        for i, r in self.store.search_rows().items():
            if trials[i].status in ("done", "diverged") and r["reward"] is not None:
                rows_by_arch.setdefault(r["arch"], i)
        rows, search, results = [], [], []
        for k, tokens in enumerate(candidates):
            i = first + k
            try:
                params = self.space.params_from_tokens(tokens)
                spec = self.space.to_spec(params)
                cx = complexity(spec)
            except NetspaceError as e:  # a token choice outside the space: worst reward, nothing to train
                rows.append((i, {"tokens": tokens}, {}, {"flops": 0, "params": 0, "acts": 0}))
                search.append((i, tokens, f"invalid-{i}", None))
                results.append((i, {"status": "failed", "message": f"not a member of the space: {e}"}, [], 0.0))
                continue
            spec_dict = spec.to_dict()
            arch = arch_key(spec_dict)
            latency = self._latency(spec, arch) if self.config.latency == "measure" else None
            rows.append((i, params, spec_dict, cx))
            search.append((i, tokens, arch, latency))
            j = rows_by_arch.get(arch)
            if j is not None:
                t = trials[j]
                result = {"status": t.status, "test_error": t.error, "best_test_error": t.best_error,
                          "epochs": t.epochs, "wall_seconds": 0.0, "images_per_second": t.images_per_second,
                          "message": f"same architecture as trial {j}; its result is reused"}
                results.append((i, result, self.store.metrics(j), self._reward_of(result, latency, cx)))
        self.store.add_search_trials(rows, search, self._state(), results)
        reused = sum(1 for r in results if r[1]["status"] != "failed")
        self.log(f"asked {n} candidates (trials {first}..{first + n - 1})"
                 + (f", {reused} already trained" if reused else ""))

    def _latency(self, spec, arch: str) -> float:
        cached = self.store.cached_latency(arch)
        if cached is not None:
            return cached
        from netspace.latency import measure
        from netspace.spec import NetSpec

        model = spec
        if not isinstance(spec, NetSpec):  # other spec kinds: time the built module
            from netspace.models import build

            model = build(spec)
        result = measure(model, batch=1, resolution=spec.resolution, in_channels=spec.in_channels,
                         device=self.config.latency_device, threads=self.config.latency_threads,
                         mode="inference", max_seconds=3.0)
        return float(result.median_ms)

    # -- training --------------------------------------------------------------
    def _reward_of(self, result: dict[str, Any], latency: float | None, cx: dict[str, int]) -> float:
        """Accuracy (a fraction) of a done trial, 0 for diverged or failed, through the search's reward."""
        err = result.get("test_error")
        if result.get("status") != "done" or err is None or not math.isfinite(err):
            return 0.0
        accuracy = max(0.0, 1.0 - err / 100.0)
        if not self.reward.needs_cost:
            return self.reward(accuracy)
        cost = latency if self.config.latency == "measure" else float(cx["flops"])
        if cost is None or cost <= 0:
            return 0.0
        return self.reward(accuracy, cost)

    def _train(self, todo) -> None:
        rows = self.store.search_rows()
        total = self.config.budget
        jobs = [{"trial": t.trial, "spec": t.spec, "schedule": self.schedule, "data": self.data,
                 "out_dir": str(self.out / "trials" / f"{t.trial:04d}")} for t in todo]
        by_trial = {t.trial: t for t in todo}
        # Trials finished without training (a reused architecture, a token choice outside the space) may sit
        # between trained ones: they join the queue so that every reward is told in trial order.
        ready: dict[int, tuple[list[int], float]] = {
            i: (r["tokens"], r["reward"]) for i, r in rows.items()
            if i >= self.strategy.told and i not in by_trial and r["reward"] is not None}
        for job, result in self.executor.run(jobs, on_start=lambda j: self.store.mark_running(j["trial"])):
            i = job["trial"]
            metrics = result.pop("metrics", [])
            t = by_trial[i]
            reward = self._reward_of(result, rows[i]["latency_ms"],
                                     {"flops": t.flops, "params": t.num_params, "acts": t.acts})
            ready[i] = (rows[i]["tokens"], reward)
            while self.strategy.told in ready:  # in trial order: reproducible with any number of workers
                self.strategy.tell(*ready.pop(self.strategy.told))
            self.store.record_search_result(i, result, metrics, reward, self._state())
            self.trained_here += 1
            self._progress(i, result, reward, rows[i]["latency_ms"], total)

    def _progress(self, trial: int, result: dict[str, Any], reward: float, latency: float | None, total: int) -> None:
        finished = sum(self.store.counts()[s] for s in FINISHED)
        err = result.get("test_error")
        shown = f"{self.config.eval_split} error {err:.2f}%" if err is not None else (result.get("message") or "")
        lat = f", {latency:.2f} ms" if latency is not None else ""
        rate = (time.monotonic() - self.start) / max(self.trained_here, 1)
        self.log(f"[{finished}/{total}] trial {trial}: {result.get('status')} {shown}{lat}, reward {reward:.4f} | "
                 f"ETA {duration(rate * (total - finished))}")


def search_summary(out_dir: str | Path) -> dict[str, Any] | None:
    """Strategy, counts, the best trial by reward and the reward of every finished trial; None for a sweep."""
    with Store(out_dir) as store:
        settings = store.settings()
        if settings.get("kind") != "search":
            return None
        config = settings["config"]
        rows = store.search_rows()
        trials = {t.trial: t for t in store.trials()}
        counts = store.counts()
    finished = [(i, r) for i, r in rows.items() if r["reward"] is not None]
    best = None
    if finished:
        i, r = max(finished, key=lambda x: (x[1]["reward"], -x[0]))
        t = trials[i]
        best = {"trial": i, "reward": r["reward"], "error": t.error, "latency_ms": r["latency_ms"], "flops": t.flops,
                "params": t.params}
    state = settings.get("strategy_state", {})
    return {"space": config["space"], "strategy": config["strategy"], "reward": config["reward"],
            "budget": config["budget"], "trials": len(trials), "counts": counts, "told": state.get("told", 0),
            "best": best, "rewards": [r["reward"] for _, r in finished]}
