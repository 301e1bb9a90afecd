"""End to end: a real `newsbot serve` on a real index, driven over HTTP like Slack, posting to a fake Slack API.

One server runs for the whole module; the fake's records are cleared before each test.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import pytest
from botkit import (  # noqa: F401  (bot_corpus is a fixture)
    ADMIN,
    ALICE,
    BOT_TOKEN,
    NATO_QUESTION,
    NATO_QUOTE,
    SIGNING_SECRET,
    ZEBRA_QUESTION,
    BotProcess,
    SlackSender,
    assert_valid_blocks,
    bot_corpus,
    buttons,
    mention_event,
    next_ts,
    request,
)
from fakeslack import BOT_ID, BOT_USER_ID, FakeSlack
from websites import Site, html_page

POST = "chat.postMessage"


@pytest.fixture(scope="module")
def bot(bot_corpus, fake, tmp_path_factory):  # noqa: F811
    # pages for `/news add` are served from 127.0.0.1, which the fetch guard refuses unless told otherwise
    process = BotProcess(bot_corpus, fake, tmp_path_factory.mktemp("bot"), NEWSBOT_ALLOW_PRIVATE_URLS="1")
    try:
        process.wait_ready()
        yield process
    finally:
        code = process.stop()
    log = process.log()
    assert code == 0, log
    assert BOT_TOKEN not in log and SIGNING_SECRET not in log, "a secret reached the log"


@pytest.fixture
def slack(bot, fake):
    """A sender of Slack requests; afterwards, every message the bot sent is checked against Slack's limits."""
    fake.reset()
    yield SlackSender(bot.url, fake)
    # let the bot finish what it started (the working reaction goes last) before the next test's reset
    fake.wait_for(lambda c: c.method == "reactions.remove", count=len(fake.calls("reactions.add", ok=None)), timeout=30)
    for call in fake.calls(ok=None):
        if call.method in (POST, "response_url"):
            assert call.params.get("text"), f"no plain-text fallback: {call.dump()}"
            assert call.params.get("unfurl_links") is False and call.params.get("unfurl_media") is False
            assert_valid_blocks(call.blocks)  # slack_sdk's models: lengths, required fields, no unknown keys


def posts_in(fake: FakeSlack, channel: str, thread_ts: str | None = None) -> list:
    return [c for c in fake.calls(POST) if c.params["channel"] == channel and c.params.get("thread_ts") == thread_ts]


def wait_post(fake: FakeSlack, channel: str, thread_ts: str | None = None, contains: str = "", timeout: float = 60):
    """The first message posted in that channel/thread containing `contains`."""
    def match(c):
        where = c.params.get("channel") == channel and c.params.get("thread_ts") == thread_ts
        return c.ok and c.method == POST and where and contains in c.mrkdwn()

    return fake.wait_for(match, timeout=timeout)[0]


def wait_response(fake: FakeSlack, name: str, contains: str = "", count: int = 1, timeout: float = 60):
    """The `count`-th post to response_url `name` containing `contains`."""
    def match(c):
        return c.method == "response_url" and c.name == name and contains in c.mrkdwn()

    return fake.wait_for(match, count=count, timeout=timeout)[count - 1]


def quotes(call) -> list[str]:
    return [b["text"]["text"] for b in call.blocks if b["type"] == "section" and b["text"]["text"].startswith(">")]


def test_healthz_is_ok_once_loaded(bot):
    reply = request("GET", f"{bot.url}/healthz")
    assert (reply.status, reply.body.strip()) == (200, "ok")


def test_mention_is_answered_in_its_thread_with_linked_quote(slack, fake, bot):
    reply, event = slack.mention(NATO_QUESTION)
    assert reply.status == 200
    answer = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    assert NATO_QUOTE in answer.mrkdwn()
    links = [html.unescape(url) for url in re.findall(r"<(http[^|>]+)\|", answer.mrkdwn())]  # as Slack shows them
    assert links and all(link.startswith(f"{bot.url}/articles/") and link.endswith("#answer") for link in links)
    assert set(buttons(answer)) >= {"feedback_up", "feedback_down", "more_results"}
    assert "share" not in buttons(answer), "a public answer needs no share button"
    # the :eyes: reaction shows it is working, and goes once the answer is posted
    added = fake.calls("reactions.add")
    removed = fake.wait_for(lambda c: c.method == "reactions.remove")
    assert [(c.params["timestamp"], c.params["name"]) for c in added] == [(event["ts"], "eyes")]
    assert removed[0].params["timestamp"] == event["ts"] and added[0].at <= answer.at <= removed[0].at
    # the link opens the article page on the answering sentence, inside its marked passage
    page = request("GET", links[0])
    assert page.status == 200 and '<span class="passage quoted"' in page.body and '<mark id="answer">' in page.body


def test_mention_inside_a_thread_is_answered_in_that_thread(slack, fake):
    parent = next_ts()
    _, event = slack.mention(NATO_QUESTION, thread_ts=parent)
    answer = wait_post(fake, "C0NEWS", thread_ts=parent)
    assert NATO_QUOTE in answer.mrkdwn()
    assert not posts_in(fake, "C0NEWS", event["ts"])


@pytest.mark.parametrize("text", ["", "help"])
def test_mention_without_question_gets_help(slack, fake, text):
    _, event = slack.mention(text)
    answer = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    assert "/news" in answer.mrkdwn() and "Ask me" in answer.mrkdwn()


def test_article_text_cannot_ping_or_link(slack, fake):
    _, event = slack.mention(ZEBRA_QUESTION)
    answer = wait_post(fake, "C0NEWS", thread_ts=event["ts"], contains="zebra crossing festival")
    sent = answer.dump()
    for raw in ("<!channel>", "<!here>", "<@U123>", "<https://evil", "<script>", "<b>"):
        assert raw not in sent, f"{raw} reached Slack unescaped"
    text = answer.mrkdwn()
    assert "&lt;!channel&gt;" in text and "&lt;https://evil.example|click here&gt;" in text
    assert "&lt;!here&gt;" in answer.params["text"] or "&lt;!channel&gt;" in answer.params["text"]
    assert "Town &lt;b&gt;Crier&lt;/b&gt; &amp; Co" in text


def test_article_page_is_escaped_and_highlights_the_passage(slack, fake, bot):
    _, event = slack.mention(ZEBRA_QUESTION)
    answer = wait_post(fake, "C0NEWS", thread_ts=event["ts"], contains="zebra crossing festival")
    link = html.unescape(next(url for url in re.findall(r"<(http[^|>]+)\|", answer.mrkdwn()) if "zebra" in url))
    page = request("GET", link)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    passage = re.search(r"[?&]p=(\d+)-(\d+)", link).groups()
    assert re.search(rf'<span class="passage quoted" id="p{passage[0]}-{passage[1]}">(<mark id="answer">)?The mayor', page.body)
    assert '<mark id="answer">' in page.body
    assert "<script>" not in page.body and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.body
    assert "&lt;!channel&gt;" in page.body and "<title>Zebra crossing festival &lt;!here&gt; opens</title>" in page.body
    assert request("GET", f"{bot.url}/articles/no-such-article").status == 404


def test_unanswerable_question_says_so_plainly(slack, fake):
    _, event = slack.mention("What is the recipe for banana bread?")
    answer = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    assert re.search(r"I couldn't find that in the \d+ indexed articles", answer.params["text"])
    assert not quotes(answer) and not buttons(answer), "no unrelated quotes"


def test_filters_in_a_question_are_read_aloud_refused_when_malformed_and_listed_by_stats(slack, fake):
    # The test corpus has no sources (plain files): a source filter matches nothing, and says so.
    _, event = slack.mention(f"{NATO_QUESTION} source:reuters")
    answer = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    assert re.search(r"No articles from Reuters — \d+ indexed in all", answer.mrkdwn()) and not quotes(answer)
    _, event = slack.mention(f"{NATO_QUESTION} after:2025-13-01")
    refused = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    assert "after:2025-13-01" in refused.mrkdwn() and "not a real date" in refused.mrkdwn()
    # A filter that keeps articles: the grey line says how the question was read, and the answer follows.
    _, event = slack.mention(f"{NATO_QUESTION} -site:example.com")  # (undated articles never pass a date filter)
    read = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    contexts = [b for b in read.blocks if b["type"] == "context"]
    assert "Searched" in json.dumps(contexts[0]) and NATO_QUOTE in read.mrkdwn()
    _, event = slack.mention("source:reuters")  # filters and no question: a polite reply, not an apology
    empty = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    assert "Ask a question as well as the filters" in empty.mrkdwn()
    assert slack.command("stats", "filterstats").status == 200
    assert "Sources" in wait_response(fake, "filterstats").mrkdwn()


def test_redelivered_event_is_answered_once(slack, fake):
    late, early = mention_event(NATO_QUESTION), mention_event(NATO_QUESTION)
    # re-delivered after the answer
    assert slack.event(late, event_id="EvLATE").status == 200
    wait_post(fake, "C0NEWS", thread_ts=late["ts"])
    assert slack.event(late, event_id="EvLATE", retry_num=1).status == 200
    # re-delivered while the first delivery is still being answered
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda retry: slack.event(early, event_id="EvEARLY", retry_num=retry), (None, 1)))
    assert [r.status for r in replies] == [200, 200]
    wait_post(fake, "C0NEWS", thread_ts=early["ts"])
    # a later question is answered, so both re-deliveries have long been handled by then
    _, sentinel = slack.mention(NATO_QUESTION)
    wait_post(fake, "C0NEWS", thread_ts=sentinel["ts"])
    assert len(posts_in(fake, "C0NEWS", late["ts"])) == 1
    assert len(posts_in(fake, "C0NEWS", early["ts"])) == 1


def test_redelivery_is_answered_if_the_first_delivery_never_answered(slack, fake):
    fake.fail(POST, error="fatal_error", times=2)  # the answer and the apology both fail
    event = mention_event(NATO_QUESTION)
    slack.event(event, event_id="EvFIRSTFAILED")
    fake.wait_for(lambda c: c.method == "reactions.remove" and c.params["timestamp"] == event["ts"])
    assert len(fake.calls(POST, ok=False)) == 2 and not posts_in(fake, "C0NEWS", event["ts"])
    slack.event(event, event_id="EvFIRSTFAILED", retry_num=1)
    answer = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    assert NATO_QUOTE in answer.mrkdwn()


def test_rate_limit_is_retried_after_retry_after(slack, fake):
    fake.fail(POST, status=429, retry_after=1)
    _, event = slack.mention(NATO_QUESTION)
    answer = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    limited = [c for c in fake.calls(POST, ok=False) if c.status == 429]
    assert len(limited) == 1 and answer.at - limited[0].at >= 0.9, "the retry must wait for Retry-After"
    assert NATO_QUOTE in answer.mrkdwn() and len(posts_in(fake, "C0NEWS", event["ts"])) == 1


def test_server_error_is_retried(slack, fake):
    fake.fail(POST, status=500)
    _, event = slack.mention(NATO_QUESTION)
    answer = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    assert [c.status for c in fake.calls(POST, ok=False)] == [500]
    assert NATO_QUOTE in answer.mrkdwn()


def test_rate_limited_response_url_is_retried(slack, fake):
    fake.fail("response_url", status=429, retry_after=1)
    slack.command(NATO_QUESTION, "limited")
    answer = wait_response(fake, "limited", NATO_QUOTE)
    assert [c.status for c in fake.calls("response_url", ok=False)] == [429]
    assert answer.params["response_type"] == "ephemeral"


def test_failure_gets_an_apology_and_the_server_keeps_serving(slack, fake, bot):
    logged_before = len(bot.log())
    fake.fail(POST, error="invalid_blocks")
    _, event = slack.mention(NATO_QUESTION)
    apology = wait_post(fake, "C0NEWS", thread_ts=event["ts"], contains="Sorry")
    assert "went wrong" in apology.mrkdwn()
    log = bot.log()[logged_before:]
    assert re.search(r"could not answer event .*\nTraceback[\s\S]*invalid_blocks", log), log
    _, event = slack.mention(NATO_QUESTION)
    assert NATO_QUOTE in wait_post(fake, "C0NEWS", thread_ts=event["ts"]).mrkdwn()


def test_direct_message_is_answered_in_the_conversation(slack, fake):
    reply, event = slack.dm(NATO_QUESTION)
    assert reply.status == 200
    answer = wait_post(fake, event["channel"], thread_ts=None)
    assert NATO_QUOTE in answer.mrkdwn()


def test_bots_edits_and_channel_chatter_are_ignored(slack, fake):
    assert slack.dm(NATO_QUESTION, channel="D0SELF", user=BOT_USER_ID, bot_id=BOT_ID)[0].status == 200
    assert slack.dm(NATO_QUESTION, channel="D0OTHERBOT", bot_id="B0OTHER", subtype="bot_message")[0].status == 200
    edit = {"subtype": "message_changed", "message": {"text": NATO_QUESTION}}
    assert slack.dm(NATO_QUESTION, channel="D0EDIT", **edit)[0].status == 200
    assert slack.dm(NATO_QUESTION, channel="C0CHATTER", channel_type="channel")[0].status == 200
    _, sentinel = slack.dm(NATO_QUESTION, channel="D0SENTINEL")
    wait_post(fake, "D0SENTINEL")
    ignored = {"D0SELF", "D0OTHERBOT", "D0EDIT", "C0CHATTER"}
    calls = [c for c in fake.calls(ok=None) if c.method != "auth.test"]
    touched = [c.dump() for c in calls if ignored & {str(v) for v in c.params.values()}]
    assert not touched, touched  # nothing sent to, reacted in or read from the ignored conversations
    assert "D0SENTINEL" in {c.params.get("channel") for c in calls}


def test_news_acks_fast_then_answers_privately_and_shares(slack, fake):
    reply = slack.command(NATO_QUESTION, "cmd")
    assert reply.status == 200 and reply.seconds < 3
    answer = wait_response(fake, "cmd", NATO_QUOTE)
    assert answer.params["response_type"] == "ephemeral"
    assert NATO_QUESTION in answer.mrkdwn()
    share = buttons(answer)["share"]
    assert slack.click(share, "share", user=ALICE).status == 200
    shared = wait_response(fake, "share", NATO_QUOTE)
    assert shared.params["response_type"] == "in_channel"
    assert f"Shared by <@{ALICE}>" in shared.mrkdwn()
    assert "share" not in buttons(shared)


def test_more_results_shows_the_next_answers(slack, fake):
    slack.command(NATO_QUESTION, "first")
    first = wait_response(fake, "first", NATO_QUOTE)
    assert slack.click(buttons(first)["more_results"], "more").status == 200
    more = wait_response(fake, "more")
    assert more.params["response_type"] == "ephemeral"
    assert quotes(more) and not set(quotes(more)) & set(quotes(first)), "the next page repeats no quote"


def test_more_results_on_a_thread_answer_go_to_that_thread(slack, fake):
    _, event = slack.mention(NATO_QUESTION)
    answer = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    message = {"type": "message", "ts": next_ts(), "thread_ts": event["ts"], "text": answer.params["text"]}
    slack.click(buttons(answer)["more_results"], "more-thread", message=message)
    more = wait_response(fake, "more-thread")
    assert more.params["response_type"] == "in_channel" and more.params["thread_ts"] == event["ts"]


def test_feedback_is_stored(slack, fake, bot_corpus):  # noqa: F811
    _, event = slack.mention(NATO_QUESTION)
    answer = wait_post(fake, "C0NEWS", thread_ts=event["ts"])
    message = {"type": "message", "ts": next_ts(), "thread_ts": event["ts"], "text": answer.params["text"]}
    slack.click(buttons(answer)["feedback_down"], "vote", user="U0VOTER", message=message)
    assert "Thanks" in wait_response(fake, "vote").mrkdwn()
    with closing(sqlite3.connect(bot_corpus.index_dir / "newsbot.sqlite")) as db:
        rows = db.execute(
            "SELECT user, question, passages, vote, created_at FROM feedback WHERE user = 'U0VOTER'"
        ).fetchall()
    assert len(rows) == 1
    user, question, passages, vote, created_at = rows[0]
    assert (user, question, vote) == ("U0VOTER", NATO_QUESTION, "down") and created_at
    assert len(json.loads(passages)) == 3 and all(len(p) == 3 for p in json.loads(passages))


def test_news_help_and_stats(slack, fake):
    help_reply = slack.command("help", "help")
    assert help_reply.status == 200 and "/news" in help_reply.body and "source:" in help_reply.body
    assert slack.command("stats", "stats").status == 200
    stats = wait_response(fake, "stats")
    assert re.search(r"\*\d+ articles\*", stats.mrkdwn()) and "all-MiniLM-L6-v2" in stats.mrkdwn()


def test_reindex_is_for_admins_only(slack, fake, bot_corpus):  # noqa: F811
    refused = slack.command("reindex", "refused", user=ALICE)
    assert refused.status == 200 and "only Newsbot admins" in refused.body and f"<@{ADMIN}>" in refused.body
    (bot_corpus.articles / "quill.md").write_text(
        "---\ntitle: Quill bridge opens\n---\nThe new Quill river footbridge opened on Monday after eleven years "
        "of planning, and the council said the bridge cost 4.2 million euros, mostly paid by the regional fund.\n",
        encoding="utf-8",
    )
    started = slack.command("reindex", "reindex", user=ADMIN)
    assert started.status == 200 and "Reindexing" in started.body
    summary = wait_response(fake, "reindex", "Reindex finished", timeout=120)
    assert "1 added" in summary.mrkdwn()
    slack.command("how much did the Quill river footbridge cost?", "quill")
    assert "4.2 million euros" in wait_response(fake, "quill", "Quill").mrkdwn()
    assert not fake.calls("response_url", name="refused"), "a refused reindex reports nothing later"


def test_bad_or_stale_signature_is_rejected(slack, fake):
    event = mention_event(NATO_QUESTION)
    assert slack.event(event, secret="not-the-secret").status == 401
    assert slack.event(event, timestamp=int(time.time()) - 600).status == 401
    assert slack.command(NATO_QUESTION, "unsigned").status == 200  # control: a good signature passes
    wait_response(fake, "unsigned", NATO_QUOTE)
    assert not posts_in(fake, "C0NEWS", event["ts"])


def test_url_verification_challenge(slack):
    body = json.dumps({"token": "unused", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"})
    reply = slack.post(body, "application/json")
    assert reply.status == 200 and "3eZbrw1aBm2rZgRNFdxV" in reply.body


def test_twenty_simultaneous_questions_are_each_answered_once(slack, fake):
    start = threading.Barrier(20)

    def ask(number: int):
        start.wait()
        return slack.mention(NATO_QUESTION, channel=f"C0LOAD{number:02d}")

    with ThreadPoolExecutor(20) as pool:
        sent = list(pool.map(ask, range(20)))
    assert all(reply.status == 200 and reply.seconds < 3 for reply, _ in sent)
    fake.wait_for(lambda c: c.method == POST and c.params["channel"].startswith("C0LOAD"), count=20, timeout=150)
    for _, event in sent:
        answers = posts_in(fake, event["channel"], event["ts"])
        assert len(answers) == 1 and NATO_QUOTE in answers[0].mrkdwn()


def test_app_home_is_published(slack, fake):
    ts = next_ts()
    slack.event({"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE", "tab": "home", "event_ts": ts})
    view = fake.wait_for(lambda c: c.method == "views.publish")[0]
    assert view.params["user_id"] == ALICE and view.params["view"]["type"] == "home"
    text = view.mrkdwn()
    assert re.search(r"\*\d+ articles\*", text) and "Example questions" in text and "/news" in text
    assert "Last update" in text and "Newest article" in text


LIGHTHOUSE = (
    "Skerry lighthouse lit again after restoration",
    [
        "The Skerry lighthouse was lit again on Tuesday after a restoration that took three years and cost 2.7 million pounds.",
        "Volunteers from the harbour trust replaced the lantern glass and rebuilt the spiral stair, stone by stone, from old plans.",
        "The keeper's cottage will open as a small museum about the storms that wrecked eleven ships on the reef in the last century.",
    ],
)


def test_news_add_fetches_a_page_and_makes_it_answerable(slack, fake):
    site = Site()
    try:
        url = site.serve("/skerry.html", html_page(*LIGHTHOUSE, canonical=site.url("/skerry.html"), site="Coast News"))
        acked = slack.command(f"add <{url}>", "add")
        assert acked.status == 200 and "Fetching" in acked.body
        added = wait_response(fake, "add", timeout=120).mrkdwn()
        assert "Added" in added and "Skerry lighthouse lit again" in added and re.search(r"\(\d+ passages?\)", added)
        slack.command("How much did the Skerry lighthouse restoration cost?", "ask-skerry")
        assert "2.7 million pounds" in wait_response(fake, "ask-skerry", "Skerry").mrkdwn()
        slack.command(f"add {url}", "add-again")
        assert "Already indexed" in wait_response(fake, "add-again").mrkdwn()
        assert site.hits("/skerry.html") == 1, "an indexed page was fetched again"
        slack.command(f"add {site.url('/missing.html')}", "add-missing")
        missing = wait_response(fake, "add-missing").mrkdwn()
        assert "Could not add" in missing and "404" in missing
    finally:
        site.server.shutdown()


def test_news_add_followed_by_words_is_a_question(slack, fake):
    slack.command("add more troops to the NATO mission?", "add-words")
    reply = wait_response(fake, "add-words").mrkdwn()
    assert "Could not add" not in reply and "Fetching" not in reply
