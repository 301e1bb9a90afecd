"""Read articles from files: text/markdown with front matter, HTML, JSON and JSON Lines records.

Every reader returns `Article`s or a `Skip` naming the file and the reason, so one bad file
never stops a run.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from .bounded import NotRegular, TooLarge, bounded_lines, kind_of, open_regular, open_stream, read_at_most

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
RECORD_SUFFIXES = (".json", ".jsonl", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + RECORD_SUFFIXES
MAX_TITLE_CHARS = 100
MAX_FILE_BYTES = 1_000_000_000  # decompressed bytes read from one JSON Lines file
MAX_DOCUMENT_BYTES = 100_000_000  # a whole JSON document is parsed in memory, so it must stay smaller
JSON_ESCAPE_RATIO = 6  # JSON may write one byte of text as six (`\u0001`)


@dataclass
class Article:
    """One news article as stored: `text` is what every quote is sliced from."""

    id: str
    title: str
    text: str
    url: str | None = None
    source: str | None = None
    published: str | None = None
    path: str | None = None
    notes: list[str] = field(default_factory=list)

    def content_hash(self) -> str:
        """Hash of everything stored about the article, to tell an unchanged article from a changed one."""
        payload = json.dumps([self.title, self.text, self.url, self.source, self.published, self.path])
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Skip:
    """A file or record that could not be indexed, and why."""

    path: str
    reason: str


def suffix_of(path: Path) -> str:
    """The file's format suffix, lower-cased, including a compression suffix such as `.jsonl.gz`."""
    name = path.name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Skip]]:
    """Expand files and folders (recursively) into article files; hidden entries are ignored.

    What is neither a file nor a folder (a FIFO, a socket, a device, a broken symlink, a symlink
    loop) and a symlink to a folder (not followed, so no loop can form) is named as a `Skip`.
    """
    found: list[Path] = []
    skipped: list[Skip] = []
    for root in paths:
        kind = kind_of(root)
        if kind is not None:
            skipped.append(Skip(str(root), f"not a regular file ({kind})"))
            continue
        if not root.exists():
            skipped.append(Skip(str(root), "no such file or folder"))
            continue
        candidates = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
        for path in candidates:
            kind = kind_of(path)
            if kind is not None:
                skipped.append(Skip(str(path), f"not a regular file ({kind})"))
            elif path.is_dir():
                if path.is_symlink():
                    skipped.append(Skip(str(path), "a symlink to a folder, not followed"))
            elif suffix_of(path) in SUPPORTED_SUFFIXES:
                found.append(path.resolve())
            else:
                skipped.append(Skip(str(path), f"unsupported file type {path.suffix or '(none)'!r}"))
    return sorted(set(found)), skipped


def file_article_id(path: Path) -> str:
    """A stable id for an article file: a readable slug of its name plus a hash of its full path."""
    slug = re.sub(r"[^a-z0-9]+", "-", path.name.lower().split(".")[0]).strip("-")[:40] or "article"
    return f"{slug}-{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Decode bytes as UTF-8, else Windows-1252, else Latin-1; the second value notes a fallback."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    for encoding in ("cp1252", "latin-1"):
        try:
            return data.decode(encoding), f"not valid UTF-8, decoded as {encoding}"
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")


def looks_binary(data: bytes) -> bool:
    """True for data that is clearly not text (NUL bytes near the start)."""
    return b"\x00" in data[:8192]


def derive_title(text: str) -> str:
    """A title for an article that has none: its first line or sentence, shortened."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = first.lstrip("#").strip()
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    if len(sentence) <= MAX_TITLE_CHARS:
        return sentence
    cut = sentence[:MAX_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-— ") + "…"


def normalize_date(value: object) -> str | None:
    """An ISO date string for dates, datetimes and ISO-like strings; other strings pass through."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return text or None


def sanitize(text: str) -> str:
    """Make text safe to store without changing its length (offsets stay valid).

    A lone surrogate (a broken emoji escape in scraped JSON) cannot be encoded as UTF-8, and SQLite
    string functions stop at a NUL: each becomes one ordinary character.
    """
    if "\x00" in text:
        text = text.replace("\x00", " ")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _clean(value: object) -> str | None:
    text = sanitize(str(value)).strip() if value is not None else ""
    return text or None


def read_file(path: Path, max_bytes: int) -> tuple[list[Article], list[Skip]]:
    """Read one article file of any supported format; any failure becomes a `Skip`, never an exception."""
    try:
        return _read_file(path, max_bytes)
    except Exception as exc:  # a parser's surprise must not stop the run (or the watcher)
        return [], [Skip(str(path), f"cannot read: {type(exc).__name__}: {exc}".splitlines()[0])]


def _read_file(path: Path, max_bytes: int) -> tuple[list[Article], list[Skip]]:
    suffix = suffix_of(path)
    try:
        if suffix in RECORD_SUFFIXES:
            return read_records(path, max_bytes)
        with open_regular(path) as handle:
            data = read_at_most(handle, max_bytes)
    except TooLarge:
        return [], [Skip(str(path), f"larger than the {max_bytes:,}-byte article limit")]
    except NotRegular as exc:
        return [], [Skip(str(path), f"not a regular file ({exc.strerror})")]
    except OSError as exc:
        return [], [Skip(str(path), f"cannot read: {exc.strerror or exc}")]
    if not data.strip():
        return [], [Skip(str(path), "empty file")]
    if looks_binary(data):
        return [], [Skip(str(path), "binary file, not text")]
    text, note = decode_text(data)
    text = sanitize(text)
    article = read_html(path, text) if suffix in HTML_SUFFIXES else read_text(path, text)
    if isinstance(article, Skip):
        return [], [article]
    if note:
        article.notes.append(note)
    return [article], []


def read_text(path: Path, raw: str) -> Article | Skip:
    """A .txt/.md article, with optional YAML front matter (title, url, source, published, id)."""
    meta: dict = {}
    body = raw
    notes: list[str] = []
    if raw.startswith("---"):
        import frontmatter  # imported here: only front-matter files pay for the YAML parser

        try:
            post = frontmatter.loads(raw)
            meta, body = dict(post.metadata), post.content
        except Exception as exc:  # malformed YAML: keep the whole file as text
            notes.append(f"front matter not parsed ({type(exc).__name__}), kept as text")
    if not body.strip():
        return Skip(str(path), "no article text after the front matter")
    title = _clean(meta.get("title")) or derive_title(body)
    return Article(
        id=_clean(meta.get("id")) or file_article_id(path),
        title=title,
        text=body,
        url=_clean(meta.get("url")),
        source=_clean(meta.get("source")),
        published=normalize_date(meta.get("published") or meta.get("date")),
        path=str(path),
        notes=notes,
    )


def read_html(path: Path, html: str) -> Article | Skip:
    """An HTML page: main text, title, date and canonical url via trafilatura."""
    from trafilatura import bare_extraction  # heavy import, only when HTML is present

    doc = bare_extraction(html, with_metadata=True, include_comments=False)
    text = sanitize(doc.text or "") if doc is not None else ""
    if not text.strip():
        return Skip(str(path), "no article text found in the HTML")
    return Article(
        id=file_article_id(path),
        title=_clean(doc.title) or derive_title(text),
        text=text,
        url=_clean(doc.url),
        source=_clean(doc.sitename),
        published=normalize_date(doc.date),
        path=str(path),
    )


def record_limit(max_bytes: int) -> int:
    """The longest JSON line read: an article at the limit, written with JSON escapes, plus its metadata."""
    return JSON_ESCAPE_RATIO * max_bytes + 65_536


def read_records(path: Path, max_bytes: int) -> tuple[list[Article], list[Skip]]:
    """JSON (one record, a list, or {"articles": [...]}) or JSON Lines, optionally gzip-compressed.

    Read as a stream and bounded while decompressing: a line over `record_limit` is skipped without
    being kept, a JSON Lines file stops after `MAX_FILE_BYTES` (the records before it are kept) and a
    whole JSON document over `MAX_DOCUMENT_BYTES` is not read, so a gzip bomb costs no more than that.
    """
    try:
        with open_stream(path) as stream:
            head = stream.peek(8192)[:8192]
            if looks_binary(head):
                return [], [Skip(str(path), "binary file, not JSON")]
            if not head.lstrip().startswith(b"["):
                read = _read_lines(path, stream, max_bytes, documents=True)
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
    articles: list[Article] = []
    skips: list[Skip] = []
    limit = record_limit(max_bytes)
    content = False
    try:
        for number, line in bounded_lines(stream, limit, MAX_FILE_BYTES):
            where = f"{path}:{number}"
            if line is not None and not line.strip():
                continue
            first, content = not content, True
            if line is None:
                reason = f"record larger than the {limit:,}-byte limit of a JSON line (from NEWSBOT_MAX_ARTICLE_BYTES), not read"
                skips.append(Skip(where, reason))
                continue
            text, note = decode_text(line)
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                if first and documents and text.lstrip().startswith("{"):
                    return None  # a pretty-printed JSON object, read as one document
                skips.append(Skip(where, f"line is not valid JSON ({exc.msg})"))
                continue
            _collect(path, _records_in(value, where, lists=False), note, max_bytes, articles, skips)
    except TooLarge:
        reason = f"stopped after {MAX_FILE_BYTES:,} bytes, the per-file limit; split the file to read the rest"
        skips.append(Skip(str(path), reason))
    if not content:
        return [], [Skip(str(path), "empty file")]
    return articles, skips


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
    articles: list[Article] = []
    skips: list[Skip] = []
    _collect(path, _records_in(value, str(path), lists=True), note, max_bytes, articles, skips)
    return articles, skips


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
    path: Path,
    records: Iterable[tuple[str, object]],
    note: str | None,
    max_bytes: int,
    articles: list[Article],
    skips: list[Skip],
) -> None:
    """Turn records into articles (noting a decoding fallback) or skips; one odd record never costs the others."""
    for where, record in records:
        try:
            article = record_to_article(record, path, where, max_bytes)
        except Exception as exc:
            article = Skip(where, f"record not readable: {type(exc).__name__}: {exc}".splitlines()[0])
        if isinstance(article, Skip):
            skips.append(article)
            continue
        if note:
            article.notes.append(note)
        articles.append(article)


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
    url = _clean(record.get("url"))
    record_id = _clean(record.get("id"))
    if record_id is None:
        basis = url or text
        record_id = "rec-" + hashlib.sha1(basis.encode("utf-8")).hexdigest()[:16]
    return Article(
        id=record_id,
        title=_clean(record.get("title")) or derive_title(text),
        text=text,
        url=url,
        source=_clean(record.get("source")),
        published=normalize_date(record.get("published") or record.get("published_at")),
        path=str(path),
    )
