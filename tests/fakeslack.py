"""A fake Slack Web API on 127.0.0.1 for end-to-end tests: answers like Slack, records every call, fails on demand.

Point the bot at it with `SLACK_API_URL=fake.api_url`; give interactions `fake.response_url(...)`
as their `response_url`, and posts there are recorded too (as method "response_url").
With an app token it also plays Slack's Socket Mode WebSocket server: `apps.connections.open`
hands out its ws:// URL, `send_envelope` pushes a request, and the bot's acks are recorded
(as method "socket_ack").
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0NEWS"
RESPONSE_URL = "response_url"
SOCKET_ACK = "socket_ack"
_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA
_JSON_FIELDS = ("blocks", "view", "attachments")


@dataclass
class Call:
    """One request the bot made, and how the fake answered it."""

    method: str
    params: dict
    status: int
    ok: bool
    at: float
    authorization: str | None = None
    name: str | None = None  # the response_url's name, for posts there

    def dump(self) -> str:
        """Everything sent, as one JSON string, for "does the message contain ..." checks."""
        return json.dumps(self.params, ensure_ascii=False)

    @property
    def blocks(self) -> list[dict]:
        return self.params.get("blocks") or []

    def mrkdwn(self) -> str:
        """All the text a user would read: the fallback and every text object of the blocks."""
        texts = [self.params.get("text") or ""]

        def walk(node: object) -> None:
            if isinstance(node, dict):
                if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                    texts.append(node["text"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(self.params.get("blocks"))
        walk(self.params.get("view"))
        return "\n".join(texts)


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None
    remaining: int


@dataclass
class FakeSlack:
    """The fake server; start it with `FakeSlack.start(token)` and `close()` it when done."""

    token: str
    app_token: str | None = None
    calls_made: list[Call] = field(default_factory=list)
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    messages: dict[str, list[dict]] = field(default_factory=dict)  # channel -> messages, for conversations.replies
    user_zones: dict[str, str] = field(default_factory=dict)  # user id -> Slack time zone, for users.info
    _amends: dict[str, list[dict]] = field(default_factory=dict)  # method -> fields laid over its next answers
    _server: ThreadingHTTPServer | None = None
    _socket_mode: "_SocketModeServer | None" = None

    @classmethod
    def start(cls, token: str, app_token: str | None = None) -> "FakeSlack":
        """Serve the Web API, and Socket Mode too when an `app_token` is given."""
        fake = cls(token, app_token)
        fake._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
        fake._server.daemon_threads = True
        threading.Thread(target=fake._server.serve_forever, daemon=True).start()
        if app_token:
            fake._socket_mode = _SocketModeServer(fake)
        return fake

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, name: str) -> str:
        """A response_url whose posts are recorded under `name`."""
        return f"{self.base_url}/respond/{name}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._socket_mode:
            self._socket_mode.close()

    def send_envelope(self, kind: str, payload: dict, retry_attempt: int = 0) -> str:
        """Push a Socket Mode request ("events_api", "slash_commands", "interactive") to the bot; its envelope id."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        self._socket_mode.send(json.dumps(envelope))
        return envelope_id

    def record(self, call: Call) -> None:
        with self._changed:
            self.calls_made.append(call)
            self._changed.notify_all()

    # --- test controls --------------------------------------------------------------------------------

    def fail(
        self, method: str, status: int = 200, error: str | None = None, retry_after: int | None = None, times: int = 1
    ) -> None:
        """Make the next `times` calls of `method` fail: HTTP `status` (429, 500...) or an ok:false `error`."""
        with self._changed:
            self._failures.setdefault(method, []).append(_Failure(status, error, retry_after, times))

    def amend(self, method: str, fields: dict, times: int = 1) -> None:
        """Lay `fields` over the next `times` answers of `method` (a malformed answer, as a proxy might send)."""
        with self._changed:
            self._amends.setdefault(method, []).extend([fields] * times)

    def reset(self) -> None:
        """Forget recorded calls, pending failures, amendments and conversation history."""
        with self._changed:
            self.calls_made.clear()
            self._failures.clear()
            self._amends.clear()
            self.messages.clear()

    def add_message(self, channel: str, message: dict) -> None:
        """Put a person's message (as a test also sends it in an event) into the channel's history."""
        with self._changed:
            self.messages.setdefault(channel, []).append(dict(message))

    def _replies(self, params: dict) -> dict:
        """conversations.replies: the thread's parent and replies, oldest first, `limit` per page."""
        root, limit = params.get("ts"), int(params.get("limit") or 1000)
        start = int(params.get("cursor") or 0)
        thread = sorted(
            (m for m in self.messages.get(params.get("channel"), []) if root in (m.get("ts"), m.get("thread_ts"))),
            key=lambda m: float(m["ts"]),
        )
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        page, more = thread[start : start + limit], start + limit < len(thread)
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def calls(self, method: str | None = None, ok: bool | None = True, name: str | None = None) -> list[Call]:
        """Recorded calls, optionally of one method, only successful ones by default."""
        with self._changed:
            return [
                c
                for c in self.calls_made
                if (method is None or c.method == method)
                and (ok is None or c.ok == ok)
                and (name is None or c.name == name)
            ]

    def wait_for(self, predicate: Callable[[Call], bool], count: int = 1, timeout: float = 60) -> list[Call]:
        """Block until at least `count` recorded calls satisfy `predicate`; fail the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self.calls_made if predicate(c)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n".join(f"  {c.method} {c.status} {c.dump()[:300]}" for c in self.calls_made)
                    raise AssertionError(
                        f"waited {timeout}s for {count} matching call(s), got {len(found)}; calls:\n{seen}"
                    )
                self._changed.wait(left)

    # --- serving ----------------------------------------------------------------------------------------

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method) or []
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.pop(0)
        return failure

    def _answer(self, method: str, params: dict, authorization: str | None) -> dict:
        expected = self.app_token if method == "apps.connections.open" else self.token
        if authorization != f"Bearer {expected}":
            return {"ok": False, "error": "invalid_auth"}
        ts = f"{1700000000 + next(self._ts)}.000100"
        if method == "auth.test":
            return {"ok": True, "url": "https://newsbot-test.slack.com/", "team": "Newsbot Test", "user": "newsbot",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID}
        if method == "chat.postMessage":
            message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": params.get("text"), "ts": ts}
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            with self._changed:
                self.messages.setdefault(params.get("channel"), []).append(message)
            return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": message}
        if method == "users.info":
            return {"ok": True, "user": {"id": params.get("user"), "tz": self.user_zones.get(params.get("user"), "UTC")}}
        if method == "conversations.replies":
            with self._changed:
                return self._replies(params)
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{str(params.get('users') or 'X').lstrip('U')[:10]}"}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self._socket_mode.url}
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V0HOME", **(params.get("view") or {})}}
        return {"ok": True}

    def _handle(self, path: str, headers, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        if "json" in (headers.get("Content-Type") or ""):
            params = json.loads(raw or b"{}")
        else:
            params = dict(parse_qsl(raw.decode("utf-8")))
        for key in _JSON_FIELDS:
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        name = None
        if path.startswith("/respond/"):
            method, name = RESPONSE_URL, path[len("/respond/") :]
        elif path.startswith("/api/"):
            method = path[len("/api/") :]
        else:
            return 404, {}, b"not found"
        with self._changed:
            failure = self._take_failure(method)
        if failure and failure.status != 200:
            status, extra = failure.status, ({"Retry-After": str(failure.retry_after)} if failure.retry_after else {})
            answer: dict | str = {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}
        elif failure:
            status, extra, answer = 200, {}, {"ok": False, "error": failure.error}
        elif method == RESPONSE_URL:
            status, extra, answer = 200, {}, "ok"
        else:
            status, extra, answer = 200, {}, self._answer(method, params, headers.get("Authorization"))
            with self._changed:
                amends = self._amends.get(method)
                if amends and isinstance(answer, dict):
                    answer = {**answer, **amends.pop(0)}
        ok = status == 200 and (answer == "ok" or answer.get("ok") is True)
        self.record(Call(method, params, status, ok, time.monotonic(), headers.get("Authorization"), name))
        if isinstance(answer, str):
            return status, {"Content-Type": "text/plain", **extra}, answer.encode()
        return status, {"Content-Type": "application/json", **extra}, json.dumps(answer).encode()


def _handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._reply(*fake._handle(self.path.split("?", 1)[0], self.headers, raw))

        def do_GET(self) -> None:  # slack_sdk reads with GET and query parameters (conversations.replies)
            path, _, query = self.path.partition("?")
            self._reply(*fake._handle(path, self.headers, query.encode()))

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _SocketModeServer:
    """Just enough of RFC 6455 to be Slack's Socket Mode endpoint for one client at a time."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}/link/?ticket=fake"
        self.client: socket.socket | None = None
        self.connected = threading.Event()
        self._send_lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()
        if self.client:
            self.client.close()

    def send(self, text: str, opcode: int = _TEXT) -> None:
        """One unmasked frame to the connected bot (servers never mask)."""
        if not self.connected.wait(60):
            raise AssertionError("the bot never opened a Socket Mode connection")
        data = text.encode("utf-8")
        if len(data) < 126:
            header = struct.pack("!BB", 0x80 | opcode, len(data))
        elif len(data) < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 126, len(data))
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, len(data))
        with self._send_lock:
            self.client.sendall(header + data)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            key = self._handshake(conn, reader)
            if key is None:
                return
            self.client = conn
            self.connected.set()
            self.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0NEWSBOT"}}))
            while True:
                opcode, payload = self._read_frame(reader)
                if opcode == _PING:
                    self.send(payload.decode("utf-8", "replace"), _PONG)
                elif opcode == _TEXT:
                    message = json.loads(payload)
                    self.fake.record(Call(SOCKET_ACK, message, 200, True, time.monotonic()))
                elif opcode == _CLOSE:
                    return
        except (OSError, ValueError, struct.error):
            return
        finally:
            self.connected.clear()
            conn.close()

    def _handshake(self, conn: socket.socket, reader) -> str | None:
        headers = {}
        request_line = reader.readline()
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key")
        if not request_line.startswith(b"GET ") or not key:
            return None
        accept = base64.b64encode(hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest()).decode()
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
        )
        return key

    @staticmethod
    def _read_frame(reader) -> tuple[int, bytes]:
        first, second = reader.read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", reader.read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", reader.read(8))
        mask = reader.read(4) if second & 0x80 else b"\0\0\0\0"
        data = reader.read(length)
        return first & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))
