"""Optuna's samplers as proposers of the one driver: TPE (``optuna-tpe``) and NSGA-II (``optuna-nsga2``).

Optuna's ask/tell interface meets :class:`~netspace.search.propose.Proposer`:
``ask(n)`` asks the study for trials until ``n`` of them name trainable
networks inside the complexity window; ``tell`` tells each its objective
value(s) in the order asked. Optuna never sees how trials run.

Parameters: one Optuna parameter per decision of the space's ``tokens()``.
A decision of a sampled numeric grid (the spaces of stage networks: AnyNet,
RegNet, YAML spaces; their options are the sampler's grid in ascending
order) is an ``IntDistribution`` over the option's rank, so the order is
kept and the rank is uniform exactly where the space's sampler is (linear
for w0 and the depths, logarithmic for wa, wm and the pow2 group widths). A
decision of a token space (MnasNet, NASNet: operations, input indices) is a
``CategoricalDistribution`` over its options, which have no order.

Feasibility: a candidate that is not a member of the space (a RegNet with
the wrong number of stages) or lies outside the window is never trained. It
is told to Optuna as a pruned trial with the constraint ``window`` set to
its violation (the summed log-distance of each metric to its window, 1.0
for a non-member), so TPE and NSGA-II learn the window as a constraint
(Optuna's constrained optimization), and asked again. At most
``MAX_REJECTED`` in a row, as for the token strategies.

Start: the first candidates (TPE's 10 startup trials; NSGA-II's first
generation) are the space's own seeded sampler inside the window (a sweep's
draws, on the token grid) where Optuna would draw uniformly over the box of
decisions. Few such draws are members of RegNetX, and a constrained sampler
with no feasible trial has nothing to model; this is a deviation from
Optuna's default start, named here.

Objectives:

- ``optuna-tpe``: maximize the search's reward (accuracy, or the MnasNet
  reward with ``--reward mnas``).
- ``optuna-nsga2``: minimize (error %, cost), the accuracy-cost Pareto front;
  error = 100 (1 - accuracy), cost = measured latency (ms) with
  ``--latency measure``, else the exact flops. The MnasNet reward already
  folds the cost into one number, so NSGA-II takes the accuracy reward.

Resuming: Optuna's sampler draws from a random stream seeded per trial from
(seed, trial number), so each ask is a function of the seed and the trials
before it. The state is every Optuna trial (params, state, values, system
and user attributes); a resumed search rebuilds the in-memory study from it,
trial by trial, and asks exactly what the uninterrupted one would have.
"""

from __future__ import annotations

import contextlib
import math
from abc import abstractmethod
from typing import Any, Mapping

import numpy as np

from netspace.search.propose import (
    MAX_REJECTED, Candidate, Proposer, Rejected, check_candidate, too_narrow, windows_of,
)
from netspace.search.strategy import SearchError, as_decisions

NON_MEMBER_VIOLATION = 1.0
STARTUP = 10  # TPE's random start (Optuna's default n_startup_trials)
COSTS = ("flops", "latency_ms")


def import_optuna():
    """The optuna module, or a SearchError saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise SearchError("the optuna strategies need Optuna 5 or later: pip install 'netspace[optuna]'") from None
    if int(optuna.__version__.split(".")[0]) < 5:
        raise SearchError(f"the optuna strategies need Optuna 5 or later (trial constraints), found "
                          f"{optuna.__version__}: pip install -U 'optuna>=5'")
    return optuna


@contextlib.contextmanager
def _quiet(optuna):
    """Optuna's info lines (a study created, ...) are not the search's log."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def _ordered(options: tuple) -> bool:
    numbers = all(isinstance(o, (int, float, np.integer, np.floating)) and not isinstance(o, bool) for o in options)
    return numbers and all(a < b for a, b in zip(options, options[1:]))


def distributions(space: Any) -> dict[str, Any]:
    """One Optuna distribution per decision of ``space.tokens()`` (see the module docstring)."""
    optuna = import_optuna()
    from netspace.spaces.space import VectorizedSpace

    graded = isinstance(space, VectorizedSpace)
    out: dict[str, Any] = {}
    for name, options in as_decisions(space):
        if name in out:
            raise SearchError(f"{getattr(space, 'name', 'space')}: two decisions are named {name!r}; "
                              "Optuna needs distinct parameter names")
        if graded and _ordered(options):
            out[name] = optuna.distributions.IntDistribution(0, len(options) - 1)
        else:
            out[name] = optuna.distributions.CategoricalDistribution(options)
    return out


def violation(found: Rejected, windows: Mapping[str, Any]) -> float:
    """How far a rejected candidate is from feasible: sum over metrics of log(low / x) or log(x / high)."""
    if found.complexity is None:
        return NON_MEMBER_VIOLATION
    total = 0.0
    for metric, w in windows.items():
        x = max(float(found.complexity[metric]), 1.0)
        if w.low is not None and x < w.low:
            total += math.log(w.low / x)
        if w.high is not None and x > w.high:
            total += math.log(x / w.high)
    return max(total, 1e-9)  # positive: infeasible


class OptunaProposer(Proposer):
    """An Optuna sampler over the space's decisions, inside the complexity window; see the module docstring."""

    learns = True
    kind = ""
    about = ""
    directions: tuple[str, ...] = ()

    def __init__(self, space: Any, *, seed: int = 0, window: Mapping[str, Any] | None = None,
                 population: int = 16, cost: str = "flops") -> None:
        super().__init__()
        self.check_options(population=population, cost=cost)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise SearchError(f"{self.kind}: seed must be a non-negative integer, got {seed!r}")
        self.optuna = import_optuna()
        self.space, self.seed, self.population, self.cost = space, int(seed), int(population), cost
        self.window = {m: w for m, w in (window or {}).items() if w is not None}
        self.windows = windows_of(self.window)
        self.decisions = as_decisions(space)
        self.distributions = distributions(space)
        self.numbers: list[int] = []  # the Optuna trial of each candidate, in the order asked
        self.rejected = 0
        self.drawn = 0  # start candidates taken from the space's sampler
        self.study = self._new_study()

    @classmethod
    def check_options(cls, *, population: int = 16, cost: str = "flops") -> None:
        """A SearchError naming a bad option (the search config calls this before anything runs)."""
        if isinstance(population, bool) or not isinstance(population, (int, np.integer)) or population < 2:
            raise SearchError(f"{cls.kind}: --population must be an integer >= 2, got {population!r}")
        if cost not in COSTS:
            raise SearchError(f"{cls.kind}: cost must be one of {', '.join(COSTS)}, got {cost!r}")
        import_optuna()

    # -- what a sampler defines ------------------------------------------------------
    @abstractmethod
    def sampler(self, seed: int) -> Any:
        """The Optuna sampler of this strategy, seeded with ``seed``."""

    @abstractmethod
    def values(self, reward: float, cost: float | None) -> float | list[float]:
        """What Optuna is told for a trained candidate: one value per entry of ``directions``."""

    # -- the study -------------------------------------------------------------------
    def _new_study(self) -> Any:
        with _quiet(self.optuna):
            return self.optuna.create_study(directions=list(self.directions), sampler=self.sampler(self.seed))

    def _seed_of(self, number: int) -> int:
        return int(np.random.SeedSequence([self.seed, number]).generate_state(1)[0])

    def startup(self) -> int:
        """Feasible trials drawn by the space's own sampler before the Optuna sampler models the results."""
        return 0

    def _start_params(self) -> dict[str, Any]:
        """The next draw of the space's sampler inside the window, as Optuna parameters."""
        if not callable(getattr(self.space, "sample", None)) or not callable(getattr(self.space, "tokens_from_params",
                                                                                     None)):
            return {}  # Optuna's own random start
        drawn = self.space.sample(self.drawn + 1, seed=self.seed, **self.window)
        self.drawn += 1
        tokens = self.space.tokens_from_params(drawn.samples[-1].params)
        return {name: int(t) if isinstance(d, self.optuna.distributions.IntDistribution) else d.choices[t]
                for (name, d), t in zip(self.distributions.items(), tokens)}

    def _tokens(self, params: Mapping[str, Any]) -> list[int]:
        out = []
        for name, options in self.decisions:
            value = params[name]
            if isinstance(self.distributions[name], self.optuna.distributions.IntDistribution):
                out.append(int(value))
            else:
                out.append(self.distributions[name].choices.index(value))
        return out

    def ask(self, n: int) -> list[Candidate]:
        out: list[Candidate] = []
        in_a_row = 0
        while len(out) < n:
            number = len(self.study.get_trials(deepcopy=False))
            with _quiet(self.optuna):
                if len(self.numbers) < self.startup():
                    self.study.enqueue_trial(self._start_params())
                self.study.sampler = self.sampler(self._seed_of(number))
                trial = self.study.ask(self.distributions)
            found = check_candidate(self.space, self.windows, self._tokens(trial.params))
            if isinstance(found, Candidate):
                for metric, value in found.complexity.items():
                    trial.set_user_attr(metric, int(value))
                out.append(found)
                self.numbers.append(trial.number)
                in_a_row = 0
                continue
            trial.set_constraint("window", violation(found, self.windows))
            with _quiet(self.optuna):
                self.study.tell(trial, state=self.optuna.trial.TrialState.PRUNED)
            self.rejected += 1
            in_a_row += 1
            if in_a_row >= MAX_REJECTED:
                raise too_narrow(self.kind, in_a_row, self.windows, found.reason)
        self.asked += len(out)
        return out

    def tell(self, tokens: list[int] | None, reward: float, measured: Mapping[str, Any] | None = None) -> None:
        number = self.numbers[self.told]
        cost = None
        if self.cost == "latency_ms":
            cost = (measured or {}).get("latency_ms")
            if cost is None:
                raise SearchError(f"{self.kind}: trial {self.told} has no measured latency; search with "
                                  "--latency measure, or --latency flops")
        else:
            cost = self.study.get_trials(deepcopy=False)[number].user_attrs["flops"]
        with _quiet(self.optuna):
            self.study.tell(number, self.values(float(reward), float(cost)))
        self.told += 1

    # -- state -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        trials = [{"params": t.params, "state": t.state.name, "values": t.values,
                   "system_attrs": dict(t.system_attrs), "user_attrs": dict(t.user_attrs)}
                  for t in self.study.get_trials(deepcopy=False)]
        return {"kind": self.kind, "seed": self.seed, "sizes": [len(o) for _, o in self.decisions],
                "asked": self.asked, "told": self.told, "rejected": self.rejected, "drawn": self.drawn,
                "numbers": list(self.numbers),
                "trials": trials}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise SearchError(f"saved strategy state is {state.get('kind')!r}, not {self.kind!r}; "
                              "use the same --strategy or start a new search")
        sizes = [len(o) for _, o in self.decisions]
        if list(state.get("sizes", [])) != sizes:
            raise SearchError(f"saved {self.kind} state has decisions with option counts {state.get('sizes')}, "
                              f"the space now has {sizes}; the space changed, start a new search")
        self.seed = int(state["seed"])
        self.study = self._new_study()
        create, states = self.optuna.trial.create_trial, self.optuna.trial.TrialState
        trials = [create(state=states[t["state"]], values=t["values"], params=t["params"],
                         distributions=self.distributions, system_attrs=t["system_attrs"],
                         user_attrs=t["user_attrs"]) for t in state["trials"]]
        with _quiet(self.optuna):
            self.study.add_trials(trials)
        self.asked, self.told, self.rejected = int(state["asked"]), int(state["told"]), int(state["rejected"])
        self.drawn = int(state["drawn"])
        self.numbers = [int(i) for i in state["numbers"]]


class OptunaTPE(OptunaProposer):
    """Optuna's tree-structured Parzen estimator, maximizing the reward (Bergstra et al. 2011)."""

    kind = "optuna-tpe"
    about = "Optuna's TPE sampler maximizing the reward, inside the window (needs netspace[optuna])"
    directions = ("maximize",)

    def sampler(self, seed: int) -> Any:
        return self.optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP)

    def startup(self) -> int:
        return STARTUP

    def values(self, reward: float, cost: float | None) -> float:
        return reward


class OptunaNSGA2(OptunaProposer):
    """Optuna's NSGA-II (Deb et al. 2002) on (error, cost): the accuracy-latency or accuracy-flops front."""

    kind = "optuna-nsga2"
    about = ("Optuna's NSGA-II minimizing error and cost (flops, or latency with --latency measure): the "
             "Pareto front; --population is its population (needs netspace[optuna])")
    directions = ("minimize", "minimize")

    def sampler(self, seed: int) -> Any:
        return self.optuna.samplers.NSGAIISampler(population_size=self.population, seed=seed)

    def startup(self) -> int:
        return self.population  # the first generation

    def values(self, reward: float, cost: float | None) -> list[float]:
        return [100.0 * (1.0 - reward), float(cost)]
