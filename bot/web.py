"""The HTTP server: Slack requests at `POST /slack/events`, `GET /healthz`, and `GET /articles/<id>`.

A thread per request (stdlib `ThreadingHTTPServer`): acks are quick, and slow work runs on the worker pool.
"""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from slack_bolt import App, BoltRequest

from index import Index

from .article_page import SECURITY_HEADERS, render_article
from .readiness import Readiness

log = logging.getLogger("newsbot.web")

EVENTS_PATH = "/slack/events"
ARTICLES_PREFIX = "/articles/"
MAX_BODY_BYTES = 1_000_000  # Slack's payloads are a few kilobytes


class WebServer(ThreadingHTTPServer):
    """Serves the bot's routes; `app` is None in Socket Mode, where Slack does not call over HTTP."""

    daemon_threads = True
    request_queue_size = 128  # the stdlib default of 5 resets connections when many questions arrive at once

    def __init__(self, port: int, app: App | None, index: Index, readiness: Readiness) -> None:
        self.app = app
        self.index = index
        self.readiness = readiness
        super().__init__(("", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: WebServer
    server_version = "newsbot"

    def do_POST(self) -> None:
        """Hand Slack requests to bolt, which verifies the signature before anything else."""
        path, _, query = self.path.partition("?")
        if path != EVENTS_PATH or self.server.app is None:
            self._send(404, "not found\n")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(413, "request too large\n")
            return
        body = self.rfile.read(length).decode("utf-8")
        headers = {name.lower(): self.headers.get_all(name) for name in self.headers.keys()}
        response = self.server.app.dispatch(BoltRequest(body=body, query=query, headers=headers))
        self._send(response.status, response.body, response.headers)

    def do_GET(self) -> None:
        """Health check and article pages."""
        path = urlsplit(self.path).path
        if path == "/healthz":
            ready, reason = self.server.readiness.status()
            self._send(200 if ready else 503, reason + "\n")
        elif path.startswith(ARTICLES_PREFIX):
            self._article(unquote(path[len(ARTICLES_PREFIX) :]))
        else:
            self._send(404, "not found\n")

    def _article(self, article_id: str) -> None:
        """The article page, or 404."""
        stored = self.server.index.article(article_id) if self.server.index.exists() else None
        if stored is None:
            self._send(404, "no such article\n")
            return
        headers = {"Content-Type": ["text/html; charset=utf-8"], **{k: [v] for k, v in SECURITY_HEADERS.items()}}
        self._send(200, render_article(stored), headers)

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
        """Access lines go to the debug log, not stderr."""
        log.debug("%s %s", self.address_string(), format % args)
