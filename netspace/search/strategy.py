"""The strategy interface (ask for candidates, tell their rewards, save and restore the state) and the registry."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from netspace.errors import NetspaceError
from netspace.registry import Registry

Decisions = list[tuple[str, tuple]]


class SearchError(NetspaceError, ValueError):
    """A search was asked for with impossible settings, or a strategy was misused."""


def as_decisions(space: Any) -> Decisions:
    """``space.tokens()`` (or a list of ``(name, options)``) as a validated list of decisions."""
    raw = space.tokens() if hasattr(space, "tokens") else space
    where = getattr(space, "name", "token space")
    if not isinstance(raw, (list, tuple)) or not raw:
        raise SearchError(f"{where}: a search needs a space with at least one decision (tokens()); "
                          "use mnasnet, nasnet or another space that defines tokens")
    out: Decisions = []
    for i, item in enumerate(raw):
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], (list, tuple))):
            raise SearchError(f"{where}: decision {i} must be (name, options), got {item!r}")
        name, options = str(item[0]), tuple(item[1])
        if not options:
            raise SearchError(f"{where}: decision {name!r} has no options; give it at least one")
        out.append((name, options))
    return out


class Strategy(ABC):
    """Proposes candidates (token index lists) and learns from their rewards.

    ``asked`` and ``told`` count candidates; a driver tells rewards in the
    order it asked (the strategies do not need it, but it makes a run with
    parallel workers reproducible).

    ``about`` is one line for the help of ``netspace search --strategy``.
    """

    kind: str = ""
    about: str = ""

    def __init__(self, decisions: Any, *, seed: int = 0) -> None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise SearchError(f"{self.kind}: seed must be a non-negative integer, got {seed!r}")
        self.decisions = as_decisions(decisions)
        self.sizes = [len(options) for _, options in self.decisions]
        self.seed = int(seed)
        self.asked = 0
        self.told = 0

    # -- ask / tell ------------------------------------------------------------
    def ask(self, n: int = 1) -> list[list[int]]:
        """``n`` candidates, each one option index per decision."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise SearchError(f"{self.kind}: ask(n) needs n >= 1, got {n!r}")
        out = [[int(t) for t in tokens] for tokens in self._ask(int(n))]
        self.asked += len(out)
        return out

    def tell(self, tokens: Sequence[int], reward: float) -> None:
        """The reward of one candidate (higher is better; must be finite)."""
        tokens = self.check_tokens(tokens)
        if not isinstance(reward, (int, float, np.number)) or not math.isfinite(float(reward)):
            raise SearchError(f"{self.kind}: reward must be a finite number, got {reward!r}")
        self._tell(tokens, float(reward))
        self.told += 1

    def check_tokens(self, tokens: Sequence[int]) -> list[int]:
        tokens = [int(t) for t in tokens]
        if len(tokens) != len(self.sizes) or any(not 0 <= t < s for t, s in zip(tokens, self.sizes)):
            raise SearchError(f"{self.kind}: tokens {tokens} do not fit the {len(self.sizes)} decisions "
                              f"with option counts {self.sizes}")
        return tokens

    def choices(self, tokens: Sequence[int]) -> dict[str, Any]:
        """The chosen option of every decision, by name."""
        return {name: options[t] for (name, options), t in zip(self.decisions, self.check_tokens(tokens))}

    # -- state -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-able; ``load_state_dict`` of it continues this strategy exactly."""
        return {"kind": self.kind, "seed": self.seed, "sizes": list(self.sizes), "asked": self.asked,
                "told": self.told, **self._state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise SearchError(f"saved strategy state is {state.get('kind')!r}, not {self.kind!r}; "
                              "use the same --strategy or start a new search")
        if list(state.get("sizes", [])) != self.sizes:
            raise SearchError(f"saved {self.kind} state has decisions with option counts {state.get('sizes')}, "
                              f"the space now has {self.sizes}; the space changed, start a new search")
        self.seed, self.asked, self.told = int(state["seed"]), int(state["asked"]), int(state["told"])
        self._load(state)

    # -- what a strategy defines -----------------------------------------------
    @abstractmethod
    def _ask(self, n: int) -> list[list[int]]: ...

    @abstractmethod
    def _tell(self, tokens: list[int], reward: float) -> None: ...

    @abstractmethod
    def _state(self) -> dict[str, Any]: ...

    @abstractmethod
    def _load(self, state: dict[str, Any]) -> None: ...


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A numpy generator's state as plain JSON (PCG64 state is a dict of Python ints)."""
    return rng.bit_generator.state


def rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng


# Strategies by ``kind``, registered in ``netspace/search/__init__.py``: token strategies (``Strategy``
# subclasses, which a TokenProposer keeps inside the space and the window) and proposers that ask from the
# space themselves (``netspace.search.propose.Proposer`` subclasses: the Optuna samplers).
STRATEGIES: Registry[type] = Registry("strategy", SearchError)


def make_strategy(kind: str, decisions: Any, *, seed: int = 0, **options: Any) -> Strategy:
    """A token strategy by name (random, reinforce, evolution), with its own options."""
    cls = STRATEGIES[kind]
    if not issubclass(cls, Strategy):
        raise SearchError(f"{kind} proposes from a design space, not from tokens; make it with "
                          f"netspace.search.{cls.__name__}(space, seed=..., window=...)")
    return cls(decisions, seed=seed, **options)
