"""Building the Slack side from the settings: Web API client, notifier, bolt app, Socket Mode handler.

HTTP mode needs ``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET`` (``bot.http`` verifies every request: a
bad or stale signature gets 401 and nothing runs). Socket Mode needs ``SLACK_APP_TOKEN`` (``xapp-…``)
instead of a public URL; its envelopes are not signed, so the signing secret is optional there.
``SLACK_API_URL`` points the Web API client elsewhere (tests, proxies).

No request waits for the Web API before its ack: the bot's identity comes from one ``auth.test`` at
start-up, retried in the background while Slack can't be reached (:class:`BotAuthorization`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import structlog
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped, warning_token_skipped
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.adapter import SlackAdapter
from bot.slack.files import FileStore
from bot.slack.identity import Identities
from bot.slack.listeners import register
from bot.slack.notifier import SlackNotifier, describe, from_settings, leveled_logger
from bot.slack.retrying import Backoff, Reachability, unreachable
from handlers.app import Herald
from handlers.ports import MediaStore
from handlers.settings import Settings
from models.errors import ConfigError
from models.media import DEFAULT_DIRECTORY

log = structlog.get_logger(__name__)
WARM_UP_TIMEOUT = 3.0  # seconds start-up waits for auth.test before leaving it to the background
AUTH_BACKOFF = Backoff(first=1.0, cap=60.0, total=float("inf"))


def check_settings(settings: Settings) -> None:
    """Refuse to start Slack with settings that can't work, in one line naming the variable."""
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN: required for Slack (the bot token, xoxb-…).")
    if not settings.slack_signing_secret and not settings.slack_app_token:
        raise ConfigError(
            "SLACK_SIGNING_SECRET: required for Slack over HTTP (or set SLACK_APP_TOKEN to use Socket Mode)."
        )


class _NoTokenNotices(logging.Filter):
    """bolt reads ``SLACK_BOT_TOKEN`` from the environment itself (Herald's variable too), and then warns at
    start-up that the token is unused, the client and ``authorize`` given here having it already. Both
    warnings, and nothing else, are dropped: they are bolt's own words, from its messages module."""

    NOTICES = frozenset({warning_client_prioritized_and_token_skipped(), warning_token_skipped()})

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self.NOTICES


def _bolt_logger() -> logging.Logger:
    logger = leveled_logger("herald.slack.bolt")
    if not any(isinstance(f, _NoTokenNotices) for f in logger.filters):
        logger.addFilter(_NoTokenNotices())
    return logger


class BotAuthorization:
    """bolt's ``authorize``: the bot's identity from one ``auth.test``, shared by every request.

    bolt's single-team default calls ``auth.test`` inside requests (before their ack), so with Slack's Web
    API down or slow every request failed. Here no request calls it: :meth:`warm_up` tries once at start-up
    (for at most ``WARM_UP_TIMEOUT``) and, while that hasn't succeeded, a background task tries again with
    backoff; the result is kept once it succeeds. Until then requests are authorized with the bot token
    and the request's own team (all Herald's listeners need; the request's signature was checked already).
    """

    def __init__(
        self,
        web: Callable[[], AsyncWebClient],
        *,
        reachability: Reachability | None = None,
        backoff: Backoff = AUTH_BACKOFF,
    ) -> None:
        self._web = web
        self.reachability = reachability or Reachability()
        self._backoff = backoff
        self._authorized: AuthorizeResult | None = None
        self._retrying: asyncio.Task[None] | None = None
        self.refused: str | None = None  # Slack's error when it answered auth.test with a refusal (invalid_auth)

    @property
    def ready(self) -> bool:
        """Whether ``auth.test`` has succeeded."""
        return self._authorized is not None

    async def _auth_test(self) -> None:
        web = self._web()
        response = await web.auth_test()
        self._authorized = AuthorizeResult.from_auth_test_response(auth_test_response=response, bot_token=web.token)
        self.refused = None
        self.reachability.answered()

    def _failed(self, exc: BaseException, **fields: Any) -> None:
        if unreachable(exc):
            self.reachability.failed(exc)
        elif isinstance(exc, SlackApiError):  # Slack answered: the token (or the app) is refused
            self.refused = str(exc.response.get("error") or "refused")
        log.warning("slack.auth_test_failed", **fields, **describe(exc))

    async def warm_up(self, timeout: float = WARM_UP_TIMEOUT) -> None:  # noqa: ASYNC109
        if self.ready:
            return
        try:
            async with asyncio.timeout(timeout):
                await self._auth_test()
        except Exception as exc:  # Slack unreachable or slow at start-up: try again in the background
            self._failed(exc)
            self._retry_in_background()

    def _retry_in_background(self) -> None:
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        for attempt, delay in enumerate(self._backoff.delays(), start=1):
            await asyncio.sleep(delay)
            try:
                await self._auth_test()
            except Exception as exc:
                self._failed(exc, attempt=attempt)
            else:
                log.info("slack.auth_test_succeeded", attempt=attempt)
                return

    async def stop(self) -> None:
        if self._retrying is not None and not self._retrying.done():
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying

    def result(self, enterprise_id: str | None = None, team_id: str | None = None) -> AuthorizeResult:
        """The cached identity, or (before ``auth.test`` succeeded) the bot token for the request's team."""
        if self._authorized is not None:
            return self._authorized
        self._retry_in_background()  # not warmed up (or still failing): never in the request itself
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=self._web().token)

    def function(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        """A plain function for ``AsyncApp(authorize=…)`` (bolt passes arguments by their names)."""

        async def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
            return self.result(enterprise_id, team_id)

        return authorize


class SlackApp:
    """The Slack side of one process: the adapter and the bolt app in front of it."""

    def __init__(self, adapter: SlackAdapter, bolt: AsyncApp, authorization: BotAuthorization) -> None:
        self.adapter = adapter
        self.bolt = bolt
        self.authorization = authorization

    @property
    def reachable(self) -> bool:
        """Whether the Web API answered the last time this process needed it (``auth.test`` included)."""
        return self.authorization.ready and self.adapter.notifier.reachability.reachable

    @property
    def problem(self) -> str | None:
        """What ``/readyz`` says of Slack: None when all is well, ``refused: invalid_auth`` when Slack answers
        but refuses the bot token, else ``unreachable``."""
        if self.authorization.refused is not None and not self.authorization.ready:
            return f"refused: {self.authorization.refused}"
        return None if self.reachable else "unreachable"

    async def start(self) -> None:
        await self.authorization.warm_up()

    async def stop(self) -> None:
        await self.authorization.stop()
        await self.adapter.drain()
        await self.adapter.notifier.aclose()

    async def connect_socket_mode(
        self, app_token: str, *, web_client: AsyncWebClient | None = None
    ) -> AsyncSocketModeHandler:
        """Open the Socket Mode connection (``apps.connections.open`` with the ``xapp-`` token).

        Envelopes go through the same bolt app (unsigned: the connection itself is authenticated).
        """
        client = web_client or self.adapter.notifier.web()
        handler = AsyncSocketModeHandler(self.bolt, app_token, web_client=client)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        return handler

    @staticmethod
    async def close_socket_mode(handler: AsyncSocketModeHandler) -> None:
        await handler.close_async()  # type: ignore[no-untyped-call]


def build(
    settings: Settings,
    herald: Herald,
    http: httpx.AsyncClient,
    *,
    notifier: SlackNotifier | None = None,
    submit_timeout: float | None = None,
    media: MediaStore | None = None,
) -> SlackApp:
    check_settings(settings)
    notifier = notifier or from_settings(settings)
    client = notifier.client
    authorization = BotAuthorization(notifier.web, reachability=notifier.reachability)
    extra: dict[str, Any] = {} if submit_timeout is None else {"submit_timeout": submit_timeout}
    adapter = SlackAdapter(
        herald,
        notifier,
        Identities(notifier.web),
        files=FileStore(http, str(settings.slack_bot_token), media or DEFAULT_DIRECTORY),
        **extra,
    )
    bolt = AsyncApp(
        signing_secret=settings.slack_signing_secret or "",
        # bot.http.SlackEndpoint checks the signature before parsing anything; Socket Mode needs none
        request_verification_enabled=False,
        raise_error_for_unhandled_request=True,  # to the error handler (bot.slack.listeners.on_error)
        client=client,
        authorize=authorization.function(),
        process_before_response=True,
        logger=_bolt_logger(),
        name="herald",
    )
    register(bolt, adapter)
    return SlackApp(adapter, bolt, authorization)
