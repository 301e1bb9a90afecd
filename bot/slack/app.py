"""Build the bolt `App` on a Web API client that talks to `SLACK_API_URL` and retries rate limits and 5xx."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.error import URLError

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import SlackConfig
from index import SettingsError

WORKERS = 8  # answers computed at once; the rest queue (acks never wait: they run in the request thread)


def retry_handlers() -> list[RetryHandler]:
    """Retry dropped connections, 429s (after `Retry-After`) and 5xx answers from Slack."""
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
    ]


class _DropTokenSkippedWarning(logging.Filter):
    """bolt warns that `SLACK_BOT_TOKEN` is unused whenever a client is given; here the client carries that token."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record except that one warning."""
        return "`token` will be unused" not in record.getMessage()


def build_client(config: SlackConfig) -> WebClient:
    """The Web API client every Slack call goes through (`say`, `client`, startup's `auth.test`)."""
    return WebClient(
        token=config.bot_token,
        base_url=config.api_url,
        retry_handlers=retry_handlers(),
        logger=logging.getLogger("newsbot.slack"),
    )


def build_app(config: SlackConfig, executor: ThreadPoolExecutor) -> App:
    """A bolt App checking the token now (`auth.test`), acking in the request thread, working on `executor`.

    `process_before_response=True` runs every ack function before the HTTP response is sent, and
    all slow work is in lazy listeners on `executor`, so an ack never waits behind answers.
    """
    client = build_client(config)
    bolt_logger = logging.getLogger("newsbot.bolt")
    bolt_logger.addFilter(_DropTokenSkippedWarning())
    try:
        return App(
            client=client,
            signing_secret=config.signing_secret,
            process_before_response=True,
            listener_executor=executor,
            request_verification_enabled=bool(config.signing_secret),
            logger=bolt_logger,
        )
    except BoltError as exc:
        cause = exc.__context__
        reason = cause.response.get("error") if isinstance(cause, SlackApiError) else str(exc)
        raise SettingsError(f"Slack rejected SLACK_BOT_TOKEN ({reason}); copy the bot token again") from None
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SettingsError(f"cannot reach Slack at SLACK_API_URL={config.api_url}: {reason}") from None
