"""Read articles from JSON records: one JSON document or JSON Lines, optionally gzip-compressed.

Everything is bounded while decompressing, so a small hostile file costs little: a line over
`record_limit` is skipped without being kept, a JSON Lines file stops after `MAX_FILE_BYTES` read,
after `MAX_KEPT_BYTES` of lines kept as articles, or once a `.gz` expands more than
`bounded.MAX_RATIO` times its size; at most `MAX_SKIPS` bad lines are named one by one, and a
whole JSON document over `MAX_DOCUMENT_BYTES` is not read.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from index.reading import (
    Article,
    Skip,
    clean,
    decode_text,
    derive_title,
    looks_binary,
    normalize_date,
    sanitize,
    web_url,
)
from index.reading.bounded import NotRegular, Overexpanded, TooLarge, bounded_lines, open_stream, read_at_most

LINES_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")  # always JSON Lines, whatever the first line
RECORD_SUFFIXES = (".json", ".json.gz") + LINES_SUFFIXES
MAX_FILE_BYTES = 1_000_000_000  # decompressed bytes read from one JSON Lines file
MAX_KEPT_BYTES = 200_000_000  # bytes of JSON lines kept as articles from one file (all held in memory)
MAX_DOCUMENT_BYTES = 100_000_000  # a whole JSON document is parsed in memory, so it must stay smaller
MAX_SKIPS = 20  # bad lines named one by one per file; the rest are counted on one line
JSON_ESCAPE_RATIO = 6  # JSON may write one byte of text as six (`\u0001`)


@dataclass
class _Found:
    """What one file gave so far: articles, skips (at most `MAX_SKIPS` named, the rest counted) and bytes kept."""

    path: Path
    articles: list[Article] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    more_skips: int = 0
    kept: int = 0

    def skip(self, where: str, reason: str) -> None:
        """Name a bad record, or only count it once `MAX_SKIPS` are named (a million bad lines make one line)."""
        if len(self.skips) < MAX_SKIPS:
            self.skips.append(Skip(where, reason))
        else:
            self.more_skips += 1

    def stop(self, reason: str) -> None:
        """Name why the rest of the file is not read (always shown, whatever the count)."""
        self.skips.append(Skip(str(self.path), reason))

    def result(self) -> tuple[list[Article], list[Skip]]:
        """The articles and skips, with one line for the bad records not named."""
        skips = list(self.skips)
        if self.more_skips:
            skips.append(Skip(str(self.path), f"… and {self.more_skips:,} more lines skipped"))
        return self.articles, skips


def record_limit(max_bytes: int) -> int:
    """The longest JSON line read: an article at the limit, written with JSON escapes, plus its metadata."""
    return JSON_ESCAPE_RATIO * max_bytes + 65_536


def read_records(path: Path, max_bytes: int) -> tuple[list[Article], list[Skip]]:
    """JSON (one record, a list, or {"articles": [...]}) or JSON Lines, optionally gzip-compressed.

    `.jsonl`/`.ndjson` files are always read as JSON Lines; a `.json` file is read as one document
    unless its first line is a whole record (JSON Lines under a `.json` name).
    """
    lines_only = path.name.lower().endswith(LINES_SUFFIXES)
    try:
        with open_stream(path) as stream:
            head = stream.peek(8192)[:8192]
            if looks_binary(head):
                return [], [Skip(str(path), "binary file, not JSON")]
            if lines_only or not head.lstrip().startswith(b"["):
                read = _read_lines(path, stream, max_bytes, documents=not lines_only)
                if read is not None:
                    return read
        return _read_document(path, max_bytes)
    except NotRegular as exc:
        return [], [Skip(str(path), f"not a regular file ({exc.strerror})")]
    except (OSError, EOFError, zlib.error) as exc:  # also a damaged or truncated .gz
        return [], [Skip(str(path), f"cannot read: {getattr(exc, 'strerror', None) or exc}")]


def _read_lines(
    path: Path, stream: BinaryIO, max_bytes: int, documents: bool
) -> tuple[list[Article], list[Skip]] | None:
    """JSON Lines records; None when `documents` and the first line is the start of a multi-line JSON document."""
    found = _Found(path)
    limit = record_limit(max_bytes)
    content = False
    try:
        for number, line in bounded_lines(stream, limit, MAX_FILE_BYTES):
            where = f"{path}:{number}"
            if line is not None and not line.strip():
                continue
            first, content = not content, True
            if line is None:
                found.skip(where, f"record larger than the {limit:,}-byte limit of a JSON line (from NEWSBOT_MAX_ARTICLE_BYTES), not read")
                continue
            text, note = decode_text(line)
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                if first and documents and text.lstrip().startswith("{"):
                    return None  # a pretty-printed JSON object, read as one document
                found.skip(where, f"line is not valid JSON ({exc.msg})")
                continue
            except RecursionError:
                found.skip(where, "line is not valid JSON (nested too deeply)")
                continue
            before = len(found.articles)
            _collect(path, _records_in(value, where, lists=False), note, max_bytes, found)
            found.kept += len(line) if len(found.articles) > before else 0
            if found.kept > MAX_KEPT_BYTES:
                found.stop(f"stopped after keeping {MAX_KEPT_BYTES:,} bytes of articles, the per-file limit; split the file to read the rest")
                break
    except Overexpanded as exc:
        found.stop(f"stopped: {exc}; a gzip bomb, or split the file")
    except TooLarge:
        found.stop(f"stopped after {MAX_FILE_BYTES:,} bytes, the per-file limit; split the file to read the rest")
    except (OSError, EOFError, zlib.error) as exc:  # a damaged or truncated .gz: keep what came before
        content = True
        found.stop(f"cannot read the rest: {getattr(exc, 'strerror', None) or exc}")
    if not content:
        return [], [Skip(str(path), "empty file")]
    return found.result()


def _read_document(path: Path, max_bytes: int) -> tuple[list[Article], list[Skip]]:
    """A whole JSON document (a list of records, or one object); read line by line if it does not parse."""
    with open_stream(path) as stream:
        try:
            data = read_at_most(stream, MAX_DOCUMENT_BYTES)
        except TooLarge:
            reason = f"a JSON document larger than {MAX_DOCUMENT_BYTES:,} bytes; write big collections as JSON Lines (.jsonl)"
            return [], [Skip(str(path), reason)]
    if not data.strip():
        return [], [Skip(str(path), "empty file")]
    text, note = decode_text(data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        with open_stream(path) as stream:
            return _read_lines(path, stream, max_bytes, documents=False) or ([], [])
    except RecursionError:
        return [], [Skip(str(path), "not valid JSON (nested too deeply)")]
    found = _Found(path)
    _collect(path, _records_in(value, str(path), lists=True), note, max_bytes, found)
    return found.result()


def _records_in(value: object, where: str, lists: bool) -> Iterator[tuple[str, object]]:
    """The records in a parsed JSON value: {"articles": [...]}, a list (if `lists`), or the value itself."""
    if isinstance(value, dict) and isinstance(value.get("articles"), list):
        value = value["articles"]
    elif not (lists and isinstance(value, list)):
        yield where, value
        return
    for number, record in enumerate(value, 1):
        yield f"{where}[{number}]", record


def _collect(
    path: Path, records: Iterable[tuple[str, object]], note: str | None, max_bytes: int, found: _Found
) -> None:
    """Turn records into articles (noting a decoding fallback) or skips; one odd record never costs the others."""
    for where, record in records:
        try:
            article = record_to_article(record, path, where, max_bytes)
        except Exception as exc:
            article = Skip(where, f"record not readable: {type(exc).__name__}: {exc}".splitlines()[0])
        if isinstance(article, Skip):
            found.skip(article.path, article.reason)
            continue
        if note:
            article.notes.append(note)
        found.articles.append(article)


def record_to_article(record: object, path: Path, where: str, max_bytes: int) -> Article | Skip:
    """Map a JSON record (`id`, `title`, `url`, `source`, `published`/`published_at`, `text`/`body`)."""
    if not isinstance(record, dict):
        return Skip(where, "record is not a JSON object")
    text = record.get("text")
    if text is None:
        text = record.get("body")
    if not isinstance(text, str) or not text.strip():
        return Skip(where, "record has no text (expected a 'text' or 'body' string)")
    text = sanitize(text)
    if len(text.encode("utf-8")) > max_bytes:
        return Skip(where, f"article text larger than the {max_bytes:,}-byte limit")
    notes: list[str] = []
    record_id = clean(record.get("id"))
    if record_id is None:  # from the url as written, kept or not, so an id never changes
        basis = clean(record.get("url")) or text
        record_id = "rec-" + hashlib.sha1(basis.encode("utf-8")).hexdigest()[:16]
    return Article(
        id=record_id,
        title=clean(record.get("title")) or derive_title(text),
        text=text,
        url=web_url(record.get("url"), notes),
        source=clean(record.get("source")),
        published=normalize_date(record.get("published") or record.get("published_at")),
        path=str(path),
        notes=notes,
    )
