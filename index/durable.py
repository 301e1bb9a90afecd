"""Write an index folder durably: fill a temp folder beside it, fsync every file and the folder, rename.

The keyword and sentence folders of each generation are written this way, before the SQLite commit
that makes them current, so a crash leaves either the whole folder or none of it.
"""

from __future__ import annotations

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
        fill(tmp)
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
