"""Telegram channels through the Bot API: Herald's bot, an administrator of each channel, posts to it.

Every call is ``POST {TELEGRAM_API_URL}/bot{TELEGRAM_BOT_TOKEN}/{method}`` and every answer is JSON
``{"ok": true, "result": …}`` or ``{"ok": false, "error_code", "description", "parameters"}`` — a 200 with
``ok`` false is an error too. The URL carries the bot token: it is never logged nor put in an error.

Publishing is one call: ``sendMessage`` (text), ``sendPhoto``/``sendVideo`` (one file, multipart, with a caption)
or ``sendMediaGroup`` (2–10 files, the caption on the first). The Bot API has no idempotency key and can't list a
channel's messages, so ``sent`` is recorded right before the call, cleared when Telegram definitely refused, and
a post whose earlier attempt got no answer goes to a human (``verify`` can't tell).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from models.errors import ConfigError, InvalidInput
from tasks.platforms.base import (
    AccountChoice,
    BaseClient,
    Credentials,
    MediaFile,
    Publication,
    Published,
    SecretField,
    Verdict,
)
from tasks.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    PlatformDown,
    PlatformError,
    RateLimited,
    Rejected,
)
from tasks.platforms.http import DEFAULT_TIMEOUT, PlatformHTTP
from tasks.platforms.telegram.rules import CAPTION_LIMIT, MAX_MEDIA, TEXT_LIMIT, utf16_length
from tasks.platforms.telegram.settings import TelegramSettings

log = structlog.get_logger(__name__)

_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_NO_ACCESS = ("chat not found", "not a member", "was kicked", "need administrator rights", "not enough rights")


def channel_ref(value: str) -> str:
    """What ``chat_id`` takes for a channel an admin names: ``@acme``, ``acme`` or ``https://t.me/acme`` →
    ``@acme``; a numeric id (``-1001234567890``) as is."""
    text = value.strip()
    text = re.sub(r"^(https?://)?(t\.me|telegram\.me)/", "", text).strip("/")
    if re.fullmatch(r"-?\d+", text):
        return text
    name = text.removeprefix("@")
    if not _USERNAME.match(name):
        raise InvalidInput(f"{value.strip()!r} is not a Telegram channel: give its @name or its numeric id.")
    return f"@{name}"


def message_url(chat: Mapping[str, Any], chat_id: str, message_id: int) -> str:
    """The post's link: ``t.me/{username}/{id}``, or ``t.me/c/{id without -100}/{id}`` for a private channel."""
    username = chat.get("username")
    if isinstance(username, str) and username:
        return f"https://t.me/{username}/{message_id}"
    return f"https://t.me/c/{chat_id.removeprefix('-100').lstrip('-')}/{message_id}"


class TelegramClient(BaseClient):
    """Posts to ``credentials.extra["chat_id"]`` with Herald's bot (``TELEGRAM_BOT_TOKEN``)."""

    idempotent = False
    label = "Telegram"
    secret_fields: tuple[SecretField, ...] = (
        SecretField(
            "channel",
            "Channel",
            secret=False,
            hint="the channel's @name or numeric id (-100…); add Herald's bot to it as an administrator first",
        ),
    )

    def __init__(self, settings: TelegramSettings, http: httpx.AsyncClient, timeout: httpx.Timeout = DEFAULT_TIMEOUT):
        self.settings = settings
        self._http = PlatformHTTP(http, self.label, timeout=timeout)

    # --- publishing

    async def publish(self, publication: Publication) -> Published:
        credentials = publication.credentials
        chat_id = credentials.get("chat_id")
        if not chat_id:
            raise AuthExpired("This Telegram account doesn't say which channel it is. Reconnect the account.")
        _check(publication)
        progress = publication.progress
        if await progress.get("sent"):
            verdict = await self.verify(publication)
            if isinstance(verdict, Published):
                return verdict
            raise OutcomeUnknown(
                "Telegram may already have this post (an earlier attempt got no answer) and its Bot API can't list a "
                "channel's messages: look at the channel, then /verify or /republish."
            )
        files = await publication.media_files()
        await progress.put("sent", datetime.now(UTC).isoformat())
        try:
            result = await self._send(chat_id, publication.text, files, credentials)
        except OutcomeUnknown:
            raise
        except PlatformError:
            await progress.put("sent", "")  # Telegram refused or was never reached: nothing went out
            raise
        message = result[0] if isinstance(result, list) and result else result
        if not isinstance(message, dict) or not isinstance(message.get("message_id"), int):
            raise OutcomeUnknown("Telegram accepted the post but didn't say which message it made.")
        chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
        url = message_url(chat or {"username": credentials.get("username")}, chat_id, message["message_id"])
        log.info("telegram.published", post_id=publication.post_id, message_id=message["message_id"], media=len(files))
        return Published(external_id=str(message["message_id"]), url=url)

    async def verify(self, publication: Publication) -> Verdict:
        """None: the Bot API can't list a channel's history, so only a human can look."""
        return None

    async def _send(self, chat_id: str, text: str, files: list[MediaFile], credentials: Credentials) -> Any:
        if not files:
            return await self._call("sendMessage", json={"chat_id": chat_id, "text": text}, account=credentials)
        if len(files) == 1:
            file = files[0]
            kind = "video" if file.is_video else "photo"
            method = "sendVideo" if file.is_video else "sendPhoto"
            return await self._call(
                method,
                data={"chat_id": chat_id, "caption": text},
                files={kind: (file.filename, file.data, file.content_type)},
                account=credentials,
            )
        media: list[dict[str, str]] = []
        uploads: dict[str, tuple[str, bytes, str]] = {}
        for index, file in enumerate(files):
            item = {"type": "video" if file.is_video else "photo", "media": f"attach://file{index}"}
            if index == 0 and text:
                item["caption"] = text
            media.append(item)
            uploads[f"file{index}"] = (file.filename, file.data, file.content_type)
        return await self._call(
            "sendMediaGroup", data={"chat_id": chat_id, "media": json.dumps(media)}, files=uploads, account=credentials
        )

    # --- the account

    async def check(self, credentials: Credentials) -> AccountChoice:
        chat_id = credentials.get("chat_id")
        if not chat_id:
            raise AuthExpired("This Telegram account doesn't say which channel it is. Reconnect the account.")
        try:
            return await self._channel(chat_id)
        except InvalidInput as exc:
            raise AuthExpired(str(exc)) from exc

    async def connect_secret(self, values: Mapping[str, str]) -> list[AccountChoice]:
        given = values.get("channel", "")
        if not given.strip():
            raise InvalidInput("Which channel? Give its @name, e.g. @acme.")
        return [await self._channel(channel_ref(given))]

    async def _channel(self, chat_ref: str) -> AccountChoice:
        """The channel, if Herald's bot is an administrator who can post there; InvalidInput saying what to do
        otherwise."""
        me = await self._call("getMe")
        bot = str(me.get("username", "")) if isinstance(me, dict) else ""
        bot_id = me.get("id") if isinstance(me, dict) else None
        add_bot = f"Add @{bot} to {chat_ref} as an administrator who can post messages, then connect again."
        try:
            chat = await self._call("getChat", json={"chat_id": chat_ref})
        except (AuthExpired, Rejected) as exc:
            raise InvalidInput(f"Telegram can't show Herald {chat_ref} ({_reason(exc)}). {add_bot}") from exc
        if not isinstance(chat, dict) or chat.get("type") != "channel":
            kind = chat.get("type", "chat") if isinstance(chat, dict) else "chat"
            raise InvalidInput(f"{chat_ref} is a {kind}, not a channel: Herald publishes to Telegram channels.")
        chat_id = str(chat.get("id"))
        username = chat.get("username") if isinstance(chat.get("username"), str) else None
        name = f"@{username}" if username else chat_ref
        add_bot = f"Add @{bot} to {name} as an administrator who can post messages, then connect again."
        try:
            member = await self._call("getChatMember", json={"chat_id": chat_id, "user_id": bot_id})
        except (AuthExpired, Rejected) as exc:
            raise InvalidInput(add_bot) from exc
        if (
            not isinstance(member, dict)
            or member.get("status") != "administrator"
            or not member.get("can_post_messages")
        ):
            raise InvalidInput(add_bot)
        title = str(chat.get("title") or name)
        extra = {"chat_id": chat_id, "title": title, "bot_username": bot}
        if username:
            extra["username"] = username
        return AccountChoice(
            handle=username or f"c{chat_id.removeprefix('-100').lstrip('-')}",
            label=f"{title} ({name}) on Telegram",
            credentials=Credentials(extra=extra),
            url=f"https://t.me/{username}" if username else None,
        )

    # --- the Bot API

    async def _call(
        self,
        method: str,
        *,
        json: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        account: Credentials | None = None,
    ) -> Any:
        """``result`` of a Bot API method; raises :mod:`tasks.platforms.errors` from Telegram's own answer."""
        token = self.settings.bot_token
        if not token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and set its token.")
        url = f"{self.settings.api_url.rstrip('/')}/bot{token}/{method}"
        try:
            response = await self._http.client.post(url, json=json, data=data, files=files, timeout=self._http.timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._http.transport_error(exc) from None  # the exception's request names the URL, token and all
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "ok" in body:
            if body["ok"] is True and response.is_success:
                return body.get("result")
            raise _error(body, response.status_code, account)
        if not response.is_success:
            raise self._http.error_for(response)
        raise OutcomeUnknown("Telegram accepted the request but its answer was unreadable.")


def _error(body: Mapping[str, Any], status: int, account: Credentials | None) -> PlatformError:
    """The error for ``{"ok": false, "error_code", "description", "parameters"}`` (also inside a 200)."""
    raw_code = body.get("error_code")
    code = raw_code if isinstance(raw_code, int) else status
    description = str(body.get("description") or f"error {code}")
    parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    said = f"Telegram said: {description.rstrip('.')}."
    wait = (parameters or {}).get("retry_after")
    if code == 429 or isinstance(wait, int | float):
        seconds = float(wait) if isinstance(wait, int | float) else None
        return RateLimited(said, retry_after=seconds)
    if code == 401 or (code == 404 and description == "Not Found"):
        return AuthExpired(
            f"{said} Herald's bot token (TELEGRAM_BOT_TOKEN) is wrong or was revoked: set the token @BotFather gives."
        )
    if code == 403 or any(marker in description.lower() for marker in _NO_ACCESS):
        where = "the channel"
        bot = "Herald's bot"
        if account is not None:
            username, bot_name = account.get("username"), account.get("bot_username")
            where = f"@{username}" if username else account.get("title", where) or where
            bot = f"@{bot_name}" if bot_name else bot
        return AuthExpired(f"{said} Add {bot} back to {where} as an administrator who can post messages.")
    if code >= 500 or code == 408:
        return PlatformDown(said)
    return Rejected(said)


def _reason(exc: Exception) -> str:
    return str(exc).removeprefix("Telegram said: ").split(". ", 1)[0].rstrip(".")


def _check(publication: Publication) -> None:
    text, count = publication.text, len(publication.media)
    if count > MAX_MEDIA:
        raise Rejected(f"Telegram takes at most {MAX_MEDIA} photos or videos per post, this has {count}.")
    if count:
        if utf16_length(text) > CAPTION_LIMIT:
            raise Rejected(
                f"Telegram allows {CAPTION_LIMIT} characters in a caption under media, this is {utf16_length(text)}."
            )
    elif not text.strip():
        raise Rejected("Telegram needs text or media; this post has neither.")
    elif utf16_length(text) > TEXT_LIMIT:
        raise Rejected(f"Telegram allows {TEXT_LIMIT} characters, this is {utf16_length(text)}.")
