"""Digests with an injectable clock, on a real index (real model, FAISS, SQLite), posting over real HTTP
to the fake Slack Web API: sent at the set time in the set zone, once, not repeated after a restart,
late but once after downtime, one line or skipped when nothing is new, grouped into stories."""

from __future__ import annotations

import shutil
import threading
from datetime import datetime, timedelta, timezone

import pytest
from conftest import SEEDS, make_index
from fakeslack import FakeSlack
from slack_sdk import WebClient

from bot.digests.schedule import ScheduleError, parse_schedule
from bot.digests.sender import DigestSender
from bot.digests.store import DigestStore
from bot.state.scopes import Scopes
from index import FilterError

CHANNEL = "C0DIGEST"
UTC = timezone.utc
# 08:00 in Berlin is 07:00 UTC in winter (CET) and 06:00 UTC in summer (CEST, from 29 March 2026)
SET_AT = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
GRAIN = (
    "Grain ships leave the port\n\n"
    "Three ships loaded with grain left the port of Odesa on Monday under a deal brokered by Turkey. "
    "The ships carry maize and wheat for buyers in Egypt and Spain."
)


class Clock:
    """A settable clock for the digest store and sender."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def setup(tmp_path, embedder, fake, engine_settings):
    """An index of the seeds (SQLite or PostgreSQL), a digest store and a sender on one clock, and a way to add articles."""
    fake.reset()
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    index = make_index(tmp_path, embedder, articles=articles, **engine_settings)
    index.update(progress=False)
    clock = Clock(SET_AT)
    store = DigestStore(index, clock)

    def sender() -> DigestSender:  # a new one is a restarted bot
        return DigestSender(index, DigestStore(index, clock), Scopes(index), WebClient(token=fake.token, base_url=fake.api_url), clock)

    def add(files: dict[str, str]) -> None:
        for name, text in files.items():
            (articles / name).write_text(text, encoding="utf-8")
        index.update(progress=False)

    return index, store, clock, sender, add


def digests_posted(fake: FakeSlack) -> list:
    return [c for c in fake.calls("chat.postMessage") if c.params.get("channel") == CHANNEL]


def test_schedules_are_read_or_refused_in_one_line():
    daily = parse_schedule("daily 8:00 Europe/Berlin grain exports skip-empty")
    assert (daily.cadence, daily.at_time, daily.zone, daily.topic, daily.skip_empty) == (
        "daily", "08:00", "Europe/Berlin", "grain exports", True)
    weekly = parse_schedule("weekly Monday 09:30")
    assert (weekly.weekday, weekly.at_time, weekly.zone) == ("mon", "09:30", None)
    for text, says in [("hourly 08:00", "daily or weekly"), ("daily 25:00", "HH:MM"), ("weekly 09:00", "which day"),
                       ("daily 08:00 Mars/Olympus", "not a time zone")]:
        with pytest.raises(ScheduleError, match=says):
            parse_schedule(text)
    with pytest.raises(FilterError, match="after:2025-13-01"):
        parse_schedule("daily 08:00 grain after:2025-13-01")


def test_a_digest_is_sent_at_its_time_in_its_zone_once_and_not_again_after_a_restart(setup, fake):
    index, store, clock, sender, add = setup
    store.set(CHANNEL, parse_schedule("daily 08:00 Europe/Berlin"), "Europe/Berlin", "U0ALICE")
    add({"grain.txt": GRAIN})
    first = sender()
    clock.now = datetime(2026, 3, 2, 6, 59, tzinfo=UTC)  # 07:59 in Berlin
    assert first.tick() == 0 and not digests_posted(fake)
    clock.now = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Berlin
    assert first.tick() == 1
    [digest] = digests_posted(fake)
    shown = digest.mrkdwn()
    assert "Daily digest" in shown and "1 story from 1 new articles" in shown and "08:00 (Europe/Berlin)" in shown
    assert "*Three ships loaded with grain left the port of Odesa on Monday under a deal brokered by Turkey.*" in shown
    clock.now += timedelta(minutes=5)
    assert first.tick() == 0 and sender().tick() == 0, "not repeated, not after a restart either"
    assert len(digests_posted(fake)) == 1
    # the next day, nothing new: one line
    clock.now = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    assert sender().tick() == 1
    assert "nothing new since the last one" in digests_posted(fake)[-1].mrkdwn()


def test_summer_time_moves_the_utc_hour_and_downtime_sends_one_late_digest(setup, fake):
    index, store, clock, sender, add = setup
    store.set(CHANNEL, parse_schedule("daily 08:00 Europe/Berlin"), "Europe/Berlin", None)
    clock.now = datetime(2026, 3, 30, 5, 59, tzinfo=UTC)  # bot down since 2 March: 28 digests missed
    add({"grain.txt": GRAIN})
    assert sender().tick() == 1 and sender().tick() == 0, "one late digest for all the missed ones"
    clock.now = datetime(2026, 3, 31, 6, 0, tzinfo=UTC)  # 08:00 CEST
    assert sender().tick() == 1
    assert len(digests_posted(fake)) == 2


def test_skip_empty_sends_nothing_and_two_processes_send_once(setup, fake):
    index, store, clock, sender, add = setup
    store.set(CHANNEL, parse_schedule("weekly mon 08:00 UTC skip-empty"), "UTC", None)
    clock.now = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert sender().tick() == 0 and not digests_posted(fake), "nothing new, and the channel chose to skip"
    add({"grain.txt": GRAIN})
    clock.now = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
    results: list[int] = []
    racers = [threading.Thread(target=lambda s=sender(): results.append(s.tick())) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(results) == [0, 1] and len(digests_posted(fake)) == 1


def test_stories_fold_the_same_news_from_several_sources_and_lead_the_digest(setup, fake):
    index, store, clock, sender, add = setup
    store.set(CHANNEL, parse_schedule("daily 08:00 UTC"), "UTC", None)
    copy = GRAIN.replace("Grain ships leave the port", "Grain convoy sails")
    add({
        "grain-a.md": f"---\ntitle: Grain ships leave the port\nsource: Wire A\nurl: https://a.example/grain\n---\n{GRAIN.split(chr(10), 2)[2]}",
        "grain-b.md": f"---\ntitle: Grain convoy sails\nsource: Wire B\nurl: https://b.example/grain\n---\n{copy.split(chr(10), 2)[2]}",
        "zebra.md": "---\ntitle: Zebra festival\nsource: Town Crier\n---\nThe town council said the zebra crossing "
                    "festival will close the high street on Saturday for the parade.",
    })
    clock.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert sender().tick() == 1
    digest = digests_posted(fake)[-1]
    quotes = [b["text"]["text"] for b in digest.blocks if b["type"] == "section" and b["text"]["text"].startswith(">")]
    assert len(quotes) == 2, "the two wires' grain story is one story, the zebra another"
    assert "Three ships loaded with grain" in quotes[0], "the story two sources carry comes first"
    sources = [b for b in digest.blocks if b["type"] == "context"][0]["elements"][0]["text"]
    assert "<https://a.example/grain|Wire A>" in sources and "<https://b.example/grain|Wire B>" in sources


def test_a_topic_digest_reports_only_what_answers_the_topic(setup, fake):
    index, store, clock, sender, add = setup
    store.set(CHANNEL, parse_schedule("daily 08:00 UTC grain shipments from Odesa"), "UTC", None)
    add({"grain.txt": GRAIN, "zebra.txt": "Zebra festival\n\nThe town council said the zebra crossing festival "
                                         "will close the high street on Saturday for the parade."})
    clock.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert sender().tick() == 1
    shown = digests_posted(fake)[-1].mrkdwn()
    assert "on “grain shipments from Odesa”" in shown and "Odesa" in shown and "zebra" not in shown


def test_a_passing_failure_is_retried_later_and_a_channel_gone_skips_its_slot(setup, fake):
    index, store, clock, sender, add = setup
    store.set(CHANNEL, parse_schedule("daily 08:00 UTC"), "UTC", None)
    add({"grain.txt": GRAIN})
    clock.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    fake.fail("chat.postMessage", status=500, times=100)  # beyond the client's own retries
    first = sender()
    assert first.tick() == 0
    fake.reset()
    assert first.tick() == 0, "not rebuilt and retried at once"
    assert sender().tick() == 1 and "Three ships" in digests_posted(fake)[-1].mrkdwn(), "a restarted bot sends it"
    # the channel is gone: the slot is skipped for good, and its articles wait for the next digest
    add({"zebra.txt": "Zebra festival\n\nThe town council said the zebra crossing festival will close the high "
                      "street on Saturday for the parade."})
    clock.now = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    fake.fail("chat.postMessage", error="channel_not_found", times=100)
    assert sender().tick() == 0 and sender().tick() == 0
    fake.reset()
    clock.now = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    assert sender().tick() == 1 and "zebra" in digests_posted(fake)[-1].mrkdwn()


def test_the_repeated_hour_when_clocks_go_back_sends_once():
    schedule = parse_schedule("weekly sun 02:30 Europe/Berlin")
    store_row = dict(channel=CHANNEL, cadence=schedule.cadence, weekday=schedule.weekday, at_time=schedule.at_time,
                     zone="Europe/Berlin", topic="", skip_empty=False, set_by=None, set_at="x", last_seq=0)
    from bot.digests.store import Digest

    # 25 October 2026: 02:30 CEST (00:30 UTC), then clocks go back and 02:30 CET (01:30 UTC) comes again
    sent = Digest(**store_row, last_due=datetime(2026, 10, 25, 0, 30, tzinfo=UTC).isoformat())
    assert sent.due(datetime(2026, 10, 25, 1, 45, tzinfo=UTC)) is None
    assert sent.due(datetime(2026, 11, 1, 1, 30, tzinfo=UTC)) == datetime(2026, 11, 1, 1, 30, tzinfo=UTC)


def test_zone_names_without_a_slash_are_zones_not_topic_words():
    assert parse_schedule("daily 08:00 Japan grain").zone == "Japan"
    assert parse_schedule("daily 08:00 GMT grain").topic == "grain"
    assert parse_schedule("daily 08:00 grain exports").zone is None
