"""Folding the recent passages into a new base while updates go on.

Past `MAX_SHARE` of the base, the recent passages are folded into a full build (a new HNSW graph, sentence vectors
and BM25): minutes at a million passages, during which an update waiting for the update lock would not answer. A fold
holds the update lock twice, for milliseconds:

1. *Start*: note the version G it folds (its segments' names) in `folding.json`, link G's base files into a folder of
   its own (`fold-<G>`: later updates delete G's names) and open a SQLite read transaction, which reads the passages
   as G has them however many updates commit meanwhile (WAL).
2. *Build*, without the update lock: the full build of G's live passages in that folder.
3. *Finish*: the newest version G' still holds G's segments untouched (updates merge only the segments after the ones
   `folding.json` names), then segments of its own and the passages removed since G. Version G' + 1 is the fold's
   files linked under its names, those later segments, and the passages removed since G as its dead ones.

A serving process folds in a process of its own (`fold_in_process`): the fold's memory (its graph being built) is not
added to the serving process's, a fold that fails cannot take the bot down, and the questions keep its interpreter.

One fold at a time (`fold.lock`). A crash leaves `folding.json` with nobody holding `fold.lock`: updates then merge as
usual, and the next fold starts over and removes the fold folder left. A full rebuild since G makes the fold give up.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import filelock
import numpy as np

from index.engines.folder.generations import building
from index.engines.folder.generations.building import GenerationFiles, Written
from index.engines.folder.generations.files import GenerationFolder, link_base_files
from index.engines.folder.generations.recent import Recent
from index.engines.folder.store import Store
from index.errors import IndexBusy, IndexCorrupt

FOLD_LOCK = "fold.lock"
MARKER = "folding.json"
FOLD_FOLDER = "fold-"
START_WAIT = 30.0  # seconds a fold waits for the update lock to start; else the next update's fold starts it
FINISH_WAIT = 600.0  # ... and to finish (an update holds it for seconds; a rebuild longer, and then the fold is stale)
POLL = 0.002  # seconds between its asks: updates in a row leave the lock free for milliseconds between them (at the
# default 0.05, the likely reason a due fold waited while 44 segments piled up in 10,000 updates at a million passages)


@dataclass
class Started:
    """A fold under way: the version folded, its recent passages (removed ones listed), the fold's folder, and a read
    transaction on SQLite as that version has it."""

    generation: int
    recent: Recent
    folder: GenerationFolder  # the folded version's base files linked, then the fold's own files
    snapshot: sqlite3.Connection


def taken_segments(directory: Path) -> tuple[str, ...]:
    """The segments a fold in progress is folding (none when no fold is: no marker, or one a crashed fold left).
    Asked under the update lock, before merging segments."""
    try:
        names = tuple(str(name) for name in json.loads((directory / MARKER).read_text())["segments"])
    except (OSError, ValueError, KeyError, TypeError):
        return ()
    lock = filelock.FileLock(str(directory / FOLD_LOCK))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return names  # held: the fold is running (in this process or another)
    lock.release()
    return ()


class Folding:
    """Folds an index folder's recent passages into a new base, holding the update lock only to start and finish."""

    def __init__(self, store: Store, progress: bool) -> None:
        self.store = store
        self.progress = progress

    def run(self) -> int | None:
        """Fold when due; the new version's number, or None (not due, another fold running, the update lock busy, or
        a full rebuild since the fold started). Call it without holding the update lock."""
        if not self.due():
            return None
        lock = filelock.FileLock(str(self.store.directory / FOLD_LOCK))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            return None
        try:
            for path in self.store.directory.glob(f"{FOLD_FOLDER}*"):  # left by a fold that crashed
                shutil.rmtree(path, ignore_errors=True)
            started = self.start()
            if started is None:
                return None
            try:
                written = GenerationFiles(started.folder, self.progress).fold(
                    started.snapshot, started.generation, started.recent)
                started.snapshot.rollback()  # (read only) SQLite may checkpoint past it again
                return self.finish(started, written)
            finally:
                started.snapshot.close()
                shutil.rmtree(started.folder.directory, ignore_errors=True)
                (self.store.directory / MARKER).unlink(missing_ok=True)
        finally:
            lock.release()

    def due(self) -> bool:
        """Whether the newest version looks due to be folded, read without the update lock (a version's files never
        change), so that asking after every update never holds up the next one; `start` asks again under the lock."""
        try:
            with self.store.connection() as conn:
                generation = Store.generation(conn)
                return bool(generation) and GenerationFiles(self.store, False).due_fold(conn, generation) is not None
        except (OSError, ValueError, sqlite3.Error, IndexCorrupt):  # (its files removed by two updates since)
            return True

    def start(self) -> Started | None:
        """Under the update lock: the newest version's recent passages when due to be folded, its base files linked into
        the fold's folder, the marker written and SQLite's read transaction opened."""
        try:
            with self.store.lock(wait=START_WAIT, poll=POLL), self.store.connection() as conn:
                generation = Store.generation(conn)
                recent = GenerationFiles(self.store, False).due_fold(conn, generation) if generation else None
                if recent is None or None in recent.names:  # (an older delta, not yet written as a segment)
                    return None
                folder = GenerationFolder(self.store.directory / f"{FOLD_FOLDER}{generation:08d}")
                folder.directory.mkdir()
                link_base_files(self.store, generation, folder, generation)
                _write_marker(self.store.directory, generation, recent.names)
                snapshot = self.store.connect()
                snapshot.execute("BEGIN")
                snapshot.execute("SELECT count(*) FROM passages").fetchone()  # the read snapshot begins here
        except IndexBusy:
            return None
        return Started(generation, recent, folder, snapshot)

    def finish(self, started: Started, written: Written) -> int | None:
        """Under the update lock: the fold's files with what updates committed since, as the next version."""
        with self.store.lock(wait=FINISH_WAIT, poll=POLL), self.store.connection() as conn:
            current = Store.generation(conn)
            now = self.store.read_recent(current)
            taken = len(started.recent.segments)
            if (now is None or now.removed is None or now.base != started.recent.base
                    or now.names[:taken] != started.recent.names):
                return None  # rebuilt since: the fold is out of date
            later, names = now.segments[taken:], now.names[taken:]
            later_ids = np.concatenate([s.ids for s in later]) if later else np.zeros(0, dtype=np.int64)
            since = np.setdiff1d(now.removed, started.recent.removed)  # removed after the fold began
            in_later = int(np.isin(since, later_ids).sum())
            expected = written.passages - (len(since) - in_later) + len(later_ids) - in_later
            new_generation = current + 1
            link_base_files(started.folder, started.generation + 1, self.store, new_generation)
            if later or len(since):
                self.store.write_recent(Recent(later, names, since, new_generation, now.dimension), new_generation)
            else:
                self.store.drop_recent(new_generation)
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                count = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
                if count != expected:
                    raise RuntimeError(f"internal error: {count} passages in SQLite but {expected} after the fold")
                Store.set_meta(conn, generation=new_generation, passages=count)
        return new_generation


def _write_marker(directory: Path, generation: int, names: tuple[str, ...]) -> None:
    """`folding.json`, replaced whole (a reader never sees half of it)."""
    tmp = directory / f".{MARKER}.tmp"
    tmp.write_text(json.dumps({"generation": generation, "segments": list(names)}))
    os.replace(tmp, directory / MARKER)


def fold_in_process(directory: Path) -> int | None:
    """`Folding.run` on the index folder `directory` in a Python process of its own (this module run as a script,
    told this one's fold limits, so both agree on when a fold is due); the new version's number, or None.
    `RuntimeError` with the process's last line when it fails."""
    limits = [str(building.MIN_SIZE), str(building.MAX_SHARE)]
    done = subprocess.run([sys.executable, "-m", __name__, str(directory), *limits], capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise RuntimeError(f"the fold's process failed: {last}")
    printed = done.stdout.strip()
    return int(printed) if printed else None


if __name__ == "__main__":  # `fold_in_process`: prints the new version's number, nothing when none
    building.MIN_SIZE, building.MAX_SHARE = int(sys.argv[2]), float(sys.argv[3])
    print(Folding(Store(Path(sys.argv[1])), False).run() or "")
