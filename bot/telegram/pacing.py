"""Telegram's flood limits, kept by every process that talks to Telegram together.

Telegram asks a bot for about one message a second per chat, at most 20 a minute in a group and about 30
a second overall, and answers 429 with ``parameters.retry_after`` when a chat (or the bot) went too fast.
python-telegram-bot's ``AIORateLimiter`` counts in one process only; Herald's web processes and workers
all send, so these budgets (:data:`TELEGRAM`) live in Redis when Redis is configured
(:class:`RedisChatPacer`), else in the process (:class:`ChatPacer`). How: ``bot.pacing``, shared with Slack.

Before each send::

    await pacer.wait(chat_id, is_group)        # or: async with pacer.slot(chat_id, is_group): send(...)

after a 429 (``telegram.error.RetryAfter``; ``pacer.slot`` does this itself when the send in its body raises it)::

    await pacer.penalize(chat_id, retry_after(exc))   # None instead of chat_id: the whole bot waits

and, to keep a decision's answer ahead of the report of what it caused (as Slack's notifier does),
``slot = await pacer.book(chat_id, is_group)`` before the commit, ``await pacer.take(slot)`` right before
sending, ``await pacer.release(slot)`` if it went unused.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from redis.asyncio import Redis, RedisCluster
from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.pacing import (
    HOLD,
    REDIS_RETRY_AFTER,
    REDIS_TIMEOUT,
    Budgets,
    ChatId,
    LocalPacer,
    Pacer,
    SharedPacer,
    Slot,
    redis_target,
    seconds,
)
from handlers.settings import Settings
from tasks.broker import redis_client

__all__ = [
    "TELEGRAM",
    "Budgets",
    "ChatId",
    "ChatPacer",
    "Pacer",
    "RedisChatPacer",
    "Slot",
    "for_settings",
    "paced",
    "redis_client",
    "retry_after",
    "seconds",
    "shared",
]

# Bot API FAQ: "avoid sending more than one message per second" in a chat, "not more than 20 messages per
# minute" in a group, "not more than about 30 messages per second" in all.
TELEGRAM = Budgets(chat_interval=1.0, group_count=20, group_window=60.0, bot_count=30, bot_window=1.0)
KEY_PREFIX = "herald:telegram:pace:"


def retry_after(exc: RetryAfter) -> float:
    """The seconds a 429 asks to wait (python-telegram-bot 22 warns that ``retry_after`` will become a
    ``timedelta``; either is read the same)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return seconds(exc.retry_after)


@asynccontextmanager
async def paced(pacer: Pacer, chat: ChatId, is_group: bool = False) -> AsyncIterator[None]:
    """Wait for the chat's next message to be allowed, then run the body (the send); if Telegram answers it
    429, hold the chat that long for every process and raise on."""
    await pacer.wait(chat, is_group)
    try:
        yield
    except RetryAfter as exc:
        await pacer.penalize(chat, retry_after(exc))
        raise


class ChatPacer(LocalPacer):
    """Telegram's budgets in this process."""

    def __init__(self, budgets: Budgets = TELEGRAM, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(budgets, clock)

    def slot(self, chat: ChatId, is_group: bool = False) -> AbstractAsyncContextManager[None]:
        return paced(self, chat, is_group)


class RedisChatPacer(SharedPacer):
    """Telegram's budgets in Redis, for every process pointed at it; in the process when Redis can't."""

    def __init__(
        self,
        connect: Callable[[], Redis | RedisCluster],
        *,
        budgets: Budgets = TELEGRAM,
        prefix: str = KEY_PREFIX,
        timeout: float = REDIS_TIMEOUT,
        retry_after: float = REDIS_RETRY_AFTER,
        hold: float = HOLD,
    ) -> None:
        super().__init__(
            connect,
            budgets=budgets,
            prefix=prefix,
            event="telegram",
            timeout=timeout,
            retry_after=retry_after,
            hold=hold,
        )

    def slot(self, chat: ChatId, is_group: bool = False) -> AbstractAsyncContextManager[None]:
        return paced(self, chat, is_group)


_shared = ChatPacer()
_by_redis: dict[tuple[object, ...], RedisChatPacer] = {}


def shared() -> ChatPacer:
    """The process-wide in-process pacer."""
    return _shared


def for_settings(settings: Settings) -> Pacer:
    """The process-wide pacer for these settings: in Redis when Redis is configured, else in the process.

    Every Telegram notifier of the process built from the same settings gets the same pacer (one client).
    """
    target = redis_target(settings)
    if target is None:
        return _shared
    pacer = _by_redis.get(target)
    if pacer is None:
        pacer = _by_redis[target] = RedisChatPacer(lambda: redis_client(settings))
    return pacer
