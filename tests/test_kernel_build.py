"""A kernel build killed midway leaves torch's ``lock`` file behind; the next process must not wait forever."""

from __future__ import annotations

import subprocess
import sys

from netspace.models import fused


def test_a_stale_torch_build_lock_is_removed_while_holding_the_build_flock(tmp_path):
    (tmp_path / "lock").write_text("")  # what a killed build leaves
    with fused._build_lock(tmp_path):
        assert not (tmp_path / "lock").exists()
    assert (tmp_path / "netspace.flock").exists()


def test_the_build_flock_excludes_a_second_process(tmp_path):
    probe = ("import fcntl, sys; f = open(sys.argv[1], 'a+'); "
             "sys.exit(0 if fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB) is None else 1)")
    with fused._build_lock(tmp_path):
        held = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "netspace.flock")], capture_output=True)
        assert held.returncode != 0 and b"BlockingIOError" in held.stderr  # a live build keeps others waiting
    free = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "netspace.flock")])
    assert free.returncode == 0
