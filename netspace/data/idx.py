"""Reader for the idx format of (Fashion-)MNIST, gzip-compressed or not.

Layout: two zero bytes, a type byte (0x08 = unsigned byte), a byte giving the
number of dimensions, one big-endian uint32 per dimension, then the raw data in
C order. Reading goes straight from the gzip stream into one preallocated array,
so loading costs the array's size and nothing more.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from netspace.data.info import DataError

_UBYTE = 0x08
# A corrupt header can declare any shape; refuse before allocating what the file cannot hold. Raw data is
# at most the file's size; deflate expands at most ~1032:1, so a gzip file holds at most that many times
# its own size.
_MAX_BYTES = 1 << 34
_DEFLATE_RATIO = 1032
# gzip's readinto decompresses the whole request into a temporary bytes object
# before copying it, so reading in slices keeps that temporary small.
_SLICE = 1 << 16


def _read_into(stream, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``stream``; returns bytes read (short only at end of data)."""
    filled = 0
    while filled < len(buffer):
        got = stream.readinto(buffer[filled:filled + _SLICE])
        if not got:
            break
        filled += got
    return filled


def read_idx(path: Path, *, ndim: int, fix: str) -> np.ndarray:
    """The uint8 array stored in the idx file at ``path``, checked to have ``ndim`` dims.

    ``fix`` ends every error message: what the user should do about a bad file.
    """
    compressed = path.suffix == ".gz"
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as stream:
            magic = stream.read(4)
            expected = bytes([0, 0, _UBYTE, ndim])
            if magic != expected:
                raise DataError(f"{path}: bad idx magic number 0x{magic.hex() or 'empty'} "
                                f"(expected 0x{expected.hex()}); the file is corrupt or not idx data; {fix}")
            dims_raw = stream.read(4 * ndim)
            if len(dims_raw) != 4 * ndim:
                raise DataError(f"{path}: truncated idx header; {fix}")
            shape = struct.unpack(f">{ndim}I", dims_raw)
            size = math.prod(shape)
            on_disk = path.stat().st_size
            room = on_disk * _DEFLATE_RATIO if compressed else on_disk - 4 - 4 * ndim
            if size > min(_MAX_BYTES, room):
                raise DataError(f"{path}: idx header declares shape {shape} ({size:,} bytes), more than this "
                                f"{on_disk:,}-byte file can hold; {fix}")
            data = np.empty(shape, dtype=np.uint8)
            got = _read_into(stream, memoryview(data.reshape(-1)))
            if got != size:
                raise DataError(f"{path}: truncated: shape {shape} needs {size} bytes of data, found {got}; {fix}")
            if stream.read(1):
                raise DataError(f"{path}: extra bytes after the {size} bytes of shape {shape}; {fix}")
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read idx file ({type(error).__name__}: {error}); {fix}") from None
    return data
