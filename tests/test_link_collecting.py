"""Collecting shared links and the pane's thread store, part by part (issue 29): which links a message holds
(hostile ones too), the shared queue on both engines (once per message, rate per channel, one fetch per url
across processes, crashes, retries), the collector's refusals, and the assistant thread store."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import make_index
from fakeslack import FakeSlack
from slack_sdk import WebClient
from websites import Site, numbered_story

from bot.config import CollectLimits
from bot.links.collector import LinkCollector, collecting_fetch_settings, worth_fetching
from bot.links.found import MAX_LINKS, links_in
from bot.links.store import FETCH_TIMEOUT, MAX_ATTEMPTS, CollectingChannels, LinkQueue
from bot.slack.message_question import question_about, slug_words
from bot.state.assistant_threads import AssistantThreads, clean_context
from intake.fetch import FetchSettings

# --- links in a message ------------------------------------------------------------------------------------------


def test_links_come_from_the_text_and_the_rich_text_once_each():
    message = {
        "text": "see <https://a.example/x|this> and <https://b.example/y?q=1&amp;r=2>",
        "blocks": [{"type": "rich_text", "elements": [{"type": "rich_text_list", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "link", "url": "https://a.example/x"},
                                                       {"type": "link", "url": "https://c.example/z"}]}]}]}],
    }
    assert links_in(message) == ["https://a.example/x", "https://b.example/y?q=1&r=2", "https://c.example/z"]


@pytest.mark.parametrize(
    "text",
    [
        "<!here> <!channel> <@U123> <#C123|general> <!subteam^S1|team>",
        "<mailto:boss@example.com|mail me> <javascript:alert(1)> <ftp://files.example/a> <file:///etc/passwd>",
        "<https://user:secret@example.com/a>",  # credentials are never fetched (nor echoed)
        "<https://exa mple.com/a> <https://>",  # not a URL Slack would send
        f"<https://example.com/{'a' * 3000}>",
        "https://not-linked-by-slack.example/a",  # Slack wraps every link it recognises in <…>
    ],
)
def test_what_is_not_a_fetchable_link_is_not_taken(text):
    assert links_in({"text": text}) == []


def test_a_message_yields_at_most_a_few_links_and_deep_nesting_is_not_followed():
    many = " ".join(f"<https://example.com/{n}>" for n in range(50))
    assert len(links_in({"text": many})) == MAX_LINKS
    deep: dict = {"type": "link", "url": "https://deep.example/"}
    for _ in range(50):
        deep = {"type": "rich_text_section", "elements": [deep]}
    assert links_in({"blocks": [deep]}) == []
    assert links_in({"text": None, "blocks": "not a list"}) == []


def test_slack_pages_and_newsbots_own_quote_pages_are_not_fetched():
    public = "https://newsbot.example.com"
    assert worth_fetching("https://apnews.com/article/x", public)
    assert not worth_fetching("https://team.slack.com/archives/C1/p123", public)
    assert not worth_fetching("https://files.slack.com/files-pri/T1-F1/a.pdf", public)
    assert not worth_fetching("https://newsbot.example.com/articles/abc#answer", public)
    assert worth_fetching("https://newsbot.example.com.evil.example/articles/abc", public)
    for own in ("http://newsbot.example.com/articles/abc", "https://NEWSBOT.example.com:443/articles/abc",
                "https://newsbot.example.com./articles/abc", "https://user@newsbot.example.com/articles/abc"):
        assert not worth_fetching(own, public), own
    assert not worth_fetching("https://newsbot.example.com/news/articles/abc", "https://newsbot.example.com/news/")
    assert worth_fetching("http://127.0.0.1:8001/story", "http://127.0.0.1:3000"), "another server on the host"
    assert not worth_fetching("http://127.0.0.1:3000/articles/abc", "http://127.0.0.1:3000/")
    assert worth_fetching("https://[::1/x", public), "malformed: left to the fetch, which refuses it in one line"


# --- the question a message shortcut asks ---------------------------------------------------------------------------


def test_a_links_words_come_from_its_label_the_indexed_title_or_its_address():
    titles = {"https://known.example/a": "NATO expels eight Russian diplomats"}
    ask = lambda text: question_about(text, "UBOT", titles.get)  # noqa: E731
    assert ask("<@UBOT> why? <https://x.example/p|the NATO story>") == "why? the NATO story"
    assert ask("<https://known.example/a>") == "NATO expels eight Russian diplomats"
    assert ask("<https://x.example/2024/05/ship-strikes-harbour-wall.html>") == "ship strikes harbour wall"
    assert ask("<https://x.example/news/12345>") == ""
    assert slug_words("https://x.example/world/%E2%80%9Cquoted%E2%80%9D-words-in-a-slug/") == "quoted words in slug"


# --- the shared queue, on both engines ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def queues(tmp_path, embedder, engine_settings):
    """`queues(limits)`: link queues of one index, as separate processes hold them, sharing a clock."""
    clock = Clock()

    def make(limits: CollectLimits = CollectLimits()) -> LinkQueue:
        return LinkQueue(make_index(tmp_path, embedder, **engine_settings), limits, clock)

    make.clock = clock
    return make


def test_a_link_is_queued_once_per_message_and_a_full_queue_takes_no_more(queues):
    queue = queues(CollectLimits(per_minute=100, queued_per_channel=3))
    assert queue.add("C1", "1.1", ["https://a.example/1", "https://a.example/2"]) == 2
    assert queue.add("C1", "1.1", ["https://a.example/1"]) == 0, "a re-delivery or an unfurl adds nothing"
    assert queue.add("C1", "1.2", ["https://a.example/1", "https://a.example/3", "https://a.example/4"]) == 1
    assert queue.add("C2", "1.3", ["https://a.example/5"]) == 1, "the cap is per channel"
    assert queue.counts("C1") == {"queued": 3}


def test_two_processes_never_fetch_one_url_at_once_and_each_channel_keeps_its_rate(queues):
    first, second = queues(CollectLimits(per_minute=2)), queues(CollectLimits(per_minute=2))
    first.add("C1", "1.1", ["https://a.example/same"])
    first.add("C1", "1.2", ["https://a.example/same"])
    first.add("C1", "1.3", ["https://a.example/other", "https://a.example/third"])
    first.add("C2", "2.1", ["https://b.example/x"])
    taken = first.claim(limit=1)
    assert [(link.channel, link.message_ts) for link in taken] == [("C1", "1.1")]
    others = second.claim(limit=10)
    assert [(link.channel, link.url) for link in others] == [("C1", "https://a.example/other"),
                                                              ("C2", "https://b.example/x")], \
        "the same url waits while another process fetches it; C1 has used its two links this minute"
    first.finish(taken[0], "indexed")
    queues.clock.now += 61
    assert [link.message_ts for link in second.claim(limit=10)] == ["1.2", "1.3"]


def test_a_link_claimed_by_a_process_that_died_is_claimed_again_and_failures_are_retried_then_dropped(queues):
    queue = queues()
    queue.add("C1", "1.1", ["https://a.example/1"])
    crashed = queue.claim()
    assert crashed and not queue.claim(), "claimed: nobody else takes it"
    queues.clock.now += FETCH_TIMEOUT + 1
    link = queue.claim()[0]
    assert link.id == crashed[0].id and link.attempts == 2
    assert queue.retry_later(link, "timed out")
    assert not queue.claim(), "a failed fetch waits before its next attempt"
    queues.clock.now += 10_000
    last = queue.claim()[0]
    assert last.attempts == MAX_ATTEMPTS and not queue.retry_later(last, "timed out")
    assert queue.counts() == {"failed": 1}


def test_a_link_that_kills_every_process_fetching_it_is_given_up_after_its_attempts(queues):
    queue = queues()
    queue.add("C1", "1.1", ["https://a.example/poison"])
    for attempt in range(1, MAX_ATTEMPTS + 1):
        (link,) = queue.claim()
        assert link.attempts == attempt
        queues.clock.now += FETCH_TIMEOUT + 1  # the process died mid-fetch: no finish, no retry_later
    assert queue.claim() == [] and queue.counts() == {"failed": 1}


def test_turning_collecting_off_drops_the_links_still_waiting(tmp_path, embedder, engine_settings):
    index = make_index(tmp_path, embedder, **engine_settings)
    channels, queue = CollectingChannels(index), LinkQueue(index, CollectLimits(per_minute=1))
    channels.set("C1", True, "U0ADMIN")
    channels.set("C2", True, "U0ADMIN")
    queue.add("C1", "1.1", ["https://a.example/1", "https://a.example/2"])
    queue.add("C2", "2.1", ["https://b.example/1"])
    fetching = queue.claim(limit=10)
    assert [link.channel for link in fetching] == ["C1", "C2"]
    assert channels.set("C1", False, "U0ADMIN")
    assert queue.counts("C1") == {"fetching": 1, "skipped": 1}, "the link being fetched finishes; the waiting one goes"
    assert queue.counts("C2") == {"fetching": 1}


def test_collected_links_reach_private_addresses_only_with_their_own_setting(monkeypatch):
    monkeypatch.setenv("NEWSBOT_ALLOW_PRIVATE_URLS", "1")  # an admin's /news add of intranet pages
    monkeypatch.delenv("NEWSBOT_COLLECT_PRIVATE_URLS", raising=False)
    assert FetchSettings.from_env().allow_private and not collecting_fetch_settings().allow_private
    monkeypatch.setenv("NEWSBOT_COLLECT_PRIVATE_URLS", "1")
    assert collecting_fetch_settings().allow_private


def test_the_purge_every_claim_runs_reads_an_index_not_the_table(tmp_path, embedder):
    index = make_index(tmp_path, embedder)
    LinkQueue(index).claim()  # the bot's tables, brought up to date
    with sqlite3.connect(tmp_path / "index" / "newsbot.sqlite") as conn:
        plan = conn.execute("EXPLAIN QUERY PLAN DELETE FROM shared_links "
                            "WHERE state NOT IN ('queued', 'fetching') AND done_at < 1").fetchall()
    assert "USING INDEX shared_links_done" in str(plan), plan


def test_collecting_channels_are_switched_on_and_off(tmp_path, embedder, engine_settings):
    channels = CollectingChannels(make_index(tmp_path, embedder, **engine_settings))
    assert channels.get("C1") is None and channels.set("C1", True, "U0ADMIN")
    assert not channels.set("C1", True, "U0ADMIN"), "already on"
    assert channels.get("C1")[0] == "U0ADMIN" and channels.all() == ["C1"]
    assert channels.set("C1", False, "U0ADMIN") and not channels.set("C1", False, None) and channels.all() == []


# --- the collector's refusals ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_slack():
    fake = FakeSlack.start("xoxb-collector-test")
    yield fake
    fake.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "2130706433", "10.0.0.7"])
def test_a_link_to_a_private_address_is_refused_without_a_fetch(tmp_path, embedder, fake_slack, host):
    site = Site()
    site.article("/story", numbered_story(1))
    url = site.url("/story").replace("127.0.0.1", host)
    index = make_index(tmp_path, embedder)
    queue = LinkQueue(index)
    queue.add("C1", "1.1", [url])
    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    collector = LinkCollector(index, queue, client, FetchSettings(timeout=3, max_bytes=300_000, allow_private=False))
    fake_slack.reset()
    assert collector.tick() == 1
    assert site.requests == [] and not fake_slack.calls("reactions.add")
    assert queue.counts() == {"skipped": 1}


# --- the assistant pane's threads, on both engines -------------------------------------------------------------------


def test_pane_threads_keep_their_context_and_take_their_title_once(tmp_path, embedder, engine_settings):
    index = make_index(tmp_path, embedder, **engine_settings)
    threads, other_process = AssistantThreads(index), AssistantThreads(make_index(tmp_path, embedder, **engine_settings))
    assert threads.context("D1", "1.1") is None and threads.find(channel_id="D1", thread_ts="1.1") is None
    threads.started("D1", "1.1", "U1", {})
    assert threads.context("D1", "1.1") == {} and threads.find(channel_id="D1", thread_ts="1.1") is None
    other_process.save(channel_id="D1", thread_ts="1.1", context={"channel_id": "C9", "team_id": "T1"})
    assert threads.find(channel_id="D1", thread_ts="1.1") == {"channel_id": "C9", "team_id": "T1"}
    assert threads.take_title("D1", "1.1") and not other_process.take_title("D1", "1.1")
    assert not threads.take_title("D1", "9.9"), "a thread the pane never started gets no title"


def test_a_hostile_thread_context_keeps_only_slack_ids():
    assert clean_context({"channel_id": "C1", "evil": "x", "team_id": 5, "enterprise_id": "E" * 500}) == {"channel_id": "C1"}
    assert clean_context("not a dict") == {} and clean_context(None) == {}


def test_links_a_stopping_process_did_not_try_go_back_to_the_queue_without_using_an_attempt(tmp_path, embedder,
                                                                                             fake_slack):
    site = Site()
    index = make_index(tmp_path, embedder)
    queue = LinkQueue(index)
    queue.add("C1", "1.1", [site.article("/a", numbered_story(1)), site.article("/b", numbered_story(2))])
    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    collector = LinkCollector(index, queue, client, FetchSettings(timeout=3, max_bytes=300_000, allow_private=True))
    collector.stopping.set()  # SIGTERM arrived: the claimed batch is put back untried
    links = queue.claim()
    collector._collect(links)
    assert site.requests == [] and queue.counts() == {"queued": 2}
    assert [link.attempts for link in queue.claim()] == [1, 1]
