"""``POST /telegram/webhook``: Telegram's updates, checked and queued before anything else happens.

The ``X-Telegram-Bot-Api-Secret-Token`` header must equal ``TELEGRAM_WEBHOOK_SECRET`` (compared in constant
time): missing or wrong → 403 and the body isn't even read as JSON. A body that isn't an update → 400 and one log
line (Telegram would retry anything else, so nothing worse). A good one is queued for the ``Application`` and
answered 200 at once: Telegram waits for the answer before sending the chat's next update.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from bot.telegram.app import TelegramApp

log = structlog.get_logger(__name__)
PATH = "/telegram/webhook"
SECRET_HEADER = b"x-telegram-bot-api-secret-token"
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class TelegramEndpoint:
    def __init__(self, telegram: TelegramApp) -> None:
        self.telegram = telegram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        header = next((v for k, v in scope["headers"] if k == SECRET_HEADER), None)
        status = self.answer(bytes(body), None if header is None else header.decode("latin-1"))
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    def answer(self, body: bytes, secret: str | None) -> int:
        if not self.telegram.accepts(secret):
            log.info("telegram.webhook_refused", reason="missing or wrong secret token")
            return 403
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            self.telegram.feed(data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("telegram.bad_update", problem=type(exc).__name__)
            return 400
        return 200
