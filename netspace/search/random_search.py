"""Random search: every decision uniform and independent; the baseline a search must beat."""

from __future__ import annotations

from typing import Any

import numpy as np

from netspace.search.strategy import Strategy, rng_from_state, rng_state


class RandomSearch(Strategy):
    kind = "random"
    # a search run with "random" proposes with the space's own sampler (netspace.run.search), not these tokens
    about = "the space's sampler inside the window (a sweep's draws)"

    def __init__(self, decisions: Any, *, seed: int = 0) -> None:
        super().__init__(decisions, seed=seed)
        self.rng = np.random.default_rng([self.seed, 0x5EA])

    def _ask(self, n: int) -> list[list[int]]:
        return self.rng.integers(0, np.asarray(self.sizes), size=(n, len(self.sizes))).tolist()

    def _tell(self, tokens: list[int], reward: float) -> None:
        pass  # random search learns nothing

    def _state(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng)}

    def _load(self, state: dict[str, Any]) -> None:
        self.rng = rng_from_state(state["rng"])
