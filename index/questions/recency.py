"""Time words in a question ("this week", "yesterday", "on Sunday") and how fresh an article is for them.

A news question that says "this week" is about articles published in the days before it was
asked; keyword and vector similarity cannot see that, the article's publication date can.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

_WEEKDAY = r"(on|last|this|next|since|by) (monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_DAY_WORD = re.compile(r"(\w+)?\W*\b(today|tonight|yesterday)\b", re.I)
# (pattern, how many days before the question an article still counts as fresh), first match wins.
_WINDOWS: list[tuple[re.Pattern[str], int]] = [
    (re.compile(r"\bthis (morning|afternoon|evening)\b", re.I), 3),
    (re.compile(rf"\b((this|last|past) (week|weekend)|{_WEEKDAY}|(monday|tuesday|wednesday|thursday|friday|saturday|sunday)[’']s|(the|this|last) (past )?few days)\b", re.I), 9),
    (re.compile(r"\b((this|last|past) month|(the|this|last) (past )?few weeks|recently)\b", re.I), 35),
]
FUTURE_SLACK_DAYS = 1  # an article dated the day after the question (time zones) still counts
CURRENT_DAYS = 30  # without time words, a news question is about the month before it was asked
_YEAR = re.compile(r"(?<![\w$£€.,-])(1[89]\d\d|20\d\d)(?![\w%-])")


def fresh_window(question: str) -> int | None:
    """Days back from the question that its time words point to, or None when it has none."""
    if any(_is_day_word(match) for match in _DAY_WORD.finditer(question)):
        return 3
    for pattern, days in _WINDOWS:
        if pattern.search(question):
            return days
    return None


def current_window(question: str, asked: date) -> int | None:
    """Days back from the question that count as "now" when it has no time words: `CURRENT_DAYS`, or None
    when it names a year other than the one it was asked in ("Who won the Hart Trophy in 2019?")."""
    if any(int(year) != asked.year for year in _YEAR.findall(question)):
        return None
    return CURRENT_DAYS


def _is_day_word(match: re.Match[str]) -> bool:
    """False for a capitalised "Today" after a capitalised word: a name ("USA Today", "The Today Show")."""
    before, word = match.group(1), match.group(2)
    return not (word[0].isupper() and before and before[0].isupper())


def parse_day(value: str | None) -> date | None:
    """The calendar day of an ISO 8601 date or timestamp (`2022-06-17`, `2022-06-17T09:30:00Z`), else None."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def today() -> date:
    """The current UTC day: what "this week" means for a question asked now."""
    return datetime.now(timezone.utc).date()
