"""Bring the index up to date with a set of article files, incrementally and atomically.

Unchanged files are recognised by size and modification time and not even read; unchanged
passages reuse cached vectors, so a re-run on an unchanged corpus never loads the model.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index.engines.common import SENTENCE_DTYPE
from index.engines.writer import Change, Vectors, Writer
from index.indexing.passages import MAX_WORDS, MIN_WORDS, TARGET_WORDS, Passage, split_passages
from index.models.embedder import Embedder
from index.reading.files import Article, Skip, discover, read_file
from index.settings import Settings

PIPELINE_VERSION = "3"  # 2: sentences may span hard-wrapped lines; 3: sentence vectors
CACHE_CHUNK = 64  # vectors computed between two commits of the embedding cache (what a crash can lose)

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

    def embedding_items(self) -> list[tuple[bytes, tuple[str, str, list[tuple[int, int]]]]]:
        """Per passage: its hash and what the model reads (title line, passage, sentence spans in the passage)."""
        prefix = embed_text(self.article.title, "")
        return [
            (digest, (prefix, self.article.text[p.start : p.end], [(s - p.start, e - p.start) for s, e in p.sentences]))
            for p, digest in zip(self.passages, self.hashes)
        ]


def _is_under(path: str, roots: list[Path]) -> bool:
    candidate = Path(path)
    return any(candidate == root or root in candidate.parents for root in roots)


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
    ) -> UpdateSummary:
        """Index `paths` (files or folders): add new articles, re-embed changed ones, drop deleted ones."""
        started = time.monotonic()
        roots = [Path(p).resolve() for p in paths]
        with self.writer.session(wait):
            summary = self._update(roots, rebuild, progress)
        summary.seconds = time.monotonic() - started
        return summary

    def _update(self, roots: list[Path], rebuild: bool, progress: bool) -> UpdateSummary:
        summary = UpdateSummary()
        stored = self.writer.state()
        generation = stored.generation
        signature = pipeline_signature(self.settings, self.embedder.key)
        full = rebuild or generation == 0 or stored.signature != signature
        if not full and not self.writer.complete(generation):
            self.log("The sentence vectors of the index are missing or unreadable: re-processing every article.")
            full = True
        if generation and not rebuild and stored.signature != signature:
            self.log("Settings or model changed since the last update: re-processing every article.")

        known_files = {} if full else stored.files
        known = stored.articles
        by_path: dict[str, list[str]] = {}
        for article_id, (_, path) in known.items():
            by_path.setdefault(path or "", []).append(article_id)

        to_read = list(roots)
        if full and not rebuild:  # re-process every known article, not only the paths given this time
            to_read += [Path(path) for path in by_path if path and Path(path).exists()]
        files, skips = discover(to_read)
        seen: dict[str, str] = {}  # article id -> file it came from
        fresh: list[Article] = []
        fingerprints: dict[str, tuple[int, int]] = {}
        for path in tqdm(files, desc="Reading", unit="file", disable=not progress or len(files) < 50, leave=False):
            key = str(path)
            try:
                stat = path.stat()
            except OSError:
                skips.append(Skip(key, "disappeared while indexing"))
                continue
            fingerprint = (stat.st_size, stat.st_mtime_ns)
            if known_files.get(key) == fingerprint:
                fingerprints[key] = fingerprint
                for article_id in by_path.get(key, []):
                    seen[article_id] = key
                continue
            articles, file_skips = read_file(path, self.settings.max_article_bytes)
            skips.extend(file_skips)
            if articles or not file_skips:
                fingerprints[key] = fingerprint
            for article in articles:
                if article.id in seen:
                    skips.append(Skip(key, f"duplicate article id {article.id!r} (already read from {seen[article.id]})"))
                    continue
                seen[article.id] = key
                for note in article.notes:
                    self.log(f"note: {key}: {note}")
                fresh.append(article)

        for skip in skips:
            self.log(f"skipped: {skip.path}: {skip.reason}")
        summary.skipped = len(skips)
        summary.skips = skips

        changed: list[Article] = []
        fresh_ids = {article.id for article in fresh}
        for article in fresh:
            old = known.get(article.id)
            if old is None:
                summary.added += 1
                summary.added_titles.append(article.title)
                changed.append(article)
            elif old[0] != article.content_hash() or full:
                if old[0] != article.content_hash():
                    summary.updated += 1
                else:
                    summary.unchanged += 1
                changed.append(article)
            else:
                summary.unchanged += 1
        summary.unchanged += sum(1 for article_id in seen if article_id not in fresh_ids)

        # Decided once per file, not per article: a big index holds tens of thousands of articles in a few files.
        gone_files = {path for path in by_path if full or not path or _is_under(path, roots) or not Path(path).exists()}
        removed = [article_id for article_id, (_, path) in known.items() if article_id not in seen and (path or "") in gone_files]
        summary.removed = len(removed)

        if not changed and not removed and not full:
            summary.passages = self.writer.keep(generation, fingerprints, progress)
            summary.generation = generation
            return summary

        planned = [self._plan(article) for article in changed]
        vectors, summary.embedded = self._vectors(planned, progress)
        next_id = stored.next_passage_id  # passage ids are never reused
        rows = []
        for plan in planned:
            for ordinal, (passage, digest) in enumerate(zip(plan.passages, plan.hashes)):
                rows.append((next_id, plan, ordinal, passage, digest))
                next_id += 1
        new_generation = generation + 1
        # The vectors' own length (a new model may have another), else the index's when only removals happened.
        dimension = len(next(iter(vectors.values()))[0]) if vectors else stored.dimension or self.embedder.dimension
        change = Change(
            full, planned, removed, rows, vectors, fingerprints, new_generation, next_id, signature, self.embedder.key,
            dimension,
        )
        summary.passages = self.writer.commit(change, progress)
        self.writer.tidy(new_generation, self.embedder.key)
        summary.generation = new_generation
        return summary

    def _plan(self, article: Article) -> _Planned:
        passages = split_passages(article.text)
        return _Planned(article, passages, [_text_hash(embed_text(article.title, article.text[p.start : p.end])) for p in passages])

    def _vectors(self, planned: list[_Planned], progress: bool) -> tuple[Vectors, int]:
        """Passage and sentence vectors of every planned passage, and how many were computed rather than cached.

        What is computed goes to the engine's cache at once and is not held here: the engine hands every vector
        back (reading it from its store as asked), so a big corpus is never in memory as vectors.
        """
        model = self.embedder.key
        wanted: dict[bytes, tuple[str, str, list[tuple[int, int]]]] = {}
        for plan in planned:
            wanted.update(plan.embedding_items())
        counts = {digest: len(item[2]) for digest, item in wanted.items()}
        vectors = self.writer.cached_vectors(model, counts)
        missing = [(digest, item) for digest, item in wanted.items() if digest not in vectors]
        del wanted
        if not missing:
            return vectors, 0
        missing.sort(key=lambda m: len(m[1][0]) + len(m[1][1]), reverse=True)  # similar lengths batch well
        bar = tqdm(total=len(missing), desc="Embedding", unit="passage", disable=not progress)
        started, done = time.monotonic(), 0

        def on_batch(count: int) -> None:
            nonlocal done
            bar.update(count)
            done += count
            if self.on_progress:
                rate = done / max(time.monotonic() - started, 1e-6)
                self.on_progress(done, len(missing), (len(missing) - done) / rate)

        if self.on_progress:
            self.on_progress(0, len(missing), None)
        try:
            for i in range(0, len(missing), CACHE_CHUNK):
                chunk = missing[i : i + CACHE_CHUNK]
                passages, sentences = self.embedder.encode_with_sentences([item for _, item in chunk], on_batch=on_batch)
                # Sentence vectors are stored as float16 (the cache, the index).
                self.writer.cache_vectors(
                    model,
                    [
                        (digest, vec, np.asarray(sent, dtype=SENTENCE_DTYPE))
                        for (digest, _), vec, sent in zip(chunk, passages, sentences)
                    ],
                )
        finally:
            bar.close()
        return self.writer.cached_vectors(model, counts), len(missing)
