"""Test-session settings shared by every test and the processes tests start."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:
    # The layers' autotuner writes its decisions under NETSPACE_CACHE_DIR; the suite keeps them in a
    # directory of its own (shared by its subprocesses) and never touches the user's cache.
    if "NETSPACE_CACHE_DIR" not in os.environ:
        os.environ["NETSPACE_CACHE_DIR"] = tempfile.mkdtemp(prefix="netspace-test-cache-")
