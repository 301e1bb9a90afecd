"""Open article files and read them within byte limits, so no file can hang or exhaust a run.

Only regular files are read: a FIFO would block for ever and a device such as /dev/zero would
never end, so the file is opened without blocking and checked before any read. A `.gz` file is
expanded as a stream and every read is bounded while decompressing: a 1 MB gzip bomb that
expands to gigabytes costs at most the limit in memory, never its expanded size.
"""

from __future__ import annotations

import errno
import gzip
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1 << 20  # the rest of an over-long line is skipped this much at a time
MAX_RATIO = 100  # a .gz expanding more than this many times its size is a bomb (news JSON: 3-10x)
RATIO_FLOOR = 1_000_000  # decompressed bytes read before the ratio is checked, so small files never trip it


class TooLarge(Exception):
    """More than the allowed number of bytes was read (after decompression)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit:,} bytes")
        self.limit = limit


def kind_of(path: Path) -> str | None:
    """What `path` is when it is neither a regular file nor a folder ("a FIFO", "a symlink loop"...), else None.

    A path that does not exist at all (and is not a dangling link) is None too: the caller says so.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        return "a broken symlink" if path.is_symlink() else None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return _kind(mode)


def _kind(mode: int) -> str:
    """A name for a file mode that is not a regular file or folder, for the `skipped:` line that reports it."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


class Overexpanded(Exception):
    """A compressed file expanded more than `MAX_RATIO` times the compressed bytes read so far."""

    def __init__(self, expanded: int, compressed: int) -> None:
        super().__init__(f"{compressed:,} compressed bytes expanded to {expanded:,}, more than {MAX_RATIO}x")


class NotRegular(OSError):
    """The path is a FIFO, socket or device, not a file to read."""


def open_regular(path: Path) -> BinaryIO:
    """Open `path` for binary reading if it is a regular file; `NotRegular` (an `OSError`) otherwise.

    Opened with O_NONBLOCK, so opening a FIFO returns at once instead of waiting for a writer, and
    checked on the open descriptor, so the file cannot be swapped for a FIFO after the check.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegular(errno.EINVAL, _kind(mode), str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@contextmanager
def open_stream(path: Path) -> Iterator[BinaryIO]:
    """The bytes of a regular file, decompressed as they are read when its name ends in `.gz`."""
    with open_regular(path) as raw:
        if path.name.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="rb") as expanded:
                yield expanded
        else:
            yield raw


def read_at_most(stream: BinaryIO, limit: int) -> bytes:
    """All of `stream`, or `TooLarge` as soon as it holds more than `limit` bytes (never reading more)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(limit)
    return data


def compressed_read(stream: BinaryIO) -> int | None:
    """How many bytes of the file under a decompressing `stream` were consumed so far; None for a plain file."""
    raw = getattr(stream, "fileobj", None) if isinstance(stream, gzip.GzipFile) else None
    return raw.tell() if raw is not None else None


def check_ratio(stream: BinaryIO, expanded: int) -> None:
    """`Overexpanded` when a `.gz` past `RATIO_FLOOR` decompressed bytes expands more than `MAX_RATIO` times.

    Memory is bounded by the other limits; this bounds the time a tiny file can cost (a gigabyte
    of one-byte lines is a megabyte of gzip).
    """
    compressed = compressed_read(stream)
    if compressed is not None and expanded > RATIO_FLOOR and expanded > MAX_RATIO * compressed:
        raise Overexpanded(expanded, compressed)


def bounded_lines(stream: BinaryIO, line_limit: int, file_limit: int) -> Iterator[tuple[int, bytes | None]]:
    """Each line of `stream` as (line number, bytes), or (number, None) for a line over `line_limit`.

    An over-long line is skipped chunk by chunk without being kept. `TooLarge` once more than
    `file_limit` bytes were read in all, so neither one line nor the whole file is ever held past its
    limit; `Overexpanded` (checked every `CHUNK_BYTES`) once a `.gz` expands like a bomb.
    """
    total = 0
    number = 0
    next_check = CHUNK_BYTES
    while True:
        line = stream.readline(line_limit + 1)
        if not line:
            return
        number += 1
        total += len(line)
        too_long = len(line) > line_limit and not line.endswith(b"\n")
        while too_long and line and not line.endswith(b"\n"):
            if total > file_limit:
                raise TooLarge(file_limit)
            check_ratio(stream, total)
            line = stream.readline(CHUNK_BYTES)
            total += len(line)
        if total > file_limit:
            raise TooLarge(file_limit)
        if total >= next_check:
            check_ratio(stream, total)
            next_check = total + CHUNK_BYTES
        yield number, None if too_long else line
