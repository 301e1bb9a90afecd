"""Shared pieces of the bot's end-to-end tests: a test corpus and index, a `newsbot serve` process, Slack's requests.

Requests are signed exactly as Slack signs them: `v0=hex(hmac_sha256(secret, "v0:{timestamp}:{body}"))`.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from fakeslack import BOT_USER_ID, TEAM_ID, FakeSlack

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
NEWSBOT = [str(Path(sys.executable).with_name("newsbot"))]  # the console script, as the Procfile runs it
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
BOT_TOKEN = "xoxb-1111-2222-NotARealTokenButSecret"
ADMIN = "U0ADMIN"
ALICE = "U0ALICE"
NATO_QUESTION = "why did NATO expel the diplomats?"
NATO_QUOTE = "intelligence officers"
ZEBRA_QUESTION = "how do residents register for the zebra crossing festival?"

# Untrusted article text: every one of these would ping or link if posted unescaped.
EVIL_ARTICLE = """---
title: "Zebra crossing festival <!here> opens"
source: "Town <b>Crier</b> & Co"
---
The mayor's office said <!channel> residents can register for the zebra crossing festival at the town hall. \
Organisers of the zebra crossing festival told <@U123> and <!here> to click <https://evil.example|click here> \
to register, and promised <script>alert(1)</script> free stripes for every zebra crossing registration.
"""

_ts = itertools.count(1)
_ids = itertools.count(1)  # event ids and trigger ids, unique across the whole session


def next_ts() -> str:
    """A fresh Slack message timestamp."""
    return f"{1800000000 + next(_ts)}.000200"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sign(body: str | bytes, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request it sends an app."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    data = body if isinstance(body, bytes) else body.encode()
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + data, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class Reply:
    """An HTTP response from the bot and how long it took."""

    status: int
    body: str
    seconds: float
    headers: dict[str, str]

    def json(self) -> dict:
        return json.loads(self.body)


def request(
    method: str, url: str, body: str | bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30
) -> Reply:
    """One request with the stdlib client (no proxy settings apply to it)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body, headers=headers or {})
        response = conn.getresponse()
        text = response.read().decode("utf-8")
        return Reply(response.status, text, time.monotonic() - started, dict(response.getheaders()))
    finally:
        conn.close()


def raw_request(port: int, data: bytes, timeout: float = 10) -> tuple[int | None, float]:
    """Send `data` byte for byte, lying headers included; the status answered (None if none) and the seconds taken."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    status = received.split(b" ", 2)[1] if received.startswith(b"HTTP/") else None
    return (int(status) if status else None), time.monotonic() - started


# --- corpus, index, server ------------------------------------------------------------------------------


def build_corpus(folder: Path) -> Path:
    """The seeds plus an article full of Slack control sequences."""
    shutil.copytree(SEEDS, folder)
    (folder / "zebra.md").write_text(EVIL_ARTICLE, encoding="utf-8")
    return folder


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Newsbot/Slack settings or proxies (slack_sdk would ignore NO_PROXY), plus `extra`."""
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "SLACK_")) and k.lower() not in proxies
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Corpus:
    """An article folder and the index built from it."""

    articles: Path
    index_dir: Path


@pytest.fixture(scope="session")
def bot_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The test corpus, indexed once per session with the real `newsbot index`."""
    base = tmp_path_factory.mktemp("botcorpus")
    return index_corpus(Corpus(build_corpus(base / "articles"), base / "newsbot-index"))


def index_corpus(corpus: Corpus) -> Corpus:
    """Index `corpus` with the real `newsbot index` (in a separate process, as a deployment would)."""
    done = subprocess.run(
        [*NEWSBOT, "index", "--quiet"],
        env=clean_env(NEWSBOT_INDEX_DIR=str(corpus.index_dir), NEWSBOT_ARTICLES_DIR=str(corpus.articles)),
        cwd=corpus.index_dir.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return corpus


class BotProcess:
    """A `newsbot serve` (or `socket`) subprocess with its log in a file."""

    def __init__(
        self, corpus: Corpus, fake: FakeSlack, workdir: Path, command: str = "serve", **extra_env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"newsbot-{self.port}.log"
        env = clean_env(
            NEWSBOT_INDEX_DIR=str(corpus.index_dir),
            NEWSBOT_ARTICLES_DIR=str(corpus.articles),
            NEWSBOT_PUBLIC_URL=self.url,
            NEWSBOT_ADMINS=ADMIN,
            SLACK_API_URL=fake.api_url,
            SLACK_BOT_TOKEN=fake.token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            PORT=str(self.port),
        )
        env.update(extra_env)
        self.started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*NEWSBOT, command], env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_listening(self, timeout: float = 60) -> float:
        """Block until the port accepts connections; the seconds since the process started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"newsbot serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return time.monotonic() - self.started
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"newsbot serve did not listen within {timeout}s:\n{self.log()}")

    def wait_ready(self, timeout: float = 180) -> None:
        """Block until `/healthz` answers 200."""
        self.wait_listening(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"newsbot serve exited with {self.process.returncode}:\n{self.log()}")
            if request("GET", f"{self.url}/healthz").status == 200:
                return
            time.sleep(0.2)
        raise AssertionError(f"/healthz not 200 within {timeout}s:\n{self.log()}")

    @contextmanager
    def running(self) -> Iterator[BotProcess]:
        """The process once ready; stopped afterwards, and a failed stop fails the test with its log."""
        try:
            self.wait_ready()
            yield self
        finally:
            assert self.stop() == 0, self.log()

    def stop(self) -> int:
        """SIGTERM, then wait; the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


# --- what Slack sends -------------------------------------------------------------------------------------


def mention_event(text: str, channel: str = "C0NEWS", user: str = ALICE, **fields) -> dict:
    """An `app_mention` event: `@Newsbot <text>` in a channel."""
    ts = next_ts()
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}", "ts": ts, "channel": channel}
    return {**event, "event_ts": ts, **fields}


def dm_event(text: str, channel: str = "D0ALICE", user: str = ALICE, **fields) -> dict:
    """A `message` event in the bot's DM with `user`."""
    ts = next_ts()
    event = {"type": "message", "channel_type": "im", "user": user, "text": text, "ts": ts, "channel": channel}
    return {**event, "event_ts": ts, **fields}


def event_payload(event: dict, event_id: str | None = None) -> dict:
    """The Events API envelope Slack wraps an event in."""
    return {
        "token": "unused-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0NEWSBOT",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def command_payload(text: str, response_url: str, user: str = ALICE, channel: str = "C0NEWS") -> dict[str, str]:
    """The fields of a `/news <text>` invocation."""
    return {
        "token": "unused", "team_id": TEAM_ID, "team_domain": "newsbot-test", "channel_id": channel,
        "channel_name": "news", "user_id": user, "user_name": user.lower(), "command": "/news", "text": text,
        "api_app_id": "A0NEWSBOT", "response_url": response_url, "trigger_id": f"{next(_ids)}.trigger",
    }


def click_payload(button: dict, response_url: str, user: str = ALICE, channel: str = "C0NEWS",
                  message: dict | None = None) -> dict:
    """A `block_actions` payload: a click on `button` of an ephemeral message, or of the public `message`."""
    container = {"type": "message", "channel_id": channel, "is_ephemeral": message is None,
                 "message_ts": (message or {}).get("ts", next_ts())}
    payload = {
        "type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0NEWSBOT", "token": "unused", "container": container,
        "trigger_id": f"{next(_ids)}.trigger", "team": {"id": TEAM_ID, "domain": "newsbot-test"},
        "channel": {"id": channel, "name": "news"}, "response_url": response_url,
        "actions": [{**button, "block_id": "answer_actions", "action_ts": next_ts()}],
    }
    if message is not None:
        payload["message"] = message
    return payload


class SlackSender:
    """Sends the bot what Slack would over HTTP: signed events, slash commands and button clicks."""

    def __init__(self, bot_url: str, fake: FakeSlack) -> None:
        self.events_url = f"{bot_url}/slack/events"
        self.fake = fake

    def post(self, body: str | bytes, content_type: str, headers: dict[str, str] | None = None, **signing) -> Reply:
        return request(
            "POST", self.events_url, body, {"Content-Type": content_type, **sign(body, **signing), **(headers or {})}
        )

    def event(self, event: dict, event_id: str | None = None, retry_num: int | None = None, **signing) -> Reply:
        """An Events API delivery; `retry_num` marks a re-delivery as Slack does."""
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else {}
        return self.post(json.dumps(event_payload(event, event_id)), "application/json", headers, **signing)

    def mention(self, text: str, **fields) -> tuple[Reply, dict]:
        """`@Newsbot <text>` in a channel; the reply and the event sent."""
        event = mention_event(text, **fields)
        return self.event(event), event

    def dm(self, text: str, **fields) -> tuple[Reply, dict]:
        """A direct message to the bot; the reply and the event sent."""
        event = dm_event(text, **fields)
        return self.event(event), event

    def command(self, text: str, response_name: str, **fields: str) -> Reply:
        """`/news <text>`; the bot's later responses are recorded under `response_name`."""
        body = urlencode(command_payload(text, self.fake.response_url(response_name), **fields))
        return self.post(body, "application/x-www-form-urlencoded")

    def click(self, button: dict, response_name: str, **fields) -> Reply:
        """A click on a button; the bot's responses are recorded under `response_name`."""
        payload = click_payload(button, self.fake.response_url(response_name), **fields)
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


def buttons(call) -> dict[str, dict]:
    """The buttons of a recorded message, by action id."""
    return {e["action_id"]: e for b in call.blocks if b["type"] == "actions" for e in b["elements"]}


# --- Slack's AI-apps pane, message shortcuts, shared links ---------------------------------------------------


def assistant_thread_event(kind: str, dm: str, thread_ts: str, user: str = ALICE, viewing: str | None = None) -> dict:
    """`assistant_thread_started` or `…_context_changed`, as bolt-python's scenario tests and Slack's docs show it."""
    context = {"channel_id": viewing, "team_id": TEAM_ID, "enterprise_id": "E0NEWS"} if viewing else {}
    thread = {"user_id": user, "context": context, "channel_id": dm, "thread_ts": thread_ts}
    return {"type": kind, "assistant_thread": thread, "event_ts": next_ts()}


def pane_root(dm: str, thread_ts: str, user: str = ALICE) -> dict:
    """The root message Slack creates when a user opens a pane thread (subtype `assistant_app_thread`)."""
    return {"type": "message", "subtype": "assistant_app_thread", "user": user, "text": "New chat", "ts": thread_ts,
            "thread_ts": thread_ts, "assistant_app_thread": {"title": "New chat", "title_blocks": [], "artifacts": []}}


def pane_message_event(text: str, dm: str, thread_ts: str, user: str = ALICE) -> dict:
    """A user's question in a pane thread (`message.im`, with the pane's `assistant_thread` action token)."""
    ts = next_ts()
    return {"user": user, "type": "message", "ts": ts, "text": text, "team": TEAM_ID, "user_team": TEAM_ID,
            "client_msg_id": f"msg-{next(_ids)}", "thread_ts": thread_ts, "parent_user_id": user, "channel": dm,
            "event_ts": ts, "channel_type": "im", "assistant_thread": {"action_token": f"{next(_ids)}.action"},
            "blocks": rich_text(text)}


def rich_text(text: str, links: tuple[str, ...] = ()) -> list[dict]:
    """The rich_text blocks Slack's client sends with a message: its text, then each link as a `link` element."""
    elements: list[dict] = [{"type": "text", "text": text}] if text else []
    for url in links:
        elements += [{"type": "text", "text": " "}, {"type": "link", "url": url}]
    return [{"type": "rich_text", "block_id": f"b{next(_ids)}",
             "elements": [{"type": "rich_text_section", "elements": elements}]}]


def channel_message_event(text: str, channel: str, links: tuple[str, ...] = (), user: str = ALICE, **fields) -> dict:
    """A person's message in a channel (`message.channels`), its links in the text as `<url>` and in rich text."""
    ts = next_ts()
    shown = " ".join([text, *(f"<{url}>" for url in links)]).strip()
    event = {"client_msg_id": f"msg-{next(_ids)}", "type": "message", "text": shown, "user": user, "ts": ts,
             "team": TEAM_ID, "blocks": rich_text(text, links), "channel": channel, "event_ts": ts,
             "channel_type": "channel"}
    return {**event, **fields}


def edited_event(original: dict, text: str, links: tuple[str, ...] = (), unfurl: bool = False) -> dict:
    """`message_changed` for `original`: an edit (with `edited`), or Slack adding link previews (`unfurl`)."""
    ts = next_ts()
    shown = " ".join([text, *(f"<{url}>" for url in links)]).strip()
    message = {"type": "message", "text": shown, "user": original["user"], "team": TEAM_ID, "ts": original["ts"],
               "blocks": rich_text(text, links)}
    if unfurl:
        message["attachments"] = [{"from_url": url, "original_url": url, "title": "A page", "id": 1} for url in links]
    else:
        message["edited"] = {"user": original["user"], "ts": ts}
    previous = {k: original[k] for k in ("type", "text", "user", "ts", "blocks")}
    return {"type": "message", "subtype": "message_changed", "message": message, "previous_message": previous,
            "channel": original["channel"], "hidden": True, "ts": ts, "event_ts": ts,
            "channel_type": original["channel_type"]}


def message_shortcut_payload(message: dict, response_url: str, user: str = ALICE, channel: str = "C0NEWS") -> dict:
    """A `message_action` payload: "Ask Newsbot about this" picked on `message`, as bolt-python's tests show it."""
    return {
        "type": "message_action", "token": "unused", "action_ts": next_ts(),
        "team": {"id": TEAM_ID, "domain": "newsbot-test"}, "user": {"id": user, "name": user.lower()},
        "channel": {"id": channel, "name": "news"}, "callback_id": "ask_newsbot",
        "trigger_id": f"{next(_ids)}.trigger", "message_ts": message["ts"], "message": message,
        "response_url": response_url,
    }


def send_shortcut(sender: SlackSender, message: dict, response_name: str, **fields) -> Reply:
    """Pick the message shortcut on `message`; the bot's private replies are recorded under `response_name`."""
    payload = message_shortcut_payload(message, sender.fake.response_url(response_name), **fields)
    return sender.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


def assert_valid_blocks(blocks: list[dict]) -> None:
    """Block Kit as Slack would accept it: slack_sdk's models parse every block, validate it (lengths, required
    fields) and give back exactly what was sent (an unknown key would be dropped); at most 50 blocks."""
    from slack_sdk.models.blocks import Block

    assert len(blocks) <= 50, f"{len(blocks)} blocks"
    for raw, parsed in zip(blocks, Block.parse_all(blocks), strict=True):
        assert parsed is not None, f"unknown block type: {raw}"
        assert parsed.to_dict() == raw, f"a key Slack does not know, or a wrong shape: {raw}"
