"""Crash-safe file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any, Callable

import torch

from netspace.files import write_atomic


def _write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write to a temp file in the same directory, fsync it, rename over ``path`` (see
    :func:`netspace.files.write_atomic`: same directory so the rename is atomic on POSIX, and the directory is
    fsynced too so the rename itself survives a power cut, not just the bytes)."""
    write_atomic(path, write)


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
