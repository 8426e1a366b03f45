"""Putting neutral replies into Telegram: the :class:`~handlers.ports.Notifier` for conversations on ``telegram``.

Rules, in order:

* a reply with a ``ref`` (the approval card) is edited in place with ``editMessageText`` when this conversation
  already shows it (remembered in :class:`~models.chatrefs.ChatMessageRef`, which the web and worker processes
  share), else sent and remembered; "message is not modified" is not an error, a card that is gone is sent anew;
* any other reply about a post is a reply to that post's card in this conversation (``reply_parameters``), when
  the card is there; everything else is a plain message;
* a report (``kind="report"``) also goes as a reply to the post's card in every other Telegram chat showing it,
  once per chat. The conversation it was sent to comes first: if that fails, the error propagates (whoever
  retries the report won't double it); after that, a chat that fails is logged and the others still get it.

A conversation ``dm:<user id>`` is the bot's private chat with that user (the chat id is the user id); any other
channel is a chat id. Every Bot API call goes through :meth:`TelegramNotifier.call` (the one place to pace or
retry): a 429 is waited out (``retry_after``) and tried again; a chat the bot was removed from, or a user who
blocked it (403), is one log line and nothing else.
"""

from __future__ import annotations

import asyncio
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import structlog
from telegram import Bot, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning
from tortoise.exceptions import IntegrityError

from bot.telegram import pacing, render
from bot.telegram.callbacks import CallbackStore
from handlers.drafting.views import card_ref
from handlers.messages import Conversation, Reply
from handlers.settings import Settings
from models.chatrefs import ChatMessageRef, Shown, shown
from tasks.platforms.transport import PublishTransport

log = structlog.get_logger(__name__)
ADAPTER = "telegram"
DM_PREFIX = "dm:"
RETRIES = 3
CONNECTIONS = 256
KEEPALIVE_S = 4.0  # below common servers' keep-alive: never write to a connection they closed
MAX_RETRY_AFTER = 120.0  # seconds; a longer wait is Telegram shutting the bot out, not pacing it
NOT_MODIFIED = "message is not modified"
CANT_WRITE = ("chat not found", "have no rights to send", "not enough rights")
GONE = ("message to edit not found", "message_id_invalid", "message can't be edited")
NO_LINK_PREVIEWS = LinkPreviewOptions(is_disabled=True)
_held: ContextVar[list[tuple[Conversation, Reply]] | None] = ContextVar("herald_telegram_held", default=None)


def api_urls(api_url: str) -> tuple[str, str]:
    """python-telegram-bot's ``base_url`` and ``base_file_url`` for ``TELEGRAM_API_URL`` (the library appends
    the token): ``{url}/bot{token}/{method}`` and ``{url}/file/bot{token}/{path}``, as the channel publisher
    builds them from the same variable."""
    root = api_url.rstrip("/")
    return f"{root}/bot", f"{root}/file/bot"


def _session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=KEEPALIVE_S)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


def bot_request() -> HTTPXRequest:
    """python-telegram-bot's HTTP layer over aiohttp's pool (``tasks.platforms.transport``'s transport).

    httpx's own pool rescans its connections for every request: 200 callback answers at once cost ~4 ms of CPU
    each in the client; over aiohttp, under 1 ms (``bench/telegram_callback.py``)."""
    transport = PublishTransport(client=_session)
    return HTTPXRequest(connection_pool_size=CONNECTIONS, pool_timeout=5.0, httpx_kwargs={"transport": transport})


def make_bot(settings: Settings) -> Bot:
    base_url, base_file_url = api_urls(settings.telegram_api_url)
    return Bot(str(settings.telegram_bot_token), base_url=base_url, base_file_url=base_file_url, request=bot_request())


def from_settings(settings: Settings) -> TelegramNotifier:
    """The notifier a worker uses to report into Telegram (``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_API_URL``)."""
    return TelegramNotifier(make_bot(settings), owns_bot=True, pacer=pacing.for_settings(settings))


#: The calls that put a message in a chat (paced); answering a click or reading a file is not paced.
PACED = frozenset(
    {"send_message", "send_photo", "send_video", "send_media_group", "edit_message_text", "edit_message_reply_markup"}
)


def is_group(chat: int | str) -> bool:
    """Groups, supergroups and channels have negative ids (and @names); private chats positive ones."""
    return not isinstance(chat, int) or chat < 0


def chat_of(channel: str) -> int | str:
    """The chat id to send to: ``dm:42`` → 42 (the private chat with user 42), ``-100123`` → -100123."""
    raw = channel[len(DM_PREFIX) :] if channel.startswith(DM_PREFIX) else channel
    try:
        return int(raw)
    except ValueError:
        return raw  # @channelusername


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # an int until python-telegram-bot 23, a timedelta after: either is read
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def describe(exc: BaseException) -> dict[str, Any]:
    """Log fields for a failed Bot API call."""
    if isinstance(exc, TelegramError):
        return {"error": type(exc).__name__, "description": exc.message}
    return {"error": type(exc).__name__}


class TelegramNotifier:
    def __init__(
        self,
        bot: Bot,
        *,
        callbacks: CallbackStore | None = None,
        owns_bot: bool = False,
        retries: int = RETRIES,
        pacer: pacing.Pacer | None = None,
    ) -> None:
        self.bot = bot
        self.pacer = pacer or pacing.shared()
        self.callbacks = callbacks or CallbackStore()
        self.retries = retries
        self._owns_bot = owns_bot
        self._ready = False
        self._ref_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()
        _live.add(self)

    async def call(self, method: str, chat: int | str | None, **params: Any) -> Any:
        """Call the Bot API ``method`` (python-telegram-bot's name, ``send_message``) about ``chat``: every call
        this notifier makes comes through here. A 429 is waited out (Telegram's ``retry_after``) and tried again,
        up to ``retries`` times; every other error is the caller's."""
        if self._owns_bot and not self._ready:
            await self.bot.initialize()
            self._ready = True
        for attempt in range(self.retries + 1):
            try:
                if chat is None or method not in PACED:  # a click's answer is no message: never held back
                    return await getattr(self.bot, method)(**params)
                # Telegram's flood limits, shared by every process (a 429 inside holds the chat for all of them)
                async with self.pacer.slot(chat, is_group(chat)):
                    return await getattr(self.bot, method)(**params)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if attempt == self.retries or wait > MAX_RETRY_AFTER:
                    raise
                log.info("telegram.rate_limited", method=method, chat=chat, retry_after=wait, attempt=attempt + 1)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self._owns_bot and self._ready:
            await self.bot.shutdown()
            self._ready = False

    # -- showing replies ------------------------------------------------------------------------------------

    async def notify(self, conversation: Conversation, reply: Reply) -> None:
        held = _held.get()
        if held is not None:
            held.append((conversation, reply))
            return
        await self.deliver(conversation, reply)

    @contextmanager
    def holding(self) -> Iterator[list[tuple[Conversation, Reply]]]:
        """Within this block (this task and those it starts), what the core tells other conversations is kept in
        the list yielded instead of sent: a click's answer then waits only for the core's decision, not for the
        messages it causes elsewhere (the caller sends them right after)."""
        held: list[tuple[Conversation, Reply]] = []
        token = _held.set(held)
        try:
            yield held
        finally:
            _held.reset(token)

    async def deliver_all(
        self, conversation: Conversation, replies: list[Reply], *, reply_to: int | None = None
    ) -> None:
        """Show the replies to one command; cards (replies with a ref) first, so the clicked card shows the
        decision at once and a new card exists before the replies to it."""
        hint = next((r.post_id for r in replies if r.post_id is not None), None)
        for reply in sorted(replies, key=lambda r: r.ref is None):
            await self.deliver(conversation, reply, reply_to=reply_to, post_hint=hint)

    async def deliver(
        self,
        conversation: Conversation,
        reply: Reply,
        *,
        reply_to: int | None = None,
        post_hint: int | None = None,
    ) -> None:
        key = conversation.channel
        if reply.ref is not None:
            await self._show_ref(key, reply.ref, reply, rendered=reply.extra.get("rendered_at"))
            return
        post_id = reply.post_id if reply.post_id is not None else post_hint
        report = reply.kind == "report" and reply.post_id is not None and not reply.ephemeral
        cards: list[Shown] = []
        if post_id is not None and (reply_to is None or report):
            cards = await self._cards(post_id)
        if reply_to is None:
            here = next((row for row in cards if row.channel == key), None)
            reply_to = int(here.message_id) if here is not None else None
        await self.send(key, reply, reply_to=reply_to)
        if report:
            await self._report_under_cards(key, cards, reply)

    async def send(self, key: str, reply: Reply, *, reply_to: int | None = None, markup: Any = None) -> Message | None:
        """Send ``reply`` as a new message in conversation ``key`` (as a reply to message ``reply_to``; ``markup``
        instead of the reply's buttons, e.g. a ForceReply); None when the bot may not write there any more (403:
        logged)."""
        chat = chat_of(key)
        if markup is None:
            markup = await self._keyboard(reply)
        try:
            message: Message = await self.call(
                "send_message",
                chat,
                chat_id=chat,
                text=render.text(reply),
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=NO_LINK_PREVIEWS,
                reply_parameters=(
                    ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to is not None else None
                ),
            )
        except (Forbidden, BadRequest) as exc:  # removed from the group, blocked by the user: nothing to retry
            if isinstance(exc, BadRequest) and not any(c in exc.message.lower() for c in CANT_WRITE):
                raise
            log.warning("telegram.cant_write", chat=chat, post_id=reply.post_id, **describe(exc))
            return None
        return message

    async def _keyboard(self, reply: Reply) -> Any:
        layout = render.rows(reply)
        return render.keyboard(layout, await self.callbacks.tokens(render.callback_buttons(layout)))

    async def _show_ref(self, key: str, ref: str, reply: Reply, *, rendered: datetime | None) -> None:
        """Edit the message shown as ``ref`` in ``key``, or send it. ``rendered``: when the core rendered it; an
        edit rendered before the one the message already shows is dropped (see the Slack notifier)."""
        lock = self._ref_locks.get((key, ref))
        if lock is None:
            lock = self._ref_locks[(key, ref)] = asyncio.Lock()
        async with lock:
            row = await ChatMessageRef.filter(adapter=ADAPTER, channel=key, ref=ref).first()
            if row is not None and rendered is not None:
                newest = await ChatMessageRef.filter(id=row.id, updated_at__lte=rendered).update(updated_at=rendered)
                if not newest:
                    log.info("telegram.card_edit_stale", channel=key, ref=ref)
                    return
            if row is not None and await self._edit(key, int(row.message_id), reply, ref=ref):
                return
            message = await self.send(key, reply)
            if message is None:
                return
            if row is not None:
                row.message_id = str(message.message_id)
                await row.save(update_fields=["message_id", "updated_at"])
                return
            try:
                await ChatMessageRef.create(adapter=ADAPTER, channel=key, ref=ref, message_id=str(message.message_id))
            except IntegrityError:  # another process sent the same card first: theirs stays, edited; ours goes
                await self._lost_race(key, ref, reply, message)

    async def _edit(self, key: str, message_id: int, reply: Reply, *, ref: str) -> bool:
        """Edit the message in place; False when it is gone (to send anew)."""
        chat = chat_of(key)
        try:
            await self.call(
                "edit_message_text",
                chat,
                chat_id=chat,
                message_id=message_id,
                text=render.text(reply),
                parse_mode=ParseMode.HTML,
                reply_markup=await self._keyboard(reply),
                link_preview_options=NO_LINK_PREVIEWS,
            )
        except BadRequest as exc:
            said = exc.message.lower()
            if NOT_MODIFIED in said:
                return True
            if any(gone in said for gone in GONE):
                log.info("telegram.card_gone", chat=chat, ref=ref, **describe(exc))
                return False
            if not any(c in said for c in CANT_WRITE):
                raise
            log.warning("telegram.cant_write", chat=chat, ref=ref, **describe(exc))
        except Forbidden as exc:
            log.warning("telegram.cant_write", chat=chat, ref=ref, **describe(exc))
        return True

    async def _lost_race(self, key: str, ref: str, reply: Reply, message: Message) -> None:
        winner = await ChatMessageRef.get(adapter=ADAPTER, channel=key, ref=ref)
        await self._edit(key, int(winner.message_id), reply, ref=ref)
        try:
            await self.call("delete_message", message.chat_id, chat_id=message.chat_id, message_id=message.message_id)
        except TelegramError as exc:
            log.warning("telegram.duplicate_card_left", chat=message.chat_id, ref=ref, **describe(exc))

    async def _cards(self, post_id: int) -> list[Shown]:
        """Every Telegram conversation showing the post's card."""
        return (await shown(ADAPTER, [card_ref(post_id)]))[0]

    async def _report_under_cards(self, key: str, cards: list[Shown], reply: Reply) -> None:
        """``reply`` as a reply to the card in each other chat showing it (one per chat)."""
        done = {chat_of(key)}
        targets: dict[int | str, tuple[str, int]] = {}
        for row in cards:
            chat = chat_of(row.channel)
            if chat not in done:
                targets.setdefault(chat, (row.channel, int(row.message_id)))
        if targets:
            await asyncio.gather(*(self._report_under(channel, card, reply) for channel, card in targets.values()))

    async def _report_under(self, channel: str, card: int, reply: Reply) -> None:
        try:
            await self.send(channel, reply, reply_to=card)
        except Exception as exc:  # one chat that can't be reached must not keep the report from the others
            log.warning("telegram.report_not_sent", channel=channel, post_id=reply.post_id, **describe(exc))

    async def answer(self, query_id: str, text: str, *, alert: bool = False) -> bool:
        """Answer a callback query (the clicker's spinner stops; ``alert``: a dialog only they see); False when
        Telegram no longer takes the answer (too late, or answered already)."""
        try:
            await self.call(
                "answer_callback_query",
                None,
                callback_query_id=query_id,
                text=render._truncate(text, render.ANSWER_LIMIT),
                show_alert=alert,
            )
        except BadRequest as exc:
            log.warning("telegram.answer_refused", query=query_id, **describe(exc))
            return False
        return True

    async def card_of(self, conversation: Conversation, ref: str) -> int | None:
        """The message id showing ``ref`` in this conversation, if it does."""
        row = await ChatMessageRef.filter(adapter=ADAPTER, channel=conversation.channel, ref=ref).first()
        return None if row is None else int(row.message_id)


_live: weakref.WeakSet[TelegramNotifier] = weakref.WeakSet()


async def close_all() -> None:
    """Close the HTTP clients of the notifiers that own their bot (call before the event loop ends)."""
    for notifier in list(_live):
        await notifier.aclose()
