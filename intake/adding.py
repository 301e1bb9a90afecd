"""Add web pages to the corpus: fetch, extract, skip pages already indexed, save article files, index them.

All-or-nothing per page: a page's file stays in the articles folder only once the index holds
its article, so a failed add leaves neither a stray file nor a half-indexed article.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from index import Index
from intake.fetch import FetchError, FetchSettings, check_url, fetch, redact
from intake.webpage import WebArticle, clean_url, extract

DEFAULT_WAIT = 120.0  # seconds to wait for another update (the watcher) to finish
NOT_TRIED = "not tried: stopping"

log = logging.getLogger("newsbot.adding")


@dataclass
class AddResult:
    """What happened to one URL: added (with title and passage count), already indexed, or why not."""

    url: str
    ok: bool
    title: str | None = None
    passages: int = 0
    reason: str | None = None
    duplicate: bool = False
    article_id: str | None = None
    path: Path | None = None
    transient: bool = False  # the failure may go away when tried again later

    def line(self) -> str:
        """One line for the terminal or a chat reply."""
        if self.ok:
            return f"added: “{self.title}” ({self.passages} passage{'' if self.passages == 1 else 's'}) from {self.url}"
        if self.duplicate:
            return f"already indexed: “{self.title}” ({self.url})"
        return f"not added: {self.url}: {self.reason}"


@dataclass(frozen=True)
class Hint:
    """What a feed item says about its page, used when the page itself does not say it."""

    title: str | None = None
    published: str | None = None


def unexpected(exc: Exception) -> str:
    """A one-line reason for an error nobody foresaw (its traceback belongs in the log)."""
    return " ".join(f"unexpected error: {type(exc).__name__}: {exc}".split())


def _with_scheme(url: str) -> str:
    url = url.strip().strip("<>")
    return url if "://" in url else "https://" + url


def find_indexed(index: Index, urls: Iterable[str] = (), text: str | None = None) -> tuple[str, str] | None:
    """(id, title) of an indexed article with one of these urls or exactly this text, else None."""
    return index.find_article({clean_url(u) for u in urls} | {u.strip() for u in urls}, text)


def save_article(article: WebArticle, folder: Path) -> Path:
    """Write the article file atomically (a hidden temp file renamed), so a watcher never reads half of it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / article.file_name()
    fd, tmp = tempfile.mkstemp(prefix=".adding-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(article.to_markdown())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _prepare(
    index: Index, url: str, settings: FetchSettings, hint: Hint, batch: dict[str, WebArticle]
) -> AddResult | WebArticle:
    """Fetch and extract one page, or the result that ends its journey (failure or duplicate)."""
    try:
        target = check_url(_with_scheme(url))
        known = find_indexed(index, [target])
        if known is None:
            page = fetch(target, settings)
            article = extract(page, hint.title, hint.published)
            known = find_indexed(index, [article.url, article.fetched_url], article.text)
    except FetchError as exc:
        return AddResult(url, ok=False, reason=str(exc), transient=exc.transient)
    except Exception as exc:  # one page's surprise must not stop the pages after it
        log.exception("adding %s failed unexpectedly", url)
        return AddResult(url, ok=False, reason=unexpected(exc))
    if known is not None:
        return AddResult(url, ok=False, duplicate=True, article_id=known[0], title=known[1])
    same = next((a for a in batch.values() if a.url == article.url or a.text == article.text), None)
    if same is not None:
        return AddResult(url, ok=False, duplicate=True, article_id=same.article_id, title=same.title)
    return article


def add_urls(
    index: Index,
    urls: Iterable[str],
    settings: FetchSettings | None = None,
    hints: Mapping[str, Hint] | None = None,
    wait: float = DEFAULT_WAIT,
    stop: threading.Event | None = None,
) -> list[AddResult]:
    """Fetch each URL, save its article in the articles folder and index them all in one update.

    Returns one `AddResult` per distinct URL, in order, its url shown without any password. Never
    raises for a bad page; if the index update itself fails, every page of the batch is reported as
    not added and its file removed. Once `stop` is set, the URLs not fetched yet are skipped (a
    transient failure, reason `NOT_TRIED`); the rest are indexed.
    """
    settings = settings or FetchSettings.from_env()
    hints = hints or {}
    results: dict[str, AddResult] = {}
    batch: dict[str, WebArticle] = {}
    for url in dict.fromkeys(u.strip() for u in urls if u.strip()):
        if stop is not None and stop.is_set():
            results[url] = AddResult(url, ok=False, reason=NOT_TRIED, transient=True)
            continue
        prepared = _prepare(index, url, settings, hints.get(url, Hint()), batch)
        if isinstance(prepared, AddResult):
            results[url] = prepared
        else:
            batch[url] = prepared
            results[url] = AddResult(url, ok=False, title=prepared.title, article_id=prepared.article_id)
    if batch:
        _index_batch(index, batch, results, wait)
    for result in results.values():
        result.url = redact(result.url)  # a refused `user:password@` URL is echoed to the user, maybe in chat
    return list(results.values())


def _index_batch(index: Index, batch: dict[str, WebArticle], results: dict[str, AddResult], wait: float) -> None:
    """Save the batch's files and index them; remove the file of every page that did not make it in."""
    folder = index.settings.articles_dir
    for url, article in batch.items():
        try:
            results[url].path = save_article(article, folder)
        except OSError as exc:
            results[url].reason, results[url].transient = f"cannot save the article file: {exc}", True
    saved = [url for url in batch if results[url].path]
    if not saved:
        return
    # Before the first update, the whole folder: indexing only these files would create an index
    # that holds them alone, and nothing would ever index the articles already in the folder.
    paths = [results[url].path for url in saved] if index.exists() else [folder]
    try:
        summary = index.update(paths, progress=False, wait=wait)
        reasons = {Path(skip.path).resolve(): skip.reason for skip in summary.skips}
        for url in saved:
            result = results[url]
            stored = index.article(batch[url].article_id)
            if stored is not None:
                result.ok, result.passages = True, len(stored.passages)
            else:
                result.reason = reasons.get(result.path.resolve(), "the article could not be indexed")
    except Exception as exc:
        for url in saved:
            results[url].reason = f"indexing failed: {exc}"
            results[url].transient = True
    finally:
        for url in saved:
            result = results[url]
            if not result.ok and result.path is not None:
                result.path.unlink(missing_ok=True)
                result.path = None
