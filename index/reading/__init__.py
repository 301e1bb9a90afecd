"""Reading article files and records into `Article`s, within limits: text, Markdown and HTML files (`files`),
JSON records (`records`), bounded reads (`bounded`). What every reader shares is here: the `Article` and `Skip` it
returns, and decoding and cleaning text; code outside `index` imports these names from here (intake writes fetched
pages as article files with them)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime

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


WEB_SCHEMES = ("http://", "https://")


def web_url(value: object, notes: list[str]) -> str | None:
    """An article's url when it is an http(s) one; anything else (`javascript:`, `file:`, `data:`) is dropped with a
    note, so an answer never links to it (it links to the article page or file instead)."""
    url = clean(value)
    if url is None or url.lower().startswith(WEB_SCHEMES):
        return url
    notes.append(f"url {url[:60]!r} left out: only http and https links are kept")
    return None


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


def clean(value: object) -> str | None:
    """`value` as stripped, storable text, or None when it is empty or missing."""
    text = sanitize(str(value)).strip() if value is not None else ""
    return text or None
