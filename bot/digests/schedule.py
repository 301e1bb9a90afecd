"""What `/news digest …` asks for: `daily HH:MM` or `weekly <day> HH:MM`, an optional time zone, `skip-empty` and
topic words. Everything a user types is checked here, and nothing but a one-line `ScheduleError` (or a
`FilterError` for the topic's filters) comes out of it, whatever the input's length or shape."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, available_timezones

from index.questions import read_question

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SKIP_EMPTY = "skip-empty"
MAX_COMMAND_CHARS = 500  # a digest command longer than this is refused before it is read
MAX_TOPIC_CHARS = 300
MAX_ZONE_CHARS = 64  # the longest IANA name is 32 characters
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
USAGE = ("e.g. `/news digest daily 08:00`, `/news digest weekly mon 09:00 Europe/Berlin ukraine`, "
         "`/news digest daily 07:30 skip-empty`, or `/news digest off`")


class ScheduleError(ValueError):
    """A digest command that cannot be read; the message says what is wrong, in one line."""


@dataclass(frozen=True)
class Schedule:
    """What `/news digest …` asked for (the zone may be left to the user's Slack time zone)."""

    cadence: str
    weekday: str | None
    at_time: str
    zone: str | None
    topic: str
    skip_empty: bool


def parse_schedule(text: str) -> Schedule:
    """Read `daily HH:MM` / `weekly <day> HH:MM`, then an optional zone, `skip-empty` and topic words."""
    if len(text) > MAX_COMMAND_CHARS:
        raise ScheduleError(f"that digest command is {len(text):,} characters; at most {MAX_COMMAND_CHARS} are read, {USAGE}")
    words = text.split()
    if not words or words[0].lower() not in ("daily", "weekly"):
        raise ScheduleError(f"say daily or weekly, {USAGE}")
    cadence, rest = words[0].lower(), words[1:]
    weekday = None
    if cadence == "weekly":
        weekday = _weekday(rest[0]) if rest else None
        if weekday is None:
            raise ScheduleError(f"say which day a weekly digest comes: {', '.join(WEEKDAYS)} (or the day's full name), {USAGE}")
        rest = rest[1:]
    if not rest or not _TIME.fullmatch(rest[0]):
        raise ScheduleError(f"say the time as HH:MM (24-hour), {USAGE}")
    hour, minute = _TIME.fullmatch(rest[0]).groups()
    at_time, rest = f"{int(hour):02d}:{minute}", rest[1:]
    zone = None
    if rest and ("/" in rest[0] or _zone_names().get(rest[0].lower())):
        zone = check_zone(rest[0])
        rest = rest[1:]
    skip_empty = any(w.lower() == SKIP_EMPTY for w in rest)
    topic = " ".join(w for w in rest if w.lower() != SKIP_EMPTY)
    if len(topic) > MAX_TOPIC_CHARS:
        raise ScheduleError(f"a digest's topic holds at most {MAX_TOPIC_CHARS} characters, this one {len(topic):,}")
    if topic:
        read_question(topic)  # a malformed filter in the topic is a FilterError now, not at 08:00
    return Schedule(cadence, weekday, at_time, zone, topic, skip_empty)


def _weekday(word: str) -> str | None:
    """`mon` for mon, Mon, monday or MONDAY; None for anything else (`monkey` is no day)."""
    word = word.lower()
    if word in WEEKDAYS:
        return word
    return WEEKDAYS[DAY_NAMES.index(word)] if word in DAY_NAMES else None


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every IANA zone name by its lower-case form (none differ only by case), and UTC."""
    names = {name.lower(): name for name in available_timezones()}
    names["utc"] = "UTC"
    return names


def check_zone(name: str) -> str:
    """The IANA zone name for `name`, any case (`utc`, `europe/paris`), or a one-line `ScheduleError` naming it."""
    shown = name if len(name) <= MAX_ZONE_CHARS else name[:MAX_ZONE_CHARS] + "…"
    found = _zone_names().get(name.lower()) if len(name) <= MAX_ZONE_CHARS else None
    if found is not None:
        try:
            ZoneInfo(found)
            return found
        except (ValueError, OSError):  # the name lists a zone this machine's tzdata cannot read
            pass
    raise ScheduleError(f"`{shown}` is not a time zone; use a name like Europe/Berlin or UTC")


def weekday_name(day: str | None) -> str:
    """Monday for mon; "day" for anything else."""
    return DAY_NAMES[WEEKDAYS.index(day)].capitalize() if day in WEEKDAYS else "day"
