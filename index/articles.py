"""Read articles from files: text/markdown with front matter, HTML, JSON and JSON Lines records.

Every reader returns `Article`s or a `Skip` naming the file and the reason, so one bad file
never stops a run.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
RECORD_SUFFIXES = (".json", ".jsonl", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + RECORD_SUFFIXES
MAX_TITLE_CHARS = 100


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
    """Expand files and folders (recursively) into article files; hidden entries are ignored."""
    found: list[Path] = []
    skipped: list[Skip] = []
    for root in paths:
        if not root.exists():
            skipped.append(Skip(str(root), "no such file or folder"))
            continue
        candidates = [root] if root.is_file() else sorted(
            p for p in root.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
        for path in candidates:
            if suffix_of(path) in SUPPORTED_SUFFIXES:
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
        if path.stat().st_size > max_bytes:
            return [], [Skip(str(path), f"larger than the {max_bytes:,}-byte article limit")]
        data = path.read_bytes()
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


def _open_records(path: Path) -> bytes:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        return handle.read()


def read_records(path: Path, max_bytes: int) -> tuple[list[Article], list[Skip]]:
    """JSON (one record, a list, or {"articles": [...]}) or JSON Lines, optionally gzip-compressed."""
    try:
        data = _open_records(path)
    except (OSError, EOFError, zlib.error) as exc:
        return [], [Skip(str(path), f"cannot read: {exc}")]
    if not data.strip():
        return [], [Skip(str(path), "empty file")]
    if looks_binary(data):
        return [], [Skip(str(path), "binary file, not JSON")]
    text, note = decode_text(data)
    articles: list[Article] = []
    skips: list[Skip] = []
    for where, record in _parse_records(path, text, skips):
        try:
            article = record_to_article(record, path, where, max_bytes)
        except Exception as exc:  # one odd record must not cost the others
            article = Skip(where, f"record not readable: {type(exc).__name__}: {exc}".splitlines()[0])
        if isinstance(article, Skip):
            skips.append(article)
            continue
        if note:
            article.notes.append(note)
        articles.append(article)
    return articles, skips


def _parse_records(path: Path, text: str, skips: list[Skip]) -> Iterator[tuple[str, object]]:
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and "\n{" not in stripped.rstrip()):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None
        if whole is not None:
            if isinstance(whole, dict) and isinstance(whole.get("articles"), list):
                whole = whole["articles"]
            records = whole if isinstance(whole, list) else [whole]
            for number, record in enumerate(records, 1):
                yield f"{path}[{number}]", record
            return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", json.loads(line)
        except json.JSONDecodeError as exc:
            skips.append(Skip(f"{path}:{number}", f"line is not valid JSON ({exc.msg})"))


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
