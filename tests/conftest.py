"""Test-session settings shared by every test and the processes tests start."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config) -> None:
    # The layers' autotuner writes its decisions under NETSPACE_CACHE_DIR; the suite keeps them in a
    # directory of its own (shared by its subprocesses) and never touches the user's cache.
    if "NETSPACE_CACHE_DIR" not in os.environ:
        os.environ["NETSPACE_CACHE_DIR"] = tempfile.mkdtemp(prefix="netspace-test-cache-")


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``): tiny tensors
    gain nothing from threads, and idle OpenMP threads spin on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
