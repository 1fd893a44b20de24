"""Architecture search: a strategy asks for candidates, trials train them, rewards go back.

``run_search(SearchConfig(space="mnasnet", strategy="reinforce", budget=40, ...), out_dir)``
runs (or continues) a search in ``out_dir`` on the same SQLite store,
executors and driver lock as a sweep, so ``netspace sweep status``,
``sweep export`` and ``analyze`` read it too.

A search is a run of the one driver (:mod:`netspace.run.driver`) in rounds
of ``batch`` candidates until ``budget`` trials exist; the driver's docstring
says how rounds, rewards and resuming work. ``random`` proposes with the
space's own sampler inside the complexity window, the same draws as a sweep
of that space and seed (:class:`netspace.search.propose.SpaceSampler`);
``reinforce`` and ``evolution`` propose tokens and never train a candidate
outside the window (:class:`netspace.search.propose.TokenProposer`);
``optuna-tpe`` and ``optuna-nsga2`` are Optuna's samplers asking from the
space's decisions (:mod:`netspace.search.optuna_search`).

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

import sys
import time
from pathlib import Path
from typing import Any, Callable

from netspace.run.config import SearchConfig
from netspace.run.driver import Run, drive, reward_of
from netspace.run.executors import make_executor
from netspace.run.lock import DriverLock
from netspace.run.store import Store
from netspace.run.sweep import open_checked, space_of, sweep_status
from netspace.search import STRATEGIES, SearchError, make_strategy
from netspace.search.propose import Proposer, SpaceSampler, TokenProposer


def space_for(config: SearchConfig):
    """The design space of a search, for the input of its data (a token form for learning strategies)."""
    space = space_of(config)
    if config.strategy != "random" and not callable(getattr(space, "tokens", None)):
        raise SearchError(f"search: the {space.name} space has no token form (tokens()); {config.strategy} needs "
                          "a space made of categorical decisions, e.g. mnasnet or nasnet (random search samples any "
                          "space)")
    return space


def proposer_for(config: SearchConfig, space: Any) -> Proposer:
    """The search's proposer: the space's sampler (random), a Proposer strategy (Optuna's samplers), or a token
    strategy kept inside the space and the window."""
    window = config.window.to_dict()
    if config.strategy == "random":
        return SpaceSampler(space, seed=config.seed, window=window)
    cls = STRATEGIES[config.strategy]
    if issubclass(cls, Proposer):
        return cls(space, seed=config.seed, window=window, **config.strategy_options())
    strategy = make_strategy(config.strategy, space, seed=config.seed, **config.strategy_options())
    return TokenProposer(space, strategy, window=window)


def _latency_measurer(config: SearchConfig, store: Store) -> Callable[[Any, str], float]:
    def measure_latency(spec, arch: str) -> float:
        cached = store.cached_latency(arch)
        if cached is not None:
            return cached
        from netspace.latency import measure

        result = measure(spec, batch=1, resolution=spec.resolution, in_channels=spec.in_channels,
                         device=config.latency_device, threads=config.latency_threads,
                         mode="inference", max_seconds=3.0)
        return float(result.median_ms)

    return measure_latency


def _space_changed(space: Any) -> Callable[[dict[str, Any]], list[str]]:
    """The stored search's space against ``space``: a difference when its number of token combinations
    changed (the space's decisions or options did), which every strategy, random search included, would mix."""
    now = space.describe()

    def check(settings: dict[str, Any]) -> list[str]:
        stored = settings.get("space")
        if not isinstance(stored, dict) or "size" not in stored or "size" not in now or stored["size"] == now["size"]:
            return []
        return [f"space: {stored.get('name', '?')} had {stored['size']:.3g} token combinations, "
                f"{now.get('name', '?')} now has {now['size']:.3g}"]

    return check


def search_run(config: SearchConfig, out: Path, *, force_new: bool = False, log=None, space: Any = None) -> Run:
    """The search in ``out`` as a :class:`Run` of the driver (the caller holds the lock and closes the store)."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    space = space if space is not None else space_for(config)
    store, new = open_checked(out, config.to_dict(), force_new=force_new, log=log, what="search",
                              ignore=("budget",), also=_space_changed(space))
    try:
        settings = store.settings()
        if not new:
            if settings.get("kind") != "search":
                raise SearchError(f"{out} holds a sweep, not a search; use another --out")
            asked = len(store.trials())
            if config.budget < asked:
                raise SearchError(f"search: --budget {config.budget} is below the {asked} trials {out} already "
                                  f"holds; give --budget {asked} or more to continue it")
            store.put_settings({"config": config.to_dict()})
        run = Run(config.space, store, out, proposer_for(config, space), budget=config.budget, batch=config.batch,
                  trial=config.trial, reward=reward_of(config.reward_fn(), config.latency),
                  latency=_latency_measurer(config, store) if config.latency == "measure" else None,
                  reuse=True, log=log,
                  first_settings={"config": config.to_dict(), "kind": "search", "space": space.describe(),
                                  "created": time.time()})
        return run
    except BaseException:
        store.close()
        raise


def run_search(config: SearchConfig, out_dir: str | Path, *, workers: int | None = None, executor: str = "local",
               address: str | None = None, force_new: bool = False, log: Callable[[str], None] | None = None,
               space: Any = None) -> dict[str, Any]:
    """Run (or continue) the search in ``out_dir``; returns ``search_summary`` of it.

    ``space`` overrides the space named in the config (any object with
    ``tokens``, ``params_from_tokens``, ``to_spec``, ``name`` and ``describe``;
    or ``sample`` for random search). A rerun with a larger ``budget``
    continues the search; a smaller one than the trials already asked is refused.
    """
    out = Path(out_dir)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    ex = make_executor(executor, workers, address)
    with DriverLock(out):
        run = search_run(config, out, force_new=force_new, log=log, space=space)
        try:
            drive([run], ex, log)
        finally:
            run.store.close()
    summary = search_summary(out)
    best = summary["best"]
    shown = "-" if best is None else f"trial {best['trial']}, reward {best['reward']:.4f}"
    log(f"search complete: {config.budget} trials | best {shown}")
    return summary


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
    trained = [(i, r) for i, r in finished if trials[i].status == "done"]  # failed trials are no candidate
    best = None
    if trained:
        i, r = max(trained, key=lambda x: (x[1]["reward"], -x[0]))
        t = trials[i]
        best = {"trial": i, "reward": r["reward"], "error": t.error, "latency_ms": r["latency_ms"], "flops": t.flops,
                "params": t.params}
    state = settings.get("strategy_state")
    # a learning strategy's count of trials told; a sampler learns nothing: every rewarded trial counts
    told = len(finished) if state is None else state.get("proposed_told", state.get("told", 0))
    return {"space": config["space"], "strategy": config["strategy"], "reward": config["reward"],
            "budget": config["budget"], "trials": len(trials), "counts": counts, "told": told,
            "best": best, "rewards": [r["reward"] for _, r in finished]}


def status(out_dir: str | Path) -> dict[str, Any]:
    """What ``netspace sweep status`` prints: :func:`~netspace.run.sweep.sweep_status` of a sweep or search
    directory, and under ``"search"`` its :func:`search_summary` (None for a sweep)."""
    return {**sweep_status(out_dir), "search": search_summary(out_dir)}
