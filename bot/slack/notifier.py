"""Putting neutral replies into Slack: the :class:`~handlers.ports.Notifier` for conversations on ``slack``.

Rules, in order:

* an ephemeral reply for a known person is shown where that person acted. The answer to a click goes to
  the click's ``response_url`` (Slack shows it next to the clicked message), else with
  ``chat.postEphemeral`` in the channel, in a thread only when the click was in one (Slack shows an
  ephemeral with ``thread_ts`` only in that thread's pane, and not at all in a thread without replies);
  the answer to a command goes with ``chat.postEphemeral`` in the channel, else to the command's
  ``response_url``; a direct message when neither can be shown;
* a reply with a ``ref`` (the approval card) is edited in place with ``chat.update`` when this
  conversation already shows it (remembered in :class:`~models.chatrefs.ChatMessageRef`, which the web
  and worker processes share), else posted and remembered;
* any other reply about a post goes as a thread reply under that post's card in this conversation,
  when the card is there; everything else is a plain message;
* a report (``kind="report"``: published, failed, unknown, missed, expired) also goes as a thread reply
  under the post's card in every other Slack channel showing it (the policy's approvals channel), once
  per channel. The conversation it was sent to comes first: if that fails, the error propagates and
  nothing else was posted (whoever retries the report won't double it); after that, a channel that
  fails is logged and the others still get it.

``chat.postMessage`` waits for the channel's pacing slot (~1/s, shared by every process when Redis is
configured: ``bot.slack.pacing``); a command's first message there may use a slot booked before the command
ran (:meth:`SlackNotifier.book`), which keeps it ahead of anything the command causes. 429s are retried after
Retry-After by slack-sdk's ``AsyncRateLimitErrorRetryHandler``; while Slack is unreachable, posts, edits and
ephemeral answers wait and try again with backoff (``bot.slack.retrying``). A conversation ``dm:<user id>`` is
the bot's direct conversation with that user (``chat.postMessage(channel=<user id>)`` opens it).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient
from tortoise.exceptions import IntegrityError

from bot.slack import blocks, pacing
from bot.slack.blocks import Message
from bot.slack.retrying import Backoff, Reachability, retrying, unreachable
from handlers.drafting.views import card_ref
from handlers.messages import Conversation, Reply
from handlers.settings import Settings
from models.chatrefs import ChatMessageRef, Shown, shown
from tasks.batching import Coalescer

log = structlog.get_logger(__name__)
T = TypeVar("T")
ADAPTER = "slack"
DM_PREFIX = "dm:"
GONE = frozenset({"message_not_found", "cant_update_message", "channel_not_found", "is_archived"})
CANT_POST_HERE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})
RATE_LIMIT_RETRIES = 3
RESPONSE_URL_TIMEOUT = 5
SESSION_CONNECTIONS = 100
#: the slots booked for the command being run or answered, by channel (see ``SlackNotifier.book``)
Booking = dict[str, pacing.Slot]
_booked: ContextVar[Booking | None] = ContextVar("herald_slack_booked", default=None)


def leveled_logger(name: str) -> logging.Logger:
    """A logger for slack-sdk or bolt with its own level set to the level Herald logs at.

    Both format their per-request debug lines whenever their logger's *own* level is unset (they test
    ``logger.level <= DEBUG``, and an unset level is 0): every Web API call then built a line listing its
    arguments, only for logging to drop it. With the level set they cost nothing unless asked for.
    """
    logger = logging.getLogger(name)
    logger.setLevel(logging.getLogger().getEffectiveLevel())
    return logger


def web_client(token: str | None, base_url: str, *, rate_limit_retries: int = RATE_LIMIT_RETRIES) -> AsyncWebClient:
    """An ``AsyncWebClient`` that retries connection errors and 429s (after ``Retry-After``)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        logger=leveled_logger("herald.slack.sdk"),
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
        ],
    )


def from_settings(settings: Settings, *, pacer: pacing.Pacer | None = None) -> SlackNotifier:
    """The notifier the web side and the workers use to post into Slack (``SLACK_BOT_TOKEN``, ``SLACK_API_URL``),
    paced with the process's pacer for these settings (in Redis when Redis is configured)."""
    return SlackNotifier(
        web_client(settings.slack_bot_token, settings.slack_api_url), pacer=pacer or pacing.for_settings(settings)
    )


def _target(channel: str) -> str:
    """The channel id to post to: ``dm:U123`` → ``U123`` (Slack opens the direct conversation)."""
    return channel[len(DM_PREFIX) :] if channel.startswith(DM_PREFIX) else channel


def _encode(key: str, channel: str, ts: str) -> str:
    """The message id kept in ChatMessageRef: the ts, prefixed by the real channel when it differs."""
    return ts if channel == _target(key) else f"{channel}:{ts}"


def _decode(key: str, message_id: str) -> tuple[str, str]:
    channel, sep, ts = message_id.partition(":")
    return (channel, ts) if sep else (_target(key), message_id)


def _card_thread(key: str, cards: list[Shown]) -> str | None:
    """The ts of the card conversation ``key`` shows, to thread under (when it is in that very channel)."""
    row = next((r for r in cards if r.channel == key), None)
    if row is None:
        return None
    channel, ts = _decode(key, row.message_id)
    return ts if channel == _target(key) else None


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "")) if exc.response is not None else ""


@dataclass(frozen=True)
class Clicked:
    """Where a person clicked, so that what is said to them alone is shown there."""

    response_url: str | None = None
    thread_ts: str | None = None  # the thread the clicked message is a reply in; None: the channel itself


class _Stalled:
    """A channel's messages waiting for Slack: retried one at a time, in turn."""

    def __init__(self) -> None:
        self.turn = asyncio.Lock()  # FIFO: whoever asked first goes first
        self.waiting = 0


class SlackNotifier:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        pacer: pacing.Pacer | None = None,
        backoff: Backoff | None = None,
        reachability: Reachability | None = None,
    ) -> None:
        self.client = client
        self.pacer: pacing.Pacer = pacer or pacing.shared()
        self.backoff = backoff or Backoff()
        self.reachability = reachability or Reachability()
        self._ref_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lookups: tuple[asyncio.AbstractEventLoop, Coalescer[str, list[Shown]]] | None = None
        self._stalled: dict[str, _Stalled] = {}  # channels with messages waiting for Slack to answer
        _live.add(self)

    def web(self) -> AsyncWebClient:
        """The Web API client, with one pooled aiohttp session for this event loop.

        Without a session slack-sdk opens a new one, and a new connection, for every call; a worker
        reporting a burst of publishes would spend more on handshakes than on Slack. Call from a coroutine.
        """
        loop = asyncio.get_running_loop()
        session = self.client.session
        if session is None or session.closed or self._loop is not loop:
            self.client.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.client.timeout),
                connector=aiohttp.TCPConnector(limit=SESSION_CONNECTIONS),
            )
            self._loop = loop
        return self.client

    async def aclose(self) -> None:
        session = self.client.session
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()
        await self.pacer.aclose()

    async def book(self, conversation: Conversation, thread: str | None = None) -> Booking:
        """Book a posting slot now in each channel a command may post to: the conversation's, and, for a
        command from a post's card or its thread (``thread``: the card's ts), every channel showing that card
        (where the core tells the post's origin and the approvers).

        Booked before the core runs the command (and commits what it decides), these slots come before any
        booked for what the decision causes (a worker's publish report, in the same threads), and the pacer
        keeps them ahead while they are unused. Run the command within :meth:`booked` and give them to
        :meth:`deliver_all`, which releases those left unused.
        """
        channels = {_target(conversation.channel)}
        if thread is not None:
            row = await ChatMessageRef.filter(adapter=ADAPTER, channel=conversation.channel, message_id=thread).first()
            if row is not None and row.ref is not None:
                for shown_row in (await shown(ADAPTER, [row.ref]))[0]:
                    channels |= {_target(shown_row.channel), _decode(shown_row.channel, shown_row.message_id)[0]}
        return {channel: await self.pacer.book(channel) for channel in sorted(channels)}

    async def release(self, booking: Booking | None) -> None:
        for slot in (booking or {}).values():
            if not slot.used:
                await self.pacer.release(slot)

    @contextmanager
    def booked(self, booking: Booking | None) -> Iterator[None]:
        """Within this block (this task and those it starts), the first message to a booked channel uses its slot.

        The core posts notices while running a command (to the post's origin): they must use the slots booked
        for the command, not book others behind them, which would wait for them.
        """
        token = _booked.set(booking)
        try:
            yield
        finally:
            _booked.reset(token)

    async def notify(self, conversation: Conversation, reply: Reply) -> None:
        await self.deliver(conversation, reply)

    async def deliver_all(
        self,
        conversation: Conversation,
        replies: list[Reply],
        *,
        user: str | None = None,
        response_url: str | None = None,
        thread_ts: str | None = None,
        clicked: Clicked | None = None,
        booking: Booking | None = None,
    ) -> None:
        """Show the replies to one command; replies about the batch's post thread under its card.

        Cards (replies with a ref) go first: an edit in place is not paced, so the clicked card shows
        the decision at once, and a new card exists before the replies that thread under it. The slots of
        ``booking`` (from :meth:`book`) are used by the first message posted in their channels, or released.
        """
        hint = next((r.post_id for r in replies if r.post_id is not None), None)
        try:
            with self.booked(booking):
                for reply in sorted(replies, key=lambda r: r.ref is None):
                    await self.deliver(
                        conversation,
                        reply,
                        user=user,
                        response_url=response_url,
                        thread_ts=thread_ts,
                        post_hint=hint,
                        clicked=clicked,
                    )
        finally:
            await self.release(booking)

    async def deliver(
        self,
        conversation: Conversation,
        reply: Reply,
        *,
        user: str | None = None,
        response_url: str | None = None,
        thread_ts: str | None = None,
        post_hint: int | None = None,
        clicked: Clicked | None = None,
    ) -> None:
        key = conversation.channel
        msg = blocks.message(reply)
        thread = thread_ts or conversation.thread
        if reply.ephemeral and user is not None and not key.startswith(DM_PREFIX):
            await self._retrying(
                lambda: self._ephemeral(_target(key), user, msg, response_url, clicked),
                "chat.postEphemeral",
                channel=key,
                post_id=reply.post_id,
            )
            return
        if reply.ref is not None:
            await self._show_ref(
                key, reply.ref, msg, conversation.thread, user, rendered=reply.extra.get("rendered_at")
            )
            return
        post_id = reply.post_id if reply.post_id is not None else post_hint
        report = reply.kind == "report" and reply.post_id is not None and not reply.ephemeral
        cards: list[Shown] = []
        if post_id is not None and (thread is None or report):
            cards = await self._cards(post_id, None if report else key)  # one query either way
        if thread is None:
            thread = _card_thread(key, cards)
        channel, _ = await self._post(_target(key), msg, thread, user=user, post_id=post_id)
        if report:
            await self._report_under_cards(key, {channel, _target(key)}, cards, msg, post_id=reply.post_id)

    # -- the three ways a message appears ---------------------------------------------------------------

    async def _post(
        self, channel: str, msg: Message, thread: str | None, *, user: str | None = None, post_id: int | None = None
    ) -> tuple[str, str]:
        """``chat.postMessage`` in the channel's pacing slot; returns (channel, ts).

        If the bot may not post there (a channel it isn't in, another person's DM) and we know who
        asked, the message goes to them directly instead.
        """
        try:
            response = await self._post_paced(channel, msg, thread, post_id=post_id)
        except SlackApiError as exc:
            if user is None or _error(exc) not in CANT_POST_HERE or channel == user:
                raise
            log.info("slack.post_redirected", channel=channel, error=_error(exc))
            response = await self._post_paced(user, msg, None, post_id=post_id)
        return str(response["channel"]), str(response["ts"])

    async def _post_paced(
        self, channel: str, msg: Message, thread: str | None, *, post_id: int | None
    ) -> AsyncSlackResponse:
        """One message in its slot: the one booked for this command if it is this channel's and unused,
        else the channel's next; each try while Slack is unreachable books a new one.

        Messages to a channel that failed for want of Slack are retried one after another, in the order
        they failed, and a new message for that channel waits behind them: the thread still reads in order
        once Slack is back (within this process).
        """

        async def attempt() -> AsyncSlackResponse:
            booked = (_booked.get() or {}).get(channel)
            if booked is not None and not booked.used:
                await self.pacer.take(booked)
            else:
                await self.pacer.wait(channel)  # book and take: one round trip to a free channel
            return await self.web().chat_postMessage(
                channel=channel, text=msg.text, blocks=msg.blocks, thread_ts=thread
            )

        if channel not in self._stalled:
            try:
                return await attempt()
            except Exception as exc:
                if not unreachable(exc):
                    raise
                self.reachability.failed(exc)
        stalled = self._stalled.setdefault(channel, _Stalled())
        stalled.waiting += 1
        try:
            async with stalled.turn:
                return await self._retrying(attempt, "chat.postMessage", channel=channel, post_id=post_id)
        finally:
            stalled.waiting -= 1
            if not stalled.waiting:
                del self._stalled[channel]

    async def _retrying(self, call: Callable[[], Awaitable[T]], what: str, **fields: Any) -> T:
        return await retrying(call, what=what, backoff=self.backoff, reachability=self.reachability, **fields)

    async def _ephemeral(
        self, channel: str, user: str, msg: Message, response_url: str | None, clicked: Clicked | None
    ) -> None:
        """Show ``msg`` to ``user`` alone, where they acted (see the module docstring)."""
        if clicked is not None and clicked.response_url and await self._respond(clicked.response_url, msg):
            return
        try:
            await self.web().chat_postEphemeral(
                channel=channel,
                user=user,
                text=msg.text,
                blocks=msg.blocks,
                thread_ts=clicked.thread_ts if clicked is not None else None,
            )
            return
        except SlackApiError as exc:
            if _error(exc) not in CANT_POST_HERE | {"user_not_in_channel"}:
                raise
            log.info("slack.ephemeral_redirected", channel=channel, error=_error(exc))
        if clicked is None and response_url and await self._respond(response_url, msg):
            return
        await self.pacer.wait(user)
        await self.web().chat_postMessage(channel=user, text=msg.text, blocks=msg.blocks)

    @staticmethod
    async def _respond(response_url: str, msg: Message) -> bool:
        """Post ``msg`` to a ``response_url`` as an ephemeral (leaving the clicked message as it is); whether
        Slack took it. No retries here: the caller has other ways to show it."""
        client = AsyncWebhookClient(response_url, timeout=RESPONSE_URL_TIMEOUT, retry_handlers=[])
        try:
            response = await client.send(
                text=msg.text, blocks=msg.blocks, response_type="ephemeral", replace_original=False
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("slack.response_url_failed", **describe(exc))
            return False
        if response.status_code != 200:
            log.info("slack.response_url_failed", status=response.status_code, error=response.body[:100])
        return response.status_code == 200

    async def _show_ref(
        self, key: str, ref: str, msg: Message, thread: str | None, user: str | None, *, rendered: datetime | None
    ) -> None:
        """Edit the message shown as ``ref`` in ``key``, or post it. ``rendered``: when the core rendered it; an
        edit rendered before the one the message already shows is dropped (a card a web process rendered at a
        click, held up behind its paced messages, must not undo the outcome a worker put on it since)."""
        lock = self._ref_locks.get((key, ref))
        if lock is None:
            lock = self._ref_locks[(key, ref)] = asyncio.Lock()
        async with lock:  # in this process, edits of one message land in the order they were rendered
            row = await ChatMessageRef.filter(adapter=ADAPTER, channel=key, ref=ref).first()
            if row is not None and rendered is not None:
                # the row's updated_at is the render time of what the message shows (any process)
                newest = await ChatMessageRef.filter(id=row.id, updated_at__lte=rendered).update(updated_at=rendered)
                if not newest:
                    log.info("slack.card_edit_stale", channel=key, ref=ref)
                    return
            if row is not None:
                channel, ts = _decode(key, row.message_id)
                try:
                    await self._retrying(
                        lambda: self.web().chat_update(channel=channel, ts=ts, text=msg.text, blocks=msg.blocks),
                        "chat.update",
                        channel=channel,
                        ref=ref,
                    )
                    return
                except SlackApiError as exc:
                    if _error(exc) not in GONE:
                        raise
                    log.info("slack.card_gone", channel=channel, ref=ref, error=_error(exc))
            channel, ts = await self._post(_target(key), msg, thread, user=user)
            if row is not None:
                row.message_id, row.thread = _encode(key, channel, ts), thread
                await row.save(update_fields=["message_id", "thread", "updated_at"])
                return
            try:
                await ChatMessageRef.create(
                    adapter=ADAPTER, channel=key, ref=ref, message_id=_encode(key, channel, ts), thread=thread
                )
            except IntegrityError:
                await self._lost_race(key, ref, msg, channel, ts)

    async def _lost_race(self, key: str, ref: str, msg: Message, channel: str, ts: str) -> None:
        """Another process posted the same card first: keep theirs (updated), remove ours."""
        winner = await ChatMessageRef.get(adapter=ADAPTER, channel=key, ref=ref)
        their_channel, their_ts = _decode(key, winner.message_id)
        await self.web().chat_update(channel=their_channel, ts=their_ts, text=msg.text, blocks=msg.blocks)
        try:
            await self.web().chat_delete(channel=channel, ts=ts)
        except SlackApiError as exc:
            log.warning("slack.duplicate_card_left", channel=channel, ref=ref, error=_error(exc))

    async def _cards(self, post_id: int, key: str | None) -> list[Shown]:
        """Where the post's card is shown: in conversation ``key``, or (None) in every Slack conversation.

        Every report looks its card up, so the lookups of reports sent together (a burst) go to the database
        as one query.
        """
        loop = asyncio.get_running_loop()
        if self._lookups is None or self._lookups[0] is not loop:
            self._lookups = (loop, Coalescer(lambda refs: shown(ADAPTER, refs), max_batch=200))
        rows = await self._lookups[1](card_ref(post_id))
        return rows if key is None else [row for row in rows if row.channel == key]

    async def _report_under_cards(
        self, key: str, done: set[str], cards: list[Shown], msg: Message, *, post_id: int | None
    ) -> None:
        """Post ``msg`` under the card in each other channel showing it, skipping the channels in ``done``."""
        targets: dict[str, str] = {}  # channel → the card's ts there; one post per channel
        for row in cards:
            if row.channel == key:
                continue
            channel, ts = _decode(row.channel, row.message_id)
            if channel not in done:
                targets.setdefault(channel, ts)
        if targets:
            await asyncio.gather(*(self._report_under(channel, ts, msg, post_id) for channel, ts in targets.items()))

    async def _report_under(self, channel: str, ts: str, msg: Message, post_id: int | None) -> None:
        try:
            await self._post(channel, msg, ts, post_id=post_id)
        except SlackApiError as exc:  # one channel that can't be reached must not keep the report from the others
            log.warning("slack.report_not_threaded", channel=channel, post_id=post_id, **describe(exc))
        except Exception:
            log.exception("slack.report_not_threaded", channel=channel, post_id=post_id)

    async def message_of(self, conversation: Conversation, ref: str) -> tuple[str, str] | None:
        """Where this conversation shows the message ``ref`` (channel, ts), if it does."""
        row = await ChatMessageRef.filter(adapter=ADAPTER, channel=conversation.channel, ref=ref).first()
        return None if row is None else _decode(conversation.channel, row.message_id)


_live: weakref.WeakSet[SlackNotifier] = weakref.WeakSet()


async def close_all() -> None:
    """Close the pooled sessions of every notifier in this process (call before the event loop ends)."""
    for notifier in list(_live):
        await notifier.aclose()


def describe(exc: BaseException) -> dict[str, Any]:
    """Log fields for a failed Web API call."""
    if isinstance(exc, SlackApiError):
        return {"error": _error(exc), "status": exc.response.status_code if exc.response is not None else None}
    return {"error": type(exc).__name__}
