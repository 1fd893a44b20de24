"""The package as installed from a wheel: built from this tree (sdist, then the wheel from the
unpacked sdist, as ``python -m build`` does), installed non-editable into a fresh virtualenv, it
imports from there, carries the kernel sources, and loads kernels that match PyTorch: the build of
this checkout's identical sources, shared through the extension cache, not a second compile (a fresh
compile is what setup does, and what the first test of a machine without a build does).

The fresh venv borrows torch and the other dependencies from this interpreter's site-packages
through a ``.pth`` file of plain path lines (a path listed there is added to ``sys.path`` but its
own ``.pth`` files, such as an editable install's finder, are not run), written only after the
wheel is installed, so pip sees an empty environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy
import pytest
import torch

import netspace
from netspace.models import fused

REPO = Path(__file__).resolve().parents[1]

# Runs in the fresh venv: where netspace came from, its kernel sources, and the kernels against PyTorch.
CHECK = r"""
import json, os, sys, warnings
# a kernel that does not build fails here, with its reason, instead of falling back to PyTorch's ops
warnings.filterwarnings("error", "netspace: CPU training kernels", RuntimeWarning)
import torch
import torch.nn.functional as F
from importlib import metadata
import netspace
from netspace.models import fused

torch.manual_seed(0)
CL = torch.channels_last
ext = fused.kernel()
assert ext is not None, "fused.kernel() is None"

def diffs(out, ref, inputs):
    g = torch.randn_like(out)
    pairs = [(out, ref), *zip(torch.autograd.grad(out, inputs, g), torch.autograd.grad(ref, inputs, g))]
    return [[(a - b).abs().max().item(), b.abs().max().item()] for a, b in pairs]

x = torch.randn(4, 16, 5, 5).contiguous(memory_format=CL).requires_grad_()
w, b = torch.rand(16, requires_grad=True), torch.randn(16, requires_grad=True)
r = torch.randn_like(x).requires_grad_()
bn = diffs(fused.bn_act(x, w, b, 1e-5, "relu", r)[0],
           F.relu(F.batch_norm(x, None, None, w, b, True, 0.1, 1e-5) + r), (x, w, b, r))
conv = torch.nn.Conv2d(16, 16, 3, padding=1, groups=4, bias=False)
wg = conv.weight
grouped = diffs(fused.grouped_conv(x, wg, 1, 1, 4), F.conv2d(x, wg, None, 1, 1, 1, 4), (x, wg))
print(json.dumps({
    "file": netspace.__file__, "version": netspace.__version__, "dist_version": metadata.version("netspace"),
    "dist_dir": str(metadata.distribution("netspace").locate_file("")),
    "editable_finder": sorted(m for m in sys.modules if m.startswith("__editable__")),
    "kernels_dir": str(fused.KERNELS), "kernel_files": sorted(p.name for p in fused.KERNELS.iterdir()),
    "build_name": fused.build_name(), "ext_file": ext.__file__,
    "usable": [fused.usable(x, w, r), fused.grouped_usable(x, conv)], "bn": bn, "grouped": grouped,
}))
"""


def _run(cmd: list, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kwargs)
    assert proc.returncode == 0, f"{cmd[:4]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def _build_wheel(tmp: Path) -> Path:
    """sdist from a copy of the tree (no build/ or egg-info leftovers), then the wheel from the sdist."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "netspace", src / "netspace", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(tmp / 'sdist')!r})"],
         120, cwd=src)
    (sdist,) = (tmp / "sdist").glob("netspace-*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (unpacked,) = (tmp / "unpacked").iterdir()
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "--disable-pip-version-check", "-w", tmp / "dist", unpacked], 300)
    (wheel,) = (tmp / "dist").glob("netspace-*.whl")
    return wheel


@pytest.mark.slow
def test_wheel_installs_and_its_kernels_build(tmp_path):
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], 120)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q",
          "--disable-pip-version-check", wheel], 300)
    site = Path(_run([python, "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], 60)
                .stdout.strip())
    borrowed = dict.fromkeys(str(Path(m.__file__).resolve().parents[1]) for m in (torch, numpy))
    (site / "borrowed-deps.pth").write_text("".join(f"{d}\n" for d in borrowed))
    try:  # the binary a real install of the ninja dependency puts in the venv's scripts directory
        import ninja

        if ninja.BIN_DIR:
            (venv / "bin" / "ninja").symlink_to(Path(ninja.BIN_DIR) / "ninja")
    except ImportError:
        pass

    # This checkout's build, in the shared extension cache (setup builds it; built here otherwise).
    from torch.utils.cpp_extension import _get_build_directory

    assert fused.kernel() is not None
    build_dir = Path(_get_build_directory(fused.build_name(), verbose=False))
    (library,) = build_dir.glob(f"{fused.build_name()}*.so")
    built = library.stat().st_mtime_ns

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(NETSPACE_FUSED="1")
    # -I: no PYTHONPATH, no user site, no cwd on sys.path; and cwd is not the source tree
    out = json.loads(_run([python, "-I", "-c", CHECK], 900, cwd=tmp_path, env=env).stdout.splitlines()[-1])

    assert Path(out["file"]).resolve().is_relative_to(site.resolve()), out["file"]
    assert Path(out["dist_dir"]).resolve() == site.resolve(), out["dist_dir"]
    assert out["editable_finder"] == []
    assert out["version"] == out["dist_version"] == netspace.__version__
    kernels = Path(out["kernels_dir"])
    assert kernels.resolve().is_relative_to(site.resolve())
    assert out["kernel_files"] == sorted(p.name for p in fused.KERNELS.glob("*.[ch]*"))
    for name in out["kernel_files"]:
        assert (kernels / name).read_bytes() == (fused.KERNELS / name).read_bytes(), name
    assert out["build_name"] == fused.build_name()  # the same sources, flags, CPU and versions
    # The install shares this checkout's build: the build compiles copies of the sources kept in its
    # own directory, the same bytes as the installed ones, so nothing was compiled again.
    assert Path(out["ext_file"]).resolve().is_relative_to(build_dir.resolve()), out["ext_file"]
    ninja_file = (build_dir / "build.ninja").read_text()
    assert str(build_dir / "sources") in ninja_file
    assert str(kernels) not in ninja_file and str(fused.KERNELS) not in ninja_file
    for name in out["kernel_files"]:
        assert (build_dir / "sources" / name).read_bytes() == (kernels / name).read_bytes(), name
    assert library.stat().st_mtime_ns == built, "the installed copy compiled the kernels again"
    assert out["usable"] == [True, True]
    for op in ("bn", "grouped"):
        for diff, scale in out[op]:  # output, then each input's gradient
            assert diff <= 1e-4 * max(1.0, scale), (op, out[op])

    version = _run([venv / "bin" / "netspace", "--version"], 120, cwd=tmp_path, env=env).stdout
    assert version.strip() == f"netspace {netspace.__version__}"


def test_ninja_dependency_found_without_an_activated_venv(monkeypatch, tmp_path):
    """torch looks for ninja on PATH; an unactivated venv's python still finds the ninja package's."""
    ninja = pytest.importorskip("ninja")
    if not ninja.BIN_DIR:
        pytest.skip("the ninja package has no binary in this environment")
    monkeypatch.setenv("PATH", str(tmp_path))
    fused._ninja_on_path()
    assert shutil.which("ninja") == os.path.join(ninja.BIN_DIR, "ninja")


def test_loading_the_kernels_keeps_their_build_name():
    """torch's load() appends to the flag lists it is given; the name (the tuner's key too) must not change."""
    name = fused._build_name()
    if fused.kernel() is None:
        pytest.skip("the CPU kernels did not build")
    assert fused._build_name() == name
