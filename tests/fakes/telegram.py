"""A fake Telegram Bot API server on 127.0.0.1, written from core.telegram.org/bots/api and Telegram's real answers.

Every method is ``GET|POST /bot{token}/{method}`` with its parameters in the query string, a URL-encoded or JSON
body, or ``multipart/form-data`` (files); every answer is ``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": N, "description": "…", "parameters": {…}}`` with HTTP status N.

Methods, one handler each (``FakeTelegram.methods``; add one with ``@fake.method("name")``):
``getMe``, ``getChat``, ``getChatMember``, ``sendMessage``, ``sendPhoto``, ``sendVideo``, ``sendMediaGroup``
(``media`` a JSON array of InputMediaPhoto/Video with ``attach://<part>`` references; 2–10 items);
for chatting with the bot: ``editMessageText``, ``editMessageReplyMarkup``,
``answerCallbackQuery`` (once per query, within ``query_timeout``), ``deleteMessage``, ``getFile`` and the download
``GET /file/bot{token}/{path}``, ``setWebhook``, ``deleteWebhook``, ``getWebhookInfo``, ``getUpdates`` (long poll
over the updates the test pushed). Messages sent with ``parse_mode=HTML`` are checked as Telegram parses them.

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
from html.parser import HTMLParser
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
    "group_kicked": (403, "Forbidden: bot was kicked from the group chat"),
    "supergroup_kicked": (403, "Forbidden: bot was kicked from the supergroup chat"),
    "blocked": (403, "Forbidden: bot was blocked by the user"),
    "not_modified": (
        400,
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same"
        " as a current content and reply markup of the message",
    ),
    "query_too_old": (400, "Bad Request: query is too old and response timeout expired or query ID is invalid"),
    "bad_gateway": (502, "Bad Gateway"),
}

Handler = Callable[["Call"], Awaitable[Any]]
NOT_MODIFIED: Final = ERRORS["not_modified"][1]
QUERY_TOO_OLD: Final = ERRORS["query_too_old"][1]
#: the tags Telegram's HTML parse mode knows (core.telegram.org/bots/api#html-style)
HTML_TAGS: Final = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji", "code", "pre"}
    | {"blockquote"}
)


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
        if self.type == "private":
            person: dict[str, Any] = {"id": self.id, "first_name": self.title, "type": "private"}
            return person | ({"username": self.username} if self.username else {})
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
    raw: str | None = None  # the text as sent (HTML with parse_mode=HTML); ``text`` is what the reader sees
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: int | None = None
    edits: int = 0
    body: dict[str, Any] = field(default_factory=dict)  # the Message object Telegram returned for it

    def buttons(self) -> list[dict[str, Any]]:
        """The inline keyboard's buttons, row after row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def labels(self) -> list[str]:
        return [b["text"] for b in self.buttons()]

    def data(self, label: str) -> str:
        """The callback data of the button labelled ``label``."""
        for button in self.buttons():
            if button["text"] == label and "callback_data" in button:
                return str(button["callback_data"])
        raise AssertionError(f"no button {label!r} on {self.text!r}: {self.labels()}")


@dataclass
class _Failure:
    code: int
    description: str
    parameters: dict[str, Any] | None
    http_status: int | None


@dataclass
class Query:
    """A callback query the fake sent (as Telegram does when a button is pressed)."""

    id: str
    user_id: int
    data: str
    issued: float  # time.perf_counter()
    answered: bool = False


@dataclass
class Answer:
    query_id: str
    text: str
    show_alert: bool
    at: float  # time.perf_counter() when the call arrived


class _Entities(HTMLParser):
    """Telegram's HTML parse mode: known tags, properly closed; the reader's text is what remains."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            self.problem = self.problem or f'Unsupported start tag "{tag}"'
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problem = self.problem or f'Unexpected end tag "{tag}"'
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> str:
    """What the reader sees of ``text`` sent with ``parse_mode=HTML``; BotAPIError as Telegram words it."""
    parser = _Entities()
    parser.feed(text)
    parser.close()
    if parser.problem is None and parser.open:
        parser.problem = f'Can\'t find end tag corresponding to start tag "{parser.open[-1]}"'
    if parser.problem is not None:
        raise BotAPIError(400, f"Bad Request: can't parse entities: {parser.problem}")
    return "".join(parser.text)


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
        self.users: dict[int, dict[str, Any]] = {}
        self.updates: list[dict[str, Any]] = []  # pushed for getUpdates, dropped once confirmed by an offset
        self.webhook: dict[str, Any] | None = None  # url, secret_token, allowed_updates
        self.queries: dict[str, Query] = {}
        self.answers: list[Answer] = []
        self.query_timeout = 15.0  # seconds within which a callback query must be answered
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id → (file_path, data)
        self._update_ids = itertools.count(700_000_001)
        self._query_ids = itertools.count(4_382_901_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._by_id: dict[tuple[int, int], Sent] = {}
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
        hidden = found is not None and found.type == "channel" and found.username is None
        if found is None or (hidden and found.bot_status in ("left", "kicked")):
            raise BotAPIError(400, "Bad Request: chat not found")
        return found

    def postable(self, call: Call) -> Channel:
        """The channel, if the bot may post there; the errors Telegram gives otherwise."""
        chat = self.chat(call)
        if chat.type == "private":
            if chat.bot_status == "kicked":
                raise BotAPIError(403, "Forbidden: bot was blocked by the user")
            if chat.bot_status == "left":
                raise BotAPIError(403, "Forbidden: bot can't initiate conversation with a user")
            return chat
        kind = "group" if chat.type == "group" else "supergroup" if chat.type == "supergroup" else "channel"
        if chat.bot_status == "kicked":
            raise BotAPIError(403, f"Forbidden: bot was kicked from the {kind} chat")
        if chat.bot_status == "left":
            raise BotAPIError(403, f"Forbidden: bot is not a member of the {kind} chat")
        if chat.type == "channel" and (chat.bot_status == "member" or not chat.can_post):
            raise BotAPIError(400, "Bad Request: need administrator rights in the channel chat")
        return chat

    def _message(self, chat: Channel, method: str, shown: str | None, **extra: Any) -> tuple[Sent, dict[str, Any]]:
        with self._lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
        sent = Sent(chat.id, message_id, method, shown, extra.pop("media", []), extra.get("media_group_id"))
        author = {"sender_chat": chat.json()} if chat.type == "channel" else {"from": self.bot}
        body: dict[str, Any] = {
            "message_id": message_id,
            **author,
            "chat": chat.json(),
            "date": int(time.time()),
            **extra,
        }
        sent.body = body
        return sent, body

    def _keep(self, *sent: Sent) -> None:
        with self._lock:
            self.messages.extend(sent)
            for one in sent:
                self._by_id[(one.chat_id, one.message_id)] = one

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
            if int(user_id) in self.users:
                return {"user": self.users[int(user_id)], "status": "member"}
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
            raw = call.params.get("text", "")
            mode = call.params.get("parse_mode")
            text = parse_html(raw) if mode == "HTML" else raw
            if not text.strip():
                raise BotAPIError(400, "Bad Request: message text is empty")
            if utf16_length(text) > 4096:
                raise BotAPIError(400, "Bad Request: message is too long")
            markup = _markup(call)
            reply_to = _reply_to(call)
            extra: dict[str, Any] = {"text": text}
            if markup is not None and "inline_keyboard" in markup:
                extra["reply_markup"] = markup
            if reply_to is not None:
                with self._lock:
                    replied = self._by_id.get((chat.id, reply_to))
                if replied is None and not _allow_without_reply(call):
                    raise BotAPIError(400, "Bad Request: message to be replied not found")
                if replied is not None:
                    extra["reply_to_message"] = replied.body
            sent, body = self._message(chat, "sendMessage", text, **extra)
            sent.raw, sent.parse_mode, sent.reply_markup, sent.reply_to = raw, mode, markup, reply_to
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

        self._register_chat()

    # --- chatting with the bot: people, groups, updates (test thread)

    def add_user(self, user_id: int, first_name: str, username: str | None = None, *, started: bool = True) -> int:
        """A person, with their private chat with the bot (``started``: they pressed Start, so the bot may write)."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        if username:
            user["username"] = username
        with self._lock:
            self.users[user_id] = user
            status = "member" if started else "left"
            self.channels[user_id] = Channel(user_id, first_name, username, "private", status)
        return user_id

    def add_group(self, title: str = "Approvals", *, kind: str = "supergroup", bot: str = "member") -> int:
        return self.add_channel(None, title, kind=kind, bot=bot)

    def messages_in(self, chat_id: int, *, reply_to: int | None = None) -> list[Sent]:
        with self._lock:
            found = [m for m in self.messages if m.chat_id == chat_id]
        return found if reply_to is None else [m for m in found if m.reply_to == reply_to]

    def sent(self, chat_id: int, message_id: int) -> Sent:
        with self._lock:
            return self._by_id[(chat_id, message_id)]

    def _next_message_id(self, chat_id: int) -> int:
        with self._lock:
            chat = self.channels[chat_id]
            message_id = chat.next_message_id
            chat.next_message_id += 1
        return message_id

    def message_update(
        self,
        user_id: int,
        chat_id: int | None = None,
        text: str | None = None,
        *,
        reply_to: Sent | None = None,
        photo: str | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
        sticker: bool = False,
        edited: bool = False,
    ) -> dict[str, Any]:
        """An update with a message from ``user_id`` in ``chat_id`` (their private chat by default), as Telegram
        sends it: a leading ``/command`` (or ``/command@bot``) carries a ``bot_command`` entity; ``photo`` is a
        file id (see :meth:`add_file`), sent in two sizes as Telegram does."""
        chat = self.channels[chat_id if chat_id is not None else user_id]
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat.id),
            "from": self.users[user_id],
            "chat": chat.json(),
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
            message |= _command_entities(text, "entities")
        if photo is not None:
            _, data = self.files[photo]
            unique = photo.replace("AgAC", "AQAD")
            message["photo"] = [
                {"file_id": photo + "-s", "file_unique_id": unique + "s", "width": 90, "height": 60, "file_size": 999},
                {"file_id": photo, "file_unique_id": unique, "width": 1280, "height": 853, "file_size": len(data)},
            ]
        if caption is not None:
            message["caption"] = caption
            message |= _command_entities(caption, "caption_entities")
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        if sticker:
            message["sticker"] = {
                "file_id": "CAACAgIAAxkBAAEBsticker",
                "file_unique_id": "AgADsticker",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "👍",
            }
        if reply_to is not None:
            message["reply_to_message"] = reply_to.body
        if edited:
            message["edit_date"] = int(time.time())
        return {"update_id": next(self._update_ids), "edited_message" if edited else "message": message}

    def callback_update(self, user_id: int, message: Sent, data: str) -> dict[str, Any]:
        """The update Telegram sends when ``user_id`` presses the button with ``data`` on ``message``."""
        query_id = str(next(self._query_ids))
        with self._lock:
            self.queries[query_id] = Query(query_id, user_id, data, time.perf_counter())
            shown = dict(message.body)
            if message.reply_markup is not None and "inline_keyboard" in message.reply_markup:
                shown["reply_markup"] = message.reply_markup
            shown["text"] = message.text
        query = {
            "id": query_id,
            "from": self.users[user_id],
            "message": shown,
            "chat_instance": str(-abs(hash((message.chat_id, BOT_ID))) % 10**19),
            "data": data,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    def click(self, user_id: int, message: Sent, label: str) -> dict[str, Any]:
        """:meth:`callback_update` for the button labelled ``label``."""
        return self.callback_update(user_id, message, message.data(label))

    def push(self, update: dict[str, Any]) -> None:
        """Queue an update for ``getUpdates``."""
        with self._lock:
            self.updates.append(update)

    def add_file(self, data: bytes, *, kind: str = "photo", name: str = "file_0.jpg") -> str:
        """A file Telegram holds (a photo someone sent); its ``file_id``."""
        n = next(self._file_ids)
        file_id = f"AgACAgIAAxkBAAIB{n:08d}" if kind == "photo" else f"BAACAgIAAxkBAAIB{n:08d}"
        folder = "photos" if kind == "photo" else "videos"
        with self._lock:
            self.files[file_id] = (f"{folder}/file_{n}{name[name.rfind('.') :] if '.' in name else ''}", data)
        return file_id

    def answers_to(self, query_id: str) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.query_id == query_id]

    # --- the chat methods

    def _edited(self, call: Call) -> Sent:
        if call.params.get("inline_message_id"):
            raise BotAPIError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self.postable(call)
        try:
            message_id = int(call.params.get("message_id", ""))
        except ValueError:
            raise BotAPIError(400, "Bad Request: message identifier is not specified") from None
        with self._lock:
            found = self._by_id.get((chat.id, message_id))
        if found is None:
            raise BotAPIError(400, "Bad Request: message to edit not found")
        return found

    def _register_chat(self) -> None:
        @self.method("editMessageText")
        async def edit_message_text(call: Call) -> Any:
            message = self._edited(call)
            raw = call.params.get("text", "")
            mode = call.params.get("parse_mode")
            text = parse_html(raw) if mode == "HTML" else raw
            if not text.strip():
                raise BotAPIError(400, "Bad Request: message text is empty")
            if utf16_length(text) > 4096:
                raise BotAPIError(400, "Bad Request: MESSAGE_TOO_LONG")
            markup = _markup(call)
            with self._lock:
                if (message.raw, message.parse_mode, message.reply_markup) == (raw, mode, markup):
                    raise BotAPIError(400, NOT_MODIFIED)
                message.raw, message.text, message.parse_mode, message.reply_markup = raw, text, mode, markup
                message.edits += 1
                message.body = {**message.body, "text": text, "edit_date": int(time.time())}
                message.body.pop("reply_markup", None)
                if markup is not None:
                    message.body["reply_markup"] = markup
                return dict(message.body)

        @self.method("editMessageReplyMarkup")
        async def edit_message_reply_markup(call: Call) -> Any:
            message = self._edited(call)
            markup = _markup(call)
            with self._lock:
                if message.reply_markup == markup:
                    raise BotAPIError(400, NOT_MODIFIED)
                message.reply_markup = markup
                message.edits += 1
                message.body = {**message.body, "edit_date": int(time.time())}
                message.body.pop("reply_markup", None)
                if markup is not None:
                    message.body["reply_markup"] = markup
                return dict(message.body)

        @self.method("deleteMessage")
        async def delete_message(call: Call) -> Any:
            message = self._edited(call)
            with self._lock:
                self.messages.remove(message)
                del self._by_id[(message.chat_id, message.message_id)]
            return True

        @self.method("answerCallbackQuery")
        async def answer_callback_query(call: Call) -> Any:
            now = time.perf_counter()
            query_id = call.params.get("callback_query_id", "")
            text = call.params.get("text", "")
            with self._lock:
                query = self.queries.get(query_id)
                if query is None or query.answered or now - query.issued > self.query_timeout:
                    raise BotAPIError(400, QUERY_TOO_OLD)
                if len(text) > 200:
                    raise BotAPIError(400, "Bad Request: MESSAGE_TOO_LONG")
                query.answered = True
                alert = call.params.get("show_alert", "false").lower() == "true"
                self.answers.append(Answer(query_id, text, alert, now))
            return True

        @self.method("getFile")
        async def get_file(call: Call) -> Any:
            file_id = call.params.get("file_id", "")
            with self._lock:
                found = self.files.get(file_id)
            if found is None:
                raise BotAPIError(400, "Bad Request: invalid file_id")
            path, data = found
            if len(data) > 20 * 1024 * 1024:
                raise BotAPIError(400, "Bad Request: file is too big")
            unique = file_id.replace("AgAC", "AQAD").replace("BAAC", "AQAD")
            return {"file_id": file_id, "file_unique_id": unique, "file_size": len(data), "file_path": path}

        @self.method("setWebhook")
        async def set_webhook(call: Call) -> Any:
            url = call.params.get("url", "")
            if url and not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
                raise BotAPIError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
            allowed = json.loads(call.params.get("allowed_updates", "null"))
            with self._lock:
                self.webhook = (
                    {"url": url, "secret_token": call.params.get("secret_token"), "allowed_updates": allowed}
                    if url
                    else None
                )
            return True

        @self.method("deleteWebhook")
        async def delete_webhook(call: Call) -> Any:
            with self._lock:
                self.webhook = None
                if call.params.get("drop_pending_updates", "false").lower() == "true":
                    self.updates.clear()
            return True

        @self.method("getWebhookInfo")
        async def get_webhook_info(call: Call) -> Any:
            with self._lock:
                hook = dict(self.webhook or {})
                pending = len(self.updates)
            info: dict[str, Any] = {"url": hook.get("url", ""), "has_custom_certificate": False}
            info["pending_update_count"] = pending
            if hook.get("allowed_updates"):
                info["allowed_updates"] = hook["allowed_updates"]
            return info

        @self.method("getUpdates")
        async def get_updates(call: Call) -> Any:
            offset = int(call.params.get("offset", "0") or 0)
            timeout = float(call.params.get("timeout", "0") or 0)
            limit = int(call.params.get("limit", "100") or 100)
            allowed = json.loads(call.params.get("allowed_updates", "null") or "null")
            deadline = time.monotonic() + min(timeout, 50)
            while True:
                with self._lock:
                    if self.webhook is not None:
                        raise BotAPIError(
                            409,
                            "Conflict: can't use getUpdates method while webhook is active;"
                            " use deleteWebhook to delete the webhook first",
                        )
                    if offset:
                        self.updates = [u for u in self.updates if u["update_id"] >= offset]
                    ready = [u for u in self.updates if not allowed or any(k in u for k in allowed)][:limit]
                if ready or time.monotonic() >= deadline:
                    return ready
                await asyncio.sleep(0.02)

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

        @app.get("/file/bot{token}/{path:path}")
        async def download(token: str, path: str) -> Response:
            with self._lock:
                found = next((data for p, data in self.files.values() if p == path), None)
            if token not in self.tokens or found is None:
                return _answer_error(BotAPIError(404, "Not Found"))
            return Response(found, media_type="application/octet-stream")

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


def _markup(call: Call) -> dict[str, Any] | None:
    """The ``reply_markup`` parameter; BotAPIError for callback data Telegram refuses (1–64 bytes)."""
    raw = call.params.get("reply_markup")
    if not raw:
        return None
    try:
        markup = json.loads(raw)
    except ValueError:
        raise BotAPIError(400, "Bad Request: can't parse reply keyboard markup JSON object") from None
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise BotAPIError(400, "Bad Request: BUTTON_DATA_INVALID")
            if data is None and not button.get("url"):
                raise BotAPIError(400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed")
    return dict(markup)


def _reply_to(call: Call) -> int | None:
    raw = call.params.get("reply_parameters")
    if raw:
        return int(json.loads(raw)["message_id"])
    legacy = call.params.get("reply_to_message_id")
    return int(legacy) if legacy else None


def _allow_without_reply(call: Call) -> bool:
    raw = call.params.get("reply_parameters")
    if raw:
        return bool(json.loads(raw).get("allow_sending_without_reply"))
    return call.params.get("allow_sending_without_reply", "false").lower() == "true"


def _command_entities(text: str, key: str) -> dict[str, Any]:
    """A leading ``/command`` as Telegram marks it (a ``bot_command`` entity, UTF-16 offsets)."""
    if not text.startswith("/"):
        return {}
    word = text.split(maxsplit=1)[0]
    return {key: [{"offset": 0, "length": utf16_length(word), "type": "bot_command"}]}
