"""REINFORCE with an LSTM controller (Zoph & Le 2017, "Neural Architecture Search with
Reinforcement Learning", NAS-RL, Section 3.2).

NAS-RL trained its controller with REINFORCE; NASNet (Zoph et al. 2018) and
MnasNet (Tan et al. 2019) trained theirs with Proximal Policy Optimization
(PPO), which this strategy is not. Two sets of defaults, by name
(``preset=``, :data:`CONTROLLER_PRESETS`):

- ``"nas-rl"``: NAS-RL's controller, a 2-layer LSTM with 35 hidden units,
  parameters initialized uniformly in [-0.08, 0.08], Adam with lr 6e-4;
- ``"netspace"`` (the default, for budgets of tens of trials rather than
  NAS-RL's 12,800): a 1-layer LSTM of 32 units, init U(-0.1, 0.1), Adam with
  lr 0.01, so that the policy moves within a small search.

Any of ``hidden``, ``layers``, ``lr``, ``init_range`` given explicitly
overrides the preset.

The controller emits one token per decision: at step i an LSTM cell reads the
embedding of the previous token (a learned start vector at step 0), and a
per-decision linear head gives the logits of decision i's options. A batch of
``batch_size`` sampled candidates is trained by the driver; once all their
rewards are told the controller takes one policy-gradient step:

    loss = -mean_k[(R_k - b) * log p(a_k)] - entropy_weight * mean_k[H_k]

with b an exponential moving average of past batch-mean rewards
(``baseline_decay``; the first batch's mean starts it) and H the summed
per-step entropy, which keeps the policy from collapsing too early. Adam
optimizes the controller. Log-probabilities are recomputed from the stored
tokens at update time (the policy has not moved since it sampled them), so
nothing but tokens and rewards needs to be kept between ask and tell.

The state (weights, optimizer, sampling generator, baseline, the part-filled
batch) is JSON-able: the torch tensors are ``torch.save`` bytes in base64,
read back with ``weights_only=True``.
"""

from __future__ import annotations

import base64
import io
from typing import Any, Sequence

import torch
from torch import nn

from netspace.search.strategy import SearchError, Strategy


class Controller(nn.Module):
    """An LSTM policy over a sequence of categorical decisions with ``sizes`` options each."""

    def __init__(self, sizes: Sequence[int], hidden: int = 64, *, layers: int = 1, init_range: float = 0.1,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.hidden = hidden
        self.layers = layers
        self.start = nn.Parameter(torch.zeros(hidden))
        self.embed = nn.ModuleList(nn.Embedding(s, hidden) for s in self.sizes)
        self.cells = nn.ModuleList(nn.LSTMCell(hidden, hidden) for _ in range(layers))
        self.heads = nn.ModuleList(nn.Linear(hidden, s) for s in self.sizes)
        with torch.no_grad():  # uniform(-init_range, init_range) init (NAS-RL: 0.08): the policy starts near uniform
            for p in self.parameters():
                p.uniform_(-init_range, init_range, generator=generator)

    def _step(self, x: torch.Tensor, state: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """One time step through the stacked cells; updates ``state`` in place, returns the top output."""
        for k, cell in enumerate(self.cells):
            state[k] = cell(x, state[k])
            x = state[k][0]
        return x

    def _zero_state(self, batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(torch.zeros(batch, self.hidden), torch.zeros(batch, self.hidden)) for _ in range(self.layers)]

    def forward(self, tokens: torch.Tensor | None = None, *, batch: int = 1,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample ``batch`` sequences (``tokens`` None) or score given ``tokens`` [B, D].

        Returns (tokens [B, D], log-probability [B], entropy [B]).
        """
        if tokens is not None:
            batch = tokens.shape[0]
        x = self.start.expand(batch, self.hidden)
        state = self._zero_state(batch)
        out, logp, entropy = [], torch.zeros(batch), torch.zeros(batch)
        for i, head in enumerate(self.heads):
            h = self._step(x, state)
            log_probs = torch.log_softmax(head(h), dim=-1)
            if tokens is None:
                tok = torch.multinomial(log_probs.detach().exp(), 1, generator=generator).squeeze(1)
            else:
                tok = tokens[:, i]
            logp = logp + log_probs.gather(1, tok[:, None]).squeeze(1)
            entropy = entropy - (log_probs.exp() * log_probs).sum(-1)
            out.append(tok)
            x = self.embed[i](tok)
        return torch.stack(out, 1), logp, entropy

    def probabilities(self, prefix: Sequence[int], decision: int) -> torch.Tensor:
        """p(decision's options | the tokens before it are ``prefix[:decision]``), for inspection."""
        with torch.no_grad():
            x, state = self.start[None], self._zero_state(1)
            for i in range(decision + 1):
                h = self._step(x, state)
                if i == decision:
                    return torch.softmax(self.heads[i](h), -1)[0]
                x = self.embed[i](torch.tensor([prefix[i]]))
        raise AssertionError("unreachable")


def _to_b64(obj: Any) -> str:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _from_b64(text: str) -> Any:
    return torch.load(io.BytesIO(base64.b64decode(text)), map_location="cpu", weights_only=True)


# Controller defaults by name; see the module docstring.
CONTROLLER_PRESETS: dict[str, dict[str, Any]] = {
    "netspace": {"hidden": 32, "layers": 1, "lr": 0.01, "init_range": 0.1},
    "nas-rl": {"hidden": 35, "layers": 2, "lr": 6e-4, "init_range": 0.08},
}


class Reinforce(Strategy):
    """REINFORCE over an LSTM controller (NAS-RL); ``preset="nas-rl"`` gives NAS-RL's controller defaults."""

    kind = "reinforce"
    about = "an LSTM controller (NAS-RL)"

    def __init__(self, decisions: Any, *, seed: int = 0, batch_size: int = 4, lr: float | None = None,
                 entropy_weight: float = 1e-3, baseline_decay: float = 0.8, hidden: int | None = None,
                 layers: int | None = None, init_range: float | None = None, preset: str = "netspace") -> None:
        super().__init__(decisions, seed=seed)
        if preset not in CONTROLLER_PRESETS:
            raise SearchError(f"reinforce: unknown controller preset {preset!r}; choose {', '.join(CONTROLLER_PRESETS)}")
        defaults = CONTROLLER_PRESETS[preset]
        lr = defaults["lr"] if lr is None else lr
        hidden = defaults["hidden"] if hidden is None else hidden
        layers = defaults["layers"] if layers is None else layers
        init_range = defaults["init_range"] if init_range is None else init_range
        if not isinstance(layers, int) or layers < 1:
            raise SearchError(f"reinforce: LSTM layers must be an integer >= 1, got {layers!r}")
        if not (isinstance(init_range, (int, float)) and init_range > 0):
            raise SearchError(f"reinforce: init range must be > 0, got {init_range!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise SearchError(f"reinforce: batch size must be an integer >= 1, got {batch_size!r}")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise SearchError(f"reinforce: controller lr must be > 0, got {lr!r}")
        if not (isinstance(entropy_weight, (int, float)) and entropy_weight >= 0):
            raise SearchError(f"reinforce: entropy weight must be >= 0, got {entropy_weight!r}")
        if not (isinstance(baseline_decay, (int, float)) and 0 <= baseline_decay < 1):
            raise SearchError(f"reinforce: baseline decay must be in [0, 1), got {baseline_decay!r}")
        if not isinstance(hidden, int) or hidden < 1:
            raise SearchError(f"reinforce: hidden size must be an integer >= 1, got {hidden!r}")
        self.batch_size, self.lr, self.entropy_weight = batch_size, float(lr), float(entropy_weight)
        self.baseline_decay, self.hidden = float(baseline_decay), hidden
        self.layers, self.init_range, self.preset = layers, float(init_range), preset
        init = torch.Generator().manual_seed(self.seed * 2 + 1)
        self.controller = Controller(self.sizes, hidden, layers=layers, init_range=self.init_range, generator=init)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=self.lr)
        self.generator = torch.Generator().manual_seed(self.seed * 2)
        self.baseline: float | None = None
        self.buffer: list[tuple[list[int], float]] = []  # told, waiting for a full batch
        self.updates = 0
        self.history: list[dict[str, float]] = []  # per update: mean reward, baseline, entropy

    def _ask(self, n: int) -> list[list[int]]:
        with torch.no_grad():
            tokens, _, _ = self.controller(batch=n, generator=self.generator)
        return tokens.tolist()

    def _tell(self, tokens: list[int], reward: float) -> None:
        self.buffer.append((tokens, reward))
        if len(self.buffer) >= self.batch_size:
            self.update(self.buffer)
            self.buffer = []

    def update(self, batch: list[tuple[list[int], float]]) -> float:
        """One policy-gradient step on (tokens, reward) pairs; returns the loss."""
        tokens = torch.tensor([t for t, _ in batch], dtype=torch.long)
        rewards = torch.tensor([r for _, r in batch], dtype=torch.float32)
        mean = float(rewards.mean())
        if self.baseline is None:
            self.baseline = mean
        _, logp, entropy = self.controller(tokens)
        advantage = rewards - self.baseline
        loss = -(advantage * logp).mean() - self.entropy_weight * entropy.mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.history.append({"mean_reward": mean, "baseline": self.baseline, "entropy": float(entropy.detach().mean())})
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * mean
        self.updates += 1
        return float(loss.detach())

    def _state(self) -> dict[str, Any]:
        return {
            "weights": _to_b64({"controller": self.controller.state_dict(), "optimizer": self.optimizer.state_dict(),
                                "generator": self.generator.get_state()}),
            "baseline": self.baseline, "buffer": [[t, r] for t, r in self.buffer], "updates": self.updates,
            "history": self.history, "batch_size": self.batch_size, "lr": self.lr,
            "entropy_weight": self.entropy_weight, "baseline_decay": self.baseline_decay, "hidden": self.hidden,
            "layers": self.layers, "init_range": self.init_range, "preset": self.preset,
        }

    def _load(self, state: dict[str, Any]) -> None:
        if int(state["hidden"]) != self.hidden:
            raise SearchError(f"saved controller has hidden size {state['hidden']}, not {self.hidden}")
        if int(state.get("layers", 1)) != self.layers:
            raise SearchError(f"saved controller has {state.get('layers', 1)} LSTM layer(s), not {self.layers}")
        saved = _from_b64(state["weights"])
        # A controller saved before stacked layers named its one cell "cell".
        weights = {("cells.0." + k[5:] if k.startswith("cell.") else k): v for k, v in saved["controller"].items()}
        self.controller.load_state_dict(weights)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.generator.set_state(saved["generator"])
        self.baseline = state["baseline"]
        self.buffer = [(list(t), float(r)) for t, r in state["buffer"]]
        self.updates = int(state["updates"])
        self.history = list(state["history"])
        self.batch_size, self.lr = int(state["batch_size"]), float(state["lr"])
        self.entropy_weight, self.baseline_decay = float(state["entropy_weight"]), float(state["baseline_decay"])
