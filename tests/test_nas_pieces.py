"""The NAS baselines as their papers define them: NAS-RL's controller by name, EfficientNet's grid."""

from __future__ import annotations

import pytest
import torch

from netspace.scaling import compound_grid
from netspace.scaling.rules import ScalingError
from netspace.search import Reinforce, SearchError
from netspace.search.reinforce import CONTROLLER_PRESETS

DECISIONS = [("op", ("a", "b", "c", "d")), ("k", (3, 5, 7)), ("se", (0, 1))]


def test_nas_rl_controller_by_name():
    s = Reinforce(DECISIONS, seed=0, preset="nas-rl")
    c = s.controller
    assert (c.hidden, c.layers, len(c.cells)) == (35, 2, 2)
    assert s.optimizer.param_groups[0]["lr"] == pytest.approx(6e-4)
    weights = torch.cat([p.detach().flatten() for p in c.parameters()])
    assert weights.abs().max() <= 0.08 and weights.abs().max() > 0.07  # U(-0.08, 0.08)
    assert CONTROLLER_PRESETS["nas-rl"] == {"hidden": 35, "layers": 2, "lr": 6e-4, "init_range": 0.08}
    # An explicit option overrides the preset; the default preset is unchanged.
    assert Reinforce(DECISIONS, preset="nas-rl", lr=0.01).optimizer.param_groups[0]["lr"] == 0.01
    d = Reinforce(DECISIONS)
    assert (d.controller.hidden, d.controller.layers, d.lr) == (32, 1, 0.01)
    with pytest.raises(SearchError, match="unknown controller preset 'ppo'"):
        Reinforce(DECISIONS, preset="ppo")


def test_two_layer_controller_learns_and_round_trips():
    s = Reinforce(DECISIONS, seed=1, batch_size=8, preset="nas-rl", lr=0.05, entropy_weight=0.0)
    for _ in range(30):
        for t in s.ask(8):
            s.tell(t, 1.0 if t[0] == 3 else 0.0)
    assert s.controller.probabilities([], 0)[3] > 0.6
    restored = Reinforce(DECISIONS, seed=1, batch_size=8, preset="nas-rl", lr=0.05, entropy_weight=0.0)
    restored.load_state_dict(s.state_dict())
    assert torch.allclose(restored.controller.probabilities([3], 1), s.controller.probabilities([3], 1))
    with pytest.raises(SearchError, match="2 LSTM layer"):
        Reinforce(DECISIONS, seed=1, batch_size=8, hidden=35).load_state_dict(s.state_dict())


def test_compound_grid_tolerance_finds_efficientnets_factors():
    exact = compound_grid(2.0, 0.05)
    assert (1.2, 1.1, 1.15) not in exact  # product 1.92: never on the exact grid
    loose = compound_grid(2.0, 0.05, tolerance=0.05)
    assert (1.2, 1.1, 1.15) in loose
    assert all(abs(a * b ** 2 * g ** 2 - 2.0) <= 0.1 + 1e-9 and min(a, b, g) >= 1 for a, b, g in loose)
    assert len(set(loose)) == len(loose)
    with pytest.raises(ScalingError, match="tolerance must be"):
        compound_grid(2.0, 0.05, tolerance=1.5)
