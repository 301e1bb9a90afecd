"""From a question asked anywhere in Slack to the answer message: read with the channel's scope and the thread's
earlier questions, searched, laid out in blocks (or one line for a bad filter or an empty question)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.slack import blocks
from bot.state.scopes import Scopes
from index import NO_CONTEXT, Context, EmptyQuestion, FilterError, Index, SearchResult

log = logging.getLogger("newsbot.answering")


class Answerer:
    """Answers questions from one index, each channel's scope applied; safe to share between threads."""

    def __init__(self, index: Index, scopes: Scopes) -> None:
        self.index = index
        self.scopes = scopes

    def context(self, channel: str | None, earlier: tuple[str, ...] = ()) -> Context:
        """What a question in `channel` is read with: the thread's earlier questions and the channel's scope."""
        return Context(earlier=earlier, scope=self.scopes.filters(channel))

    def answer(self, question: str, offset: int = 0, context: Context = NO_CONTEXT, **layout: object) -> dict:
        """Search and lay out the answer message (`layout`: `blocks.answer_message`'s options)."""
        started = time.monotonic()
        try:
            result: SearchResult = self.index.search(question, k=blocks.PAGE_SIZE, offset=offset, context=context)
        except FilterError as exc:
            return blocks.text_message(blocks.escape(f"{exc}. Filters: source: site: after: before: on: during: (and -source: -site:)."))
        except EmptyQuestion:
            return blocks.text_message("Ask a question as well as the filters, e.g. `why did NATO expel the diplomats? source:reuters`.")
        log.info("answered with %d quotes in %.2fs", len(result.answers), time.monotonic() - started)
        return blocks.answer_message(result, offset=offset, earlier=context.earlier, **layout)

    def article_count(self) -> int | None:
        """How many articles the help text can promise (None before the first index)."""
        return self.index.stats().articles if self.index.exists() else None


def apologize(send: Callable[[], object]) -> None:
    """Send the apology; if even that fails, log it and give up (the server must keep serving)."""
    try:
        send()
    except Exception:
        log.exception("could not send the apology either")
