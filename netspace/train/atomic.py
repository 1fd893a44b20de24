"""Crash-safe file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, IO

import torch


def _write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write to a temp file in the same directory, fsync it, rename over ``path``.

    Same directory so ``os.replace`` is a rename within one filesystem (atomic
    on POSIX); the directory is fsynced too so the rename itself survives a
    power cut, not just the bytes.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_torch(obj: Any, path: Path) -> None:
    _write_atomic(path, lambda f: torch.save(obj, f))


def save_json(obj: Any, path: Path) -> None:
    _write_atomic(path, lambda f: f.write((json.dumps(obj, indent=1) + "\n").encode()))


def save_jsonl(rows: list[dict], path: Path) -> None:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    _write_atomic(path, lambda f: f.write(text.encode()))


def append_jsonl(row: dict, path: Path) -> None:
    """Append one line and fsync: a crash loses at most this line, never earlier ones."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())
