"""Tests of netspace.data: real Fashion-MNIST, generated CIFAR pickles and image trees, batching, augmentation."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netspace.data import DATASETS, Augment, DataInfo, InMemorySplit, load_data
from netspace.data import fashion_mnist
from netspace.data.sampling import carve_val
from netspace.errors import NetspaceError

FMNIST_DIR = fashion_mnist.DEFAULT_DIR


def one_line(error: pytest.ExceptionInfo) -> str:
    """The error's message, asserted to be the single line the CLI prints."""
    message = str(error.value)
    assert "\n" not in message and message
    return message


# --------------------------------------------------------------------------- Fashion-MNIST (real files)

@pytest.fixture(scope="module")
def fmnist():
    if not (FMNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"{FMNIST_DIR} absent; apt-get install dataset-fashion-mnist")
    return load_data("fashion-mnist", data_dir=FMNIST_DIR)


def test_fashion_mnist_shapes_counts_and_balance(fmnist):
    info = fmnist.info
    assert (info.in_channels, info.resolution, info.num_classes) == (1, 28, 10)
    assert len(info.classes) == 10 and info.classes[0] == "T-shirt/top" and info.classes[9] == "Ankle boot"
    assert fmnist.val is None
    for split, count in ((fmnist.train, 60000), (fmnist.test, 10000)):
        assert len(split) == count
        assert split.images.shape == (count, 1, 28, 28) and split.images.dtype == torch.uint8
        assert split.labels.dtype == torch.int64
        assert torch.bincount(split.labels, minlength=10).tolist() == [count // 10] * 10
    # No float copy and no duplicate: the pixels cost exactly their uint8 size, the labels one byte each.
    assert fmnist.train.images.untyped_storage().nbytes() == 60000 * 28 * 28
    assert fmnist.train._labels.dtype == torch.uint8
    images, labels = next(iter(fmnist.train.batches(32, shuffle=True, seed=0, epoch=0)))
    assert labels.dtype == torch.int64 and images.shape == (32, 1, 28, 28)
    assert fmnist.train.images.float().mean() > 50  # real images, not zeros


def test_fashion_mnist_mean_std_match_recomputation(fmnist):
    counts = np.bincount(fmnist.train.images.numpy().reshape(-1), minlength=256).astype(np.float64)
    values = np.arange(256) / 255.0
    mean = (counts * values).sum() / counts.sum()
    std = np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())
    assert fmnist.info.mean == pytest.approx((mean,), abs=1e-9)
    assert fmnist.info.std == pytest.approx((std,), abs=1e-9)


def test_fashion_mnist_batches_cover_real_data(fmnist):
    images, labels = next(fmnist.test.batches(256, shuffle=False))
    assert torch.equal(images, fmnist.test.images[:256]) and torch.equal(labels, fmnist.test.labels[:256])


# --------------------------------------------------------------------------- idx parsing

def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fmnist(directory: Path, n_train: int = 20, n_test: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        (directory / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (directory / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
        out.append(images)
    return out[0], out[1]


def test_idx_roundtrip_from_generated_files(tmp_path):
    train_images, test_images = write_fmnist(tmp_path)
    data = load_data("fashion-mnist", data_dir=tmp_path)
    assert np.array_equal(data.train.images[:, 0].numpy(), train_images)
    assert np.array_equal(data.test.images[:, 0].numpy(), test_images)
    assert data.train.labels.tolist() == [i % 10 for i in range(20)]


def test_data_dir_from_environment(tmp_path, monkeypatch):
    train_images, _ = write_fmnist(tmp_path / "elsewhere")
    monkeypatch.setenv("NETSPACE_DATA", str(tmp_path / "elsewhere"))
    assert np.array_equal(load_data("fashion-mnist").train.images[:, 0].numpy(), train_images)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    write_fmnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(NetspaceError) as error:
        load_data("fashion-mnist", data_dir=tmp_path)
    message = one_line(error)
    assert str(path) in message and "dataset-fashion-mnist" in message


def test_truncated_data_reports_expected_and_found_bytes(tmp_path):
    write_fmnist(tmp_path)
    labels = np.zeros(20, dtype=np.uint8)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)[:-5]))
    with pytest.raises(NetspaceError, match=r"truncated.*needs 20 bytes of data, found 15"):
        load_data("fashion-mnist", data_dir=tmp_path)


def test_wrong_magic_is_a_clear_error(tmp_path):
    write_fmnist(tmp_path)
    labels = np.zeros(20, dtype=np.uint8)
    bad = b"\x00\x00\x0d\x01" + idx_bytes(labels)[4:]  # 0x0d = float type code
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bad))
    with pytest.raises(NetspaceError) as error:
        load_data("fashion-mnist", data_dir=tmp_path)
    assert "magic number 0x00000d01" in one_line(error)


def test_image_label_count_mismatch(tmp_path):
    write_fmnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(19, np.uint8))))
    with pytest.raises(NetspaceError, match="20 images but .* 19 labels"):
        load_data("fashion-mnist", data_dir=tmp_path)


def test_missing_directory_names_package_and_env(tmp_path):
    with pytest.raises(NetspaceError) as error:
        load_data("fashion-mnist", data_dir=tmp_path / "nope")
    message = one_line(error)
    assert "apt-get install dataset-fashion-mnist" in message and "NETSPACE_DATA" in message


def test_cifar_and_imagefolder_require_a_directory(monkeypatch):
    monkeypatch.delenv("NETSPACE_DATA", raising=False)
    for name in ("cifar10", "imagefolder"):
        with pytest.raises(NetspaceError) as error:
            load_data(name)
        assert "NETSPACE_DATA" in one_line(error) and "data_dir" in str(error.value)


def test_unknown_dataset_and_bad_options():
    with pytest.raises(NetspaceError, match="unknown dataset 'mnist'"):
        load_data("mnist")
    with pytest.raises(NetspaceError, match="val_fraction"):
        load_data("synthetic", val_fraction=1.0)
    with pytest.raises(NetspaceError, match="limit_train"):
        load_data("synthetic", limit_train=0)
    assert tuple(DATASETS) == ("fashion-mnist", "cifar10", "imagefolder", "synthetic")


# --------------------------------------------------------------------------- CIFAR-10 (generated pickles)

CIFAR_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


def cifar_batch(n: int, offset: int) -> dict:
    data = np.zeros((n, 3072), dtype=np.uint8)
    data[:, :1024], data[:, 1024:2048], data[:, 2048:] = 10, 20, 30  # R, G, B planes
    data[:, 0] = np.arange(offset, offset + n)  # pixel (0,0) of R identifies the image
    labels = [(offset + i) % 10 for i in range(n)]
    return {b"batch_label": b"batch", b"labels": labels, b"data": data, b"filenames": [b"x.png"] * n}


def write_cifar(directory: Path, per_batch: int = 4, transform=lambda raw: raw) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for index, name in enumerate(names):
        raw = pickle.dumps(cifar_batch(per_batch, index * per_batch), protocol=2)
        (directory / name).write_bytes(transform(raw))
    (directory / "batches.meta").write_bytes(pickle.dumps({b"label_names": CIFAR_NAMES}, protocol=2))


def test_cifar_loads_shapes_labels_and_order(tmp_path):
    write_cifar(tmp_path)
    data = load_data("cifar10", data_dir=tmp_path)
    assert data.info.classes[1] == "automobile" and data.info.pad == 4 and data.info.hflip
    assert data.train.images.shape == (20, 3, 32, 32) and data.test.images.shape == (4, 3, 32, 32)
    assert data.train.images[:, 0, 0, 0].tolist() == list(range(20))  # batches 1..5 in order
    assert data.test.images[:, 0, 0, 0].tolist() == [20, 21, 22, 23]
    assert data.train.labels.tolist() == [i % 10 for i in range(20)]
    assert data.train.images[0, :, 5, 5].tolist() == [10, 20, 30]  # rows are R, G, B planes


def test_cifar_reads_python2_style_numpy_global(tmp_path):
    # The real files name numpy.core.multiarray (pickled by Python 2 / numpy 1).
    write_cifar(tmp_path, transform=lambda raw: raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert b"numpy.core.multiarray" in (tmp_path / "test_batch").read_bytes()
    assert load_data("cifar10", data_dir=tmp_path).test.images[:, 0, 0, 0].tolist() == [20, 21, 22, 23]


def test_cifar_accepts_parent_of_tarball_folder(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py")
    assert len(load_data("cifar10", data_dir=tmp_path).train) == 20


class _System:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Eval:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return eval, (f"__import__('pathlib').Path({str(self.marker)!r}).touch()",)


@pytest.mark.parametrize("payload", [_System, _Eval])
@pytest.mark.parametrize("where", ["top", "nested"])
def test_malicious_cifar_pickle_is_refused_and_never_runs(tmp_path, payload, where):
    write_cifar(tmp_path / "cifar")
    marker = tmp_path / "pwned"
    evil = payload(marker)
    batch = cifar_batch(4, 0)
    batch[b"labels"] = evil
    obj = evil if where == "top" else batch
    raw = pickle.dumps(obj, protocol=2)
    (tmp_path / "cifar" / "data_batch_3").write_bytes(raw)
    # Control: the same bytes do run the payload under plain pickle.loads.
    pickle.loads(raw.replace(str(marker).encode(), str(tmp_path / "contr").encode()))
    assert (tmp_path / "contr").exists()
    with pytest.raises(NetspaceError) as error:
        load_data("cifar10", data_dir=tmp_path / "cifar")
    message = one_line(error)
    assert message.startswith("refusing to unpickle ") and "data_batch_3" in message
    assert ("system" in message) if payload is _System else ("eval" in message)
    assert not marker.exists()


def test_corrupt_cifar_pickle_is_a_clear_error(tmp_path):
    write_cifar(tmp_path)
    path = tmp_path / "test_batch"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(NetspaceError) as error:
        load_data("cifar10", data_dir=tmp_path)
    assert "cannot unpickle" in one_line(error) and "test_batch" in str(error.value)


def test_cifar_missing_batches(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "data_batch_5").unlink()
    with pytest.raises(NetspaceError, match="data_batch_5 not found"):
        load_data("cifar10", data_dir=tmp_path)


# --------------------------------------------------------------------------- ImageFolder (generated PNGs)

try:
    from PIL import Image
except ImportError:  # only the imagefolder tests need Pillow
    Image = None
needs_pil = pytest.mark.skipif(Image is None, reason="Pillow not installed (pip install pillow)")
COLORS = {"ant": (200, 0, 0), "bee": (0, 200, 0), "cat": (0, 0, 200)}
SIZES = [(40, 30), (20, 50), (33, 33), (64, 17)]


def write_tree(root: Path, classes=tuple(COLORS), per_class=(3, 2)) -> None:
    for split, count in zip(("train", "val"), per_class):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                mode = "L" if (name, i) == ("bee", 1) else "RGB"  # grayscale gets converted to RGB
                color = sum(COLORS[name]) // 3 if mode == "L" else COLORS[name]
                Image.new(mode, SIZES[i % len(SIZES)], color).save(folder / f"img{i}.png")
            (folder / "notes.txt").write_text("not an image")


def label_of_pixels(images: torch.Tensor) -> list[int]:
    """Recover the class from a solid-color image (gray means 'bee')."""
    means = images.float().mean(dim=(2, 3))
    out = []
    for r, g, b in means.tolist():
        out.append(1 if abs(r - g) < 1 and abs(g - b) < 1 else int(np.argmax([r, g, b])))
    return out


@needs_pil
def test_imagefolder_classes_shapes_and_worker_batches(tmp_path):
    write_tree(tmp_path)
    data = load_data("imagefolder", data_dir=tmp_path, resolution=16, num_workers=2)
    assert data.info.classes == ("ant", "bee", "cat") and data.info.num_classes == 3
    assert (data.info.in_channels, data.info.resolution, data.info.pad) == (3, 16, 2)
    assert data.info.mean == (0.485, 0.456, 0.406)
    assert len(data.train) == 9 and len(data.test) == 6
    batches = list(data.train.batches(4, shuffle=True, seed=3))
    assert [len(labels) for _, labels in batches] == [4, 4, 1] == [4, 4, 1][: data.train.num_batches(4)]
    images = torch.cat([b[0] for b in batches])
    labels = torch.cat([b[1] for b in batches])
    assert images.shape == (9, 3, 16, 16) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert label_of_pixels(images) == labels.tolist()
    assert sorted(labels.tolist()) == sorted(data.train.labels.tolist()) == [0] * 3 + [1] * 3 + [2] * 3
    again = torch.cat([b[1] for b in data.train.batches(4, shuffle=True, seed=3)])
    assert torch.equal(again, labels)  # worker scheduling does not change the order


@needs_pil
def test_imagefolder_explicit_resolution_and_val_fraction(tmp_path):
    write_tree(tmp_path)
    data = load_data("imagefolder", data_dir=tmp_path, resolution=224, val_fraction=0.34, num_workers=0)
    assert data.info.resolution == 224 and data.info.pad == 28 and data.info.note == ""
    assert len(data.val) == 3 and len(data.train) == 6  # one image of each class held out
    assert sorted(data.val.labels.tolist()) == [0, 1, 2]
    assert set(data.val.paths).isdisjoint(data.train.paths)
    images, labels = next(data.val.batches(3, shuffle=False))
    assert images.shape == (3, 3, 224, 224) and label_of_pixels(images) == labels.tolist()


@needs_pil
def test_imagefolder_resize_shorter_side_then_center_crop(tmp_path):
    from netspace.data.imagefolder import decode

    stripes = np.zeros((20, 40, 3), dtype=np.uint8)  # 40 wide, 20 tall
    stripes[:, :10, 0] = 255   # red left quarter
    stripes[:, 10:30, 1] = 255  # green middle half
    stripes[:, 30:, 2] = 255   # blue right quarter
    Image.fromarray(stripes).save(tmp_path / "s.png")
    out = decode(str(tmp_path / "s.png"), 10)  # -> 20x10, crop keeps original columns 10..29
    assert out.shape == (3, 10, 10)
    assert out[1, :, 1:9].min() >= 250 and out[0].max() <= 70 and out[2].max() <= 70


@needs_pil
def test_imagefolder_mismatched_val_classes(tmp_path):
    write_tree(tmp_path)
    (tmp_path / "val" / "cat").rename(tmp_path / "val" / "dog")
    with pytest.raises(NetspaceError) as error:
        load_data("imagefolder", data_dir=tmp_path)
    assert "only in train: ['cat']" in one_line(error) and "only in val: ['dog']" in str(error.value)


@needs_pil
def test_imagefolder_empty_trees(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    with pytest.raises(NetspaceError, match="no class folders"):
        load_data("imagefolder", data_dir=tmp_path)
    (tmp_path / "train" / "ant").mkdir()
    (tmp_path / "val" / "ant").mkdir()
    (tmp_path / "train" / "ant" / "readme.txt").write_text("x")
    with pytest.raises(NetspaceError, match="has no images"):
        load_data("imagefolder", data_dir=tmp_path)
    with pytest.raises(NetspaceError, match="not a directory"):
        load_data("imagefolder", data_dir=tmp_path / "train")


@needs_pil
@pytest.mark.parametrize("workers", [0, 2])
def test_imagefolder_unreadable_image(tmp_path, workers):
    write_tree(tmp_path)
    bad = tmp_path / "train" / "bee" / "img0.png"
    bad.write_bytes(b"this is not a png")
    data = load_data("imagefolder", data_dir=tmp_path, resolution=8, num_workers=workers)
    with pytest.raises(NetspaceError) as error:
        list(data.train.batches(2, shuffle=False))
    assert f"cannot read image {bad}" in one_line(error)


# --------------------------------------------------------------------------- synthetic

def test_synthetic_determinism_by_seed():
    a = load_data("synthetic", seed=5, synthetic_shape=(2, 8, 8), synthetic_classes=4, synthetic_size=(50, 20))
    b = load_data("synthetic", seed=5, synthetic_shape=(2, 8, 8), synthetic_classes=4, synthetic_size=(50, 20))
    c = load_data("synthetic", seed=6, synthetic_shape=(2, 8, 8), synthetic_classes=4, synthetic_size=(50, 20))
    assert a.train.images.shape == (50, 2, 8, 8) and len(a.test) == 20
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.labels, b.test.labels)
    assert not torch.equal(a.train.images, c.train.images)
    assert not torch.equal(a.train.images[:20], a.test.images)  # test is not a copy of train
    assert set(a.train.labels.tolist()) == {0, 1, 2, 3}
    assert a.info.in_channels == 2 and a.info.num_classes == 4 and len(a.info.mean) == 2


def test_resolution_resizes_in_memory_once():
    data = load_data("synthetic", resolution=16, synthetic_size=(8, 4))
    assert data.train.images.shape == (8, 3, 16, 16) and data.train.images.dtype == torch.uint8
    assert data.info.resolution == 16 and data.info.pad == 2
    split = InMemorySplit(torch.full((2, 1, 28, 28), 77, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64))
    from netspace.data.resize import resize_uint8
    assert torch.equal(resize_uint8(split.images, 32), torch.full((2, 1, 32, 32), 77, dtype=torch.uint8))


# --------------------------------------------------------------------------- Split.batches

def indexed_split(n: int) -> InMemorySplit:
    """Labels equal sample positions, so batches show exactly which samples came out."""
    return InMemorySplit(torch.zeros(n, 1, 2, 2, dtype=torch.uint8), torch.arange(n))


def epoch_labels(split, batch_size=10, **kwargs) -> list[list[int]]:
    return [labels.tolist() for _, labels in split.batches(batch_size, **kwargs)]


def test_batches_cover_every_sample_once_per_epoch():
    split = indexed_split(103)
    batches = epoch_labels(split, shuffle=True, seed=1, epoch=0)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(103)) and flat != list(range(103))
    assert [len(b) for b in batches] == [10] * 10 + [3] and split.num_batches(10) == 11
    assert epoch_labels(split, shuffle=False) == [list(range(i, min(i + 10, 103))) for i in range(0, 103, 10)]
    dropped = epoch_labels(split, shuffle=True, seed=1, drop_last=True)
    assert [len(b) for b in dropped] == [10] * 10 and split.num_batches(10, drop_last=True) == 10


def test_batch_order_is_a_function_of_seed_and_epoch():
    split = indexed_split(50)
    e0 = epoch_labels(split, shuffle=True, seed=1, epoch=0)
    assert e0 == epoch_labels(split, shuffle=True, seed=1, epoch=0)
    assert e0 != epoch_labels(split, shuffle=True, seed=1, epoch=1)
    assert e0 != epoch_labels(split, shuffle=True, seed=2, epoch=0)
    assert epoch_labels(split, shuffle=True, seed=0, epoch=1) != epoch_labels(split, shuffle=True, seed=1, epoch=0)


@pytest.mark.parametrize("n,world_size", [(103, 2), (103, 3), (7, 4)])
def test_distributed_shards_are_disjoint_and_equal(n, world_size):
    split = indexed_split(n)
    shards = [[i for b in epoch_labels(split, batch_size=8, shuffle=True, seed=4, epoch=2,
                                        rank=r, world_size=world_size) for i in b] for r in range(world_size)]
    per_rank = -(-n // world_size)
    assert all(len(s) == per_rank for s in shards)
    assert all(split.num_batches(8, world_size=world_size) == -(-per_rank // 8) for _ in shards)
    everything = [i for s in shards for i in s]
    assert sorted(set(everything)) == list(range(n))
    assert len(everything) - len(set(everything)) == per_rank * world_size - n  # only the padding repeats
    exact = [[i for b in epoch_labels(split, batch_size=8, shuffle=True, seed=4, rank=r,
                                       world_size=world_size, drop_last=True) for i in b] for r in range(world_size)]
    assert len({len(s) for s in exact}) == 1
    flat = [i for s in exact for i in s]
    assert len(flat) == len(set(flat))  # drop_last: no repeats at all


def test_subset_of_subset_and_bad_arguments():
    split = indexed_split(20)
    inner = split.subset(np.array([3, 5, 7, 9])).subset(np.array([1, 3]))
    assert inner.labels.tolist() == [5, 9] and len(inner) == 2
    assert epoch_labels(inner, shuffle=False) == [[5, 9]]
    with pytest.raises(NetspaceError, match="rank"):
        list(split.batches(4, shuffle=False, rank=2, world_size=2))
    with pytest.raises(NetspaceError, match="batch_size"):
        split.batches(0, shuffle=False)


# --------------------------------------------------------------------------- Augment

def info_for(pad: int, hflip: bool, channels: int = 3) -> DataInfo:
    return DataInfo(name="t", in_channels=channels, resolution=12, num_classes=2,
                    mean=(0.5, 0.25, 0.75)[:channels], std=(0.2, 0.3, 0.4)[:channels], hflip=hflip, pad=pad)


def random_images(n: int, seed: int = 0, size: int = 12) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_eval_normalization_exact_values():
    info = info_for(4, True)
    images = random_images(5)
    images[0, :, 0, 0] = 0
    images[0, :, 0, 1] = 255
    out = Augment(info, train=False)(images)
    assert out.dtype == torch.float32 and out.shape == images.shape
    mean = torch.tensor(info.mean, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(info.std, dtype=torch.float64).view(1, 3, 1, 1)
    expected = (images.double() / 255 - mean) / std
    assert torch.allclose(out.double(), expected, atol=1e-6, rtol=0)
    assert out[0, :, 0, 0].tolist() == pytest.approx([-2.5, -0.25 / 0.3, -1.875], abs=1e-6)
    assert out[0, :, 0, 1].tolist() == pytest.approx([2.5, 0.75 / 0.3, 0.625], abs=1e-6)
    assert torch.equal(out, Augment(info, train=False)(images, torch.Generator().manual_seed(9)))


def test_train_augment_is_deterministic_given_generator_and_differs_from_eval():
    info = info_for(4, True)
    images = random_images(32)
    augment = Augment(info, train=True)
    a = augment(images, torch.Generator().manual_seed(1))
    b = augment(images, torch.Generator().manual_seed(1))
    c = augment(images, torch.Generator().manual_seed(2))
    assert a.shape == images.shape and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, Augment(info, train=False)(images))


def test_random_crop_matches_a_manual_shifted_crop():
    info = info_for(3, False)
    images = random_images(40, seed=3)
    out = Augment(info, train=True)(images, torch.Generator().manual_seed(0))
    eval_padded = Augment(info, train=False)(F.pad(images, (3, 3, 3, 3)))  # zero pixels, normalized
    offsets = []
    for k in range(len(images)):
        matches = [(dy, dx) for dy in range(7) for dx in range(7)
                   if torch.equal(out[k], eval_padded[k, :, dy:dy + 12, dx:dx + 12])]
        assert len(matches) == 1, f"image {k}: output is no single shifted crop ({matches})"
        offsets.append(matches[0])
    assert len(set(offsets)) > 10  # shifts vary per image
    assert any(o != (3, 3) for o in offsets)  # content actually moves


def test_random_crop_reaches_every_offset():
    info = DataInfo(name="t", in_channels=1, resolution=5, num_classes=2, mean=(0.0,), std=(1.0,), hflip=False, pad=1)
    images = torch.randint(1, 256, (300, 1, 5, 5), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    out = Augment(info, train=True)(images, torch.Generator().manual_seed(0)) * 255
    # With nonzero pixels, the zero border of the crop shows its offset: which rows/columns are empty.
    top = (out[:, 0, 0, :] == 0).all(1).long() - (out[:, 0, -1, :] == 0).all(1).long()
    left = (out[:, 0, :, 0] == 0).all(1).long() - (out[:, 0, :, -1] == 0).all(1).long()
    assert set(zip(top.tolist(), left.tolist())) == {(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}


def test_flips_happen_about_half_the_time():
    info = info_for(0, True)
    images = random_images(1, seed=5).expand(2000, -1, -1, -1).contiguous()
    out = Augment(info, train=True)(images, torch.Generator().manual_seed(0))
    plain = Augment(info, train=False)(images[:1])
    flipped = (out == plain.flip(3)).flatten(1).all(1)
    unflipped = (out == plain).flatten(1).all(1)
    assert torch.all(flipped ^ unflipped)  # each output is exactly one of the two
    assert 0.45 < flipped.float().mean().item() < 0.55


def test_no_flip_when_info_disables_it():
    info = info_for(0, False)
    images = random_images(16)
    assert torch.equal(Augment(info, train=True)(images), Augment(info, train=False)(images))


def test_channels_last_output():
    info = info_for(2, True)
    images = random_images(8)
    out = Augment(info, train=True, channels_last=True)(images, torch.Generator().manual_seed(0))
    ref = Augment(info, train=True)(images, torch.Generator().manual_seed(0))
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
    assert ref.is_contiguous()
    assert torch.equal(out, ref)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_augment_on_cuda_matches_cpu():
    info = info_for(4, True)
    images = random_images(64)
    cpu = Augment(info, train=True)(images, torch.Generator().manual_seed(7))
    cuda = Augment(info, train=True, channels_last=True)(images.cuda(), torch.Generator().manual_seed(7))
    assert cuda.device.type == "cuda" and torch.allclose(cuda.cpu(), cpu, atol=1e-6)


def test_loading_costs_about_the_uint8_size():
    """Peak RSS of loading Fashion-MNIST, in a fresh process, is close to its pixel bytes."""
    if not (FMNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"{FMNIST_DIR} absent; apt-get install dataset-fashion-mnist")
    script = (
        "import resource, torch; from netspace.data import load_data\n"
        "peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
        "before = peak(); d = load_data('fashion-mnist'); after = peak()\n"
        "print((after - before) / (d.train.images.numel() + d.test.images.numel()))\n"
    )
    env = {**os.environ, "NETSPACE_DATA": str(FMNIST_DIR)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert float(result.stdout) < 1.3  # a float copy would be >= 4, a decompressed-bytes copy >= 2


def test_augment_rejects_wrong_input():
    with pytest.raises(NetspaceError, match="uint8"):
        Augment(info_for(0, False), train=False)(torch.zeros(2, 3, 12, 12))
    with pytest.raises(NetspaceError, match=r"\[B,3,H,W\]"):
        Augment(info_for(0, False), train=False)(torch.zeros(2, 1, 12, 12, dtype=torch.uint8))


# --------------------------------------------------------------------------- val split and limits

def image_keys(images: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in images.flatten(1)}


def test_val_split_deterministic_disjoint_and_sized():
    kwargs = dict(synthetic_shape=(1, 8, 8), synthetic_size=(400, 50), val_fraction=0.25)
    a, b = load_data("synthetic", seed=0, **kwargs), load_data("synthetic", seed=0, **kwargs)
    assert len(a.train) + len(a.val) == 400 and abs(len(a.val) - 100) <= 5
    assert torch.equal(a.val.images, b.val.images) and torch.equal(a.train.labels, b.train.labels)
    train_keys, val_keys = image_keys(a.train.images), image_keys(a.val.images)
    assert len(train_keys) == len(a.train) and len(val_keys) == len(a.val)
    assert train_keys.isdisjoint(val_keys)
    # Stratified: each class loses about a quarter of its samples.
    all_counts = torch.bincount(torch.cat([a.train.labels, a.val.labels]), minlength=10)
    val_counts = torch.bincount(a.val.labels, minlength=10)
    assert torch.all((val_counts - all_counts * 0.25).abs() <= 0.5 + 1e-9)
    other = load_data("synthetic", seed=0, **{**kwargs, "val_fraction": 0.25}, limit_test=10)
    assert len(other.test) == 10


def test_val_carve_changes_with_seed_and_shares_pixels():
    labels = np.repeat(np.arange(5), 20)
    train0, val0 = carve_val(labels, 0.1, seed=0)
    train1, val1 = carve_val(labels, 0.1, seed=1)
    assert np.array_equal(np.sort(np.concatenate([train0, val0])), np.arange(100))
    assert np.bincount(labels[val0]).tolist() == [2] * 5 and not np.array_equal(val0, val1)
    data = load_data("synthetic", synthetic_size=(64, 8), val_fraction=0.5)
    assert data.train.subset(np.arange(3))._images is data.val._images  # views, not copies


def test_limits_apply_after_carving_val():
    full = load_data("synthetic", synthetic_shape=(1, 8, 8), synthetic_size=(400, 50), val_fraction=0.25)
    limited = load_data("synthetic", synthetic_shape=(1, 8, 8), synthetic_size=(400, 50), val_fraction=0.25,
                        limit_train=30, limit_test=7)
    assert len(limited.train) == 30 and len(limited.test) == 7 and len(limited.val) == len(full.val)
    assert torch.equal(limited.val.images, full.val.images)
    assert image_keys(limited.train.images) <= image_keys(full.train.images)
    again = load_data("synthetic", synthetic_shape=(1, 8, 8), synthetic_size=(400, 50), val_fraction=0.25,
                      limit_train=30, limit_test=7)
    assert torch.equal(again.train.images, limited.train.images)


def test_limit_test_bounds_the_validation_split_too_unless_limit_val_says_otherwise():
    """``--limit-test N`` evaluates N images of whichever split is evaluated; ``--limit-val`` sets the
    validation split's own number, or ``all``."""
    from netspace.data.config import DataConfig

    assert DataConfig(limit_test=100).val_limit() is None  # no validation split
    assert DataConfig(val_fraction=0.1, limit_test=100).val_limit() == 100
    assert DataConfig(val_fraction=0.1, limit_test=100, limit_val=40).val_limit() == 40
    assert DataConfig(val_fraction=0.1, limit_test=100, limit_val="all").val_limit() is None
    assert DataConfig(val_fraction=0.1).val_limit() is None
    for bad in (0, -3, "some", 2.5, True):
        with pytest.raises(NetspaceError) as e:
            DataConfig(val_fraction=0.1, limit_val=bad)
        assert "--limit-val must be a positive integer or 'all'" in str(e.value) and "\n" not in str(e.value)
    kwargs = dict(synthetic_shape=(1, 8, 8), synthetic_size=(400, 50))
    full = load_data("synthetic", val_fraction=0.25, **kwargs)
    settings = DataConfig(name="synthetic", val_fraction=0.25, limit_train=30, limit_test=7).load_kwargs(seed=0)
    limited = load_data(**settings, **kwargs)
    assert (len(limited.train), len(limited.val), len(limited.test)) == (30, 7, 7) and len(full.val) > 90
    assert image_keys(limited.val.images) <= image_keys(full.val.images)
    again = load_data(**settings, **kwargs)
    assert torch.equal(again.val.images, limited.val.images)
    every = load_data(**DataConfig(name="synthetic", val_fraction=0.25, limit_test=7,
                                   limit_val="all").load_kwargs(seed=0), **kwargs)
    assert torch.equal(every.val.images, full.val.images) and len(every.test) == 7


def test_limit_val_on_the_command_line(capsys):
    from netspace.cli import build_parser

    parser = build_parser()
    for given, value in (("all", "all"), ("ALL", "all"), ("12", 12)):
        args = parser.parse_args(["train", "x.json", "--out", "x", "--limit-val", given])
        assert args.trial_data_limit_val == value
    with pytest.raises(SystemExit):
        parser.parse_args(["search", "--help"])
    assert "--limit-val N|all" in capsys.readouterr().out
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "train", "x.json", "--limit-val", "some"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--limit-val" in proc.stderr and "Traceback" not in proc.stderr


def test_labels_held_compactly_when_they_fit():
    images = torch.zeros(3, 1, 4, 4, dtype=torch.uint8)
    small = InMemorySplit(images, torch.tensor([0, 255, 7]))
    assert small._labels.dtype == torch.uint8 and small.labels.tolist() == [0, 255, 7]
    wide = InMemorySplit(images, torch.tensor([0, 1000, 7]))  # 1000 classes: kept as int64
    assert wide._labels.dtype == torch.int64 and wide.labels.tolist() == [0, 1000, 7]
    assert next(iter(wide.batches(3, shuffle=False)))[1].tolist() == [0, 1000, 7]
