"""End to end over real HTTP: follow-up questions in threads (read from `conversations.replies` on the fake
Slack API) and channel scopes set with `/news scope`, on a real `newsbot serve` over three sourced articles."""

from __future__ import annotations

import json

import pytest
from botkit import (
    ADMIN,
    ALICE,
    NATO_QUESTION,
    BotProcess,
    Corpus,
    SlackSender,
    buttons,
    index_corpus,
    mention_event,
    next_ts,
)
from conftest import write_sourced_corpus
from fakeslack import BOT_USER_ID, FakeSlack

POST = "chat.postMessage"
CHANNEL, OTHER = "C0THREADS", "C0ELSEWHERE"
FOLLOW_UP = "and what did Russia say?"
CONTEXT_LINE = f"Read with this thread's earlier question “{NATO_QUESTION}”"


@pytest.fixture(scope="module")
def bot(fake, tmp_path_factory):
    base = tmp_path_factory.mktemp("threads")
    corpus = index_corpus(Corpus(write_sourced_corpus(base / "articles"), base / "index"))
    with BotProcess(corpus, fake, base).running() as process:
        yield process


@pytest.fixture
def slack(bot, fake):
    fake.reset()
    yield SlackSender(bot.url, fake)
    fake.wait_for(lambda c: c.method == "reactions.remove", count=len(fake.calls("reactions.add", ok=None)), timeout=30)


def answer_in(fake: FakeSlack, channel: str, thread_ts: str, count: int = 1):
    """The `count`-th answer the bot posted in that thread."""
    def match(c):
        return c.method == POST and c.params.get("channel") == channel and c.params.get("thread_ts") == thread_ts

    return fake.wait_for(match, count=count)[count - 1]


def grey_lines(call) -> str:
    return json.dumps([b for b in call.blocks if b["type"] == "context"], ensure_ascii=False)


def ask_in_thread(slack: SlackSender, fake: FakeSlack, text: str, channel: str, root: str | None = None, **fields):
    """Send a mention as Slack would (and put it in the channel's history); the event."""
    extra = {"thread_ts": root} if root else {}
    event = mention_event(text, channel=channel, **extra, **fields)
    fake.add_message(channel, event)
    assert slack.event(event).status == 200
    return event


def test_a_follow_up_in_a_thread_is_read_with_the_earlier_question(slack, fake):
    first = ask_in_thread(slack, fake, NATO_QUESTION, CHANNEL)
    answer_in(fake, CHANNEL, first["ts"])
    # people talking in the thread without asking the bot are not questions
    fake.add_message(CHANNEL, {"type": "message", "user": ALICE, "text": "zebra crossing parade", "ts": next_ts(),
                               "thread_ts": first["ts"]})
    ask_in_thread(slack, fake, FOLLOW_UP, CHANNEL, root=first["ts"])
    follow_up = answer_in(fake, CHANNEL, first["ts"], count=2)
    assert CONTEXT_LINE in grey_lines(follow_up) and "zebra" not in grey_lines(follow_up)
    replies = fake.calls("conversations.replies")
    assert [(c.params["channel"], c.params["ts"]) for c in replies] == [(CHANNEL, first["ts"])]
    assert any(b["type"] == "section" and b["text"]["text"].startswith(">") for b in follow_up.blocks)
    # "More results" keeps the thread's question in its button, and reads the follow-up the same way
    state = json.loads(buttons(follow_up)["more_results"]["value"])
    assert state["e"] == [NATO_QUESTION] and state["q"] == FOLLOW_UP
    message = {"type": "message", "ts": follow_up.params.get("ts", next_ts()), "thread_ts": first["ts"]}
    slack.click(buttons(follow_up)["more_results"], "more", channel=CHANNEL, message=message)
    more = fake.wait_for(lambda c: c.method == "response_url" and c.name == "more")[0]
    assert CONTEXT_LINE in grey_lines(more)


def test_a_forged_context_in_a_button_is_refused(slack, fake):
    value = json.dumps({"q": FOLLOW_UP, "o": 3, "e": [NATO_QUESTION] * 50})
    slack.click({"action_id": "more_results", "value": value, "type": "button"}, "forged", channel=CHANNEL)
    refused = fake.wait_for(lambda c: c.method == "response_url" and c.name == "forged")[0]
    assert "can't use that button" in refused.mrkdwn()


def test_a_thread_the_bot_never_answered_in_is_not_context(slack, fake):
    root = next_ts()
    fake.add_message(CHANNEL, {"type": "message", "user": ALICE, "text": f"<@{BOT_USER_ID}> {NATO_QUESTION}",
                               "ts": root})  # asked before the bot was in the channel: never answered
    ask_in_thread(slack, fake, FOLLOW_UP, CHANNEL, root=root)
    answer = answer_in(fake, CHANNEL, root)
    assert "Read with" not in grey_lines(answer)


def test_an_unreadable_thread_is_answered_on_its_own(slack, fake):
    first = ask_in_thread(slack, fake, NATO_QUESTION, CHANNEL)
    answer_in(fake, CHANNEL, first["ts"])
    fake.fail("conversations.replies", error="missing_scope")
    ask_in_thread(slack, fake, FOLLOW_UP, CHANNEL, root=first["ts"])
    answer = answer_in(fake, CHANNEL, first["ts"], count=2)
    assert "Read with" not in grey_lines(answer) and answer.blocks


def test_scope_is_set_by_admins_and_answers_only_from_its_sources(slack, fake):
    assert slack.command("scope source:reuters", "alice-scope", user=ALICE, channel=CHANNEL).status == 200
    refused = fake.wait_for(lambda c: c.method == "response_url" and c.name == "alice-scope")[0]
    assert "only Newsbot admins" in refused.mrkdwn()
    slack.command("scope source:reuters", "set", user=ADMIN, channel=CHANNEL)
    assert "Scope set: `source:reuters`" in fake.wait_for(lambda c: c.name == "set")[0].mrkdwn()
    slack.command("scope", "show", user=ALICE, channel=CHANNEL)
    shown = fake.wait_for(lambda c: c.name == "show")[0].mrkdwn()
    assert "source:reuters" in shown and f"<@{ADMIN}>" in shown

    scoped = ask_in_thread(slack, fake, NATO_QUESTION, CHANNEL)
    answer = answer_in(fake, CHANNEL, scoped["ts"])
    sources = [b for b in answer.blocks if b["type"] == "context"][1:]
    assert "from Reuters (this channel's scope)" in grey_lines(answer)
    assert sources and all("Reuters" in json.dumps(b) and "AP News" not in json.dumps(b) for b in sources)
    # the scope belongs to its channel: elsewhere every source answers
    elsewhere = ask_in_thread(slack, fake, NATO_QUESTION, OTHER)
    assert "scope" not in grey_lines(answer_in(fake, OTHER, elsewhere["ts"]))
    # /news in the scoped channel uses it too
    slack.command(NATO_QUESTION, "private", user=ALICE, channel=CHANNEL)
    private = fake.wait_for(lambda c: c.name == "private" and "Reuters" in c.mrkdwn())[0]
    assert "this channel's scope" in grey_lines(private)

    slack.command("scope off", "off", user=ADMIN, channel=CHANNEL)
    assert "Scope cleared" in fake.wait_for(lambda c: c.name == "off")[0].mrkdwn()
    again = ask_in_thread(slack, fake, NATO_QUESTION, CHANNEL)
    assert "scope" not in grey_lines(answer_in(fake, CHANNEL, again["ts"]))


@pytest.mark.parametrize(
    "scope, says",
    [("after:2025-13-01", "after:2025-13-01"), ("source:reuters ukraine", "only filters"), ("source:", "needs a value")],
)
def test_a_malformed_scope_is_refused_in_one_line(slack, fake, scope, says):
    slack.command(f"scope {scope}", "bad", user=ADMIN, channel=CHANNEL)
    reply = fake.wait_for(lambda c: c.name == "bad")[0]
    assert says in reply.mrkdwn() and "Traceback" not in reply.mrkdwn()
    slack.command("scope", "after-bad", user=ADMIN, channel=CHANNEL)
    assert "no scope" in fake.wait_for(lambda c: c.name == "after-bad")[0].mrkdwn()


def test_another_bots_message_in_the_thread_is_not_an_earlier_question(slack, fake):
    """A bot (bot_id, no subtype) mentioning Newsbot with a filter must not carry it into a person's follow-up."""
    first = ask_in_thread(slack, fake, NATO_QUESTION, CHANNEL)
    answer_in(fake, CHANNEL, first["ts"])
    fake.add_message(CHANNEL, {"type": "message", "user": "U0OTHERBOT", "bot_id": "B0OTHER", "ts": next_ts(),
                               "text": f"<@{BOT_USER_ID}> zebra parade source:evil", "thread_ts": first["ts"]})
    ask_in_thread(slack, fake, FOLLOW_UP, CHANNEL, root=first["ts"])
    follow_up = answer_in(fake, CHANNEL, first["ts"], count=2)
    assert CONTEXT_LINE in grey_lines(follow_up), "the person's question is still the context"
    assert "evil" not in follow_up.dump() and "zebra" not in grey_lines(follow_up)
    assert follow_up.blocks and "No articles" not in follow_up.mrkdwn()


def test_a_command_in_the_thread_is_not_an_earlier_question(slack, fake):
    first = ask_in_thread(slack, fake, NATO_QUESTION, CHANNEL)
    answer_in(fake, CHANNEL, first["ts"])
    fake.add_message(CHANNEL, {"type": "message", "user": ALICE, "ts": next_ts(), "thread_ts": first["ts"],
                               "text": f"<@{BOT_USER_ID}> digest daily 08:00 Europe/Oslo"})
    fake.add_message(CHANNEL, {"type": "message", "user": ALICE, "ts": next_ts(), "thread_ts": first["ts"],
                               "text": f"<@{BOT_USER_ID}> following"})
    ask_in_thread(slack, fake, FOLLOW_UP, CHANNEL, root=first["ts"])
    follow_up = answer_in(fake, CHANNEL, first["ts"], count=2)
    assert CONTEXT_LINE in grey_lines(follow_up), "the question two commands back is still the context"
    assert "digest" not in grey_lines(follow_up) and "following" not in grey_lines(follow_up)


def test_a_malformed_page_of_the_thread_is_read_as_the_end_of_it(slack, fake):
    first = ask_in_thread(slack, fake, NATO_QUESTION, CHANNEL)
    answer_in(fake, CHANNEL, first["ts"])
    fake.amend("conversations.replies", {"response_metadata": "garbage", "has_more": True})
    ask_in_thread(slack, fake, FOLLOW_UP, CHANNEL, root=first["ts"])
    follow_up = answer_in(fake, CHANNEL, first["ts"], count=2)
    assert CONTEXT_LINE in grey_lines(follow_up), "the page read is used; nothing crashed"


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("digest daily 08:00 Europe/" + "x" * 100_000, "at most 500 are read"),
        ("digest weekly monkey 09:00", "mon, tue, wed, thu, fri, sat, sun"),
        ("scope source:reuters " + "site:example.com " * 32, "a scope holds at most 500 characters; this one has 558"),
        ("follow " + "grain exports from ukraine " * 30, "A follow holds at most 500 characters; this one has 809"),
    ],
    ids=["a 100,000-character zone", "a day that is no day", "a scope too long", "a follow too long"],
)
def test_what_users_type_is_refused_in_one_line_and_the_log_stays_small(slack, fake, bot, command, reply):
    before = len(bot.log())
    assert slack.command(command, "typed", user=ADMIN, channel=CHANNEL).status == 200
    answer = fake.wait_for(lambda c: c.method == "response_url" and c.name == "typed")[0]
    assert reply in answer.mrkdwn() and "went wrong" not in answer.mrkdwn()
    added = bot.log()[before:]
    assert "Traceback" not in added and len(added) < 3000, added[-3000:]


def test_a_digest_in_a_lower_case_zone_is_set(slack, fake):
    slack.command("digest daily 08:00 utc", "utc", user=ALICE, channel=OTHER)
    assert "(UTC)" in fake.wait_for(lambda c: c.name == "utc")[0].mrkdwn()
    slack.command("digest weekly Friday 17:30 europe/paris", "paris", user=ALICE, channel=OTHER)
    assert "every Friday at 17:30 (Europe/Paris)" in fake.wait_for(lambda c: c.name == "paris")[0].mrkdwn()
    slack.command("digest off", "off", user=ALICE, channel=OTHER)
