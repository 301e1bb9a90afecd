"""Bring the index up to date with a set of article files, incrementally and atomically.

Unchanged files are recognised by size and modification time and not even read; unchanged
passages reuse cached vectors, so a re-run on an unchanged corpus never loads the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index.engines.common import SENTENCE_DTYPE
from index.engines.known import KnownArticles
from index.engines.writer import Change, StoredState, Vectors, Writer
from index.indexing.passages import MAX_WORDS, MIN_WORDS, TARGET_WORDS, Passage, split_passages
from index.indexing.spool import PlanSpool, SpooledRows
from index.models.embedder import Embedder
from index.reading.files import Article, Skip, discover, read_file
from index.settings import Settings

PIPELINE_VERSION = "3"  # 2: sentences may span hard-wrapped lines; 3: sentence vectors
CACHE_CHUNK = 64  # vectors computed between two commits of the embedding cache (what a crash can lose)
# Passages to embed gathered (in reading order) before they are sorted by length and embedded: the batches
# pad as little as with the whole corpus sorted, and what the model reads is never held for a whole corpus.
EMBED_WINDOW = 4096

Log = Callable[[str], None]
# (passages embedded so far, passages to embed, seconds left at the rate so far or None before the first batch)
Progress = Callable[[int, int, float | None], None]


@dataclass
class UpdateSummary:
    """What one update did, for the one-line report and for callers (bot, watcher)."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    passages: int = 0
    embedded: int = 0
    seconds: float = 0.0
    generation: int = 0
    skips: list[Skip] = field(default_factory=list)
    added_titles: list[str] = field(default_factory=list)

    @property
    def indexed(self) -> int:
        """Articles in the index that this run saw (new, changed or unchanged)."""
        return self.added + self.updated + self.unchanged

    @property
    def changed(self) -> bool:
        """True when the update produced a new index version."""
        return bool(self.added or self.updated or self.removed)

    def line(self) -> str:
        """The one-line summary printed at the end of `newsbot index`."""
        return (
            f"{self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged, {self.skipped} skipped; {self.passages} passages "
            f"({self.embedded} embedded) in {self.seconds:.1f}s"
        )


def pipeline_signature(settings: Settings, model_key: str) -> str:
    """Everything that changes how articles become passages and vectors; a change forces a full pass."""
    parts = [PIPELINE_VERSION, MIN_WORDS, TARGET_WORDS, MAX_WORDS, model_key, settings.max_article_bytes]
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()[:16]


def embed_text(title: str, passage_text: str) -> str:
    """What the model sees for a passage: the article title gives it context."""
    return f"{title}\n{passage_text}"


def _text_hash(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


@dataclass
class _Planned:
    article: Article
    passages: list[Passage]
    hashes: list[bytes]  # of what the model reads for each passage (`embed_text`)

    def embedding_item(self, ordinal: int) -> tuple[str, str, list[tuple[int, int]]]:
        """What the model reads for one passage: the title line, the passage, its sentence spans in the passage."""
        p = self.passages[ordinal]
        spans = [(s - p.start, e - p.start) for s, e in p.sentences]
        return embed_text(self.article.title, ""), self.article.text[p.start : p.end], spans


def _is_under(path: str, roots: list[str]) -> bool:
    """`path` is one of `roots` or inside one (all resolved, as stored): by string, since every known file is asked."""
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class Indexer:
    """Runs one update through an engine's `Writer` with an `Embedder`; holds the update lock for the whole run."""

    def __init__(
        self, writer: Writer, embedder: Embedder, settings: Settings, log: Log = print, on_progress: Progress | None = None
    ) -> None:
        self.writer = writer
        self.embedder = embedder
        self.settings = settings
        self.log = log
        self.on_progress = on_progress  # told after each embedded batch (e.g. `/news reindex`'s progress line)

    def update(
        self,
        paths: Iterable[Path],
        rebuild: bool = False,
        progress: bool = True,
        wait: float = 0,
        fold: bool = True,
    ) -> UpdateSummary:
        """Index `paths` (files or folders): add new articles, re-embed changed ones, drop deleted ones; then, unless
        `fold` is False (a caller folding in a thread of its own, `fold`), fold the recent passages when due."""
        started = time.monotonic()
        roots = [Path(p).resolve() for p in paths]
        with self.writer.session(wait):
            summary = self._update(roots, rebuild, progress)
        if fold and summary.changed:
            summary.generation = self.fold(progress) or summary.generation
        summary.seconds = time.monotonic() - started
        return summary

    def fold(self, progress: bool, own_process: bool = False) -> int | None:
        """Fold what updates piled up when due, without holding the update lock (`Writer.fold`); the new version's
        number, or None. Never fails: the updates stand, and the next one folds."""
        try:
            return self.writer.fold(progress, own_process)
        except Exception as exc:  # (a full disk, say)
            self.log(f"The update is committed but folding the index failed ({exc}); the next update tries again.")
            return None

    def _update(self, roots: list[Path], rebuild: bool, progress: bool) -> UpdateSummary:
        stored = self.writer.state()
        generation = stored.generation
        signature = pipeline_signature(self.settings, self.embedder.key)
        full = rebuild or generation == 0 or stored.signature != signature
        if not full and not self.writer.complete(generation):
            self.log("The sentence vectors of the index are missing or unreadable: re-processing every article.")
            full = True
        if generation and not rebuild and stored.signature != signature:
            self.log("Settings or model changed since the last update: re-processing every article.")

        known = stored.known
        known_paths = known.paths()  # one row a file, not an article
        to_read = list(roots)
        if full and not rebuild:  # re-process every known article, not only the paths given this time
            to_read += [Path(path) for path in known_paths if path and Path(path).exists()]
        files, skips = discover(to_read)
        known_files = {} if full else known.files([str(f) for f in files])
        spool = PlanSpool(_Planned, self.writer.scratch)
        try:
            summary, seen, fingerprints = self._read(files, skips, spool, known_files, known, full, progress)
            # Decided once per file, not per article: a big index holds tens of thousands of articles in a few files.
            under = [str(root) for root in roots]
            gone_files = {path for path in known_paths if full or not path or _is_under(path, under) or not os.path.exists(path)}
            removed = [aid for ids in known.ids_in(gone_files).values() for aid in ids if aid not in seen]
            summary.removed = len(removed)
            if not len(spool) and not removed and not full:
                summary.passages = self.writer.keep(generation, fingerprints, progress)
                summary.generation = generation
                return summary
            self._commit(summary, spool, removed, fingerprints, full, stored, signature, progress)
            return summary
        finally:
            spool.close()

    def _read(
        self,
        files: list[Path],
        skips: list[Skip],
        spool: PlanSpool,
        known_files: dict[str, tuple[int, int]],
        known: KnownArticles,
        full: bool,
        progress: bool,
    ) -> tuple[UpdateSummary, dict[str, str], dict[str, tuple[int, int]]]:
        """Read the files not seen unchanged before, and cut each new or changed article into passages as it is
        read (into `spool`, not memory). Returns the counts so far, every article id seen (-> its file) and the
        size and mtime of each file read."""
        summary = UpdateSummary()
        seen: dict[str, str] = {}  # article id -> file it came from
        fingerprints: dict[str, tuple[int, int]] = {}
        stats: dict[Path, tuple[int, int] | None] = {}
        for path in files:
            try:
                stat = path.stat()
                stats[path] = (stat.st_size, stat.st_mtime_ns)
            except OSError:
                stats[path] = None
        unchanged = [str(p) for p, fingerprint in stats.items() if fingerprint and known_files.get(str(p)) == fingerprint]
        in_unchanged = known.ids_in(unchanged)  # their articles are not read again
        for path in tqdm(files, desc="Reading", unit="file", disable=not progress or len(files) < 50, leave=False):
            key, fingerprint = str(path), stats[path]
            if fingerprint is None:
                skips.append(Skip(key, "disappeared while indexing"))
                continue
            if known_files.get(key) == fingerprint:
                fingerprints[key] = fingerprint
                for article_id in in_unchanged.get(key, []):
                    if article_id not in seen:  # (else read from another file already: counted there)
                        seen[article_id] = key
                        summary.unchanged += 1
                continue
            articles, file_skips = read_file(path, self.settings.max_article_bytes)
            skips.extend(file_skips)
            if articles or not file_skips:
                fingerprints[key] = fingerprint
            before = known.articles([a.id for a in articles])
            for article in articles:
                if article.id in seen:
                    skips.append(Skip(key, f"duplicate article id {article.id!r} (already read from {seen[article.id]})"))
                    continue
                seen[article.id] = key
                for note in article.notes:
                    self.log(f"note: {key}: {note}")
                old = before.get(article.id)
                if old is None:
                    summary.added += 1
                    summary.added_titles.append(article.title)
                elif old[0] != article.content_hash():
                    summary.updated += 1
                else:
                    summary.unchanged += 1
                    if not full:
                        continue
                spool.add(self.plan(article))

        for skip in skips:
            self.log(f"skipped: {skip.path}: {skip.reason}")
        summary.skipped = len(skips)
        summary.skips = skips
        return summary, seen, fingerprints

    def _commit(
        self,
        summary: UpdateSummary,
        spool: PlanSpool,
        removed: list[str],
        fingerprints: dict[str, tuple[int, int]],
        full: bool,
        stored: StoredState,
        signature: str,
        progress: bool,
    ) -> None:
        """Embed what no cache holds, and commit the spooled articles and the removals as the next version."""
        vectors, summary.embedded = self._vectors(spool, progress)
        rows = SpooledRows(spool, stored.next_passage_id)  # passage ids are never reused
        generation = stored.generation + 1
        # The vectors' own length (a new model may have another), else the index's when only removals happened.
        dimension = len(next(iter(vectors.values()))[0]) if vectors else stored.dimension or self.embedder.dimension
        change = Change(
            full, spool, removed, rows, vectors, fingerprints, generation, rows.first_id + len(rows), signature,
            self.embedder.key, dimension,
        )
        summary.passages = self.writer.commit(change, progress)
        self.writer.tidy(generation, self.embedder.key)
        summary.generation = generation
        # Answerable from here; what the update piled up is merged after, as a version of its own (and folded once
        # past a share of the index, after the session: `fold`).
        try:
            summary.generation = self.writer.compact(progress) or generation
        except Exception as exc:  # (a full disk, say): the update stands, and the next one that commits compacts
            self.log(f"The update is committed but compacting the index failed ({exc}); the next update that commits "
                     "tries again.")

    @staticmethod
    def plan(article: Article) -> _Planned:
        """The article cut into passages, with what the model reads of each hashed."""
        passages = split_passages(article.text)
        return _Planned(article, passages, [_text_hash(embed_text(article.title, article.text[p.start : p.end])) for p in passages])

    def _vectors(self, planned: PlanSpool, progress: bool) -> tuple[Vectors, int]:
        """Passage and sentence vectors of every planned passage, and how many were computed rather than cached.

        What is computed goes to the engine's cache at once and is not held here: the engine hands every vector
        back (reading it from its store as asked), so a big corpus is never in memory as vectors.
        """
        model = self.embedder.key
        counts: dict[bytes, int] = {}  # each text's sentence count: its vectors are kept only if it still has as many
        for digest, sentences in planned.passage_hashes():
            counts.setdefault(digest, sentences)
        vectors = self.writer.cached_vectors(model, counts)
        missing = {digest for digest in counts if digest not in vectors}
        if not missing:
            return vectors, 0
        total = len(missing)
        bar = tqdm(total=total, desc="Embedding", unit="passage", disable=not progress)
        started, done = time.monotonic(), 0

        def on_batch(count: int) -> None:
            nonlocal done
            bar.update(count)
            done += count
            if self.on_progress:
                rate = done / max(time.monotonic() - started, 1e-6)
                self.on_progress(done, total, (total - done) / rate)

        if self.on_progress:
            self.on_progress(0, total, None)
        try:
            window: list[tuple[bytes, tuple[str, str, list[tuple[int, int]]]]] = []
            for plan in planned:  # in spool order; what the model reads is cut from each article as it comes
                for ordinal, digest in enumerate(plan.hashes):
                    if digest in missing:
                        missing.discard(digest)  # each text once
                        window.append((digest, plan.embedding_item(ordinal)))
                if len(window) >= EMBED_WINDOW:
                    self._embed(window, on_batch)
                    window = []
            self._embed(window, on_batch)
        finally:
            bar.close()
        del vectors  # (it may hold a scratch copy of the committed vectors: not two at once)
        return self.writer.cached_vectors(model, counts), total

    def _embed(self, window: list[tuple[bytes, tuple[str, str, list[tuple[int, int]]]]], on_batch: Callable[[int], None]) -> None:
        """Embed a window of texts, longest first (similar lengths batch well), into the engine's cache a chunk at a time."""
        model = self.embedder.key
        window.sort(key=lambda entry: len(entry[1][0]) + len(entry[1][1]), reverse=True)
        for i in range(0, len(window), CACHE_CHUNK):
            chunk = window[i : i + CACHE_CHUNK]
            passages, sentences = self.embedder.encode_with_sentences([item for _, item in chunk], on_batch=on_batch)
            # Sentence vectors are stored as float16 (the cache, the index).
            self.writer.cache_vectors(
                model,
                [(digest, vec, np.asarray(sent, dtype=SENTENCE_DTYPE)) for (digest, _), vec, sent in zip(chunk, passages, sentences)],
            )
