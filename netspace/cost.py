"""The running cost of a network as its layers are counted: the counting rules every spec kind uses.

Counting rules (those of the RegNet paper's reference implementation, so the
published model-zoo figures are reproduced to the integer):

- flops: multiply-adds of every conv and fully connected layer, plus one per
  output element of a layer that has a bias. BN, activations, pooling and
  residual additions count 0.
- params: conv/FC weights and biases, BN gamma and beta (not running stats).
- acts: the number of output elements of every conv and FC layer, and of the
  ResNet stem's max-pool.

Block kinds (``netspace.blocks``) and cell networks (``netspace.complexity_cells``)
state their layers to a :class:`Cost`; ``netspace.complexity`` adds them up.
This module imports only the standard library.
"""

from __future__ import annotations


class Cost:
    """Running totals plus the current spatial size (h == w: inputs are square)."""

    __slots__ = ("size", "flops", "params", "acts")

    def __init__(self, size: int) -> None:
        self.size = size
        self.flops = 0
        self.params = 0
        self.acts = 0

    def conv(self, w_in: int, w_out: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False) -> None:
        # "same" padding (k // 2) for odd k: out = ceil(in / stride).
        self.size = (self.size - 1) // stride + 1
        hw = self.size * self.size
        self.flops += k * k * w_in * w_out * hw // groups + (w_out * hw if bias else 0)
        self.params += k * k * w_in * w_out // groups + (w_out if bias else 0)
        self.acts += w_out * hw

    def bn(self, w: int) -> None:
        self.params += 2 * w

    def maxpool(self, w: int, stride: int) -> None:
        self.size = (self.size - 1) // stride + 1
        self.acts += w * self.size * self.size

    def linear(self, w_in: int, w_out: int) -> None:
        self.flops += w_in * w_out + w_out
        self.params += w_in * w_out + w_out
        self.acts += w_out

    def se(self, w: int, w_se: int) -> None:
        """Squeeze-excitation on w channels: pool, 1x1 (bias), act, 1x1 (bias), gate."""
        size = self.size
        self.size = 1
        self.conv(w, w_se, 1, bias=True)
        self.conv(w_se, w, 1, bias=True)
        self.size = size

    def totals(self) -> dict[str, int]:
        return {"flops": self.flops, "params": self.params, "acts": self.acts}
