"""Block Kit messages and the App Home view; everything from articles or users is escaped for Slack mrkdwn.

Article text is untrusted: unescaped, `<!channel>` would ping a whole channel and `<https://x|y>`
would become a disguised link. Slack only needs `&`, `<` and `>` escaped for that not to happen.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote as percent_encode

from bot.state.scopes import Scope
from index import Answer, SearchResult, Stats, UpdateSummary
from intake.adding import AddResult
from intake.fetch import linkable, redact

SECTION_LIMIT = 3000  # characters of text in one section block
CONTEXT_LIMIT = 3000  # characters of text in one context element
MAX_BLOCKS = 50
BUTTON_VALUE_LIMIT = 2000
PAGE_SIZE = 3  # answers per message
FALLBACK_CHARS = 300  # the notification text needs only a taste of the answer
TITLE_CHARS = 150
QUESTION_CHARS = 500
EARLIER_CHARS = 300  # of each earlier question carried in a button's value
ELLIPSIS = "…"
SOURCES_SHOWN = 25  # sources listed by /news stats (a section holds 3000 characters)
COLLECTING_SHOWN = 50  # channels named on App Home as collecting links

ACTION_UP = "feedback_up"
ACTION_DOWN = "feedback_down"
ACTION_MORE = "more_results"
ACTION_SHARE = "share"

_URL_UNSAFE = re.compile(r"[\s|<>\"]")

HOW_TO_ASK = (
    "• Mention me in a channel: `@Newsbot what did the minister say about the strike?` — I answer in a thread.\n"
    "• Send me a direct message with your question, or open me in Slack's AI apps pane (*Newsbot* at the top): "
    "there I suggest the day's biggest stories and search within the channel you are viewing.\n"
    "• On any message, *More actions → Ask Newsbot about this* asks about it; only you see the answer.\n"
    "• `/news <question>` answers just for you, with a button to share the answer.\n"
    "• Narrow a question with `source:reuters`, `site:apnews.com`, `after:2025-01-01`, `before:…`, `on:…`, "
    "`during:2025-01`, or exclude with `-source:…` / `-site:…`.\n"
    "• Ask a follow-up in the same thread (`@Newsbot and what did Russia say?`): I read it with the thread's "
    "earlier questions.\n"
    "• `/news follow <topic>` posts new articles that answer it here; `/news following` lists follows "
    "(`/news resume <number>` restarts a paused one).\n"
    "• `/news digest daily 08:00` (or `weekly mon 09:00`, with a topic) sends the day's stories here.\n"
    "• `/news scope source:reuters` limits a channel to some sources or dates (admins); `/news scope` shows it.\n"
    "• `/news add <url>` adds a news article from the web; `/news collect on` (admins) adds every article "
    "people link in the channel, marking each with :newspaper: (invite me to the channel first).\n"
    "• `/news stats` shows what I know, `/news help` shows this, `/news reindex` refreshes the index (admins)."
)
APOLOGY = ":warning: Sorry, something went wrong while answering that. Please try again in a minute."
UNREADABLE_BUTTON = (
    "Sorry, I can't use that button: it doesn't carry a question I can read. "
    "Ask again with `/news <question>` or by mentioning me."
)


def escape(text: str) -> str:
    """Escape `&`, `<` and `>` so untrusted text cannot ping anyone, link anywhere or break the markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, ending with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    if " " in cut.strip():
        cut = cut.rstrip().rsplit(" ", 1)[0]
    return cut.rstrip() + ELLIPSIS


def link(url: str | None, label: str) -> str:
    """A mrkdwn link to an http(s) `url` labelled with escaped `label`; just the label for anything else.

    A url with a user name or password (stored before newsbot refused them) is not linked: never shown.
    """
    if not linkable(url):
        return escape(label)
    safe_url = escape(_URL_UNSAFE.sub(lambda m: percent_encode(m.group(), safe=""), url))
    return f"<{safe_url}|{escape(label)}>"


def _mrkdwn(text: str) -> dict:
    """A mrkdwn text object."""
    return {"type": "mrkdwn", "text": text}


def section(text: str) -> dict:
    """A section block of mrkdwn text, shortened to Slack's limit if needed."""
    return {"type": "section", "text": _mrkdwn(text if len(text) <= SECTION_LIMIT else shorten(text, SECTION_LIMIT))}


def context(text: str) -> dict:
    """A small grey line of mrkdwn text."""
    return {"type": "context", "elements": [_mrkdwn(shorten(text, CONTEXT_LIMIT))]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict:
    """A button whose `value` carries what the click handler needs (Slack gives no other state)."""
    element = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


# --- quotes -----------------------------------------------------------------------------------------


def _bold_span(quote: str, highlight: str) -> tuple[int, int] | None:
    """Where the highlighted sentence sits in the quote, if it does."""
    sentence = highlight.strip()
    at = quote.find(sentence) if sentence else -1
    return (at, at + len(sentence)) if at >= 0 else None


def _render_quote(text: str, span: tuple[int, int] | None) -> str:
    """The text as a mrkdwn block quote, escaped, with `span` in bold (per line: bold cannot cross lines)."""
    lines = []
    position = 0
    for line in text.split("\n"):
        start, end = position, position + len(line)
        position = end + 1
        if span and span[0] < end and span[1] > start:
            a, b = max(span[0], start) - start, min(span[1], end) - start
            middle = line[a:b]
            lead, trail = len(middle) - len(middle.lstrip()), len(middle) - len(middle.rstrip())
            core = middle.strip()
            rendered = escape(line[: a + lead])
            rendered += f"*{escape(core)}*" if core else ""
            rendered += escape(line[b - trail :])
        else:
            rendered = escape(line)
        lines.append(f"> {rendered}" if rendered.strip() else ">")
    return "\n".join(lines)


def _window(quote: str, span: tuple[int, int] | None, budget: int) -> tuple[str, tuple[int, int] | None]:
    """At most about `budget` characters of the quote around the highlight, with ellipses where cut."""
    start, end = span or (0, 0)
    end = min(end, start + budget)
    room = budget - (end - start)
    left = max(0, start - room // 2)
    right = min(len(quote), left + budget)
    left = max(0, right - budget)
    if left > 0:
        space = quote.find(" ", left, start) if left < start else -1
        left = space + 1 if space >= 0 else left
    if right < len(quote):
        space = quote.rfind(" ", end, right)
        right = space if space > end else right
    prefix = ELLIPSIS if left > 0 else ""
    suffix = ELLIPSIS if right < len(quote) else ""
    text = prefix + quote[left:right] + suffix
    if span is None:
        return text, None
    shift = len(prefix) - left
    return text, (max(start, left) + shift, min(end, right) + shift)


def _shown(answer: Answer) -> tuple[str, tuple[int, int] | None]:
    """The compact excerpt (answering sentence and neighbours, "…" where passage text is left out) and the bold span in it."""
    shown = answer.excerpt
    if shown is None or not shown.start <= answer.highlight_start < answer.highlight_end <= shown.end:
        return answer.quote, _bold_span(answer.quote, answer.highlight)
    # A space beside the ellipsis: Slack only reads `*bold*` that starts or ends next to a space.
    prefix = ELLIPSIS + " " if shown.cut_before else ""
    suffix = " " + ELLIPSIS if shown.cut_after else ""
    offset = len(prefix) - shown.start
    return prefix + shown.text + suffix, (answer.highlight_start + offset, answer.highlight_end + offset)


def quote_text(answer: Answer, limit: int = SECTION_LIMIT) -> str:
    """The answer's excerpt as a block quote with the answering sentence in bold, shortened to fit `limit`."""
    body, span = _shown(answer)
    text = _render_quote(body, span)
    budget = len(body)
    while len(text) > limit:
        budget = max(1, min(budget - 1, budget * limit // len(text) - len(ELLIPSIS) * 2))
        text = _render_quote(*_window(body, span, budget))
    return text


def _fitting_link(answer: Answer, label: str, room: int) -> str:
    """The answer's link in at most `room` characters: with its text fragment, without it, or just the label.

    A link cut anywhere is broken, so a long one gives up the scroll-to-quote fragment first, then the link.
    """
    full = answer.link or ""
    without_fragment = full.split(":~:", 1)[0].removesuffix("#")
    for url in dict.fromkeys((full, without_fragment, answer.article.url or "")):
        rendered = link(url, label)
        if len(rendered) <= room:
            return rendered
    return escape(label)


def source_line(answer: Answer, limit: int = CONTEXT_LIMIT) -> str:
    """`<link|Title> · Source · date`, plus who else reported the same passage; a long link is shortened to fit."""
    article = answer.article
    details = (article.source, article.published)
    rest = "".join(f" · {escape(shorten(value, TITLE_CHARS))}" for value in details if value)
    if answer.also_in:
        names = ", ".join(escape(shorten(a.source or a.title, TITLE_CHARS)) for a in answer.also_in[:5])
        rest += f" · also reported by {names}"
    return _fitting_link(answer, shorten(article.title, TITLE_CHARS), limit - len(rest)) + rest


# --- answers ------------------------------------------------------------------------------------------


def button_value(question: str, **data: object) -> str:
    """A compact JSON button value, cutting the question so the value stays within Slack's limit."""
    text = question
    while True:
        value = json.dumps({"q": text, **data}, ensure_ascii=False, separators=(",", ":"))
        if len(value) <= BUTTON_VALUE_LIMIT or not text:
            return value
        text = text[: max(0, len(text) - (len(value) - BUTTON_VALUE_LIMIT))]


def _answer_actions(result: SearchResult, offset: int, shareable: bool, earlier: tuple[str, ...]) -> dict:
    """👍 / 👎, More results when there may be more, and Share for a private answer.

    The thread's earlier questions ride along (shortened), so "More results" reads the question as the answer did.
    """
    passages = [[a.article.id[:300], a.start, a.end] for a in result.answers]
    feedback = button_value(result.question, p=passages)
    context = {"e": [shorten(q, EARLIER_CHARS) for q in earlier]} if earlier else {}
    elements = [button("👍", ACTION_UP, feedback), button("👎", ACTION_DOWN, feedback)]
    if len(result.answers) == PAGE_SIZE:
        more = button_value(result.question, o=offset + PAGE_SIZE, **context)
        elements.append(button("More results", ACTION_MORE, more))
    if shareable:
        elements.append(button("Share in channel", ACTION_SHARE, button_value(result.question, o=offset, **context), "primary"))
    return {"type": "actions", "block_id": "answer_actions", "elements": elements}


def nothing_found(result: SearchResult, offset: int) -> str:
    """The honest answer when no passage answers the question."""
    if offset:
        return "That's all I found for this question — there are no more results."
    if result.reading.startswith("No articles"):
        return escape(result.reading) + ". Try the question without its filters, or see `/news stats` for the sources."
    if result.reading.startswith("Searched"):
        return "I couldn't find that in those articles. Try other words, or fewer filters."
    return (
        f"I couldn't find that in the {result.articles} indexed articles. "
        "Try other words, or a name, place or event from the story."
    )


def answer_message(
    result: SearchResult,
    offset: int = 0,
    shareable: bool = False,
    shared_by: str | None = None,
    show_question: bool = False,
    earlier: tuple[str, ...] = (),
) -> dict:
    """Up to `PAGE_SIZE` quotes with sources and buttons, or a plain "not found", with a `text` fallback."""
    blocks: list[dict] = []
    if shared_by:
        blocks.append(context(f"Shared by <@{escape(shared_by)}>"))
    if show_question or shared_by:
        blocks.append(section(f"*Q:* {escape(shorten(result.question, QUESTION_CHARS))}"))
    if result.reading:  # how filters, scope and thread context were read, in one grey line
        blocks.append(context(escape(shorten(result.reading, CONTEXT_LIMIT))))
    if result.abstained or not result.answers:
        message = nothing_found(result, offset)
        return {"text": message, "blocks": blocks + [section(message)]}
    room = (MAX_BLOCKS - len(blocks) - 1) // 2
    for answer in result.answers[:room]:
        blocks += [section(quote_text(answer)), context(source_line(answer))]
    blocks.append(_answer_actions(result, offset, shareable, earlier))
    first = result.answers[0]
    sentence = shorten(" ".join(first.highlight.split()), FALLBACK_CHARS)
    fallback = escape(f"“{sentence}” — {shorten(first.article.title, TITLE_CHARS)}")
    if shared_by:
        fallback = f"Shared by <@{escape(shared_by)}>: {fallback}"
    return {"text": fallback, "blocks": blocks}


def text_message(text: str) -> dict:
    """A one-section message whose fallback is the same (already escaped) text."""
    return {"text": text, "blocks": [section(text)]}


def scope_message(scope: Scope | None, changed: bool = False, collecting: bool | None = None) -> dict:
    """`/news scope`: the channel's filters and who set them, or that it has none; whether its links are collected."""
    if scope is None:
        text = ("This channel has no scope: questions here search every article. "
                "Admins can set one, e.g. `/news scope source:reuters after:2025-01-01`.")
    else:
        who = f" by <@{escape(scope.set_by)}>" if scope.set_by else ""
        lead = "Scope set" if changed else "This channel's scope is"
        text = (f"{lead}: `{escape(scope.filters)}` (set{who} on {escape(scope.set_at[:10])}). "
                "Questions here search only those articles; `/news scope off` clears it.")
    if collecting is not None:
        text += "\n" + collect_line(collecting)
    return text_message(text)


def collect_line(collecting: bool) -> str:
    """Whether links shared in the channel are collected, and how to change it."""
    if collecting:
        return (":newspaper: Links shared here are collected: each article is indexed and its message marked "
                "with :newspaper:. `/news collect off` stops it (admins).")
    return "Links shared here are not collected; admins can start with `/news collect on`."


def help_message(articles: int | None = None) -> dict:
    """How to ask, for `/news help` and for a mention without a question."""
    knows = f" from the {articles} indexed articles" if articles is not None else ""
    intro = f"*Ask me about the news.* I answer with verbatim quotes{knows}, each linked to its source."
    return {"text": intro, "blocks": [section(intro), section(HOW_TO_ASK)]}


def _stats_lines(stats: Stats) -> str:
    """Counts, newest article, last update and model, one per line."""
    lines = [f"*{stats.articles} articles* ({stats.passages} passages from {stats.sources} sources)"]
    if stats.newest_title:
        newest = escape(shorten(stats.newest_title, TITLE_CHARS))
        lines.append(f"Newest article: {newest} ({escape(stats.newest_published or 'undated')})")
    lines.append(f"Last update: {escape(stats.updated_at or 'never')}")
    lines.append(f"Model: {escape(stats.model)}")
    if stats.reader:
        warning = ":warning: " if stats.reader.startswith("unavailable") else ""
        lines.append(f"{warning}Reader: {escape(shorten(stats.reader, SECTION_LIMIT // 4))}")
    if stats.source_list:
        lines.append("*Sources* (ask with `source:NAME`, `after:`, `before:`, `during:`):")
        for name, count, first, last in stats.source_list[:SOURCES_SHOWN]:
            span = f"{first} to {last}" if first else "undated"
            lines.append(f"• {escape(shorten(name, TITLE_CHARS))}: {count}, {escape(span)}")
        if len(stats.source_list) > SOURCES_SHOWN:
            lines.append(f"… and {len(stats.source_list) - SOURCES_SHOWN} more")
    return "\n".join(lines)


def stats_message(stats: Stats | None) -> dict:
    """What the index holds, for `/news stats`."""
    if stats is None:
        return text_message("The index is empty: no articles have been indexed yet.")
    return {"text": f"{stats.articles} articles indexed", "blocks": [section(_stats_lines(stats))]}


def added_message(results: list[AddResult]) -> dict:
    """What `/news add` did with each URL: the title and passage count, or why it was not added."""
    lines = []
    for result in results:
        if result.ok:
            lines.append(
                f":white_check_mark: Added {link(result.url, shorten(result.title or redact(result.url), TITLE_CHARS))} "
                f"({result.passages} passage{'' if result.passages == 1 else 's'}); you can ask about it now."
            )
        elif result.duplicate:
            lines.append(f":information_source: Already indexed: {escape(shorten(result.title or redact(result.url), TITLE_CHARS))}")
        else:
            lines.append(f":x: Could not add {escape(redact(result.url))}: {escape(result.reason or 'unknown error')}")
    return text_message("\n".join(lines) or "No URL given.")


def reindex_message(summary: UpdateSummary) -> dict:
    """The summary of a reindex started with `/news reindex`."""
    return text_message(f":white_check_mark: Reindex finished: {escape(summary.line())}")


def reindex_progress_message(done: int, total: int, seconds_left: float | None) -> dict:
    """How far a running `/news reindex` has come, with the time left at the rate so far."""
    left = "" if seconds_left is None else f", about {_duration(seconds_left)} left"
    return text_message(f":hourglass_flowing_sand: Reindexing: {done:,} of {total:,} passages embedded{left}.")


def _duration(seconds: float) -> str:
    """Seconds as a person says them: "40 s", "3 min", "1 h 20 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")


def home_view(stats: Stats | None, recent_titles: list[str], collecting: list[str] | None = None) -> dict:
    """The App Home tab: what the bot knows, example questions, the channels whose links it collects, how to ask."""
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Newsbot"}},
        section("I answer questions about the news with *verbatim quotes*, each linked to its source."),
        section(_stats_lines(stats) if stats else "No articles are indexed yet."),
    ]
    if recent_titles:
        titles = [escape(shorten(title, TITLE_CHARS)) for title in recent_titles]
        examples = "\n".join(f"• _What do the articles say about “{title}”?_" for title in titles)
        blocks += [{"type": "divider"}, section(f"*Example questions*\n{examples}")]
    if collecting:
        shown = ", ".join(f"<#{escape(channel)}>" for channel in collecting[:COLLECTING_SHOWN])
        more = f" and {len(collecting) - COLLECTING_SHOWN} more" if len(collecting) > COLLECTING_SHOWN else ""
        blocks += [section(f":newspaper: *Collecting shared links* in {shown}{more} (`/news collect`).")]
    blocks += [{"type": "divider"}, section(f"*How to ask*\n{HOW_TO_ASK}")]
    return {"type": "home", "blocks": blocks}
