"""A fake Telegram Bot API server on 127.0.0.1, written from core.telegram.org/bots/api and Telegram's real answers.

Every method is ``GET|POST /bot{token}/{method}`` with its parameters in the query string, a URL-encoded or JSON
body, or ``multipart/form-data`` (files); every answer is ``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": N, "description": "…", "parameters": {…}}`` with HTTP status N.

Methods, one handler each (``FakeTelegram.methods``; add one with ``@fake.method("name")``):
``getMe``, ``getChat``, ``getChatMember``, ``sendMessage``, ``sendPhoto``, ``sendVideo``, ``sendMediaGroup``
(``media`` a JSON array of InputMediaPhoto/Video with ``attach://<part>`` references; 2–10 items).

Control (from the test thread, thread-safe): :meth:`FakeTelegram.add_channel`, :meth:`set_bot` (the bot's status
and rights in a channel), :meth:`fail` (the next calls of a method answer one of :data:`ERRORS`, or any code and
description; ``http_status=200`` gives the "200 with ok false" answer), :meth:`hang` (the next call is carried out
but answered only after ``hang_seconds``). ``calls`` logs every call (method, parameters, file parts); ``messages``
what was posted.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes import forms
from tests.fakes.server import ServedApp

BOT_TOKEN: Final = "123456789:AAHerald-fake-bot-token"
BOT_ID: Final = 123456789

#: Scriptable failures, with Telegram's own codes and descriptions.
ERRORS: Final[dict[str, tuple[int, str]]] = {
    "rate_limit": (429, "Too Many Requests: retry after 5"),
    "not_member": (403, "Forbidden: bot is not a member of the channel chat"),
    "kicked": (403, "Forbidden: bot was kicked from the channel chat"),
    "no_rights": (400, "Bad Request: need administrator rights in the channel chat"),
    "chat_not_found": (400, "Bad Request: chat not found"),
    "too_long": (400, "Bad Request: message is too long"),
    "caption_too_long": (400, "Bad Request: message caption is too long"),
    "unauthorized": (401, "Unauthorized"),
    "server_error": (500, "Internal Server Error"),
    "bad_gateway": (502, "Bad Gateway"),
}

Handler = Callable[["Call"], Awaitable[Any]]


class BotAPIError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Call:
    method: str
    params: dict[str, str]
    files: dict[str, forms.Upload] = field(default_factory=dict)
    token: str = ""


@dataclass
class Channel:
    id: int
    title: str
    username: str | None
    type: str = "channel"
    bot_status: str = "administrator"  # creator / administrator / member / left / kicked
    can_post: bool = True
    next_message_id: int = 1

    def json(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "title": self.title, "type": self.type}
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class Sent:
    chat_id: int
    message_id: int
    method: str
    text: str | None
    media: list[tuple[str, str, str, int]] = field(default_factory=list)  # (type, filename, content type, bytes)
    media_group_id: str | None = None


@dataclass
class _Failure:
    code: int
    description: str
    parameters: dict[str, Any] | None
    http_status: int | None


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _image(data: bytes) -> bool:
    return data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


class FakeTelegram:
    """One Bot API server with one bot (``BOT_TOKEN``, ``@HeraldBot``)."""

    def __init__(self, *, bot_username: str = "HeraldBot") -> None:
        self.bot = {"id": BOT_ID, "is_bot": True, "first_name": "Herald", "username": bot_username}
        self.tokens = {BOT_TOKEN}
        self.channels: dict[int, Channel] = {}
        self.messages: list[Sent] = []
        self.calls: list[Call] = []
        self.hang_seconds = 3.0
        self.methods: dict[str, Handler] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._hangs: dict[str, int] = {}
        self._ids = itertools.count(1001234567890)
        self._groups = itertools.count(13_000_000_000_000_000)
        self._lock = threading.Lock()
        self.served: ServedApp | None = None
        self._register()
        self.app = self._build()

    # --- control (test thread)

    @property
    def url(self) -> str:
        assert self.served is not None, "start() the fake first"
        return self.served.url

    def start(self) -> FakeTelegram:
        self.served = ServedApp(self.app, name="fake-telegram").start()
        return self

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_channel(
        self, username: str | None = "acme", title: str = "Acme", *, kind: str = "channel", bot: str = "administrator"
    ) -> int:
        """A chat (a channel unless ``kind`` says "supergroup" …) where the bot has status ``bot``; its id."""
        with self._lock:
            chat_id = -next(self._ids)
            self.channels[chat_id] = Channel(chat_id, title, username, kind, bot)
        return chat_id

    def set_bot(self, chat_id: int, status: str, *, can_post: bool = True) -> None:
        with self._lock:
            self.channels[chat_id].bot_status = status
            self.channels[chat_id].can_post = can_post

    def fail(
        self,
        method: str,
        error: str | int,
        description: str | None = None,
        *,
        times: int = 1,
        retry_after: int | None = None,
        http_status: int | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` answer ``error`` (a name in :data:`ERRORS`, or a code with
        ``description``); ``rate_limit`` carries ``parameters.retry_after`` (5 unless ``retry_after``)."""
        if isinstance(error, str):
            code, text = ERRORS[error]
            if error == "rate_limit" and retry_after is not None:
                text = f"Too Many Requests: retry after {retry_after}"
        else:
            code, text = error, description or "Bad Request"
        parameters = {"retry_after": retry_after or 5} if code == 429 else None
        with self._lock:
            self._failures.setdefault(method, []).extend([_Failure(code, text, parameters, http_status)] * times)

    def hang(self, method: str, times: int = 1) -> None:
        with self._lock:
            self._hangs[method] = self._hangs.get(method, 0) + times

    def count(self, method: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.method == method)

    def method(self, name: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.methods[name] = handler
            return handler

        return register

    # --- helpers for method handlers

    def chat(self, call: Call) -> Channel:
        ref = call.params.get("chat_id", "")
        if not ref:
            raise BotAPIError(400, "Bad Request: chat_id is empty")
        with self._lock:
            if ref.startswith("@"):
                found = next((c for c in self.channels.values() if c.username == ref[1:]), None)
            else:
                try:
                    found = self.channels.get(int(ref))
                except ValueError:
                    found = None
        # a private channel the bot isn't in is invisible to it
        if found is None or (found.username is None and found.bot_status in ("left", "kicked")):
            raise BotAPIError(400, "Bad Request: chat not found")
        return found

    def postable(self, call: Call) -> Channel:
        """The channel, if the bot may post there; the errors Telegram gives otherwise."""
        chat = self.chat(call)
        if chat.bot_status == "kicked":
            raise BotAPIError(403, "Forbidden: bot was kicked from the channel chat")
        if chat.bot_status == "left":
            raise BotAPIError(403, "Forbidden: bot is not a member of the channel chat")
        if chat.bot_status == "member" or not chat.can_post:
            raise BotAPIError(400, "Bad Request: need administrator rights in the channel chat")
        return chat

    def _message(self, chat: Channel, method: str, shown: str | None, **extra: Any) -> tuple[Sent, dict[str, Any]]:
        with self._lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
        sent = Sent(chat.id, message_id, method, shown, extra.pop("media", []), extra.get("media_group_id"))
        body: dict[str, Any] = {
            "message_id": message_id,
            "sender_chat": chat.json(),
            "chat": chat.json(),
            "date": int(time.time()),
            **extra,
        }
        return sent, body

    def _keep(self, *sent: Sent) -> None:
        with self._lock:
            self.messages.extend(sent)

    # --- the methods

    def _register(self) -> None:
        @self.method("getMe")
        async def get_me(call: Call) -> Any:
            return self.bot

        @self.method("getChat")
        async def get_chat(call: Call) -> Any:
            chat = self.chat(call)
            return {**chat.json(), "accent_color_id": 0, "max_reaction_count": 11}

        @self.method("getChatMember")
        async def get_chat_member(call: Call) -> Any:
            chat = self.chat(call)
            user_id = call.params.get("user_id", "")
            if not user_id:
                raise BotAPIError(400, "Bad Request: user_id is empty")
            if int(user_id) != BOT_ID:
                raise BotAPIError(400, "Bad Request: user not found")
            if chat.bot_status in ("left", "kicked"):
                raise BotAPIError(403, "Forbidden: bot is not a member of the channel chat")
            member: dict[str, Any] = {"user": self.bot, "status": chat.bot_status}
            if chat.bot_status == "administrator":
                member |= {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_post_messages": chat.can_post,
                    "can_edit_messages": True,
                    "can_invite_users": True,
                }
            return member

        @self.method("sendMessage")
        async def send_message(call: Call) -> Any:
            chat = self.postable(call)
            text = call.params.get("text", "")
            if not text.strip():
                raise BotAPIError(400, "Bad Request: message text is empty")
            if utf16_length(text) > 4096:
                raise BotAPIError(400, "Bad Request: message is too long")
            sent, body = self._message(chat, "sendMessage", text, text=text)
            self._keep(sent)
            return body

        async def send_file(call: Call, kind: str) -> Any:
            chat = self.postable(call)
            caption = call.params.get("caption", "")
            if utf16_length(caption) > 1024:
                raise BotAPIError(400, "Bad Request: message caption is too long")
            upload = call.files.get(kind)
            if upload is None:
                if call.params.get(kind):  # a file_id or URL: not used by Herald
                    raise BotAPIError(400, "Bad Request: wrong file identifier/HTTP URL specified")
                raise BotAPIError(400, f"Bad Request: there is no {kind} in the request")
            if kind == "photo" and not _image(upload.data):
                raise BotAPIError(400, "Bad Request: IMAGE_PROCESS_FAILED")
            media = [(kind, upload.filename, upload.content_type, len(upload.data))]
            extra: dict[str, Any] = {kind: _file_json(kind, upload)}
            if caption:
                extra["caption"] = caption
            sent, body = self._message(chat, call.method, caption or None, media=media, **extra)
            self._keep(sent)
            return body

        @self.method("sendPhoto")
        async def send_photo(call: Call) -> Any:
            return await send_file(call, "photo")

        @self.method("sendVideo")
        async def send_video(call: Call) -> Any:
            return await send_file(call, "video")

        @self.method("sendMediaGroup")
        async def send_media_group(call: Call) -> Any:
            chat = self.postable(call)
            try:
                items = json.loads(call.params.get("media", ""))
            except ValueError:
                raise BotAPIError(400, "Bad Request: can't parse media JSON object") from None
            if not isinstance(items, list) or not 2 <= len(items) <= 10:
                raise BotAPIError(400, "Bad Request: media must include 2-10 items")
            uploads: list[tuple[dict[str, Any], forms.Upload]] = []
            for index, item in enumerate(items, 1):
                kind, ref = item.get("type"), str(item.get("media", ""))
                upload = call.files.get(ref.removeprefix("attach://")) if ref.startswith("attach://") else None
                if kind not in ("photo", "video") or upload is None:
                    raise BotAPIError(
                        400, f'Bad Request: failed to send message #{index} with the error message "MEDIA_EMPTY"'
                    )
                if kind == "photo" and not _image(upload.data):
                    raise BotAPIError(400, "Bad Request: IMAGE_PROCESS_FAILED")
                if utf16_length(str(item.get("caption", ""))) > 1024:
                    raise BotAPIError(400, "Bad Request: message caption is too long")
                uploads.append((item, upload))
            group = str(next(self._groups))
            sent_all, bodies = [], []
            for item, upload in uploads:
                kind, caption = str(item["type"]), item.get("caption")
                extra: dict[str, Any] = {"media_group_id": group, kind: _file_json(kind, upload)}
                if caption:
                    extra["caption"] = caption
                media = [(kind, upload.filename, upload.content_type, len(upload.data))]
                sent, body = self._message(chat, "sendMediaGroup", caption, media=media, **extra)
                sent_all.append(sent)
                bodies.append(body)
            self._keep(*sent_all)
            return bodies

    # --- the server

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/bot{token}/{method}", methods=["GET", "POST"])
        async def bot_api(token: str, method: str, request: Request) -> Response:
            try:
                form = await forms.read(request)
            except ValueError:
                return _answer_error(BotAPIError(400, "Bad Request: can't parse request body"))
            params = dict(request.query_params) | {k: v[0] for k, v in form.fields.items() if v}
            call = Call(method, params, dict(form.files), token)
            with self._lock:
                self.calls.append(call)
                failures = self._failures.get(method)
                failure = failures.pop(0) if failures else None
                hang = self._hangs.get(method, 0) > 0
                if hang:
                    self._hangs[method] -= 1
            if token not in self.tokens:
                return _answer_error(BotAPIError(401, "Unauthorized"))
            handler = self.methods.get(method)
            if handler is None:
                return _answer_error(BotAPIError(404, "Not Found"))
            if failure is not None:
                error = BotAPIError(failure.code, failure.description, failure.parameters)
                return _answer_error(error, failure.http_status)
            try:
                result = await handler(call)
            except BotAPIError as exc:
                return _answer_error(exc)
            if hang:
                await asyncio.sleep(self.hang_seconds)
            return JSONResponse({"ok": True, "result": result})

        return app


def _file_json(kind: str, upload: forms.Upload) -> Any:
    unique = f"AQAD{abs(hash(upload.data)) % 10**10}"
    if kind == "photo":
        return [{"file_id": f"AgAC{unique}", "file_unique_id": unique, "width": 90, "height": 60, "file_size": 1200}]
    return {"file_id": f"BAAC{unique}", "file_unique_id": unique, "width": 640, "height": 360, "duration": 1}


def _answer_error(error: BotAPIError, http_status: int | None = None) -> Response:
    body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return JSONResponse(body, http_status or error.code)
