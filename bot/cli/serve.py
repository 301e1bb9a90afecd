"""`newsbot serve` (HTTP) and `newsbot socket` (Socket Mode): wire config, index, app and server, run until stopped."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from bot.config import SlackConfig
from bot.digests.sender import DigestSender
from bot.digests.store import DigestStore
from bot.follows.store import FollowStore
from bot.follows.worker import DEFAULT_CAP, DEFAULT_INTERVAL, FollowWorker
from bot.links.collector import LinkCollector
from bot.slack import listeners
from bot.slack.app import WORKERS, build_app
from bot.slack.reindex import Reindexer
from bot.slack.services import Services
from bot.state.claims import SharedEventClaims
from bot.state.schema import BOT_SCHEMA
from bot.web.events_door import EventsDoor
from bot.web.readiness import Readiness
from bot.web.server import EVENTS_PATH, WebServer
from index import Index, Settings, SettingsError
from index.settings import number_env
from intake.feeds import FEEDS_SCHEMA

log = logging.getLogger("newsbot.server")
DIGEST_INTERVAL = 20  # seconds between looks for due digests
COLLECT_INTERVAL = 5.0  # seconds between looks for shared links to fetch (NEWSBOT_COLLECT_INTERVAL)


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


def _schedule(
    follows: FollowWorker, digests: DigestSender, links: LinkCollector, follow_interval: float, collect_interval: float
) -> BackgroundScheduler:
    """The bot's timed work on APScheduler: follows and shared links every few seconds, due digests every
    `DIGEST_INTERVAL`.

    One run of a job at a time (a slow tick is not stacked) and missed runs folded into one; what
    was sent is in SQLite, so a restart resumes without repeats.
    """
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"max_instances": 1, "coalesce": True})
    scheduler.add_job(_logged(follows.tick, "follows"), "interval", seconds=follow_interval, id="follows")
    scheduler.add_job(_logged(digests.tick, "digests"), "interval", seconds=DIGEST_INTERVAL, id="digests")
    scheduler.add_job(_logged(links.tick, "shared links"), "interval", seconds=collect_interval, id="links")
    return scheduler


def _logged(job, name: str):
    """The job, its errors logged (the scheduler would otherwise report them as its own)."""
    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("%s: this run failed; the next one tries again", name)
    return run


def _stop_step(name: str, step) -> None:
    """One step of a clean stop; a socket already closed under it (EBADF) is logged, not a failed exit."""
    try:
        step()
    except OSError:
        log.exception("while stopping: %s failed", name)


def _run(config: SlackConfig, socket_mode: bool) -> int:
    """Start everything, wait for SIGTERM/SIGINT or a fatal warm-up error, then stop cleanly."""
    _setup_logging()
    settings = Settings.from_env()
    index = Index.open(settings=settings, log=logging.getLogger("newsbot.index").info)
    index.state.upgrade([FEEDS_SCHEMA, BOT_SCHEMA])  # the tables first, from whichever process starts first
    executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="answer")
    app = build_app(config, executor)
    follow_store, digest_store = FollowStore(index), DigestStore(index)
    services = Services.build(
        index, config.admins, SharedEventClaims(index), Reindexer(index), config.add_admins_only, follow_store,
        digest_store, config.follow_limits, config.collect_limits,
    )
    listeners.register(app, services)
    follow_worker = FollowWorker(
        index, follow_store, services.scopes, app.client, cap=int(number_env("NEWSBOT_FOLLOW_POSTS_PER_HOUR", DEFAULT_CAP))
    )
    link_collector = LinkCollector(index, services.links, app.client)
    scheduler = _schedule(
        follow_worker,
        DigestSender(index, digest_store, services.scopes, app.client),
        link_collector,
        follow_interval=number_env("NEWSBOT_FOLLOW_INTERVAL", DEFAULT_INTERVAL, float),
        collect_interval=number_env("NEWSBOT_COLLECT_INTERVAL", COLLECT_INTERVAL, float),
    )

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
    scheduler.start()
    stop.wait()

    log.info("stopping")
    follow_worker.stopping.set()  # a tick in progress ends after its current follow
    link_collector.stopping.set()  # and the links not fetched yet wait in the queue for the next start
    for name, step in (
        ("closing the HTTP server", web.close if web is not None else None),
        ("closing the Socket Mode connection", socket_handler.close if socket_handler is not None else None),
        ("stopping follows, digests and link collecting", lambda: scheduler.shutdown(wait=True)),
        ("finishing the answers in progress", lambda: executor.shutdown(wait=True)),
    ):
        if step is not None:
            _stop_step(name, step)
    if failure:
        print(f"newsbot {'socket' if socket_mode else 'serve'}: {failure[0]}", file=sys.stderr, flush=True)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the `newsbot` subcommand `args.command` of this module."""
    return {"serve": cmd_serve, "socket": cmd_socket}[args.command](args)
