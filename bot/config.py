"""Slack settings read from the environment (the CLI loads `.env` first); errors name the variable, never a token."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from index import SettingsError
from index.settings import flag_env, number_env

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000
DEFAULT_HTTP_TIMEOUT = 10.0  # seconds; Slack sends a whole request in milliseconds and wants its ack within 3 s
DEFAULT_HTTP_MAX_CONNECTIONS = 256
DEFAULT_HTTP_MAX_PER_IP = 64  # one address cannot take every connection; a reverse proxy's is one address too
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def _required(name: str, prefix: str, what: str) -> str:
    """A token that must be set and start with `prefix`; the message never repeats the value."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set: add the {what} to the environment or .env (see .env.example)")
    if not value.startswith(prefix):
        raise SettingsError(f"{name} must be the {what}, which starts with {prefix!r}")
    return value


def _port(override: int | None) -> int:
    """`--port`, else `PORT`, else 3000."""
    raw = str(override) if override is not None else os.environ.get("PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"PORT must be a port number from 1 to 65535, got {raw!r}")
    return int(raw)


def _api_url() -> str:
    """`SLACK_API_URL` with a trailing slash, as slack_sdk joins method names onto it."""
    url = os.environ.get("SLACK_API_URL", "").strip() or DEFAULT_API_URL
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"SLACK_API_URL must start with https:// (or http://), got {url!r}")
    return url if url.endswith("/") else url + "/"


def _admins() -> frozenset[str]:
    """The Slack user ids in `NEWSBOT_ADMINS`."""
    ids = [part for part in re.split(r"[,\s]+", os.environ.get("NEWSBOT_ADMINS", "")) if part]
    for user_id in ids:
        if not _USER_ID.match(user_id):
            raise SettingsError(
                f"NEWSBOT_ADMINS must list Slack user ids like U012AB3CD, separated by commas; got {user_id!r}"
            )
    return frozenset(ids)


@dataclass(frozen=True)
class HttpLimits:
    """How long a connection may take to send its request, and how many may be open at once (in all, per address)."""

    timeout: float = DEFAULT_HTTP_TIMEOUT
    max_connections: int = DEFAULT_HTTP_MAX_CONNECTIONS
    max_per_ip: int = DEFAULT_HTTP_MAX_PER_IP

    @classmethod
    def from_env(cls) -> "HttpLimits":
        """`NEWSBOT_HTTP_TIMEOUT` (seconds), `NEWSBOT_HTTP_MAX_CONNECTIONS` and `…_PER_IP`, else the defaults."""
        return cls(
            timeout=float(number_env("NEWSBOT_HTTP_TIMEOUT", DEFAULT_HTTP_TIMEOUT, float)),
            max_connections=int(number_env("NEWSBOT_HTTP_MAX_CONNECTIONS", DEFAULT_HTTP_MAX_CONNECTIONS)),
            max_per_ip=int(number_env("NEWSBOT_HTTP_MAX_CONNECTIONS_PER_IP", DEFAULT_HTTP_MAX_PER_IP)),
        )


@dataclass(frozen=True)
class FollowLimits:
    """How many follows a conversation and a person may hold: each one is a search per update, and one
    person must not fill a shared channel (NEWSBOT_FOLLOWS_PER_CHANNEL, NEWSBOT_FOLLOWS_PER_USER)."""

    per_channel: int = 50
    per_user: int = 10

    @classmethod
    def from_env(cls) -> "FollowLimits":
        return cls(
            per_channel=int(number_env("NEWSBOT_FOLLOWS_PER_CHANNEL", cls.per_channel)),
            per_user=int(number_env("NEWSBOT_FOLLOWS_PER_USER", cls.per_user)),
        )


@dataclass(frozen=True)
class CollectLimits:
    """How fast one channel's shared links are fetched, and how many may wait (NEWSBOT_COLLECT_PER_MINUTE,
    NEWSBOT_COLLECT_QUEUE): a burst of links is queued, not fetched at once, and a flood is cut off."""

    per_minute: int = 10
    queued_per_channel: int = 200  # past this, a channel's new links are dropped (and logged) until it drains

    @classmethod
    def from_env(cls) -> "CollectLimits":
        return cls(
            per_minute=int(number_env("NEWSBOT_COLLECT_PER_MINUTE", cls.per_minute)),
            queued_per_channel=int(number_env("NEWSBOT_COLLECT_QUEUE", cls.queued_per_channel)),
        )


@dataclass(frozen=True)
class SlackConfig:
    """What the bot needs to talk to Slack; the secrets are left out of `repr` so they never reach a log."""

    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    app_token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    port: int | None = DEFAULT_PORT  # None: no HTTP server (Socket Mode without PORT)
    admins: frozenset[str] = frozenset()
    add_admins_only: bool = False  # `/news add` for everyone unless NEWSBOT_ADD_ADMINS_ONLY=1
    http: HttpLimits = HttpLimits()
    follow_limits: FollowLimits = FollowLimits()
    collect_limits: CollectLimits = CollectLimits()

    @classmethod
    def for_http(cls, port: int | None = None) -> "SlackConfig":
        """Settings for `newsbot serve`: bot token and signing secret are required."""
        bot_token = _required("SLACK_BOT_TOKEN", "xoxb-", "bot token (OAuth & Permissions page)")
        secret = os.environ.get("SLACK_SIGNING_SECRET", "").strip()
        if not secret:
            raise SettingsError(
                "SLACK_SIGNING_SECRET is not set: copy the signing secret from the app's Basic Information page"
            )
        return cls(
            bot_token, secret, "", _api_url(), _port(port), _admins(), flag_env("NEWSBOT_ADD_ADMINS_ONLY"),
            HttpLimits.from_env(), FollowLimits.from_env(), CollectLimits.from_env(),
        )

    @classmethod
    def for_socket(cls) -> "SlackConfig":
        """Settings for `newsbot socket`: bot token and app-level token; a port only if `PORT` is set."""
        bot_token = _required("SLACK_BOT_TOKEN", "xoxb-", "bot token (OAuth & Permissions page)")
        app_token = _required("SLACK_APP_TOKEN", "xapp-", "app-level token with connections:write")
        port = _port(None) if os.environ.get("PORT", "").strip() else None
        return cls(
            bot_token, "", app_token, _api_url(), port, _admins(), flag_env("NEWSBOT_ADD_ADMINS_ONLY"),
            HttpLimits.from_env(), FollowLimits.from_env(), CollectLimits.from_env(),
        )
