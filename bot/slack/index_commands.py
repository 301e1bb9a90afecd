"""`/news add` and `/news reindex`: who may change the index from Slack, and the replies they get at once."""

from __future__ import annotations

from bot.slack import blocks
from bot.slack.reindex import Reindexer
from bot.slack.replies import respond
from index import UpdateSummary
from intake.fetch import redact


class IndexCommands:
    """Admin rules and immediate replies for the `/news` subcommands that change the index."""

    def __init__(self, admins: frozenset[str], reindexer: Reindexer, add_admins_only: bool = False) -> None:
        self.admins = admins
        self.reindexer = reindexer
        self.add_admins_only = add_admins_only

    def may_add(self, command: dict) -> bool:
        """Whether this user may `/news add` (everyone, unless NEWSBOT_ADD_ADMINS_ONLY=1)."""
        return not self.add_admins_only or command.get("user_id") in self.admins

    def ack_add(self, command: dict, urls: list[str]) -> dict:
        """The immediate reply to `/news add`: a refusal, usage, or that the pages are being fetched."""
        if not self.may_add(command):
            return blocks.text_message("Sorry, only Newsbot admins can add articles here (`NEWSBOT_ADD_ADMINS_ONLY`).")
        if not urls:
            return blocks.text_message("Give me a link to add, like `/news add https://example.com/story`.")
        shown = ", ".join(blocks.escape(blocks.shorten(redact(u), 200)) for u in urls)
        return blocks.text_message(f":inbox_tray: Fetching {shown}… I'll tell you here when it's indexed.")

    def start_reindex(self, command: dict) -> dict:
        """Start a reindex for an admin, its progress and summary sent to the command's `response_url`; the message to show now."""
        if command.get("user_id") not in self.admins:
            if not self.admins:
                return blocks.text_message("Sorry, reindexing is for admins, and none are set up (`NEWSBOT_ADMINS`).")
            names = ", ".join(f"<@{user}>" for user in sorted(self.admins))
            return blocks.text_message(f"Sorry, only Newsbot admins can reindex. Ask {names} if the news looks stale.")
        response_url = command["response_url"]

        def report(summary: UpdateSummary | None, error: str | None) -> None:
            if summary is not None:
                respond(response_url, blocks.reindex_message(summary))
            else:
                respond(response_url, blocks.text_message(f":warning: Reindex did not run: {blocks.escape(error)}"))

        def progress(done: int, total: int, seconds_left: float | None) -> None:
            respond(response_url, blocks.reindex_progress_message(done, total, seconds_left))

        if not self.reindexer.start(report, progress):
            return blocks.text_message("A reindex is already running; I'll post its summary when it's done.")
        return blocks.text_message(":arrows_counterclockwise: Reindexing… I'll post the summary here when it's done.")
