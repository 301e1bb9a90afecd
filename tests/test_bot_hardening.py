"""Every door of `newsbot serve`, hostile case next to the happy one: junk HTTP, idle connections, forged clicks.

A real server over real HTTP on its own corpus (built at startup), the real bolt app, a fake Slack API.
The server runs with a short `NEWSBOT_HTTP_TIMEOUT` so the tests can watch slow connections being closed.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import pytest
from botkit import (
    ALICE,
    BOT_TOKEN,
    NATO_QUESTION,
    NATO_QUOTE,
    SIGNING_SECRET,
    BotProcess,
    Corpus,
    SlackSender,
    build_corpus,
    buttons,
    dm_event,
    next_ts,
    raw_request,
    request,
)
from fakeslack import FakeSlack

POST = "chat.postMessage"
HTTP_TIMEOUT = 1.5  # seconds a connection may take to send its request (NEWSBOT_HTTP_TIMEOUT)
MAX_CONNECTIONS = 100  # NEWSBOT_HTTP_MAX_CONNECTIONS
MAX_PER_IP = 60  # NEWSBOT_HTTP_MAX_CONNECTIONS_PER_IP
PROMPT = 2.0  # seconds within which /healthz and Slack's acks must come while the server is under attack
LONG_URL = "https://owls.example/wexford/night-tours?ref=" + "a" * 2850  # fits in 3,000 characters; with a fragment, not
OWL_QUESTION = "when do the Wexford owl sanctuary night tours start?"
OWL_ARTICLE = f"""---
title: Wexford owl sanctuary opens night tours
source: Wexford Echo
published: "2024-03-02"
url: {LONG_URL}
---
The Wexford owl sanctuary will start its night tours on the first Friday of April, the trust that runs it said.
Visitors will walk the marsh boardwalk with a ranger and listen for barn owls hunting over the reed beds.
"""


@pytest.fixture(scope="module")
def bot(fake, tmp_path_factory):
    base = tmp_path_factory.mktemp("hardening")
    articles = build_corpus(base / "articles")
    (articles / "owls.md").write_text(OWL_ARTICLE, encoding="utf-8")
    corpus = Corpus(articles, base / "index")  # no index yet: the server builds it at startup
    process = BotProcess(
        corpus,
        fake,
        base,
        NEWSBOT_HTTP_TIMEOUT=str(HTTP_TIMEOUT),
        NEWSBOT_HTTP_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        NEWSBOT_HTTP_MAX_CONNECTIONS_PER_IP=str(MAX_PER_IP),
    )
    try:
        process.wait_ready(timeout=300)
        yield process
    finally:
        code = process.stop()
    log = process.log()
    assert code == 0, log
    assert BOT_TOKEN not in log and SIGNING_SECRET not in log, "a secret reached the log"


@pytest.fixture
def slack(bot, fake):
    fake.reset()
    yield SlackSender(bot.url, fake)
    fake.wait_for(lambda c: c.method == "reactions.remove", count=len(fake.calls("reactions.add", ok=None)), timeout=30)


def log_since(bot: BotProcess, offset: int) -> str:
    return bot.log()[offset:]


def assert_quiet(log: str, max_line: int = 300) -> None:
    """No traceback, and every line short."""
    assert "Traceback" not in log, log[-3000:]
    longest = max((len(line) for line in log.splitlines()), default=0)
    assert longest <= max_line, f"a log line of {longest} characters:\n{log[:3000]}"


def wait_post(fake: FakeSlack, channel: str, thread_ts: str | None = None, contains: str = "", timeout: float = 60):
    def match(c):
        where = c.params.get("channel") == channel and c.params.get("thread_ts") == thread_ts
        return c.ok and c.method == POST and where and contains in c.mrkdwn()

    return fake.wait_for(match, timeout=timeout)[0]


def wait_response(fake: FakeSlack, name: str, contains: str = "", timeout: float = 60):
    return fake.wait_for(lambda c: c.method == "response_url" and c.name == name and contains in c.mrkdwn(),
                         timeout=timeout)[0]


def thread_count(bot: BotProcess) -> int:
    status = Path(f"/proc/{bot.process.pid}/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)", status, re.MULTILINE).group(1))


def sockets(targets: list[str]) -> int:
    return sum(target.startswith("socket:") for target in targets)


def fd_targets(bot: BotProcess) -> list[str]:
    """What each open file descriptor of the bot points at (for a failing assertion's message)."""
    folder = f"/proc/{bot.process.pid}/fd"
    targets = []
    for name in os.listdir(folder):
        try:
            targets.append(os.readlink(f"{folder}/{name}"))
        except OSError:
            pass  # closed while listed
    return targets


@dataclass
class Attack:
    """Keeps `count` connections from `source` open on a thread: each sends `first`, then `drip` every `every` s.

    A connection the server closes is replaced at once (`reopen`), as an attacker would; how long each one
    lived and what it was answered are recorded.
    """

    port: int
    count: int
    first: bytes = b""
    drip: bytes = b""
    every: float = 0.2
    source: str = "127.0.0.1"
    reopen: bool = True
    lives: list[tuple[float, bytes]] = field(default_factory=list)  # (seconds open, answer) per closed connection
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Self:
        self._open = {self._connect(): time.monotonic() for _ in range(self.count)}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self._open:
            sock.close()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5, source_address=(self.source, 0))
        sock.sendall(self.first)
        sock.setblocking(False)
        return sock

    def _run(self) -> None:
        next_drip = time.monotonic() + self.every
        while not self._stop.is_set():
            readable, _, _ = select.select(list(self._open), [], [], 0.05)
            for sock in readable:
                self._closed(sock)
            if self.drip and time.monotonic() >= next_drip:
                next_drip += self.every
                for sock in list(self._open):
                    try:
                        sock.send(self.drip)
                    except OSError:
                        self._closed(sock)

    def _closed(self, sock: socket.socket) -> None:
        """The server answered or closed `sock`: record it, and open another in its place."""
        try:
            answer = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            answer = b""
        self.lives.append((time.monotonic() - self._open.pop(sock), answer))
        sock.close()
        if self.reopen and not self._stop.is_set():
            self._open[self._connect()] = time.monotonic()


def assert_prompt(bot: BotProcess, slack: SlackSender, fake: FakeSlack, rounds: int) -> None:
    """/healthz and a signed Slack mention are acked within PROMPT seconds, `rounds` times; the last is answered."""
    for _ in range(rounds):
        health = request("GET", f"{bot.url}/healthz", timeout=10)
        assert health.status == 200 and health.seconds < PROMPT, health
        reply, event = slack.mention(NATO_QUESTION)
        assert reply.status == 200 and reply.seconds < PROMPT, reply
        time.sleep(0.3)
    assert NATO_QUOTE in wait_post(fake, "C0NEWS", event["ts"]).mrkdwn()


def events_request(body: bytes, *headers: str) -> bytes:
    """A raw POST to /slack/events with exactly these header lines (Content-Length too: it may lie)."""
    head = ["POST /slack/events HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# --- 3. junk HTTP on /slack/events ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{", "application/json"),
        ("[1,2,3]", "application/json"),
        ("payload=not-json", "application/x-www-form-urlencoded"),
    ],
)
def test_unsigned_junk_gets_401_quickly_and_quietly(slack, fake, bot, body, content_type):
    before = len(bot.log())
    reply = request("POST", slack.events_url, body, {"Content-Type": content_type}, timeout=10)
    assert reply.status == 401 and reply.seconds < 2
    time.sleep(0.2)
    assert_quiet(log_since(bot, before))
    # the happy case next door: the same door still answers Slack
    reply, event = slack.mention(NATO_QUESTION)
    assert reply.status == 200
    assert NATO_QUOTE in wait_post(fake, "C0NEWS", event["ts"]).mrkdwn()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{", "application/json"),
        ("[1,2,3]", "application/json"),
        ('"just a string"', "application/json"),
        ("payload=not-json", "application/x-www-form-urlencoded"),
        ("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
        (b'{"type": "event_callback", "x": "\xff\xfe"}', "application/json"),
    ],
)
def test_signed_but_malformed_body_gets_400_without_traceback(slack, bot, body, content_type):
    before = len(bot.log())
    reply = slack.post(body, content_type)
    assert reply.status == 400 and reply.seconds < 2
    time.sleep(0.2)
    assert_quiet(log_since(bot, before))


def test_malformed_or_stale_signature_headers_get_401(slack, bot):
    body = json.dumps({"type": "event_callback", "event": {"type": "app_mention"}})
    before = len(bot.log())
    assert slack.post(body, "application/json", {"X-Slack-Request-Timestamp": "abc"}).status == 401
    assert slack.post(body, "application/json", {"X-Slack-Request-Timestamp": "-5"}).status == 401
    assert slack.post(body, "application/json", {"X-Slack-Signature": "v0=" + "0" * 5000}).status == 401
    assert slack.post(body, "application/json", timestamp=int(time.time()) - 600).status == 401
    assert request("POST", slack.events_url, body, {"Content-Type": "application/json"}).status == 401
    time.sleep(0.2)
    assert_quiet(log_since(bot, before))


@pytest.mark.parametrize(
    "length_headers",
    [
        ["Content-Length: -1"],
        ["Content-Length: abc"],
        ["Content-Length: 1e3"],
        ["Content-Length: 2", "Content-Length: 3"],
    ],
)
def test_bad_content_length_gets_400_quickly(bot, length_headers):
    before = len(bot.log())
    status, seconds = raw_request(bot.port, events_request(b"{}", "Content-Type: application/json", *length_headers))
    assert status == 400 and seconds < 2
    time.sleep(0.2)
    assert_quiet(log_since(bot, before))


def test_missing_or_huge_content_length_is_refused_without_reading(bot):
    status, seconds = raw_request(bot.port, events_request(b"{}", "Content-Type: application/json"))
    assert status == 411 and seconds < 2
    status, seconds = raw_request(bot.port, events_request(b"{}", "Content-Length: 50000000"))
    assert status == 413 and seconds < 2


def test_body_shorter_than_content_length_times_out_with_408(bot):
    before = len(bot.log())
    status, seconds = raw_request(bot.port, events_request(b"{}", "Content-Length: 100"), timeout=HTTP_TIMEOUT + 10)
    assert status == 408 and seconds < HTTP_TIMEOUT + 2
    time.sleep(0.2)
    assert_quiet(log_since(bot, before))


def test_twenty_unsigned_large_posts_leave_a_small_log(slack, bot):
    secret_url = "https://hooks.slack.com/actions/T0NEWS/1234/NotForTheLog"
    payload = {"type": "block_actions", "response_url": secret_url, "padding": "x" * 900_000}
    body = json.dumps(payload)
    before = len(bot.log())
    for _ in range(20):
        reply = request("POST", slack.events_url, body, {"Content-Type": "application/json"}, timeout=10)
        assert reply.status == 401
    time.sleep(0.2)
    added = log_since(bot, before)
    assert len(added) < 20 * 300, f"the log grew by {len(added)} characters"
    assert "NotForTheLog" not in added and "xxxxxxxxxx" not in added
    assert_quiet(added)


# --- 4. idle and slow connections ----------------------------------------------------------------------


def test_idle_connections_take_no_threads_time_out_and_healthz_keeps_answering(bot):
    before = len(bot.log())
    idle = [socket.create_connection(("127.0.0.1", bot.port), timeout=10) for _ in range(300)]
    opened = time.monotonic()
    try:
        time.sleep(0.3)
        reply = request("GET", f"{bot.url}/healthz", timeout=10)
        assert reply.status == 200 and reply.seconds < 1
        assert thread_count(bot) < 100, "idle connections must not each hold a thread"
        newest = idle[-1]
        newest.settimeout(0.1)
        with pytest.raises(socket.timeout):
            newest.recv(1)  # not closed before its time
        for sock in idle:
            sock.settimeout(max(0.1, opened + HTTP_TIMEOUT + 3 - time.monotonic()))
            assert sock.recv(1) == b"", "the server should close an idle connection"
        assert time.monotonic() - opened < HTTP_TIMEOUT + 3
    finally:
        for sock in idle:
            sock.close()
    assert request("GET", f"{bot.url}/healthz").status == 200
    log = log_since(bot, before)
    assert re.search(r"closed HTTP connections: .*\d+ over the limit", log), log
    assert_quiet(log)


def test_a_request_sent_slowly_is_cut_off_at_the_timeout(bot):
    with socket.create_connection(("127.0.0.1", bot.port), timeout=HTTP_TIMEOUT + 5) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the headers never end
        for _ in range(3):
            time.sleep(HTTP_TIMEOUT / 3)
            try:
                sock.sendall(b"X-Drip: 1\r\n")  # a byte now and then keeps a per-read timeout from firing
            except OSError:
                break
        try:
            while sock.recv(1024):  # whatever it answers, the server must end the connection
                pass
        except ConnectionResetError:
            pass
        assert time.monotonic() - started < HTTP_TIMEOUT + 3
    assert request("GET", f"{bot.url}/healthz").status == 200


def test_a_flood_of_one_byte_connections_does_not_delay_healthz_or_slack(bot, slack, fake):
    """The review's attack: connections that send one byte, reopened as fast as they are closed, past every cap."""
    before, fds = len(bot.log()), fd_targets(bot)
    with Attack(bot.port, count=MAX_CONNECTIONS + 50, first=b"P") as attack:
        assert_prompt(bot, slack, fake, rounds=int(2 * HTTP_TIMEOUT / 0.3) + 1)
        assert thread_count(bot) < 100, "one-byte connections must not each hold a thread"
    assert sum(seconds < HTTP_TIMEOUT / 2 for seconds, _ in attack.lives) > 50, "the oldest should make room"
    assert_prompt(bot, slack, fake, rounds=1)
    time.sleep(HTTP_TIMEOUT + 1.5)
    after = fd_targets(bot)
    # Sockets only: each thread that has searched keeps its SQLite connection (bounded by the thread pools).
    assert sockets(after) <= sockets(fds) + 5, f"the server should close every connection it no longer serves: {sorted(after)}"
    assert_quiet(log_since(bot, before))


def test_one_byte_connections_below_the_caps_get_408_at_the_deadline(bot, slack, fake):
    """Connections the caps leave alone still have a deadline from the moment they were accepted."""
    with Attack(bot.port, count=MAX_PER_IP // 2, first=b"G", reopen=False) as attack:
        assert_prompt(bot, slack, fake, rounds=2)
        time.sleep(HTTP_TIMEOUT + 2)
    assert len(attack.lives) == MAX_PER_IP // 2, "every one-byte connection should be closed by its deadline"
    for seconds, answer in attack.lives:
        assert HTTP_TIMEOUT - 0.2 < seconds < HTTP_TIMEOUT + 2, seconds
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]


def test_trickling_clients_do_not_delay_healthz_or_slack_and_are_cut_off(bot, slack, fake):
    """Slowloris: headers sent a few bytes at a time, never finished; each is cut off at the deadline from accept."""
    before = len(bot.log())
    head = b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    with Attack(bot.port, count=MAX_PER_IP - 10, first=head, drip=b"X-a: b\r\n", every=0.1) as attack:
        assert_prompt(bot, slack, fake, rounds=int(2 * HTTP_TIMEOUT / 0.3) + 1)
    assert attack.lives, "trickling connections should be cut off"
    for seconds, answer in attack.lives:
        assert seconds < HTTP_TIMEOUT + 2, seconds
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), answer[:100]
    assert_quiet(log_since(bot, before))


def test_a_flood_from_one_address_does_not_close_a_request_from_another(bot):
    """The per-address cap: connections from 127.0.0.2 only ever push out each other."""
    with socket.create_connection(("127.0.0.1", bot.port), timeout=10) as mine:
        mine.sendall(b"GET /healthz HTTP/1.1\r\n")  # half a request, sent before the flood
        with Attack(bot.port, count=MAX_CONNECTIONS + 50, source="127.0.0.2", reopen=False) as attack:
            time.sleep(0.5)
            mine.sendall(b"Host: 127.0.0.1\r\n\r\n")
            assert mine.recv(4096).startswith(b"HTTP/1.1 200 ")
        assert len(attack.lives) >= MAX_CONNECTIONS + 50 - MAX_PER_IP, "the flood beyond its cap should be closed"


# --- 7. forged button values ---------------------------------------------------------------------------


def forged(action_id: str, value: str) -> dict:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": "x"}, "value": value}


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("feedback_up", "not json"),
        ("feedback_down", '{"q": "x", "p": "abc"}'),
        ("more_results", "[1,2,3]"),
        ("more_results", '{"q": "x", "o": "many"}'),
        ("share", '{"q": 5}'),
        ("share", ""),
    ],
)
def test_a_click_with_a_forged_value_gets_a_polite_reply(slack, fake, bot, action_id, value):
    before = len(bot.log())
    assert slack.click(forged(action_id, value), "forged").status == 200
    reply = wait_response(fake, "forged", timeout=30)
    assert reply.params["response_type"] == "ephemeral"
    assert "button" in reply.mrkdwn() and "Sorry" in reply.mrkdwn()
    time.sleep(0.2)
    assert_quiet(log_since(bot, before))


def test_a_real_click_still_works(slack, fake):
    slack.command(NATO_QUESTION, "real")
    answer = wait_response(fake, "real", NATO_QUOTE)
    slack.click(buttons(answer)["more_results"], "real-more")
    more = wait_response(fake, "real-more")
    assert "Sorry" not in more.mrkdwn() and more.blocks


# --- 8. questions in other message shapes, unknown events, long links ---------------------------------


def test_a_dm_with_a_file_attached_is_answered(slack, fake):
    files = [{"id": "F0NOTES", "name": "notes.txt", "mimetype": "text/plain", "filetype": "text", "user": ALICE}]
    event = dm_event(NATO_QUESTION, channel="D0FILES", subtype="file_share", files=files, upload=False,
                     display_as_bot=False)
    assert slack.event(event).status == 200
    assert NATO_QUOTE in wait_post(fake, "D0FILES").mrkdwn()


def test_a_dm_reply_also_sent_to_the_conversation_is_answered_in_its_thread(slack, fake):
    parent = next_ts()
    root = {"type": "message", "user": ALICE, "text": "earlier", "ts": parent, "thread_ts": parent, "reply_count": 1}
    event = dm_event(NATO_QUESTION, channel="D0BROADCAST", subtype="thread_broadcast", thread_ts=parent, root=root)
    assert slack.event(event).status == 200
    assert NATO_QUOTE in wait_post(fake, "D0BROADCAST", thread_ts=parent).mrkdwn()


def test_other_message_subtypes_and_bots_files_stay_ignored(slack, fake):
    bot_file = dm_event(NATO_QUESTION, channel="D0BOTFILE", subtype="file_share", bot_id="B0OTHER", files=[])
    assert slack.event(bot_file).status == 200
    deleted = dm_event("", channel="D0DELETED", subtype="message_deleted", deleted_ts=next_ts())
    assert slack.event(deleted).status == 200
    slack.dm(NATO_QUESTION, channel="D0SENTINEL2")
    wait_post(fake, "D0SENTINEL2")
    touched = {c.params.get("channel") for c in fake.calls(ok=None) if c.method != "auth.test"}
    assert touched == {"D0SENTINEL2"}


@pytest.mark.parametrize(
    "event",
    [
        {"type": "tokens_revoked", "tokens": {"oauth": [ALICE], "bot": ["UBOT"]}},
        {"type": "app_uninstalled"},
        {"type": "reaction_added", "user": ALICE, "reaction": "thumbsup",
         "item": {"type": "message", "channel": "C0NEWS", "ts": "1800000000.000100"}, "item_user": "UBOT"},
    ],
)
def test_an_event_without_a_listener_is_acknowledged(slack, fake, bot, event):
    before = len(bot.log())
    reply = slack.event({**event, "event_ts": next_ts()})
    assert reply.status == 200, "a 404 makes Slack retry the event"
    time.sleep(0.2)
    assert_quiet(log_since(bot, before))
    assert slack.dm(NATO_QUESTION, channel="D0AFTER")[0].status == 200  # the happy case next to it
    wait_post(fake, "D0AFTER")


def test_a_long_link_is_shortened_not_the_source_line(slack, fake):
    _, event = slack.mention(OWL_QUESTION)
    answer = wait_post(fake, "C0NEWS", event["ts"], contains="first Friday of April")
    contexts = [e["text"] for b in answer.blocks if b["type"] == "context" for e in b["elements"]]
    line = next(text for text in contexts if "Wexford owl sanctuary" in text)
    assert len(line) <= 3000
    links = re.findall(r"<([^|>]+)\|([^>]+)>", line)
    assert links, f"no complete link in {line[:200]}…"
    url, label = links[0]
    assert url == LONG_URL and label == "Wexford owl sanctuary opens night tours"  # the fragment went, not the link
    assert line.endswith("· Wexford Echo · 2024-03-02")
