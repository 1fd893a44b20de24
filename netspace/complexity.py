"""Exact cost of a network, computed from its spec without building it.

Counting rules (those of the RegNet paper's reference implementation, so the
published model-zoo figures are reproduced to the integer):

- flops: multiply-adds of every conv and fully connected layer, plus one per
  output element of a layer that has a bias. BN, activations, pooling and
  residual additions count 0.
- params: conv/FC weights and biases, BN gamma and beta (not running stats).
- acts: the number of output elements of every conv and FC layer, and of the
  ResNet stem's max-pool.

``netspace.models`` builds the same layers; the property tests in
``tests/test_complexity.py`` hold the two together.

This module imports only the spec.
"""

from __future__ import annotations

from netspace.spec import NetSpec, Stage


class _Cost:
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


def se_width_bottleneck(w_in: int, se_ratio: float) -> int:
    """SE width of an X/Y block: from the block's input width, rounded half to even."""
    return int(round(w_in * se_ratio))


def se_width_mbconv(w_in: int, se_ratio: float) -> int:
    """SE width of an MBConv block: from the block's input width, truncated."""
    return int(w_in * se_ratio)


def expanded_width(w_in: int, expansion: float) -> int:
    """Inner width of an MBConv block (truncated, as EfficientNet does)."""
    return int(w_in * expansion)


def _block(cx: _Cost, st: Stage, w_in: int, stride: int) -> None:
    w_out = st.width
    if st.block == "vanilla":
        cx.conv(w_in, w_out, 3, stride)
        cx.bn(w_out)
        cx.conv(w_out, w_out, 3)
        cx.bn(w_out)
        return
    if st.block == "mbconv":
        w_exp = expanded_width(w_in, st.expansion)
        if w_exp != w_in:
            cx.conv(w_in, w_exp, 1)
            cx.bn(w_exp)
        cx.conv(w_exp, w_exp, st.kernel, stride, groups=w_exp)
        cx.bn(w_exp)
        w_se = se_width_mbconv(w_in, st.se_ratio)
        if w_se:
            cx.se(w_exp, w_se)
        cx.conv(w_exp, w_out, 1)
        cx.bn(w_out)
        return
    if st.block == "conv":
        cx.conv(w_in, w_out, st.kernel, stride)
        cx.bn(w_out)
        w_se = se_width_mbconv(w_in, st.se_ratio)
        if w_se:
            cx.se(w_out, w_se)
        return
    # Residual blocks: projection shortcut (1x1 conv + BN) when shape changes.
    if w_in != w_out or stride != 1:
        size = cx.size
        cx.conv(w_in, w_out, 1, stride)
        cx.bn(w_out)
        cx.size = size
    if st.block == "res_basic":
        cx.conv(w_in, w_out, 3, stride)
        cx.bn(w_out)
        cx.conv(w_out, w_out, 3)
        cx.bn(w_out)
        return
    # res_bottleneck: the X block, or the Y block when se_ratio > 0.
    w_b = st.bottleneck_width
    cx.conv(w_in, w_b, 1)
    cx.bn(w_b)
    cx.conv(w_b, w_b, 3, stride, groups=st.groups)
    cx.bn(w_b)
    w_se = se_width_bottleneck(w_in, st.se_ratio)
    if w_se:
        cx.se(w_b, w_se)
    cx.conv(w_b, w_out, 1)
    cx.bn(w_out)


def complexity(spec: NetSpec) -> dict[str, int]:
    """``{"flops": multiply-adds, "params": ..., "acts": ...}`` of one image (a NetSpec or a CellNetSpec)."""
    if not isinstance(spec, NetSpec):
        from netspace.complexity_cells import cell_complexity

        return cell_complexity(spec)
    cx = _Cost(spec.resolution)
    stem = spec.stem
    if stem.kind == "resnet":
        cx.conv(spec.in_channels, stem.width, 7, stem.stride)
        cx.bn(stem.width)
        cx.maxpool(stem.width, 2)
    else:
        cx.conv(spec.in_channels, stem.width, 3, stem.stride)
        cx.bn(stem.width)
    w_in = stem.width
    for st in spec.stages:
        stride = st.stride
        for _ in range(st.depth):
            _block(cx, st, w_in, stride)
            w_in, stride = st.width, 1
    if spec.head_width:
        cx.conv(w_in, spec.head_width, 1)
        cx.bn(spec.head_width)
        w_in = spec.head_width
    cx.linear(w_in, spec.num_classes)
    return {"flops": cx.flops, "params": cx.params, "acts": cx.acts}
