"""Filters written into a question — `source:reuters`, `site:apnews.com`, `after:2025-01-01`,
`before:…`, `on:…`, `during:2025-01` or `during:2025`, and `-source:…` / `-site:…` to exclude — parsed
out of the question and turned into the set of articles a search may quote.

Like Slack's own search modifiers: several may be combined (sources and sites each match any of
theirs; dates narrow together). A malformed value is a `FilterError` naming it, never dropped.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlsplit

# A value in straight or curly quotes (Slack's clients often curl them) may hold spaces.
_FILTER = re.compile(
    r'(?<!\S)(-?)(source|site|after|before|on|during):(?:"([^"]*)"|“([^”]*)”|(\S*))', re.IGNORECASE
)
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
_YEAR = re.compile(r"\d{4}", re.ASCII)
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


class FilterError(ValueError):
    """A filter in the question is malformed; the message names it."""


@dataclass(frozen=True)
class Filters:
    """What a question's filters allow: sources and sites (any of), excluded ones, a span of publication days."""

    sources: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    not_sources: tuple[str, ...] = ()
    not_sites: tuple[str, ...] = ()
    start: date | None = None  # first allowed day
    end: date | None = None  # last allowed day
    given: tuple[str, ...] = field(default=(), compare=False)  # the filters as written, for messages

    def __bool__(self) -> bool:
        return bool(self.sources or self.sites or self.not_sources or self.not_sites or self.start or self.end)

    def _allows(self, name: str, host: str, day: date | None) -> bool:
        if self.sources and name not in self.sources:
            return False
        if name and name in self.not_sources:
            return False
        if self.sites and not any(_on_site(host, site) for site in self.sites):
            return False
        if any(_on_site(host, site) for site in self.not_sites):
            return False
        if self.start or self.end:
            if day is None or (self.start and day < self.start) or (self.end and day > self.end):
                return False
        return True

    def article_ids(self, catalog: Catalog) -> set[str]:
        """Ids of the indexed articles that pass every filter."""
        return {aid for aid, name, host, day in catalog.rows if self._allows(name, host, day)}

    def describe(self) -> str:
        """How the filters read, for the answer's grey line: 'from Reuters published after 1 Jan 2025'."""
        parts = []
        if self.sources:
            parts.append("from " + " or ".join(_title(s) for s in self.sources))
        if self.sites:
            parts.append("on " + " or ".join(self.sites))
        if self.not_sources or self.not_sites:
            parts.append("not from " + " or ".join([_title(s) for s in self.not_sources] + list(self.not_sites)))
        if self.start and self.end and self.start == self.end:
            parts.append(f"published on {_show(self.start)}")
        elif self.start and self.end:
            parts.append(f"published {_show(self.start)} to {_show(self.end)}")
        elif self.start:
            parts.append(f"published after {_show(self.start - timedelta(days=1))}")
        elif self.end:
            parts.append(f"published before {_show(self.end + timedelta(days=1))}")
        return " ".join(parts)


class Catalog:
    """What filters look at for every article of one index version: id, source, host, publication day."""

    def __init__(self, articles: Iterable[tuple[str, str | None, str | None, str | None]]) -> None:
        """From (article id, source, url, published) rows (`Snapshot.catalog_rows`)."""
        self.rows = [(aid, (source or "").casefold(), _host(url), _day(published)) for aid, source, url, published in articles]


def parse(question: str) -> tuple[str, Filters]:
    """The question without its filters, and the filters; `FilterError` for a malformed one."""
    sources: list[str] = []
    sites: list[str] = []
    not_sources: list[str] = []
    not_sites: list[str] = []
    start: date | None = None
    end: date | None = None
    given: list[str] = []
    for match in _FILTER.finditer(question):
        negated, key = match.group(1) == "-", match.group(2).lower()
        value = next(v for v in (match.group(3), match.group(4), match.group(5)) if v is not None).strip()
        written = match.group(0)
        given.append(written)
        if not value:
            raise FilterError(f"`{written}` needs a value, e.g. {key}:{_EXAMPLES[key]}")
        if key in ("source", "site"):
            if key == "site":
                value = value.lower().removeprefix("www.")
                if not _HOST.fullmatch(value):
                    raise FilterError(f"`{written}` is not a site name, e.g. site:apnews.com")
            else:
                value = value.casefold()
            target = {("source", False): sources, ("source", True): not_sources,
                      ("site", False): sites, ("site", True): not_sites}[(key, negated)]
            target.append(value)
            continue
        if negated:
            raise FilterError(f"`{written}`: dates cannot be excluded; use after: and before:")
        first, last = _span(value, key, written)
        try:
            if key == "after":
                first, last = last + timedelta(days=1), None
            elif key == "before":
                first, last = None, first - timedelta(days=1)
        except OverflowError:
            raise FilterError(f"`{written}` leaves no day to search") from None
        start = max(filter(None, (start, first)), default=None)
        end = min(filter(None, (end, last)), default=None)
    if start and end and start > end:
        raise FilterError(f"{' '.join(given)}: no day is in all of these")
    rest = " ".join(_FILTER.sub(" ", question).split())
    filters = Filters(tuple(sources), tuple(sites), tuple(not_sources), tuple(not_sites), start, end, tuple(given))
    return rest, filters


_EXAMPLES = {"source": "reuters", "site": "apnews.com", "after": "2025-01-01", "before": "2025-02-01",
             "on": "2025-01-10", "during": "2025-01"}


def _span(value: str, key: str, written: str) -> tuple[date, date]:
    """The first and last day a date value names: a day, or (for during:) a month or a year."""
    try:
        if match := _DAY.fullmatch(value):
            day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            return day, day
        if key == "during" and (match := _MONTH.fullmatch(value)):
            year, month = int(match.group(1)), int(match.group(2))
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        if key == "during" and _YEAR.fullmatch(value):
            return date(int(value), 1, 1), date(int(value), 12, 31)
    except ValueError:
        raise FilterError(f"`{written}` is not a real date (use YYYY-MM-DD, e.g. {key}:{_EXAMPLES[key]})") from None
    raise FilterError(f"`{written}` is not a date (use YYYY-MM-DD, e.g. {key}:{_EXAMPLES[key]})")


def _host(url: str | None) -> str:
    try:
        return (urlsplit(url or "").hostname or "").lower().removeprefix("www.")
    except ValueError:
        return ""


def _on_site(host: str, site: str) -> bool:
    """True when `host` is `site` or one of its subdomains."""
    return bool(host) and (host == site or host.endswith("." + site))


def _day(published: str | None) -> date | None:
    match = _DAY.match(published or "")
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None
    except ValueError:
        return None


def _show(day: date) -> str:
    return f"{day.day} {day.strftime('%b')} {day.year}"


def _title(source: str) -> str:
    return source if any(ch.isupper() for ch in source) else source.title()
