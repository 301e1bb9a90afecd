"""Write an index folder durably: fill a temp folder beside it, fsync every file and the folder, rename.

The keyword and sentence folders of each generation are written this way, before the SQLite commit
that makes them current, so a crash leaves either the whole folder or none of it.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Make the entries (creations, renames) of `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_folder(directory: Path, fill: Callable[[Path], None]) -> None:
    """Create `directory` atomically: `fill(tmp)` writes the files into a temp folder, which is renamed into place.

    A folder of that name left by an update that crashed before its commit is replaced.
    """
    directory = Path(directory)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name.split('-')[0]}-", suffix=".tmp", dir=directory.parent))
    try:
        try:
            fill(tmp)
        except OSError as exc:
            if exc.errno is None and "requested and" in str(exc):  # numpy's short write (`np.save`) names no errno
                raise OSError(errno.ENOSPC, f"No space left on device ({exc})") from exc
            raise
        for path in tmp.iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        fsync_directory(tmp)  # its entries too, before the rename makes it the generation's folder
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def link_folder(source: Path, directory: Path, format_file: str, format_text: str) -> None:
    """Create `directory` atomically as hard links to `source`'s files, with a new `format_file`.

    The files of a generation are never changed once written, so a later generation can share them:
    an update that leaves the base alone costs no copy, and deleting the old generation's names
    leaves the shared files to the new ones.
    """

    def fill(tmp: Path) -> None:
        for path in Path(source).iterdir():
            if path.name != format_file and path.is_file():
                link_or_copy(path, tmp / path.name)
        (tmp / format_file).write_text(format_text)

    write_folder(directory, fill)


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link to `source` at `target`, or a copy on a file system without hard links."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
