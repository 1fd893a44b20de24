"""One writer per output directory, enforced with an OS file lock.

``flock`` is released by the kernel when the holder dies, even by SIGKILL,
so a killed writer never leaves a stale lock: the next one takes it over
without asking. Every command that writes a directory holds one (train, the
sweep/search/study driver).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from netspace.errors import NetspaceError


class DirectoryLock:
    """``with DirectoryLock(dir, name=".train.lock", what="netspace train"):`` or a one-line refusal."""

    def __init__(self, directory: str | os.PathLike, *, name: str = ".driver.lock",
                 what: str = "sweep driver") -> None:
        self.path = Path(directory) / name
        self.what = what
        self._fd: int | None = None

    def __enter__(self) -> "DirectoryLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = ""
            try:
                pid = self.path.read_text().strip()
                holder = f" (pid {pid})" if pid else ""
            except OSError:
                pass
            raise NetspaceError(f"another {self.what} is running on {self.path.parent}{holder}; wait for it or "
                                "stop it first") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
