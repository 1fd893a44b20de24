"""Random valid specs covering every block kind, groups, SE, projections, skip options and odd sizes."""

from __future__ import annotations

import random

from netspace.spec import NetSpec, Stage, Stem


def random_stage(rng: random.Random) -> Stage:
    block = rng.choice(["vanilla", "res_basic", "res_bottleneck", "res_bottleneck", "mbconv", "conv"])
    depth = rng.randint(1, 3)
    stride = rng.choice([1, 2])
    if block == "res_bottleneck":
        b = rng.choice([1.0, 2.0, 4.0, 0.5])
        g = rng.choice([1, 2, 4, 8, 16])
        inner = g * rng.randint(1, 4)
        width = int(round(inner * b))
        if int(round(width / b)) != inner:
            b, width = 1.0, inner
        se = rng.choice([0.0, 0.0, 0.25, 0.5])
        group_width = rng.choice([g, None])
        return Stage(block, depth, width, stride, bottleneck_ratio=b, group_width=group_width, se_ratio=se)
    width = rng.randint(1, 6) * 4
    if block == "mbconv":
        return Stage(block, depth, width, stride, kernel=rng.choice([3, 5]), expansion=float(rng.choice([1, 3, 6])),
                     se_ratio=rng.choice([0.0, 0.25]), skip=rng.choice([True, False, "pool"]))
    if block == "conv":
        return Stage(block, depth, width, stride, kernel=rng.choice([1, 3, 5]), se_ratio=rng.choice([0.0, 0.25]),
                     skip=rng.choice([True, False, "pool"]))
    return Stage(block, depth, width, stride)


def random_spec(rng: random.Random) -> NetSpec:
    kind = rng.choice(["simple", "resnet", "cifar"])
    stride = 1 if kind == "cifar" else rng.choice([1, 2])
    stem = Stem(kind, rng.randint(1, 6) * 4, stride)
    stages = tuple(random_stage(rng) for _ in range(rng.randint(1, 4)))
    return NetSpec(
        stem=stem,
        stages=stages,
        num_classes=rng.randint(2, 20),
        in_channels=rng.choice([1, 3]),
        resolution=rng.randint(7, 40),
        head_width=rng.choice([0, 0, 32]),
        activation=rng.choice(["relu", "silu"]),
    )
