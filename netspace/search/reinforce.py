"""REINFORCE with an LSTM controller (Zoph & Le 2017, "Neural Architecture Search with
Reinforcement Learning"; the controller MnasNet trains).

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

    def __init__(self, sizes: Sequence[int], hidden: int = 64, *, init_range: float = 0.1,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.hidden = hidden
        self.start = nn.Parameter(torch.zeros(hidden))
        self.embed = nn.ModuleList(nn.Embedding(s, hidden) for s in self.sizes)
        self.cell = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, s) for s in self.sizes)
        with torch.no_grad():  # NAS-RL: uniform(-0.1, 0.1) init; the policy starts near uniform
            for p in self.parameters():
                p.uniform_(-init_range, init_range, generator=generator)

    def forward(self, tokens: torch.Tensor | None = None, *, batch: int = 1,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample ``batch`` sequences (``tokens`` None) or score given ``tokens`` [B, D].

        Returns (tokens [B, D], log-probability [B], entropy [B]).
        """
        if tokens is not None:
            batch = tokens.shape[0]
        x = self.start.expand(batch, self.hidden)
        h = c = torch.zeros(batch, self.hidden)
        out, logp, entropy = [], torch.zeros(batch), torch.zeros(batch)
        for i, head in enumerate(self.heads):
            h, c = self.cell(x, (h, c))
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
            x, h, c = self.start[None], torch.zeros(1, self.hidden), torch.zeros(1, self.hidden)
            for i in range(decision + 1):
                h, c = self.cell(x, (h, c))
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


class Reinforce(Strategy):
    kind = "reinforce"

    def __init__(self, decisions: Any, *, seed: int = 0, batch_size: int = 4, lr: float = 0.01,
                 entropy_weight: float = 1e-3, baseline_decay: float = 0.8, hidden: int = 32) -> None:
        super().__init__(decisions, seed=seed)
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
        init = torch.Generator().manual_seed(self.seed * 2 + 1)
        self.controller = Controller(self.sizes, hidden, generator=init)
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
        }

    def _load(self, state: dict[str, Any]) -> None:
        if int(state["hidden"]) != self.hidden:
            raise SearchError(f"saved controller has hidden size {state['hidden']}, not {self.hidden}")
        saved = _from_b64(state["weights"])
        self.controller.load_state_dict(saved["controller"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.generator.set_state(saved["generator"])
        self.baseline = state["baseline"]
        self.buffer = [(list(t), float(r)) for t, r in state["buffer"]]
        self.updates = int(state["updates"])
        self.history = list(state["history"])
        self.batch_size, self.lr = int(state["batch_size"]), float(state["lr"])
        self.entropy_weight, self.baseline_decay = float(state["entropy_weight"]), float(state["baseline_decay"])
