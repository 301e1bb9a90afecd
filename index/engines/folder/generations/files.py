"""The files of each index generation inside the index folder: the passage vectors (FAISS), the BM25 and
sentence vector folders, and a delta beside a shared base; written durably under the generation's
names before the commit that makes them current, and removed two generations later."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

import faiss
import numpy as np

from index.engines.folder.generations import keyword_index, vector_index
from index.engines.folder.generations import recent as recent_files
from index.engines.folder.generations.delta import FORMAT_FILE, Delta
from index.engines.folder.generations.durable import fsync_directory, link_folder, link_or_copy
from index.engines.folder.generations.keyword_index import KeywordIndex
from index.engines.folder.generations.keyword_writer import write_keywords
from index.engines.folder.generations.recent import SEGMENT, Recent
from index.engines.folder.generations.sentence_index import SentenceIndex
from index.engines.folder.generations.sentence_writer import write_sentences
from index.errors import IndexCorrupt

# The current and the previous generation's files are kept, so a reader that has just read the old
# generation number can still load its files; older ones are deleted (readers hold them in memory).
KEEP_GENERATIONS = 2


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class GenerationFolder:
    """Paths, writes and reads of the per-generation files under `directory` (the index folder's `Store`, or the
    folder a fold builds in)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        # Segments of the newest versions read or written, by version then folder name (never changed once written).
        self._segments: dict[int, dict[str, Delta]] = {}
        self._segment_lock = threading.Lock()
        # The newest keyword index read, by its files' identity (`read_keywords`).
        self._keywords: tuple[tuple[int, int, int, int], KeywordIndex] | None = None

    # --- FAISS generations ------------------------------------------------------------------------

    def faiss_path(self, generation: int) -> Path:
        """The FAISS file of one index generation."""
        return self.directory / f"vectors-{generation:08d}.faiss"

    def write_vectors(self, index: faiss.Index, generation: int) -> Path:
        """Write a FAISS index durably under its generation's name (temp file, fsync, rename)."""
        target = self.faiss_path(generation)
        fd, tmp = tempfile.mkstemp(prefix=".vectors-", suffix=".tmp", dir=self.directory)
        os.close(fd)
        try:
            vector_index.write_file(index, tmp)  # a full disk is an OSError, not a RuntimeError
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_directory(self.directory)
        return target

    def read_vectors(self, generation: int) -> faiss.Index:
        """Load one generation's FAISS index into memory."""
        path = self.faiss_path(generation)
        try:
            return vector_index.prepare(faiss.read_index(str(path)))
        except RuntimeError as exc:
            raise IndexCorrupt(f"cannot read {path}: {exc}") from exc

    def remove_old_generations(self, current: int) -> None:
        """Delete the files of old generations, the segments no kept generation lists, and temp files left by crashed
        updates."""
        for path in [
            *self.directory.glob("vectors-*.faiss"),
            *self.directory.glob("keywords-*"),
            *self.directory.glob("sentences-*"),
            *self.directory.glob("delta-*"),
        ]:
            try:
                generation = int(path.name.split(".")[0].split("-")[1])
            except (IndexError, ValueError):
                continue
            if generation <= current - KEEP_GENERATIONS or generation > current:
                _remove(path)
        listed = {
            name
            for generation in range(current - KEEP_GENERATIONS + 1, current + 1)
            for name in recent_files.segments_named(self.delta_path(generation))
        }
        for path in self.directory.glob(f"{SEGMENT}*"):
            if path.name not in listed:
                _remove(path)
        for pattern in (".vectors-*.tmp", ".keywords-*.tmp", ".sentences-*.tmp", ".delta-*.tmp", ".segment-*.tmp"):
            for path in self.directory.glob(pattern):
                _remove(path)

    # --- a base shared by later generations, and their deltas -------------------------------------

    def link_base(self, generation: int, new_generation: int) -> None:
        """Give `new_generation` the base files of `generation` (vectors, BM25, sentences) as hard links."""
        link_base_files(self, generation, self, new_generation)

    def delta_path(self, generation: int) -> Path:
        """The delta folder of one index generation (none after a full build)."""
        return self.directory / f"delta-{generation:08d}"

    def drop_recent(self, generation: int) -> None:
        """Remove a delta folder left under `generation`'s name by an update or a compaction that crashed before its
        commit: a full build written under that name has none, and would otherwise read it as its own."""
        path = self.delta_path(generation)
        if path.exists():
            _remove(path)
            fsync_directory(self.directory)

    def write_recent(self, recent: Recent, generation: int) -> Recent:
        """Write one generation's recent passages durably: its new segments, then its manifest (`recent.write`)."""
        written = recent_files.write(recent, self.directory, generation)
        fsync_directory(self.directory)
        self._keep_segments(generation, written)  # (a name written again after a failed commit: its new segment)
        return written

    def read_recent(self, generation: int) -> Recent | None:
        """`generation`'s recent passages, or None after a full build; `IndexCorrupt` when unreadable. The segments
        of the last versions read or written are kept, so an update and the serving process's next version read
        only the segments that are new to them."""
        path = self.delta_path(generation)
        if not path.exists():
            return None
        with self._segment_lock:
            kept = {name: segment for segments in self._segments.values() for name, segment in segments.items()}
        try:
            found = recent_files.read(path, generation, kept)
        except ValueError as exc:
            raise IndexCorrupt(str(exc)) from exc
        self._keep_segments(generation, found)
        return found

    def _keep_segments(self, generation: int, recent: Recent) -> None:
        """Remember `generation`'s named segments (those of the `KEEP_GENERATIONS` + 1 newest versions are kept)."""
        with self._segment_lock:
            self._segments[generation] = {name: s for name, s in zip(recent.names, recent.segments) if name}
            for old in sorted(self._segments)[: -(KEEP_GENERATIONS + 1)]:
                del self._segments[old]

    def read_delta(self, generation: int) -> tuple[Delta, int] | None:
        """`generation`'s recent passages as one delta of the live ones (`Recent.joined`) and its base generation, or
        None after a full build; `IndexCorrupt` when unreadable."""
        recent = self.read_recent(generation)
        return (recent.joined(), recent.base) if recent is not None else None

    # --- sentence vector generations ---------------------------------------------------------------

    def sentences_path(self, generation: int) -> Path:
        """The sentence vector folder of one index generation."""
        return self.directory / f"sentences-{generation:08d}"

    def write_sentence_rows(
        self, rows: Iterable[tuple[int, np.ndarray]], generation: int, dimension: int, scales: np.ndarray | None, progress: bool
    ) -> int:
        """Write one generation's sentence vectors from rows streamed in passage id order, holding none of them
        (`sentence_writer`); returns how many sentences were written."""
        written = write_sentences(self.sentences_path(generation), generation, rows, dimension, scales, progress)
        fsync_directory(self.directory)
        return written

    def sentence_steps(self, generation: int) -> np.ndarray | None:
        """The 8-bit steps `generation`'s sentence rows are coded on (None: float16 rows), read without the rows."""
        return SentenceIndex.steps(self.sentences_path(generation))

    def read_sentences(self, generation: int) -> SentenceIndex:
        """Load one generation's sentence vectors; `ValueError` when missing, unreadable or not that generation's."""
        return SentenceIndex.load(self.sentences_path(generation), generation)

    # --- BM25 keyword index generations -----------------------------------------------------------

    def keywords_path(self, generation: int) -> Path:
        """The keyword index folder of one index generation."""
        return self.directory / f"keywords-{generation:08d}"

    def write_keyword_rows(self, passages: Iterable[tuple[int, str, str]], generation: int, total: int, progress: bool) -> None:
        """Write one generation's keyword index from `(id, title, text)` rows in id order, holding none of them
        (`keyword_writer`); durably (temp folder, fsync, rename)."""
        write_keywords(self.keywords_path(generation), generation, passages, total, progress)
        fsync_directory(self.directory)

    def read_keywords(self, generation: int) -> KeywordIndex:
        """Load one generation's keyword index; `ValueError` when it is missing, unreadable or not that generation's.

        A version with recent passages links its base's files: the one read last is kept while its files are the same
        ones (an update read the base's vocabulary again each time: 45 ms at a million passages, twice an update)."""
        path = self.keywords_path(generation)
        try:
            stat = (path / keyword_index.IDS_FILE).stat()
            identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except OSError:
            identity = None
        kept = self._keywords
        if identity is not None and kept is not None and kept[0] == identity:
            KeywordIndex.check(path, generation)  # the format file is each version's own
            return kept[1]
        keywords = KeywordIndex.load(path, generation)
        self._keywords = (identity, keywords) if identity is not None else None
        return keywords


def link_base_files(source: GenerationFolder, generation: int, target: GenerationFolder, new_generation: int) -> None:
    """Give `target`'s `new_generation` the base files of `source`'s `generation` (vectors, BM25, sentences) as hard
    links, each folder's format file naming its new generation (the same folder, or a fold's own: `folding`)."""
    path = target.faiss_path(new_generation)
    path.unlink(missing_ok=True)  # left by an update that crashed before its commit
    link_or_copy(source.faiss_path(generation), path)
    for source_folder, target_folder in ((source.keywords_path, target.keywords_path),
                                         (source.sentences_path, target.sentences_path)):
        written = json.loads((source_folder(generation) / FORMAT_FILE).read_text())
        link_folder(source_folder(generation), target_folder(new_generation), FORMAT_FILE,
                    json.dumps({**written, "generation": new_generation}))
    fsync_directory(target.directory)
