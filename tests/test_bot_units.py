"""Fast checks of the bot's pure parts: Block Kit limits and escaping, question parsing, event de-duplication.

They complement the end-to-end tests with cases too rare to build a corpus for (a passage longer than
Slack allows, a 5,000-character question).
"""

from __future__ import annotations

import gc
import json
import threading

import pytest

from bot.slack import blocks
from bot.slack.dedupe import EventDeduper
from bot.slack.listeners.commands import NewsCommand
from bot.slack.questions import question_from
from bot.slack.services import Services
from bot.web.article_page import render_article
from bot.web.readiness import Readiness
from index import Answer, ArticleInfo, SearchResult, Settings, SettingsError, StoredArticle
from index.quotes.excerpts import Excerpt
from intake.adding import AddResult

ARTICLE = ArticleInfo("a1", "Title <!channel>", "Source & Co", "https://news.example/a?x=1&y=2", "2024-05-01", None)


def answer(quote: str, highlight: str, link: str = "https://news.example/a#:~:text=x") -> Answer:
    return Answer(quote=quote, highlight=highlight, score=1.0, link=link, start=0, end=len(quote), article=ARTICLE)


def test_long_passage_is_shortened_around_its_highlight():
    before = "R&D <budget> " * 300  # every character pair escapes to several: the escaped text is far longer
    highlight = "The council approved the plan."
    quote = before + highlight + " " + "after & more " * 300
    text = blocks.quote_text(answer(quote, highlight))
    assert len(text) <= blocks.SECTION_LIMIT
    assert text.startswith("> …") and text.endswith("…")
    assert f"*{highlight}*" in text
    assert "<budget>" not in text and "&lt;budget&gt;" in text


def test_short_passage_is_verbatim_with_bold_highlight_per_line():
    quote = "First line here.\n\nSecond <@U1> line. Third line."
    text = blocks.quote_text(answer(quote, "Second <@U1> line."))
    assert text == "> First line here.\n>\n> *Second &lt;@U1&gt; line.* Third line."


def test_the_reply_shows_the_compact_excerpt_with_ellipses_where_text_was_left_out():
    quote = "Before it all. The council approved the plan. Voters <b>cheered</b>. Much later, other news."
    start = quote.index("The council")
    end = quote.index(" Much later")
    highlight = (start, start + len("The council approved the plan."))
    item = Answer(
        quote=quote, highlight=quote[highlight[0] : highlight[1]], score=1.0, link="https://x.example/a", start=100,
        end=100 + len(quote), article=ARTICLE, highlight_start=100 + highlight[0], highlight_end=100 + highlight[1],
        excerpt=Excerpt(quote[start:end], 100 + start, 100 + end, cut_before=True, cut_after=True),
    )
    text = blocks.quote_text(item)
    assert text == "> … *The council approved the plan.* Voters &lt;b&gt;cheered&lt;/b&gt;. …"
    assert "Before it all" not in text and "Much later" not in text


def test_links_cannot_be_broken_out_of():
    assert blocks.link("https://evil.example/|click>now", "a|b") == "<https://evil.example/%7Cclick%3Enow|a|b>"
    assert blocks.link("javascript:alert(1)", "x <y>") == "x &lt;y&gt;"
    assert blocks.link("https://x.example/?a=1&b=2", "t") == "<https://x.example/?a=1&amp;b=2|t>"


def test_answer_message_respects_slack_limits():
    long_quote = "word " * 2000
    result = SearchResult("q" * 5000, False, [answer(long_quote, "word") for _ in range(40)], 7)
    message = blocks.answer_message(result, shareable=True, show_question=True)
    assert message["text"] and len(message["blocks"]) <= blocks.MAX_BLOCKS
    assert message["blocks"][-1]["type"] == "actions"
    for block in message["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= blocks.SECTION_LIMIT
        for element in block.get("elements", []):
            if "value" in element:
                assert len(element["value"]) <= blocks.BUTTON_VALUE_LIMIT
                assert json.loads(element["value"])["q"].startswith("qqq")


def test_source_line_is_escaped():
    line = blocks.source_line(answer("quote", "quote"))
    assert line == "<https://news.example/a#:~:text=x|Title &lt;!channel&gt;> · Source &amp; Co · 2024-05-01"


def test_a_long_link_gives_up_its_fragment_then_itself_never_the_line():
    base = "https://news.example/" + "a" * 2900
    article = ArticleInfo("a1", "Title", "Source", base, "2024-05-01", None)
    link = base + "#:~:text=start,end"
    long = Answer(quote="q", highlight="q", score=1.0, link=link, start=0, end=1, article=article)
    assert blocks.source_line(long, limit=3000) == f"<{base}#:~:text=start,end|Title> · Source · 2024-05-01"
    assert blocks.source_line(long, limit=2960) == f"<{base}|Title> · Source · 2024-05-01"
    assert blocks.source_line(long, limit=2000) == "Title · Source · 2024-05-01"


def test_button_values_the_bot_did_not_write_are_refused():
    from bot.slack.button_state import ButtonState, read_button

    assert read_button(blocks.button_value("why?", o=3)) == ButtonState("why?", 3, [])
    assert read_button(blocks.button_value("why?", p=[["a1", 0, 9]])) == ButtonState("why?", 0, [["a1", 0, 9]])
    for value in (None, "", "not json", "[1]", '{"q": 5}', '{"q": " "}', '{"q": "x", "o": true}', '{"q": "x", "o": -3}',
                  '{"q": "x", "o": 10000}', '{"q": "x", "p": [["a", 0]]}', '{"q": "x", "p": "abc"}', "[" * 5000,
                  json.dumps({"q": "x" * 3000})):
        assert read_button(value) is None, value


def test_other_sources_of_the_same_passage_are_named():
    quoted = answer("quote", "quote")
    quoted.also_in = [
        ArticleInfo("a2", "Other", "RFE/RL", None, None, None),
        ArticleInfo("a3", "<!here> t", None, None, None, None),
    ]
    assert blocks.source_line(quoted).endswith(" · also reported by RFE/RL, &lt;!here&gt; t")


def test_nothing_found_says_how_many_articles_were_searched():
    message = blocks.answer_message(SearchResult("banana bread?", True, [], 12))
    assert "couldn't find that in the 12 indexed articles" in message["text"]
    assert not [b for b in message["blocks"] if b["type"] == "actions"]


def test_question_from_slack_markup():
    text = "<@UBOT> what about <https://x.example|x.example> &amp; <#C1|general> with <@U2> &lt;3 <!here>?"
    assert question_from(text, "UBOT") == "what about x.example & #general with @U2 <3 @here?"
    assert question_from("<@UBOT>", "UBOT") == ""


def test_deduper_answers_each_event_once_unless_the_first_try_failed():
    now = [0.0]
    dedupe = EventDeduper(keep_seconds=60, clock=lambda: now[0])
    assert dedupe.claim("E1") and not dedupe.claim("E1"), "a delivery in progress blocks a re-delivery"
    dedupe.finish("E1", answered=True)
    assert not dedupe.claim("E1")
    assert dedupe.claim("E2")
    dedupe.finish("E2", answered=False)
    assert dedupe.claim("E2"), "a failed first delivery lets the re-delivery answer"
    now[0] = 61.0
    assert dedupe.claim("E1"), "old ids are forgotten"
    assert dedupe.claim(None) and dedupe.claim(None), "without an id nothing can be de-duplicated"


def test_news_add_is_for_admins_only_when_configured(monkeypatch):
    from bot.config import SlackConfig

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-unit")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("NEWSBOT_ADMINS", "U0ADMIN")
    monkeypatch.setenv("NEWSBOT_ADD_ADMINS_ONLY", "1")
    config = SlackConfig.for_http()
    assert config.add_admins_only
    news = NewsCommand(Services.build(None, config.admins, EventDeduper(), None, config.add_admins_only))  # type: ignore[arg-type]
    acks: list[dict] = []
    news.ack(lambda **reply: acks.append(reply), {"text": "add https://news.example/a", "user_id": "U0ALICE"})
    news.ack(lambda **reply: acks.append(reply), {"text": "add https://news.example/a", "user_id": "U0ADMIN"})
    assert "only Newsbot admins can add" in acks[0]["text"]
    assert "Fetching https://news.example/a" in acks[1]["text"]
    monkeypatch.setenv("NEWSBOT_ADD_ADMINS_ONLY", "maybe")
    with pytest.raises(SettingsError, match="NEWSBOT_ADD_ADMINS_ONLY"):
        SlackConfig.for_http()


def test_news_add_ack_and_links_never_show_a_password(monkeypatch):
    """A URL typed with a password was echoed in `/news add`'s ack; one stored before the refusal was linked."""
    news = NewsCommand(Services.build(None, frozenset(), EventDeduper(), None))  # type: ignore[arg-type]
    acks: list[dict] = []
    news.ack(lambda **reply: acks.append(reply), {"text": "add https://reader:s3cr3t@news.example/a", "user_id": "U1"})
    assert "Fetching https://***@news.example/a" in acks[0]["text"] and "s3cr3t" not in acks[0]["text"]
    assert blocks.link("https://reader:s3cr3t@news.example/a", "Story") == "Story"
    assert blocks.link("https://news.example/a", "Story") == "<https://news.example/a|Story>"  # the happy case
    failed = AddResult("https://reader:s3cr3t@news.example/a", ok=False, reason="refused")
    assert "s3cr3t" not in json.dumps(blocks.added_message([failed]))


def test_command_words_at_the_start_of_a_question_stay_a_question():
    from bot.slack.channel_commands import channel_command

    for question in ("Following the ceasefire, what did Hamas say?", "Scope of the sanctions?", "digest of the week?",
                     "unfollow what?"):
        assert channel_command(question) is None, question
    assert channel_command("following") == ("following", "")
    assert channel_command("unfollow #3") == ("unfollow", "#3")
    assert channel_command("digest weekly mon 09:00 ukraine") == ("digest", "weekly mon 09:00 ukraine")
    assert channel_command('scope source:"AP News" -site:example.com') == ("scope", 'source:"AP News" -site:example.com')
    assert channel_command("scope source:") == ("scope", "source:"), "a malformed scope is answered with its mistake"
    assert channel_command("follow grain exports") == ("follow", "grain exports")
    assert channel_command("follow") == ("follow", ""), "answered with what to follow"


def test_a_loaded_bot_keeps_its_model_and_index_out_of_the_collectors_walks(corpus, monkeypatch):
    """Once warm (not before), what was loaded is frozen: full collections no longer walk it mid-answer."""
    gc.unfreeze()
    frozen_while_loading: list[int] = []
    warm_up = corpus.warm_up

    def recording_warm_up() -> None:
        warm_up()
        frozen_while_loading.append(gc.get_freeze_count())

    monkeypatch.setattr(corpus, "warm_up", recording_warm_up)
    fatal: list[str] = []
    readiness = Readiness(corpus, on_fatal=fatal.append)
    try:
        readiness.start()
        for _ in range(600):
            if readiness.status()[0] or fatal:
                break
            threading.Event().wait(0.1)
        assert readiness.status() == (True, "ok") and not fatal
        assert frozen_while_loading == [0], "frozen only after the model and index are loaded"
        tracked = {id(o) for o in gc.get_objects()}  # frozen objects are no longer listed
        assert id(corpus.embedder) not in tracked and id(corpus) not in tracked
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_the_article_page_links_its_original_only_without_a_password():
    text = "NATO expelled eight members of Russia's mission."

    def page(url: str) -> str:
        info = ArticleInfo("a1", "Expelled", "Reuters", url, "2021-10-06", None)
        return render_article(StoredArticle(info, text, [(0, len(text))]))

    assert 'href="https://example.com/nato"' in page("https://example.com/nato")
    shown = page("https://editor:Sup3rSecret@example.com/nato")
    assert "Sup3rSecret" not in shown and "original article" not in shown


def test_settings_never_show_a_database_password_in_their_repr(tmp_path):
    settings = Settings(tmp_path, tmp_path, database_url="postgresql://newsbot:Sup3rSecret@db/news")
    assert "Sup3rSecret" not in repr(settings)
