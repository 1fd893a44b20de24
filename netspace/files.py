"""Reading inputs and writing outputs at the boundary, with one-line errors that name the file.

- :func:`read_text` reads a UTF-8 text file (a spec, a space YAML); a missing
  file, a directory or bytes that are not UTF-8 are a :class:`FileError`.
- :func:`parse_json` parses JSON text; malformed JSON and JSON nested too
  deeply for the parser (``[[[[...]]]]`` 100,000 deep) are a FileError.
- :func:`output_path` checks an output file's path before any work is done:
  not empty, not a directory, in a directory that exists (it is never
  created, so a mistyped parent is refused instead of made).
- :func:`write_atomic` writes a file as a temp file in the same directory,
  then renames it over the target: a reader sees the old file or the new one,
  and a failed write (a full disk) leaves neither half a file nor a temp file;
  the file and its directory are fsynced, so the rename survives a power cut.
  An existing target that is not a regular file (``/dev/null``, a pipe) is
  written directly, never replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from typing import IO, Any, Callable

from netspace.errors import NetspaceError


class FileError(NetspaceError):
    """An input file cannot be read or parsed, or an output path cannot be written."""


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """The text of the UTF-8 file at ``path``; a FileError naming it otherwise."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as f:
            return f.read()
    except IsADirectoryError:
        raise FileError(f"cannot read {what} {name!r}: it is a directory; give a file") from None
    except OSError as e:
        raise FileError(f"cannot read {what} {name!r}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise FileError(f"{name}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); "
                        f"save the {what} as UTF-8") from None


def parse_json(text: str, source: str) -> Any:
    """``json.loads(text)``; a FileError naming ``source`` for malformed or too deeply nested JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise FileError(f"{source}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise FileError(f"{source}: JSON nested too deeply to read; a spec is a few levels deep") from None


def output_path(path: str | os.PathLike, what: str, example: str = "out.html") -> str:
    """``path`` as a string, once it is known that a file can be written there (see the module docstring)."""
    name = os.fspath(path)
    if not name.strip():
        raise FileError(f"{what}: the output path is empty; give a file name, e.g. {example}")
    if os.path.isdir(name):
        raise FileError(f"{what}: {name} is a directory; give a file path, e.g. {os.path.join(name, example)}")
    parent = os.path.dirname(os.path.abspath(name))
    if not os.path.isdir(parent):
        raise FileError(f"{what}: the directory {parent} does not exist; create it first or write elsewhere")
    return name


def _special(path: str) -> bool:
    """True for an existing target that must be written in place (a device, a pipe, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], None] | str | bytes) -> str:
    """Write ``write`` (text, bytes, or a function given the binary file) to ``path`` atomically."""
    name = os.fspath(path)
    if isinstance(write, (str, bytes)):
        data = write.encode("utf-8") if isinstance(write, str) else write

        def write(f: IO[bytes]) -> None:  # noqa: F811 - the data as a writer
            f.write(data)

    try:
        if _special(name):
            with open(name, "wb") as f:
                write(f)
            return name
        directory = os.path.dirname(os.path.abspath(name))
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(name)}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)  # the rename itself survives a power cut too
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as e:
        if e.filename is None:  # a write into an open file names none: say which file it was
            raise OSError(e.errno, e.strerror or str(e), name) from None
        raise
    return name
