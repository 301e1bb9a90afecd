"""The HTTP server: Slack requests at `POST /slack/events`, `GET /healthz`, and `GET /articles/<id>`.

Connections wait for their request without a thread and are served by a fixed pool (`ConnectionLimiter`);
acks are quick, and slow work runs on the answer workers. Every Slack request passes `EventsDoor` first.
"""

from __future__ import annotations

import logging
import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from slack_bolt import BoltResponse

from index import Index

from .article_page import SECURITY_HEADERS, parse_span, render_article
from .config import HttpLimits
from .connections import Address, ConnectionLimiter
from .events_door import EventsDoor, Refusal
from .readiness import Readiness

log = logging.getLogger("newsbot.web")

EVENTS_PATH = "/slack/events"
ARTICLES_PREFIX = "/articles/"
HTTP_WORKERS = 32  # requests handled at once; idle connections do not count
LOG_LINE_CHARS = 300  # request lines are the client's text: never log more of them than this
CHUNK = 65536


class WebServer(HTTPServer):
    """Serves the bot's routes; `door` is None in Socket Mode, where Slack does not call over HTTP."""

    request_queue_size = 128  # the stdlib default of 5 resets connections when many questions arrive at once

    def __init__(self, port: int, door: EventsDoor | None, index: Index, readiness: Readiness, limits: HttpLimits) -> None:
        self.door = door
        self.index = index
        self.readiness = readiness
        self.limits = limits
        workers = min(HTTP_WORKERS, limits.max_connections)
        self.limiter = ConnectionLimiter(self._serve_connection, limits.timeout, limits.max_connections, workers)
        super().__init__(("", port), _Handler)  # a failed bind calls server_close, which needs the limiter

    def process_request(self, request: socket.socket, client_address: Address) -> None:
        """Park the new connection until it sends its request (instead of a thread per connection)."""
        self.limiter.admit(request, client_address)

    def _serve_connection(self, request: socket.socket, client_address: Address) -> None:
        """Handle one connection on a pool thread; the limiter closes it afterwards."""
        try:
            self.finish_request(request, client_address)
        except Exception:  # as socketserver does: one connection's failure must not end the pool thread
            self.handle_error(request, client_address)

    def handle_error(self, request: socket.socket, client_address: Address) -> None:
        """A client that went away is one debug line; anything else is a bug worth its traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("connection from %s ended early: %s", client_address[0], type(error).__name__)
        else:
            log.exception("unexpected error serving %s", client_address[0])

    def server_close(self) -> None:
        """Stop listening and close the connections still waiting."""
        super().server_close()
        self.limiter.close()


class _Handler(BaseHTTPRequestHandler):
    server: WebServer
    server_version = "newsbot"

    def setup(self) -> None:
        """Every read and write on the connection times out (a request's total time is the limiter's job)."""
        self.timeout = self.server.limits.timeout
        super().setup()

    def do_POST(self) -> None:
        """Slack requests: `EventsDoor` checks length and signature before bolt parses anything."""
        path, _, query = self.path.partition("?")
        door = self.server.door
        if path != EVENTS_PATH or door is None:
            self._send(404, "not found\n")
            return
        length = door.body_length(self.headers)
        if isinstance(length, Refusal):
            self._reply(door.refuse(length, self.client_address[0]))
            return
        body = self._read_body(length)
        self.server.limiter.request_read(self.connection)
        if body is None:
            refusal = Refusal(408, f"request body not received within {self.server.limits.timeout:g}s")
            self._reply(door.refuse(refusal, self.client_address[0]))
            return
        self._reply(door.handle(body, self.headers, query, self.client_address[0]))

    def do_GET(self) -> None:
        """Health check and article pages."""
        self.server.limiter.request_read(self.connection)
        parts = urlsplit(self.path)
        path = parts.path
        if path == "/healthz":
            ready, reason = self.server.readiness.status()
            self._send(200 if ready else 503, reason + "\n")
        elif path.startswith(ARTICLES_PREFIX):
            self._article(unquote(path[len(ARTICLES_PREFIX) :]), parse_qs(parts.query))
        else:
            self._send(404, "not found\n")

    def _read_body(self, length: int) -> bytes | None:
        """Exactly `length` bytes, or None if the client stopped sending or ran out of time."""
        chunks, left = [], length
        try:
            while left:
                chunk = self.rfile.read1(min(left, CHUNK))
                if not chunk:
                    return None
                chunks.append(chunk)
                left -= len(chunk)
        except OSError:  # TimeoutError included
            return None
        return b"".join(chunks)

    def _article(self, article_id: str, query: dict[str, list[str]]) -> None:
        """The article page (with the quoted passage `p` and answering sentence `h` marked, when valid), or 404."""
        stored = self.server.index.article(article_id) if self.server.index.exists() else None
        if stored is None:
            self._send(404, "no such article\n")
            return
        passage = parse_span((query.get("p") or [None])[0])
        answer = parse_span((query.get("h") or [None])[0])
        headers = {"Content-Type": ["text/html; charset=utf-8"], **{k: [v] for k, v in SECURITY_HEADERS.items()}}
        self._send(200, render_article(stored, passage, answer), headers)

    def _reply(self, response: BoltResponse) -> None:
        """Send a bolt response (or a refusal turned into one)."""
        self._send(response.status, response.body, response.headers)

    def _send(self, status: int, body: str, headers: dict | None = None) -> None:
        """Write a complete response with its Content-Length."""
        data = body.encode("utf-8")
        self.send_response(status)
        headers = headers or {"Content-Type": ["text/plain; charset=utf-8"]}
        for name, values in headers.items():
            if name.lower() == "content-length":
                continue
            for value in [values] if isinstance(values, str) else values:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Access lines and the stdlib's complaints go to the debug log, cut to a bounded length."""
        log.debug("%s %s", self.address_string(), (format % args)[:LOG_LINE_CHARS])
