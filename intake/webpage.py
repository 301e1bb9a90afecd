"""Turn a fetched HTML page into a news article (title, main text, date, canonical url, site)
with trafilatura, and write it as an article file with YAML front matter."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import frontmatter

from index.reading import derive_title, normalize_date
from intake.fetch import Fetched, FetchError

MIN_ARTICLE_WORDS = 30  # less than this is navigation or a teaser, not an article


@dataclass
class WebArticle:
    """An article extracted from a web page, ready to be saved as a `.md` article file."""

    url: str  # canonical url when the page names one, else the url it was fetched from
    fetched_url: str
    title: str
    text: str
    source: str
    published: str | None

    @property
    def article_id(self) -> str:
        """A stable id derived from the canonical url, so re-adding a page never creates a second article."""
        return "web-" + hashlib.sha1(self.url.encode("utf-8")).hexdigest()[:16]

    def file_name(self) -> str:
        """A readable, unique file name: a slug of the title plus the id's hash."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")[:60].rstrip("-") or "article"
        return f"{slug}-{self.article_id[4:12]}.md"

    def to_markdown(self) -> str:
        """The article file: front matter (id, title, url, source, published) and the text."""
        meta = {"id": self.article_id, "title": self.title, "url": self.url, "source": self.source}
        if self.published:
            meta["published"] = self.published
        return frontmatter.dumps(frontmatter.Post(self.text, **meta), sort_keys=False) + "\n"


def clean_url(url: str) -> str:
    """The url without its #fragment and with a lower-case scheme and host, for comparing pages."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def site_name(url: str) -> str:
    """A source name from a url's host when the page names none: `www.example.com` -> `example.com`."""
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")


def _usable_canonical(url: str | None) -> bool:
    """True for a well-formed http(s) canonical url without a user name or password (never stored)."""
    if not url or not url.startswith(("http://", "https://")):
        return False
    try:
        return "@" not in urlsplit(url).netloc and urlsplit(url).hostname is not None
    except ValueError:
        return False


def extract(page: Fetched, title_hint: str | None = None, published_hint: str | None = None) -> WebArticle:
    """The article in an HTML page; `FetchError` when the page has no article text.

    Hints (from a feed item) fill in a title or date the page itself does not give.
    """
    from trafilatura import bare_extraction  # heavy import, only when a page is added

    html: str | bytes = page.body
    if page.charset:
        try:
            html = page.body.decode(page.charset, errors="replace")
        except LookupError:  # unknown charset name: let trafilatura detect the encoding
            pass
    doc = bare_extraction(html, url=page.url, with_metadata=True, include_comments=False)
    lines = [line.strip() for line in ((doc.text or "") if doc is not None else "").splitlines()]
    text = "\n\n".join(line for line in lines if line)
    if len(text.split()) < MIN_ARTICLE_WORDS:
        raise FetchError("no article text found on the page")
    canonical = doc.url if _usable_canonical(doc.url) else page.url
    return WebArticle(
        url=clean_url(canonical),
        fetched_url=page.url,
        title=(doc.title or "").strip() or (title_hint or "").strip() or derive_title(text),
        text=text,
        source=(doc.sitename or "").strip() or site_name(canonical),
        published=normalize_date(doc.date) or normalize_date(published_hint),
    )
