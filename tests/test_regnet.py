"""RegNet generation: the paper's worked example, rounding, compatibility, errors."""

from __future__ import annotations

import pytest

from netspace import zoo
from netspace.errors import SpecError
from netspace.spaces.regnet import (
    RegNetParams, adjust_block_compatibility, quantized_widths, regnet_spec, stages_from_widths,
)


def test_regnetx_200mf_worked_example():
    spec = regnet_spec(RegNetParams(depth=13, w0=24, wa=36.44, wm=2.49, group_width=8))
    assert spec.widths == [24, 56, 152, 368]
    assert spec.depths == [1, 1, 4, 7]
    assert [s.group_width for s in spec.stages] == [8, 8, 8, 8]
    assert all(s.stride == 2 and s.block == "res_bottleneck" for s in spec.stages)
    assert spec.stem.width == 32 and spec.head_width == 0


def test_continuous_and_quantized_widths():
    w, u = quantized_widths(13, 24, 36.44, 2.49)
    assert u[0] == 24 and u[1] == pytest.approx(60.44) and u[12] == pytest.approx(24 + 12 * 36.44)
    assert w == [24, 56, 152, 152, 152, 152, 368, 368, 368, 368, 368, 368, 368]
    assert stages_from_widths(w) == ([24, 56, 152, 368], [1, 1, 4, 7])


def test_quantization_rounds_half_to_even():
    # w0 * wm^s / 8 lands exactly on .5: 8 * 1.5^2 = 18 -> 18/8 = 2.25; 8 * 2.5 = 20 -> 2.5 -> 2 (even), so 16.
    w, _ = quantized_widths(2, 8, 12.0, 2.5)
    assert w == [8, 16]
    # 3.5 rounds up to 4 (even): w0 = 8, wm = 3.5 -> 28 / 8 = 3.5 -> 32.
    w, _ = quantized_widths(2, 8, 20.0, 3.5)
    assert w == [8, 32]


def test_block_compatibility_adjustment():
    # group width capped at the inner width; inner width rounded to a multiple of g (half to even).
    assert adjust_block_compatibility([24, 56, 152, 368], [1.0] * 4, [8] * 4) == ([24, 56, 152, 368], [8] * 4)
    assert adjust_block_compatibility([48, 20], [1.0, 1.0], [64, 8]) == ([48, 16], [48, 8])
    assert adjust_block_compatibility([40, 56], [1.0, 1.0], [16, 16]) == ([32, 64], [16, 16])
    # b = 2 halves the inner width: 72 -> 36 -> multiple of 8 is 32 or 40; 36/8 = 4.5 -> 4 (even) -> 64.
    assert adjust_block_compatibility([72], [2.0], [8]) == ([64], [8])
    # b = 0.5 (inverted bottleneck) needs lcm(g, 2).
    assert adjust_block_compatibility([20], [0.5], [3]) == ([21], [3])


def test_adjusted_specs_are_valid_for_many_params():
    for d in (1, 5, 13, 28):
        for w0 in (8, 24, 96):
            for wa in (0.0, 8.5, 36.44, 120.0):
                for wm in (1.5, 2.49, 3.0):
                    for g in (1, 8, 24):
                        for b in (1.0, 2.0, 4.0):
                            spec = regnet_spec(RegNetParams(d, w0, wa, wm, g, b))
                            assert spec.depth == d
                            assert spec.widths == sorted(spec.widths)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(depth=13, w0=25, wa=36.44, wm=2.49), "w0 must be a positive multiple of 8"),
        (dict(depth=13, w0=24, wa=36.44, wm=1.0), "wm must be > 1"),
        (dict(depth=13, w0=24, wa=-1.0, wm=2.49), "wa must be >= 0"),
        (dict(depth=0, w0=24, wa=36.44, wm=2.49), "depth d must be an integer >= 1"),
        (dict(depth=13, w0=0, wa=36.44, wm=2.49), "w0 must be a positive multiple of 8"),
    ],
)
def test_invalid_params_are_rejected(params, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        RegNetParams(group_width=8, **params)


def test_parse_regnet_text():
    p = zoo.parse_regnet("d=13,w0=24,wa=36.44,wm=2.49,g=8")
    assert p == RegNetParams(13, 24, 36.44, 2.49, 8)
    p = zoo.parse_regnet("depth=16, w0=48, wa=27.89, wm=2.09, group_width=8, se=0.25, b=1")
    assert p.se_ratio == 0.25 and p.depth == 16
    with pytest.raises(SpecError, match="missing wm, g"):
        zoo.parse_regnet("d=13,w0=24,wa=36.44")
    with pytest.raises(SpecError, match="cannot read 'x'"):
        zoo.parse_regnet("d=13,x")
    with pytest.raises(SpecError, match="wa='abc' is not a number"):
        zoo.parse_regnet("d=13,w0=24,wa=abc,wm=2,g=8")
    with pytest.raises(SpecError, match="depth must be an integer"):
        zoo.parse_regnet("d=13.5,w0=24,wa=3,wm=2,g=8")
