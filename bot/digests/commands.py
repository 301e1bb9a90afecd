"""`/news digest …`: set, show or stop a channel's digest. The time zone is the one named, else the
requesting user's Slack time zone (`users.info`, scope `users:read`), else UTC, said so."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digests.schedule import USAGE, ScheduleError, check_zone, parse_schedule
from bot.digests.store import DigestStore
from bot.slack import blocks
from index import FilterError

log = logging.getLogger("newsbot.digests")


def digest_command(text: str) -> str | None:
    """What follows `digest` ('' for a bare `digest`); None when the text is not a digest command."""
    words = text.split(maxsplit=1)
    if not words or words[0].lower() != "digest":
        return None
    return words[1].strip() if len(words) > 1 else ""


class DigestCommands:
    """Set, show and stop digests; anyone in a conversation may, as with follows."""

    def __init__(self, store: DigestStore) -> None:
        self.store = store

    def run(self, rest: str, channel: str, user: str | None, client: WebClient | None) -> dict:
        """The reply to `/news digest <rest>` in `channel`."""
        if not rest:
            digest = self.store.get(channel)
            if digest is None:
                return blocks.text_message(f"No digest here yet: {USAGE}.")
            return blocks.text_message(f"Digest here: {blocks.escape(digest.describe())}. `/news digest off` stops it.")
        if rest.lower() == "off":
            stopped = self.store.clear(channel)
            return blocks.text_message("Digest stopped." if stopped else "There is no digest here to stop.")
        try:
            schedule = parse_schedule(rest)
        except (ScheduleError, FilterError) as exc:
            return blocks.text_message(blocks.escape(f"{exc}."))
        zone, note = schedule.zone, ""
        if zone is None:
            zone = self._user_zone(client, user)
            if zone is None:
                zone, note = "UTC", " (I could not read your Slack time zone; add one like `Europe/Berlin`.)"
        digest = self.store.set(channel, schedule, zone, user)
        upcoming = digest.trigger().get_next_fire_time(None, datetime.now(timezone.utc))
        when = upcoming.astimezone(ZoneInfo(zone)).strftime("%a %-d %b %H:%M") if upcoming else "never"
        return blocks.text_message(
            f":newspaper: Digest set: {blocks.escape(digest.describe())}; the first on {when}.{note} "
            "`/news digest off` stops it."
        )

    @staticmethod
    def _user_zone(client: WebClient | None, user: str | None) -> str | None:
        """The user's Slack time zone, or None when it cannot be read."""
        if client is None or not user:
            return None
        try:
            profile = client.users_info(user=user).get("user") or {}
            return check_zone(str(profile.get("tz") or ""))
        except (SlackApiError, OSError, ScheduleError) as exc:
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.warning("could not read the time zone of a user: %s", reason)
            return None
