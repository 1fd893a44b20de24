"""One driver per sweep directory, enforced with an OS file lock.

``flock`` is released by the kernel when the holder dies, even by SIGKILL,
so a killed driver never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from netspace.errors import NetspaceError


class DriverLock:
    def __init__(self, directory: str | os.PathLike) -> None:
        self.path = Path(directory) / ".driver.lock"
        self._fd: int | None = None

    def __enter__(self) -> "DriverLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise NetspaceError(
                f"another sweep driver is running on {self.path.parent}; wait for it or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
