"""Variants are declared once: a new block kind, space, strategy or dataset is a declaration plus one register line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from torch import nn

from netspace.blocks import BLOCKS
from netspace.data import DATASETS
from netspace.errors import SpecError
from netspace.models import block_module
from netspace.registry import Registry
from netspace.search import STRATEGIES
from netspace.spaces import SPACES
from netspace.spec import SPEC_KINDS

ROOT = Path(__file__).resolve().parents[1]


def test_every_block_kind_names_a_module_that_exists():
    assert list(BLOCKS) == ["vanilla", "res_basic", "res_bottleneck", "mbconv", "conv"]
    for kind in BLOCKS:
        assert issubclass(block_module(kind), nn.Module), kind


def test_registries_list_their_variants_in_order():
    assert list(STRATEGIES) == ["random", "reinforce", "evolution", "optuna-tpe", "optuna-nsga2"]
    assert list(DATASETS) == ["fashion-mnist", "cifar10", "imagefolder", "synthetic"]
    assert list(SPEC_KINDS) == ["nasnet"]
    assert list(SPACES)[:8] == ["AnyNetX_A", "AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E", "RegNet",
                                "RegNetX", "RegNetY"]


def test_registry_lookup_aliases_and_errors():
    reg: Registry[int] = Registry("colour", SpecError, normalize=str.lower, hint="; or mix one")
    reg.register("Red", 1, aliases=("crimson",))
    reg.register("Blue", 2)
    assert reg["red"] == 1 and reg["CRIMSON"] == 1 and reg.canonical("crimson") == "Red"
    assert "blue" in reg and "green" not in reg and 3 not in reg
    assert list(reg) == ["Red", "Blue"] and len(reg) == 2
    with pytest.raises(SpecError, match=r"^unknown colour 'green'; choose one of Red, Blue; or mix one$"):
        reg["green"]
    with pytest.raises(ValueError, match="already registered"):
        reg.register("red", 3)
    suggesting: Registry[int] = Registry("model", SpecError, instead_of_list="list them with --help")
    suggesting.register("RegNetX-200MF", 1)
    assert suggesting.unknown("RegNetX-200M") == "unknown model 'RegNetX-200M'; did you mean RegNetX-200MF?"
    assert suggesting.unknown("qqq") == "unknown model 'qqq'; list them with --help"


NEW_VARIANTS = '''
import numpy as np
import torch
from torch import nn

from netspace.blocks import BLOCKS, BlockKind
from netspace.complexity import complexity
from netspace.data import DATASETS, DataSource, load_data
from netspace.data import synthetic
from netspace.errors import SpecError
from netspace.latency import parts
from netspace.models import build
from netspace.models.layers import bn, conv
from netspace.search import STRATEGIES, Strategy, make_strategy
from netspace.spaces import SPACES, get_space
from netspace.spaces.mnasnet import MnasNetSpace
from netspace.spec import NetSpec, Stage, Stem

# A block kind: its module, its declaration, one register line.
class PointBlock(nn.Module):
    def __init__(self, w_in, st, stride, act):
        super().__init__()
        self.f = nn.Sequential(conv(w_in, st.width, st.kernel, stride), bn(st.width, act=act))

    def forward(self, x):
        return self.f(x)


class Point(BlockKind):
    uses = frozenset({"kernel"})
    module = "__main__:PointBlock"

    def cost(self, cx, st, w_in, stride):
        cx.conv(w_in, st.width, st.kernel, stride)
        cx.bn(st.width)


BLOCKS.register("point", Point())
spec = NetSpec(Stem("simple", 8, 1), (Stage("point", 2, 16, kernel=5), Stage("res_basic", 1, 24)),
               resolution=16, num_classes=10)
model = build(spec)
assert complexity(spec)["params"] == sum(p.numel() for p in model.parameters())
assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
assert NetSpec.from_json(spec.to_json()) == spec
assert [sig.kind for sig, _ in parts(spec)][1:3] == ["point", "point"]
try:
    NetSpec(Stem(), (Stage("point", 1, 8, se_ratio=0.25),))
    raise AssertionError("se_ratio accepted")
except SpecError as e:
    assert "se_ratio applies only to res_bottleneck, mbconv and conv blocks" in str(e), e
try:
    NetSpec(Stem(), (Stage("mbconv", 1, 8, kernel=5), Stage("res_basic", 1, 8, kernel=5)))
    raise AssertionError("kernel accepted")
except SpecError as e:
    assert "kernel applies only to mbconv, conv and point blocks" in str(e), e

# A strategy: its class, one register line.
class First(Strategy):
    kind = "first"

    def _ask(self, n):
        return [[0] * len(self.sizes) for _ in range(n)]

    def _tell(self, tokens, reward):
        pass

    def _state(self):
        return {}

    def _load(self, state):
        pass


STRATEGIES.register(First.kind, First)
assert make_strategy("first", [("a", (1, 2))]).ask(2) == [[0], [0]]

# A dataset: its source, one register line.
DATASETS.register("noise", DataSource(lambda r: synthetic.load((1, 8, 8), 3, (10, 4), r.seed), files=False))
data = load_data("noise", resolution=12)
assert data.info.resolution == 12 and len(data.train) == 10

# A design space: a function of the frame, one register line.
SPACES.register("Mnas-Small", MnasNetSpace)
assert get_space("mnas_small", resolution=32).sample(1).samples[0].spec.resolution == 32
print("ok")
'''


def test_a_new_variant_needs_one_register_line():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    done = subprocess.run([sys.executable, "-c", NEW_VARIANTS], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
