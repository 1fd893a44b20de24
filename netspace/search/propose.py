"""What the driver asks: candidates as design parameters, inside the run's complexity window.

The driver (``netspace.run.driver``) knows one interface, :class:`Proposer`:
``ask(n)`` returns ``n`` :class:`Candidate` s (design parameters, the spec
they name, its complexity and, for token strategies, the token indices),
``tell(tokens, reward, measured)`` is called once per asked candidate, in the
order asked (``measured``: the trial's complexity and measured latency, for
proposers that trade error against a cost), and
``state_dict``/``load_state_dict`` make it resumable. Three kinds:

- :class:`SpaceSampler`: the space's own seeded sampler inside the window
  (``space.sample``), the same draws as a sweep of that space with that seed:
  ``sample(k)`` is a prefix of ``sample(n)``, so a sweep of N models, a
  random search of budget N asked in rounds of any size, and a study's sweep
  all draw the same N networks. A sweep is this proposer asked for all N at
  once; random search is this proposer asked round by round.
- :class:`TokenProposer`: a learning token strategy (REINFORCE, evolution,
  :mod:`netspace.search`) over the space's ``tokens()``. A candidate that is
  not a member of the space, or lies outside the complexity window, is never
  trained: REINFORCE is told reward 0 for it (an infeasible network is the
  worst outcome, so the policy learns the window), evolution is not told and
  is asked again (a member that cannot be trained has no place in its
  population). At most ``MAX_REJECTED`` candidates in a row may be rejected;
  then the window is reported as too narrow for the strategy.
- :class:`~netspace.search.optuna_search.OptunaProposer`: an Optuna sampler
  (TPE, NSGA-II) asking from the space's decisions; a candidate outside the
  space or the window is told to Optuna as infeasible and asked again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping

from netspace.complexity import complexity
from netspace.errors import NetspaceError
from netspace.search.strategy import SearchError, Strategy
from netspace.spaces.space import Sample

METRICS = ("flops", "params", "acts")
MAX_REJECTED = 2000


@dataclass(frozen=True)
class Candidate(Sample):
    """A sample of the space as a proposer asks it: with its token indices where the space has tokens."""

    tokens: list[int] | None = None


@dataclass(frozen=True)
class Rejected:
    """Why a proposed candidate is not trained; ``complexity`` where the tokens name a member of the space."""

    reason: str
    complexity: dict[str, int] | None = None


def windows_of(window: Mapping[str, Any]) -> dict[str, Any]:
    """The run's complexity window as :class:`~netspace.spaces.window.Window` s by metric."""
    from netspace.spaces import as_window

    return {m: as_window(window.get(m), m) for m in METRICS if window.get(m) is not None}


def check_candidate(space: Any, windows: Mapping[str, Any], tokens: list[int]) -> Candidate | Rejected:
    """The candidate these token indices name, or why it is not a member of the space or lies outside the window."""
    try:
        params = space.params_from_tokens(tokens)
        spec = space.to_spec(params)
        cx = complexity(spec)
    except NetspaceError as e:
        return Rejected(f"not a member of the space: {e}")
    outside = [f"{m} {cx[m]:,} outside {w}" for m, w in windows.items() if not w.contains(cx[m])]
    return Rejected("; ".join(outside), cx) if outside else Candidate(params, spec, cx, list(tokens))


def too_narrow(kind: str, in_a_row: int, windows: Mapping[str, Any], last: str) -> SearchError:
    """The error of a strategy whose last ``in_a_row`` candidates were all rejected."""
    where = ", ".join(f"{m} {w}" for m, w in windows.items()) or "the space"
    return SearchError(f"{kind}: {in_a_row} candidates in a row fell outside {where} (last: {last}); widen the "
                       "window or use --strategy random, which samples inside it")


class Proposer(ABC):
    """Asks candidates and is told their rewards in order; resumable through its state."""

    learns = False  # whether rewards change what it asks (a sweep's sampler: no)

    def __init__(self) -> None:
        self.asked = 0
        self.told = 0

    @abstractmethod
    def ask(self, n: int) -> list[Candidate]:
        """The next ``n`` candidates."""

    def tell(self, candidate_tokens: list[int] | None, reward: float,
             measured: Mapping[str, Any] | None = None) -> None:
        """The reward of the next candidate told; ``measured``: its flops, params, acts and latency_ms."""
        self.told += 1

    def state_dict(self) -> dict[str, Any]:
        return {"asked": self.asked, "told": self.told}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.asked, self.told = int(state["asked"]), int(state["told"])


class SpaceSampler(Proposer):
    """The space's seeded sampler inside the window; the i-th candidate is the i-th of ``space.sample``."""

    kind = "sample"

    def __init__(self, space: Any, *, seed: int, window: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if not callable(getattr(space, "sample", None)):
            raise SearchError(f"{getattr(space, 'name', space)!r} cannot be sampled (no sample()); "
                              "random search and sweeps need a design space with a sampler")
        self.space, self.seed, self.window = space, seed, dict(window or {})
        self.candidates = 0  # draws behind the last ask, for the acceptance rate
        self.acceptance: float | None = None

    def ask(self, n: int) -> list[Candidate]:
        result = self.space.sample(self.asked + n, seed=self.seed, **{m: self.window.get(m) for m in METRICS})
        self.candidates, self.acceptance = result.candidates, result.acceptance_rate
        tokens = getattr(self.space, "tokens_from_params", None)  # token spaces: the same row as a strategy's
        out = [Candidate(dict(s.params), s.spec, dict(s.complexity), tokens(s.params) if tokens else None)
               for s in result.samples[self.asked:]]
        self.asked += len(out)
        return out


class ListProposer(Proposer):
    """Given candidates, in the given order: the models a study trains again with a longer schedule.

    The i-th candidate is always the i-th of the list, so a store of these
    trials resumes like a sweep's (its state is the number of trials it holds).
    """

    kind = "list"

    def __init__(self, candidates: list[Candidate]) -> None:
        super().__init__()
        self.candidates = list(candidates)

    def ask(self, n: int) -> list[Candidate]:
        out = self.candidates[self.asked:self.asked + n]
        self.asked += len(out)
        return out


class TokenProposer(Proposer):
    """A token strategy, its candidates kept inside the space and the window."""

    learns = True

    def __init__(self, space: Any, strategy: Strategy, *, window: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.space, self.strategy = space, strategy
        self.windows = windows_of(window or {})
        self.tell_rejected = strategy.kind == "reinforce"
        self.rejected = 0

    @property
    def kind(self) -> str:
        return self.strategy.kind

    def ask(self, n: int) -> list[Candidate]:
        # Asked in one call for what is still missing, so that without rejections the strategy
        # sees exactly the calls it would see alone (a batched controller samples differently).
        out: list[Candidate] = []
        in_a_row, last = 0, ""
        while len(out) < n:
            for tokens in self.strategy.ask(n - len(out)):
                found = check_candidate(self.space, self.windows, tokens)
                if isinstance(found, Candidate):
                    out.append(found)
                    in_a_row = 0
                    continue
                self.rejected += 1
                in_a_row, last = in_a_row + 1, found.reason
                if self.tell_rejected:
                    self.strategy.tell(tokens, 0.0)
            if in_a_row >= MAX_REJECTED:
                raise too_narrow(self.strategy.kind, in_a_row, self.windows, last)
        self.asked += len(out)
        return out

    def tell(self, tokens: list[int] | None, reward: float, measured: Mapping[str, Any] | None = None) -> None:
        self.strategy.tell(tokens, reward)
        self.told += 1

    def state_dict(self) -> dict[str, Any]:
        # The strategy's own state under its usual keys (stores of earlier versions hold exactly that),
        # the proposer's counts beside it.
        return {**self.strategy.state_dict(), "proposed": self.asked, "proposed_told": self.told,
                "rejected": self.rejected}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.strategy.load_state_dict(dict(state))
        # Stores written before rejection existed: every strategy candidate was a trial.
        self.asked = int(state.get("proposed", state["asked"]))
        self.told = int(state.get("proposed_told", state["told"]))
        self.rejected = int(state.get("rejected", 0))
