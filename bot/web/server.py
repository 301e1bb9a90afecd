"""The HTTP server: Slack requests at `POST /slack/events`, `GET /healthz`, and `GET /articles/<id>`.

waitress serves the routes (`GuardedServer`): it reads each request whole in one event loop and only then
hands it to one of a fixed pool of threads, so slow clients hold no thread. Acks are quick, and slow work
runs on the answer workers. Every Slack request passes `EventsDoor` before bolt's WSGI adapter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from http import HTTPStatus
from urllib.parse import parse_qs

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.task import ThreadedTaskDispatcher

from bot.config import HttpLimits
from bot.web.article_page import SECURITY_HEADERS, parse_span, render_article
from bot.web.connections import Caps, GuardedServer
from bot.web.events_door import MAX_BODY_BYTES, Environ, EventsDoor, StartResponse
from bot.web.readiness import Readiness
from index import Index

log = logging.getLogger("newsbot.web")

EVENTS_PATH = "/slack/events"
ARTICLES_PREFIX = "/articles/"
HTTP_WORKERS = 32  # requests handled at once; connections still sending their request do not count
MAX_HEADER_BYTES = 65_536  # a request line and headers; Slack's are well under 2 KB
LOOP_TICK = 1  # seconds between deadline checks (waitress takes whole seconds)


class Routes:
    """The WSGI app: dispatches each complete request to its route."""

    def __init__(self, door: EventsDoor | None, index: Index, readiness: Readiness) -> None:
        self.door = door
        self.index = index
        self.readiness = readiness

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """`door` is None in Socket Mode, where Slack does not call over HTTP."""
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        if method == "POST" and path == EVENTS_PATH and self.door is not None:
            return self.door(environ, start_response)
        if method not in ("GET", "HEAD"):
            return _send(start_response, 405 if path == "/healthz" or path.startswith(ARTICLES_PREFIX) else 404)
        if path == "/healthz":
            ready, reason = self.readiness.status()
            return _send(start_response, 200 if ready else 503, reason + "\n")
        if path.startswith(ARTICLES_PREFIX):
            # PATH_INFO is already percent-decoded, as latin-1 (PEP 3333): its bytes are the id's UTF-8.
            try:
                article_id = path[len(ARTICLES_PREFIX) :].encode("latin-1").decode("utf-8")
            except UnicodeError:
                return _send(start_response, 404)
            return self._article(article_id, environ.get("QUERY_STRING", ""), start_response)
        return _send(start_response, 404)

    def _article(self, article_id: str, query: str, start_response: StartResponse) -> Iterable[bytes]:
        """The article page (with the quoted passage `p` and answering sentence `h` marked, when valid), or 404."""
        stored = self.index.article(article_id) if self.index.exists() else None
        if stored is None:
            return _send(start_response, 404, "no such article\n")
        spans = parse_qs(query)
        passage = parse_span((spans.get("p") or [None])[0])
        answer = parse_span((spans.get("h") or [None])[0])
        page = render_article(stored, passage, answer)
        return _send(start_response, 200, page, {"Content-Type": "text/html; charset=utf-8", **SECURITY_HEADERS})


def _send(start_response: StartResponse, status: int, body: str = "not found\n",
          headers: dict[str, str] | None = None) -> list[bytes]:
    """A complete response with its Content-Length."""
    data = body.encode("utf-8")
    fields = list((headers or {"Content-Type": "text/plain; charset=utf-8"}).items())
    start_response(f"{status} {HTTPStatus(status).phrase}", [*fields, ("Content-Length", str(len(data)))])
    return [data]


class WebServer:
    """waitress on `port` with the bot's routes, its limits mapped from `HttpLimits`; run and close from threads."""

    def __init__(
        self, port: int, door: EventsDoor | None, index: Index, readiness: Readiness, limits: HttpLimits
    ) -> None:
        caps = Caps(limits.timeout, limits.max_connections, limits.max_per_ip)
        adj = Adjustments(
            host="0.0.0.0",
            port=port,
            threads=min(HTTP_WORKERS, limits.max_connections),
            connection_limit=limits.max_connections + 16,  # GuardedServer keeps below it by closing waiting ones
            channel_timeout=max(1, int(limits.timeout) + 1),  # waitress's own idle check; the deadline is stricter
            cleanup_interval=LOOP_TICK,
            asyncore_loop_timeout=LOOP_TICK,
            max_request_header_size=MAX_HEADER_BYTES,
            max_request_body_size=MAX_BODY_BYTES,
            ident="newsbot",
            expose_tracebacks=False,
        )
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(adj.threads)
        self._map: dict = {}
        self._server = GuardedServer(Routes(door, index, readiness), caps, map=self._map, dispatcher=dispatcher,
                                     adj=adj)
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        """Run the event loop until `close` (call on its own thread)."""
        try:
            self._server.run()
        finally:
            self._stopped.set()

    def close(self) -> None:
        """Stop accepting, let running requests finish (up to 5 s), then close every connection and socket."""
        trigger = self._server.trigger  # runs a function on the loop's own thread
        trigger.pull_trigger(lambda: wasyncore.dispatcher.close(self._server))  # the listening socket only
        self._server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)
        trigger.pull_trigger(lambda: wasyncore.close_all(self._map))
        if not self._stopped.wait(timeout=5):
            wasyncore.close_all(self._map, ignore_all=True)  # the loop never ran (or is stuck): close from here
        self._server.report()
