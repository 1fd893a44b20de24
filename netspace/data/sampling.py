"""Which sample indices go where: epoch order, DDP shards, batches, held-out subsets.

All of it is pure numpy on index arrays, so a split's order depends only on
``(seed, epoch)`` and never on global RNG state, worker count or device.
"""

from __future__ import annotations

import math

import numpy as np

from netspace.data.info import DataError

# Mixed into seeds so the val carve and the limit subsets never reuse the
# stream that orders epochs (same seed would otherwise correlate them).
_VAL_STREAM = 0x7A1
_LIMIT_STREAM = 0x11A


def check_seed(seed: int, what: str = "seed") -> None:
    """numpy's SeedSequence rejects negatives with a confusing message; say it plainly."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"{what} must be a non-negative integer, got {seed!r}")


def epoch_order(n: int, *, shuffle: bool, seed: int, epoch: int) -> np.ndarray:
    """A permutation of ``range(n)`` that is a pure function of ``(seed, epoch)``.

    Seeding with the pair (not ``seed + epoch`` as DistributedSampler does) keeps
    run ``seed=0`` epoch 1 from replaying run ``seed=1`` epoch 0.
    """
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    check_seed(seed)
    check_seed(epoch, "epoch")
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int64)


def shard_length(n: int, world_size: int, drop_last: bool) -> int:
    """Samples per rank: the tail is dropped, or padded by repetition, to divide evenly."""
    return n // world_size if drop_last else math.ceil(n / world_size)


def shard(order: np.ndarray, *, rank: int, world_size: int, drop_last: bool) -> np.ndarray:
    """This rank's strided share of ``order``, equal in length on every rank.

    Like ``torch.utils.data.DistributedSampler``: padding repeats indices from the
    start of the order, so DDP ranks run the same number of steps and none hangs
    in an all-reduce waiting for a rank that ran out of data.
    """
    per_rank = shard_length(len(order), world_size, drop_last)
    total = per_rank * world_size
    if total <= len(order):
        order = order[:total]
    else:
        order = np.concatenate([order, np.resize(order, total - len(order))])
    return order[rank::world_size]


def check_batching(n: int, batch_size: int, rank: int, world_size: int) -> None:
    """Reject arguments that would silently yield nothing or overlap shards."""
    if n == 0:
        raise DataError("cannot batch an empty split; check limit_train/limit_test and val_fraction")
    if batch_size < 1:
        raise DataError(f"batch_size must be >= 1, got {batch_size}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise DataError(f"need 0 <= rank < world_size, got rank={rank} world_size={world_size}")


def batch_plan(
    n: int,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    epoch: int = 0,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = False,
) -> list[np.ndarray]:
    """The index batches one rank sees in one epoch.

    ``drop_last`` drops both the uneven tail before sharding and the last short
    batch, so every step of every rank has exactly ``batch_size`` samples.
    """
    check_batching(n, batch_size, rank, world_size)
    mine = shard(epoch_order(n, shuffle=shuffle, seed=seed, epoch=epoch),
                 rank=rank, world_size=world_size, drop_last=drop_last)
    stop = len(mine) - len(mine) % batch_size if drop_last else len(mine)
    return [mine[i:i + batch_size] for i in range(0, stop, batch_size)]


def count_batches(n: int, batch_size: int, *, world_size: int = 1, drop_last: bool = False) -> int:
    """``len(batch_plan(...))`` without building it."""
    check_batching(n, batch_size, 0, world_size)
    per_rank = shard_length(n, world_size, drop_last)
    return per_rank // batch_size if drop_last else math.ceil(per_rank / batch_size)


def carve_val(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, val), class-stratified and seeded.

    Each class gives ``round(fraction * count)`` samples (at least one when the
    class has two or more), so a small val set still sees every class. Both
    index arrays come back sorted, which keeps memory access in file order.
    """
    if not 0.0 < fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {fraction}")
    check_seed(seed)
    perm = np.random.default_rng([seed, _VAL_STREAM]).permutation(len(labels))
    by_class = perm[np.argsort(labels[perm], kind="stable")]  # shuffled within each class
    classes, counts = np.unique(labels, return_counts=True)
    take = np.rint(counts * fraction).astype(np.int64)
    take = np.where((take == 0) & (counts >= 2), 1, take)
    take = np.minimum(take, counts - 1)  # never empty a class out of train
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    val = np.concatenate([by_class[s:s + k] for s, k in zip(starts, take)]) if len(classes) else by_class[:0]
    if len(val) == 0:
        raise DataError(f"val_fraction={fraction} leaves no validation samples out of {len(labels)}; raise it")
    is_val = np.zeros(len(labels), dtype=bool)
    is_val[val] = True
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def limit(n: int, count: int | None, seed: int, what: str) -> np.ndarray | None:
    """Sorted indices of the first ``count`` samples of a seeded permutation, or None for all."""
    if count is not None and count < 1:
        raise DataError(f"{what} must be >= 1, got {count}")
    if count is None or count >= n:
        return None
    check_seed(seed)
    return np.sort(np.random.default_rng([seed, _LIMIT_STREAM]).permutation(n)[:count])
