"""Find article files and read text, Markdown and HTML ones; JSON records are read by `records`.

Every reader returns `Article`s or a `Skip` naming the file and the reason, so one bad file
never stops a run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

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
from index.reading.bounded import NotRegular, TooLarge, kind_of, open_regular, read_at_most
from index.reading.records import RECORD_SUFFIXES, read_records

__all__ = ["Article", "Skip", "derive_title", "discover", "normalize_date", "read_file", "suffix_of"]

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + RECORD_SUFFIXES


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
    title = clean(meta.get("title")) or derive_title(body)
    return Article(
        id=clean(meta.get("id")) or file_article_id(path),
        title=title,
        text=body,
        url=web_url(meta.get("url"), notes),
        source=clean(meta.get("source")),
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
    notes: list[str] = []
    return Article(
        id=file_article_id(path),
        title=clean(doc.title) or derive_title(text),
        text=text,
        url=web_url(doc.url, notes),
        source=clean(doc.sitename),
        published=normalize_date(doc.date),
        path=str(path),
        notes=notes,
    )
