"""Building the Telegram side from the settings: python-telegram-bot's ``Application``, the notifier and the adapter.

Two ways updates arrive:

* **webhook** (``TELEGRAM_WEBHOOK_SECRET`` set): ``POST /telegram/webhook`` on Herald's HTTP app (``bot.http``)
  checks the ``X-Telegram-Bot-Api-Secret-Token`` header and queues the update; the ``Application`` is built with
  ``updater(None)`` and processes what is queued. ``herald telegram set-webhook URL`` registers the URL with
  the secret and :data:`ALLOWED_UPDATES`;
* **polling** (no secret): the ``Application``'s updater long-polls ``getUpdates``, so Herald works behind a
  firewall with only ``TELEGRAM_BOT_TOKEN``. One process may poll per bot (Telegram answers a second with 409).

``TELEGRAM_API_URL`` points the bot elsewhere (tests, a local Bot API server). Updates are processed
concurrently; a start while Telegram can't be reached is retried in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from typing import Any

import structlog
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from bot.telegram import pacing
from bot.telegram.adapter import TelegramAdapter
from bot.telegram.files import FileFetcher
from bot.telegram.notifier import TelegramNotifier, api_urls, bot_request, describe
from handlers.app import Herald
from handlers.ports import MediaStore
from handlers.settings import Settings
from models.errors import ConfigError
from models.media import DEFAULT_DIRECTORY, LocalMediaStore

log = structlog.get_logger(__name__)
#: the update types Herald handles (``allowed_updates`` of setWebhook and getUpdates)
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
POLL_TIMEOUT = 30  # seconds getUpdates waits for an update
CONCURRENT_UPDATES = 512
START_RETRY = 5.0


def check_settings(settings: Settings) -> None:
    if not settings.telegram_bot_token or ":" not in settings.telegram_bot_token:
        raise ConfigError("TELEGRAM_BOT_TOKEN: required for Telegram (the token @BotFather gave, 123456:ABC…).")


def uses_webhook(settings: Settings) -> bool:
    """Webhook when ``TELEGRAM_WEBHOOK_SECRET`` is set (the route refuses every request without it), else polling."""
    return bool(settings.telegram_webhook_secret)


def webhook_url(settings: Settings, url: str | None = None) -> str:
    if url:
        return url
    if not settings.public_url:
        raise ConfigError("HERALD_PUBLIC_URL: set it (or give the URL) to register Telegram's webhook.")
    return settings.public_url.rstrip("/") + "/telegram/webhook"


def application(settings: Settings, *, polling: bool) -> Application[Any, Any, Any, Any, Any, Any]:
    base_url, base_file_url = api_urls(settings.telegram_api_url)
    builder = (
        ApplicationBuilder()
        .token(str(settings.telegram_bot_token))
        .base_url(base_url)
        .base_file_url(base_file_url)
        .request(bot_request())
        .concurrent_updates(CONCURRENT_UPDATES)
    )
    if polling:  # the long poll on a connection of its own, waiting longer than Telegram holds it
        builder = builder.get_updates_request(HTTPXRequest(connection_pool_size=1, read_timeout=POLL_TIMEOUT + 10))
    else:
        builder = builder.updater(None)
    return builder.build()


class TelegramApp:
    """The Telegram side of one process: the ``Application`` in front of the adapter."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        adapter: TelegramAdapter,
        *,
        secret: str | None,
        polling: bool,
    ) -> None:
        self.application = app
        self.adapter = adapter
        self.polling = polling
        self._secret = secret.encode() if secret and secret.strip() else None
        self._starting: asyncio.Task[None] | None = None
        self.started = False

    @property
    def notifier(self) -> TelegramNotifier:
        return self.adapter.notifier

    def accepts(self, header: str | None) -> bool:
        """Whether a webhook request carries the secret (compared in constant time); never without a secret."""
        if self._secret is None or header is None:
            return False
        return hmac.compare_digest(self._secret, header.encode("latin-1", "replace"))

    def feed(self, data: dict[str, Any]) -> None:
        """Queue one update as Telegram sent it (processed after the HTTP answer); ValueError for a body that
        isn't an update."""
        if not isinstance(data.get("update_id"), int):
            raise ValueError("no update_id")
        update = Update.de_json(data, self.application.bot)
        self.application.update_queue.put_nowait(update)

    async def _start(self) -> None:
        await self.application.initialize()  # getMe: the bot's username, for /draft@HeraldBot
        await self.application.start()
        if self.polling:
            assert self.application.updater is not None
            await self.application.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, timeout=POLL_TIMEOUT, poll_interval=0.0
            )
        self.started = True
        log.info("telegram.started", bot=self.application.bot.username, polling=self.polling)

    async def start(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Start; if Telegram can't be reached within ``timeout``, keep trying in the background."""
        self._starting = asyncio.get_running_loop().create_task(self._keep_starting())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._starting), timeout)

    async def _keep_starting(self) -> None:
        while True:
            try:
                await self._start()
                return
            except TelegramError as exc:
                log.warning("telegram.start_failed", **describe(exc))
                with contextlib.suppress(Exception):
                    await self.application.shutdown()
                await asyncio.sleep(START_RETRY)

    async def stop(self) -> None:
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        if self.started:
            if self.polling and self.application.updater is not None and self.application.updater.running:
                await self.application.updater.stop()
            await self.application.stop()
        await self.adapter.drain()
        if self.started:
            await self.application.shutdown()
        self.started = False


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("telegram.handler_failed", exc_info=context.error)


def build(
    settings: Settings,
    herald: Herald,
    *,
    media: MediaStore | None = None,
    polling: bool | None = None,
    answer_budget: float | None = None,
) -> TelegramApp:
    check_settings(settings)
    polls = not uses_webhook(settings) if polling is None else polling
    app = application(settings, polling=polls)
    notifier = TelegramNotifier(app.bot, pacer=pacing.for_settings(settings))
    store = media or LocalMediaStore(DEFAULT_DIRECTORY)
    extra: dict[str, Any] = {} if answer_budget is None else {"answer_budget": answer_budget}
    adapter = TelegramAdapter(
        herald, notifier, files=FileFetcher(notifier, store), bot_username=lambda: app.bot.username, **extra
    )
    app.add_handler(TypeHandler(Update, adapter.on_update))
    app.add_error_handler(_on_error)
    return TelegramApp(app, adapter, secret=settings.telegram_webhook_secret, polling=polls)


async def set_webhook(settings: Settings, url: str) -> bool:
    """Register ``url`` with the secret and :data:`ALLOWED_UPDATES` (``herald telegram set-webhook``)."""
    if not settings.telegram_webhook_secret:
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET: required for a webhook (Telegram sends it back with each update).")
    async with application(settings, polling=False).bot as bot:
        return bool(
            await bot.set_webhook(url, secret_token=settings.telegram_webhook_secret, allowed_updates=ALLOWED_UPDATES)
        )


async def delete_webhook(settings: Settings) -> bool:
    async with application(settings, polling=False).bot as bot:
        return bool(await bot.delete_webhook())
