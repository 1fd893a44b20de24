"""One driver per sweep, search or study directory (see :class:`netspace.lock.DirectoryLock`)."""

from __future__ import annotations

import os

from netspace.lock import DirectoryLock


class DriverLock(DirectoryLock):
    def __init__(self, directory: str | os.PathLike) -> None:
        super().__init__(directory, name=".driver.lock", what="sweep driver")
