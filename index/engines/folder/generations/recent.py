"""A generation's recent passages: write-once segments beside the base, and the passages removed since the base was
built, in the base or in a segment.

An update writes its new passages as one more segment (`segment-<generation>-<n>`) and a small manifest naming the
segments and listing the removed passages (the `delta-<generation>` folder). A segment is never changed once
written: an update costs what it adds (a delta rewritten whole cost 4 s an update once it held 65,000 passages at a
million, and a serving process read it all back), and a serving process loads only the segments it has not loaded
yet. `merging` decides when the newest segments become one; a removed passage stays in its segment, skipped by
readers, until a merge drops it. A delta of format 1-3 (one folder rewritten by each update, before segments) is
read as one segment, and written again as a segment by the next update.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.engines.folder.generations import merging
from index.engines.folder.generations.delta import FORMAT_FILE, Delta
from index.engines.folder.generations.durable import write_folder

MANIFEST = 4  # the delta folder's format: a manifest of segments (1-3: the delta itself)
SEGMENT = "segment-"
REMOVED_FILE = "removed.npy"


@dataclass(frozen=True)
class Recent:
    """The segments (oldest first, ids ascending across them), each one's folder name (None: not written as a segment
    yet), the removed passage ids (ascending; None for a format-1 delta, which did not list them), the base
    generation and the vectors' dimension."""

    segments: tuple[Delta, ...]
    names: tuple[str | None, ...]
    removed: np.ndarray | None
    base: int
    dimension: int

    @property
    def ids(self) -> np.ndarray:
        """Every segment passage id, dead ones included (ascending)."""
        return np.concatenate([s.ids for s in self.segments]) if self.segments else np.zeros(0, dtype=np.int64)

    def joined(self) -> Delta:
        """One delta of the live segment passages, listing the removed base passages: the recent passages as a full
        build and the committed-vector reader take them (rows only: no graph, which neither searches)."""
        ids = self.ids
        dead = self.removed if self.removed is not None else np.zeros(0, dtype=np.int64)
        removed = None if self.removed is None else dead[~np.isin(dead, ids)]
        if not self.segments:
            empty = Delta.empty(self.dimension)
            empty.removed = removed
            return empty
        return Delta.joined(list(self.segments), dead, removed, graph=False)

    def added(self, rows: list, removed: np.ndarray, steps: np.ndarray | None) -> Recent:
        """These segments plus one of `rows` (`Delta.build`'s, ids above every segment's), with `removed` the ids
        removed since the base was built. Nothing is merged: that is `merged`, a version of its own after the update
        commits, so the update's passages answer before any merge."""
        segments, names = list(self.segments), list(self.names)
        for n, (segment, name) in enumerate(zip(segments, names)):
            if name is None and steps is not None and segment.sentences.scales is None:  # an older delta's float16 rows
                segments[n] = Delta.joined([segment], np.zeros(0, dtype=np.int64), None, steps)
        if rows:
            segments.append(Delta.build(rows, self.dimension, np.zeros(0, dtype=np.int64), steps=steps))
            names.append(None)
        return Recent(tuple(segments), tuple(names), np.asarray(removed, dtype=np.int64), self.base, self.dimension)

    def merged(self, steps: np.ndarray | None, frozen: int = 0, absorb: bool = True) -> Recent | None:
        """The newest segments merged as `merging` says, dropping their removed passages (which leave the list); None
        when no run is due. The `frozen` oldest segments are left as they are (a fold in progress is taking them);
        without `absorb`, by size class only (a fold is due: it will take them all)."""
        segments, names = list(self.segments), list(self.names)
        removed = self.removed if self.removed is not None else np.zeros(0, dtype=np.int64)
        merges = 0
        while count := merging.newest_to_merge(
            [len(s) - int(np.isin(s.ids, removed).sum()) for s in segments[frozen:]], absorb
        ):
            merges += 1
            parts = segments[-count:]
            gone = removed[np.isin(removed, np.concatenate([p.ids for p in parts]))]
            merged = Delta.joined(parts, gone, None, steps)
            removed = np.setdiff1d(removed, gone)
            segments, names = segments[:-count], names[:-count]
            if len(merged):
                segments, names = [*segments, merged], [*names, None]
        return Recent(tuple(segments), tuple(names), removed, self.base, self.dimension) if merges else None

    @classmethod
    def of(cls, delta: Delta, base: int) -> Recent:
        """A delta of format 1-3 as one unwritten segment."""
        return cls((delta,) if len(delta) else (), (None,) if len(delta) else (), delta.removed, base, delta.vectors.shape[1])


def write(recent: Recent, directory: Path, generation: int) -> Recent:
    """Write `generation`'s manifest in `directory` (the delta folder's parent), and first the segments not yet
    written, durably; the same recent passages with every segment named."""
    names = list(recent.names)
    for n, (segment, name) in enumerate(zip(recent.segments, recent.names)):
        if name is None:
            names[n] = f"{SEGMENT}{generation:08d}-{n}"
            segment.save_segment(directory / names[n])

    def fill(tmp: Path) -> None:
        np.save(tmp / REMOVED_FILE, recent.removed if recent.removed is not None else np.zeros(0, dtype=np.int64))
        (tmp / FORMAT_FILE).write_text(json.dumps({"format": MANIFEST, "generation": generation, "base": recent.base,
                                                   "dimension": recent.dimension, "segments": names}))

    write_folder(directory / f"delta-{generation:08d}", fill)
    return Recent(recent.segments, tuple(names), recent.removed, recent.base, recent.dimension)


def read(path: Path, generation: int, loaded: Mapping[str, Delta]) -> Recent:
    """The recent passages of `generation` from its delta folder `path`; segments already in `loaded` (by name) are
    not read again. `ValueError` when a file is missing, unreadable or another generation's."""
    try:
        meta = json.loads((path / FORMAT_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the delta {path}: {exc}") from exc
    if meta.get("format") != MANIFEST:
        delta, base = Delta.load(path, generation)
        return Recent.of(delta, base)
    if meta.get("generation") != generation:
        raise ValueError(f"{path} was written for another index version")
    try:
        names = [str(name) for name in meta["segments"]]
        removed = np.load(path / REMOVED_FILE)
        segments = tuple(loaded[name] if name in loaded else Delta.load_segment(path.parent / name) for name in names)
        return Recent(segments, tuple(names), removed, int(meta["base"]), int(meta["dimension"]))
    except (OSError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read the delta {path}: {exc}") from exc


def segments_named(path: Path) -> list[str]:
    """The segment names `path`'s manifest lists (none for an older delta or an unreadable one)."""
    try:
        meta = json.loads((path / FORMAT_FILE).read_text())
    except (OSError, ValueError):
        return []
    return [str(name) for name in meta.get("segments", [])] if meta.get("format") == MANIFEST else []
