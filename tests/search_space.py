"""A tiny token space for search tests: four decisions, 16 small networks for 28px, 1-channel, 10-class input."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from netspace.errors import SpecError
from netspace.spaces.tokens import TokenSpace
from netspace.spec import NetSpec, Stage, Stem

TOKENS = [("w1", (8, 16)), ("k1", (3, 5)), ("d2", (1, 2)), ("w2", (16, 24))]


class TinySpace(TokenSpace):
    name = "tiny"

    def __init__(self, resolution: int = 28, in_channels: int = 1, num_classes: int = 10) -> None:
        self.resolution, self.in_channels, self.num_classes = resolution, in_channels, num_classes

    def tokens(self) -> list[tuple[str, tuple]]:
        return list(TOKENS)

    def params_from_tokens(self, indices: Sequence[int]) -> dict[str, Any]:
        if len(indices) != len(TOKENS) or any(not 0 <= i < len(o) for i, (_, o) in zip(indices, TOKENS)):
            raise SpecError(f"tiny: bad token indices {list(indices)}")
        return {name: options[i] for (name, options), i in zip(TOKENS, indices)}

    def tokens_from_params(self, params: Mapping[str, Any]) -> list[int]:
        return [options.index(params[name]) for name, options in TOKENS]

    def to_spec(self, params: Mapping[str, Any]) -> NetSpec:
        return NetSpec(stem=Stem("simple", 8, 1),
                       stages=(Stage("mbconv", 1, params["w1"], stride=2, kernel=params["k1"], expansion=2.0),
                               Stage("conv", params["d2"], params["w2"], stride=2)),
                       num_classes=self.num_classes, in_channels=self.in_channels, resolution=self.resolution)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "tokens": [[n, list(o)] for n, o in TOKENS]}
