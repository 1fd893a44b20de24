"""Regularized (aging) evolution, Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search", Algorithm 1.

The first ``population`` candidates are random. After that each child is
made by drawing ``sample_size`` members of the population uniformly at random
*with replacement* (Real et al.'s Algorithm 1 samples each of the S members
independently, so a member can be drawn twice), taking the one with the
highest reward as the parent, and
changing one of its decisions to another option. Every told candidate joins
the population and the oldest member leaves, whatever its reward: age, not
fitness, decides who dies, which keeps lucky evaluations from staying forever.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from netspace.search.strategy import SearchError, Strategy, rng_from_state, rng_state


class RegularizedEvolution(Strategy):
    kind = "evolution"
    about = "regularized evolution"

    def __init__(self, decisions: Any, *, seed: int = 0, population: int = 16, sample_size: int = 4) -> None:
        super().__init__(decisions, seed=seed)
        if not isinstance(population, int) or population < 2:
            raise SearchError(f"evolution: population must be an integer >= 2, got {population!r}")
        if not isinstance(sample_size, int) or not 1 <= sample_size <= population:
            raise SearchError(f"evolution: sample size must be in [1, population={population}], got {sample_size!r}")
        self.population_size = population
        self.sample_size = sample_size
        self.rng = np.random.default_rng([self.seed, 0xE70])
        # Oldest first: each member is {"tokens", "reward", "born"} (born = its tell index).
        self.population: deque[dict[str, Any]] = deque()
        self.best: dict[str, Any] | None = None

    def _random(self) -> list[int]:
        return self.rng.integers(0, np.asarray(self.sizes)).tolist()

    def mutate(self, parent: list[int]) -> list[int]:
        """The parent with one decision (among those with a choice) set to another option."""
        free = [i for i, s in enumerate(self.sizes) if s > 1]
        child = list(parent)
        if not free:
            return child
        d = free[int(self.rng.integers(len(free)))]
        other = int(self.rng.integers(self.sizes[d] - 1))
        child[d] = other + 1 if other >= parent[d] else other
        return child

    def _ask(self, n: int) -> list[list[int]]:
        out = []
        for i in range(n):
            if self.asked + i < self.population_size or not self.population:
                out.append(self._random())
                continue
            members = list(self.population)
            picked = self.rng.integers(0, len(members), self.sample_size)  # with replacement (Algorithm 1)
            parent = max((members[int(j)] for j in picked), key=lambda m: m["reward"])
            out.append(self.mutate(parent["tokens"]))
        return out

    def _tell(self, tokens: list[int], reward: float) -> None:
        member = {"tokens": tokens, "reward": reward, "born": self.told}
        self.population.append(member)
        while len(self.population) > self.population_size:
            self.population.popleft()  # the oldest dies
        if self.best is None or reward > self.best["reward"]:
            self.best = member

    def _state(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "population": list(self.population), "best": self.best,
                "population_size": self.population_size, "sample_size": self.sample_size}

    def _load(self, state: dict[str, Any]) -> None:
        self.rng = rng_from_state(state["rng"])
        self.population = deque(state["population"])
        self.best = state["best"]
        self.population_size, self.sample_size = int(state["population_size"]), int(state["sample_size"])
