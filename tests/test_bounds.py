"""Never a traceback, never a hang, never a runaway allocation: bounds checked before work, one line each.

Every command line here must end with exit status 2 and one line on stderr
naming the problem. Scenarios that could allocate without bound run in a
child process under an address-space limit (RLIMIT_AS), so a regression fails
there instead of taking the machine's memory.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from netspace.cli import main
from netspace.errors import NetspaceError
from netspace.run.lock import DriverLock
from test_robustness import _small_store  # a store with one finished trial

ROOT = Path(__file__).resolve().parents[1]
REGNET = "wa=36.44,wm=2.49,g=8"
LIMIT_GIB = 3


def _one_line(rc: int, err: str) -> str:
    assert rc == 2, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _cli(capsys, *args: str) -> str:
    rc = main(list(args))
    return _one_line(rc, capsys.readouterr().err)


# -- memory: in a child process under an address-space limit ------------------------------------------
_CHILD = """
import contextlib, io, json, resource, sys, time
limit = {limit} * 2**30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from netspace.cli import main
out = []
for args in json.loads(sys.argv[1]):
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(args)
        except BaseException as e:  # a regression: report it instead of dying
            import traceback
            traceback.print_exc(file=err)
            rc = -1
    out.append({{"rc": rc, "err": err.getvalue(), "seconds": time.perf_counter() - start}})
print(json.dumps(out))
"""


def _bounded_child(commands: list[list[str]]) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
           "NETSPACE_TUNE": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", _CHILD.format(limit=LIMIT_GIB), json.dumps(commands)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _yaml(tmp_path: Path, name: str, depth: str = "[1, 4]", width: str = "[8, 64]", quantum: str = "8") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""\
        stages: 2
        params:
          depth: {{sampler: uniform, range: {depth}}}
          width: {{sampler: uniform, range: {width}, quantum: {quantum}}}
        """))
    return str(path)


def _cifar_dir(tmp_path: Path) -> Path:
    """CIFAR batches whose data_batch_1 (about 240 bytes) declares a [1000000, 3072] uint8 array."""
    directory = tmp_path / "cifar"
    directory.mkdir()
    good = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, protocol=2)
    for name in [f"data_batch_{i}" for i in range(2, 6)] + ["test_batch"]:
        (directory / name).write_bytes(good)
    (directory / "data_batch_1").write_bytes(_huge_array_pickle())
    return directory


class _Declares:
    """Pickles as numpy's array reconstruction of a [1000000, 3072] uint8 array with 10 bytes of data."""

    def __reduce__(self):
        reconstruct = np.empty(0).__reduce__()[0]
        return (reconstruct, (np.ndarray, (0,), b"b"),
                (1, (1_000_000, 3072), np.dtype("uint8"), False, b"\0" * 10))


def _huge_array_pickle() -> bytes:
    return pickle.dumps({b"data": _Declares(), b"labels": [0]}, protocol=2)


def test_sizes_that_cannot_fit_are_refused_before_anything_is_allocated(tmp_path):
    wide = tmp_path / "wide.json"
    from netspace.spec import NetSpec, Stage, Stem

    wide.write_text(NetSpec(stem=Stem("simple", 16, 1), stages=(Stage("res_basic", 1, 10_000_000, 2),),
                            num_classes=10, in_channels=1, resolution=28).to_json())
    commands = {
        "latency batch": ["latency", "ResNet-20", "--batch", "100000000"],
        "latency resolution": ["latency", "ResNet-20", "--resolution", "100000"],
        "latency depth": ["latency", f"d=100000,w0=24,{REGNET}"],
        "latency w0": ["latency", f"d=13,w0=1000000000,{REGNET}"],
        "latency width": ["latency", str(wide)],
        "export w0": ["export", f"d=13,w0=10000000,{REGNET}", "--out", str(tmp_path / "x.pt")],
        "train w0": ["train", f"d=13,w0=1000000000,{REGNET}", "--data", "synthetic", "--out", str(tmp_path / "t1")],
        "train width": ["train", str(wide), "--data", "synthetic", "--out", str(tmp_path / "t2")],
        "regnet depth": ["info", f"d=1000000000,w0=24,{REGNET}"],
        "yaml width": ["sample", _yaml(tmp_path, "w", width="[8, 2400000000]"), "--n", "1"],
        "yaml depth": ["sample", _yaml(tmp_path, "d", depth="[1, 1000000]"), "--n", "1"],
        "yaml quantum": ["sample", _yaml(tmp_path, "q", width="[8, 64]", quantum="0.000000001"), "--n", "1"],
        "samples": ["sample", "RegNetX", "--n", "1000000000"],
        "scale step": ["scale", "ResNet-20", "--data", "synthetic", "--phi", "1", "--step", "1e-9",
                       "--out", str(tmp_path / "s1")],
        "scale budget": ["scale", "ResNet-20", "--data", "synthetic", "--phi", "1", "--budget", "1e300",
                         "--out", str(tmp_path / "s2")],
        "scale phi": ["scale", "ResNet-20", "--data", "synthetic", "--phi", "1000", "--out", str(tmp_path / "s3")],
        "cifar declared size": ["train", "ResNet-20", "--data", "cifar10", "--data-dir", str(_cifar_dir(tmp_path)),
                                "--out", str(tmp_path / "t3")],
    }
    expect = {
        "latency batch": "needs at least", "latency resolution": "needs at least", "latency depth": "needs at least",
        "latency w0": "needs at least", "latency width": "needs at least", "export w0": "needs at least",
        "train w0": "needs at least", "train width": "needs at least",
        "regnet depth": "depth d must be at most 1,000,000",
        "yaml width": "params.width: width must be <= 65536",
        "yaml depth": "params.depth: depth must be <= 64",
        "yaml quantum": "grid values; at most 100,000",
        "samples": "at most 100,000 networks",
        "scale step": "grid candidates, each one training run; at most 1,000",
        "scale budget": "times the base model's flops; at most 4,096",
        "scale phi": "phi must be at most 16",
        "cifar declared size": "more than this",
    }
    results = dict(zip(commands, _bounded_child(list(commands.values()))))
    for name, r in results.items():
        line = _one_line(r["rc"], r["err"])
        assert expect[name] in line, (name, line)
        assert r["seconds"] < 60, (name, r["seconds"])
    assert not (tmp_path / "x.pt").exists()
    for run in ("s1", "s2", "s3"):  # refused before the output directory was made
        assert not (tmp_path / run).exists()
    for run in ("t1", "t2", "t3"):  # refused before anything was trained or written
        assert not (tmp_path / run / "metrics.jsonl").exists()


def test_an_impossible_window_on_a_yaml_space_ends_after_bounded_draws(tmp_path, capsys):
    import time

    start = time.perf_counter()
    line = _cli(capsys, "sample", _yaml(tmp_path, "s"), "--n", "1", "--flops", "1:2")
    assert "no network in flops" in line and "after 1,000,000 candidates" in line
    assert time.perf_counter() - start < 30


def test_wide_tables_of_compatible_widths_fall_back_to_exact_rejection():
    from netspace.spaces.stagewise import MAX_COMBOS
    from netspace.spaces.yaml_space import space_from_yaml

    text = textwrap.dedent("""\
        stages: 1
        params:
          depth: {value: 1}
          width: {sampler: uniform, range: [1, 65536]}
          bottleneck_ratio: {sampler: choice, values: [0.5, 1, 2, 4, 8, 16, 32, 64]}
          group_width: {sampler: pow2, range: [1, 65536]}
        """)
    space = space_from_yaml(text, resolution=32, in_channels=3, num_classes=10)
    assert 65536 * 8 * 17 > MAX_COMBOS and space._combos is None
    samples = space.sample(50, seed=1)
    for s in samples:  # every sample is a valid member: width / b divisible by the group width
        st = s.spec.stages[0]
        assert st.bottleneck_width % st.group_width == 0


# -- CPU threads, warmup, device -------------------------------------------------------------------------
def test_latency_threads_and_warmup_are_bounded(capsys):
    from netspace.resources import max_threads

    line = _cli(capsys, "latency", "ResNet-20", "--threads", "100000")
    assert f"threads must be at most {max_threads()}" in line
    assert "warmup must be at most 10,000" in _cli(capsys, "latency", "ResNet-20", "--warmup", "100000000")
    with pytest.raises(NetspaceError, match="--latency-threads must be an integer in"):
        from netspace.run import search_config

        search_config("mnasnet", "random", 2, latency_threads=100_000)


def test_an_unknown_training_device_is_one_line(tmp_path, capsys):
    line = _cli(capsys, "train", "ResNet-20", "--data", "synthetic", "--device", "evil", "--out", str(tmp_path / "t"))
    assert "unknown device 'evil'; use cpu, cuda or cuda:N" in line
    assert not (tmp_path / "t").exists()


# -- data validated at the boundary ------------------------------------------------------------------
def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _fmnist(directory: Path, train_side: int, test_side: int) -> Path:
    directory.mkdir()
    for prefix, side in (("train", train_side), ("t10k", test_side)):
        images = np.zeros((10, side, side), np.uint8)
        (directory / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
        (directory / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.arange(10, dtype=np.uint8))))
    return directory


@pytest.mark.parametrize("train_side, test_side, bad", [(28, 32, "t10k"), (1, 28, "train"), (1, 32, "train")])
def test_fashion_mnist_images_of_another_size_are_refused(tmp_path, train_side, test_side, bad):
    from netspace.data import load_data
    from netspace.data.info import DataError

    directory = _fmnist(tmp_path / "f", train_side, test_side)
    with pytest.raises(DataError, match=rf"{bad}-images-idx3-ubyte.gz holds \d+x\d+ images, expected 28x28") as e:
        load_data("fashion-mnist", data_dir=directory)
    assert "\n" not in str(e.value)


def test_an_idx_header_larger_than_its_file_is_refused(tmp_path):
    from netspace.data.idx import read_idx
    from netspace.data.info import DataError

    raw = tmp_path / "x-images-idx3-ubyte"
    raw.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 60000, 28, 28) + b"\0" * 100)
    with pytest.raises(DataError, match=r"declares shape \(60000, 28, 28\) \(47,040,000 bytes\), more than this "
                                        r"116-byte file can hold"):
        read_idx(raw, ndim=3, fix="replace it")


def _write_cifar(directory: Path, labels) -> Path:
    directory.mkdir()
    data = np.zeros((2, 3072), np.uint8)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (directory / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=2))
    return directory


@pytest.mark.parametrize("labels, shown", [([0.5, 1.0], "float64"), (["cat", "dog"], "'cat'"),
                                           ([1, "x"], "'1'"), ([True, False], "bool")])
def test_cifar_labels_must_be_whole_numbers(tmp_path, labels, shown):
    from netspace.data import load_data
    from netspace.data.info import DataError

    with pytest.raises(DataError, match="labels are .* expected a list of whole numbers 0..9") as e:
        load_data("cifar10", data_dir=_write_cifar(tmp_path / "c", labels))
    assert shown in str(e.value) and "\n" not in str(e.value)


def test_cifar_array_larger_than_its_file_is_refused_before_allocation(tmp_path):
    from netspace.data.cifar import unpickle
    from netspace.data.info import DataError

    path = tmp_path / "data_batch_1"
    path.write_bytes(_huge_array_pickle())
    assert len(path.read_bytes()) < 400
    with pytest.raises(DataError, match=r"declares an array of shape \(1000000, 3072\) \(3,072,000,000 bytes\), "
                                        r"more than this \d+-byte file holds"):
        unpickle(path)


def test_cifar_batches_still_load_after_the_checks(tmp_path):
    from netspace.data import load_data

    data = load_data("cifar10", data_dir=_write_cifar(tmp_path / "c", [3, 7]))
    assert data.train.images.shape == (10, 3, 32, 32) and data.train.labels.tolist() == [3, 7] * 5


def test_resizing_happens_after_the_subset_and_is_bounded():
    from netspace.data import load_data
    from netspace.data.resize import resize_uint8

    small = load_data("synthetic", resolution=16, limit_train=8, limit_test=4, synthetic_shape=(1, 8, 8),
                      synthetic_size=(64, 16))
    full = load_data("synthetic", resolution=16, synthetic_shape=(1, 8, 8), synthetic_size=(64, 16))
    rows = load_data("synthetic", limit_train=8, synthetic_shape=(1, 8, 8), synthetic_size=(64, 16))
    assert small.train.images.shape == (8, 1, 16, 16)
    # the same pixels as resizing everything first: each image is resized on its own
    assert (resize_uint8(rows.train.images, 16) == small.train.images).all()
    assert full.train.images.shape == (64, 1, 16, 16)
    with pytest.raises(NetspaceError, match="resized to 1000000px needs at least"):
        load_data("synthetic", resolution=1_000_000, synthetic_shape=(1, 8, 8), synthetic_size=(64, 16))


# -- one line for every I/O error -----------------------------------------------------------------------
def test_output_paths_are_checked_before_work(tmp_path, capsys, monkeypatch):
    sweep = str(_small_store(tmp_path / "sweep"))
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    assert "is a directory; give a file path" in _cli(capsys, "analyze", sweep, "--out", str(outdir))
    assert "is a directory; give a file path" in _cli(capsys, "sweep", "export", sweep, "--out", str(outdir))
    assert "is a directory; give a file path" in _cli(capsys, "export", "ResNet-20", "--out", str(outdir))
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tmp_path))
    assert "the output path is empty" in _cli(capsys, "analyze", sweep, "--out", "")
    assert "the output path is empty" in _cli(capsys, "sweep", "export", sweep, "--out", " ")
    missing = tmp_path / "nonexistent"
    line = _cli(capsys, "analyze", sweep, "--out", str(missing / "x.html"))
    assert f"the directory {missing} does not exist" in line and not missing.exists()
    assert "does not exist" in _cli(capsys, "runtime-fit", sweep, "--out", str(missing / "r.html"))
    assert "does not exist" in _cli(capsys, "export", "ResNet-20", "--out", str(missing / "m.pt"))
    assert not missing.exists() and set(os.listdir(tmp_path)) == before  # no .tmp left anywhere
    assert os.listdir(outdir) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_full_device_is_one_line(tmp_path, capsys, monkeypatch):
    sweep = str(_small_store(tmp_path / "sweep"))
    line = _cli(capsys, "sweep", "export", sweep, "--out", "/dev/full")
    assert line.endswith("/dev/full: No space left on device; free space on that device, then rerun the same command")
    line = _cli(capsys, "export", "ResNet-20", "--out", "/dev/full")
    assert "/dev/full: No space left on device" in line
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")  # written in place, never replaced
    full = open("/dev/full", "w")  # noqa: SIM115 - closed below
    monkeypatch.setattr(sys, "stdout", full)
    try:
        rc = main(["zoo", "--json"])
    finally:
        monkeypatch.undo()
        full.close()
    assert "No space left on device" in _one_line(rc, capsys.readouterr().err)


def test_unreadable_inputs_are_one_line(tmp_path, capsys):
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"name": "caf\xe9"}')
    assert "not UTF-8 text (byte 0xe9 at offset 13)" in _cli(capsys, "info", str(latin))
    yaml_latin = tmp_path / "s.yaml"
    yaml_latin.write_bytes(b"stages: 2 # caf\xe9\n")
    assert "not UTF-8 text" in _cli(capsys, "sample", str(yaml_latin), "--n", "1")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert "JSON nested too deeply to read" in _cli(capsys, "info", str(deep))
    deep_yaml = tmp_path / "deep.yaml"
    deep_yaml.write_text("params: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert "nested too deeply" in _cli(capsys, "sample", str(deep_yaml), "--n", "1")
    folder = tmp_path / "folder.json"
    folder.mkdir()
    assert "it is a directory" in _cli(capsys, "info", str(folder))


# -- one writer per output directory ------------------------------------------------------------------
def test_every_writer_of_a_directory_is_refused_while_another_holds_it(tmp_path):
    from netspace.run import run_search, search_config
    from netspace.run.latency import measure_trials
    from netspace.scaling import compound_scale
    from netspace.study import StudyConfig, run_study
    from netspace import zoo

    busy = "another .* is running on .* wait for it or stop it first"
    sweep = _small_store(tmp_path / "sweep")
    with DriverLock(sweep):
        with pytest.raises(NetspaceError, match=busy):
            measure_trials(sweep, log=lambda _m: None)
    out = tmp_path / "search"
    with DriverLock(out):
        with pytest.raises(NetspaceError, match=busy):
            run_search(search_config("RegNetX", "random", 1, data="synthetic", epochs=1), out, workers=1,
                       log=lambda _m: None)
    out = tmp_path / "study"
    with DriverLock(out):
        with pytest.raises(NetspaceError, match=busy):
            run_study(StudyConfig(preset="tiny", spaces=("RegNetX",)), out, workers=1, log=lambda _m: None)
    out = tmp_path / "scale"
    with DriverLock(out):
        with pytest.raises(NetspaceError, match=busy):
            compound_scale(zoo.get("ResNet-20"), "synthetic", phi=1, out_dir=out, log=lambda _m: None)
    assert sorted(p.name for p in out.iterdir()) == [".driver.lock"]  # nothing written under the held lock
