"""`newsbot serve` (HTTP) and `newsbot socket` (Socket Mode): wire config, index, app and server, run until stopped."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from index import Index, Settings, SettingsError

from .app import WORKERS, build_app
from .config import SlackConfig
from .dedupe import EventDeduper
from .events_door import EventsDoor
from .listeners import Listeners
from .readiness import Readiness
from .reindex import Reindexer
from .web import EVENTS_PATH, WebServer

log = logging.getLogger("newsbot.server")


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the bot over HTTP on `--port`/`$PORT`: Slack calls `POST /slack/events`."""
    return _run(SlackConfig.for_http(args.port), socket_mode=False)


def cmd_socket(args: argparse.Namespace) -> int:
    """Run the bot in Socket Mode (no public URL needed); `/healthz` and article pages only if `$PORT` is set."""
    return _run(SlackConfig.for_socket(), socket_mode=True)


def _setup_logging() -> None:
    """Log to stderr with timestamps; the platform collects it."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )


def _listen(config: SlackConfig, app: App | None, index: Index, readiness: Readiness) -> WebServer | None:
    """Bind the HTTP port (if any); a port in use stops startup with one line. Slack's door only with an `app`."""
    if config.port is None:
        return None
    door = EventsDoor(app, config.signing_secret) if app is not None else None
    try:
        return WebServer(config.port, door, index, readiness, config.http)
    except OSError as exc:
        raise SettingsError(f"cannot listen on PORT={config.port}: {exc.strerror or exc}") from None


def _connect_socket_mode(app: App, config: SlackConfig) -> SocketModeHandler:
    """Open the Socket Mode connection; a rejected app token stops startup with one line."""
    handler = SocketModeHandler(app, config.app_token)
    try:
        handler.connect()
    except SlackApiError as exc:
        raise SettingsError(f"Slack rejected SLACK_APP_TOKEN ({exc.response.get('error')})") from None
    log.info("connected to Slack in Socket Mode")
    return handler


def _run(config: SlackConfig, socket_mode: bool) -> int:
    """Start everything, wait for SIGTERM/SIGINT or a fatal warm-up error, then stop cleanly."""
    _setup_logging()
    index = Index.open(settings=Settings.from_env(), log=logging.getLogger("newsbot.index").info)
    executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="answer")
    app = build_app(config, executor)
    Listeners(index, config.admins, EventDeduper(), Reindexer(index), config.add_admins_only).register(app)

    stop = threading.Event()
    failure: list[str] = []

    def fatal(message: str) -> None:
        failure.append(message)
        stop.set()

    socket_handler = _connect_socket_mode(app, config) if socket_mode else None
    readiness = Readiness(index, on_fatal=fatal)
    web = _listen(config, None if socket_mode else app, index, readiness)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if web is not None:
        threading.Thread(target=web.serve_forever, name="http", daemon=True).start()
        routes = "/healthz and article pages" if socket_mode else f"Slack requests at POST {EVENTS_PATH}"
        log.info("listening on port %d (%s)", config.port, routes)
    readiness.start()
    stop.wait()

    log.info("stopping")
    if web is not None:
        web.close()
    if socket_handler is not None:
        socket_handler.close()
    executor.shutdown(wait=True)
    if failure:
        print(f"newsbot {'socket' if socket_mode else 'serve'}: {failure[0]}", file=sys.stderr, flush=True)
        return 1
    return 0
