"""About one message per second per channel, as Slack asks of ``chat.postMessage``, for all processes.

Slack's budget is one per channel (no group or overall budget: :data:`SLACK`); how it is kept is
``bot.pacing``, shared with Telegram. A post *books* a slot in its channel, sleeps until the slot's
estimated time, then *takes* it; taking waits until every slot booked before it in the channel was taken
or released (or its sender stopped looking ``HOLD`` seconds ago) and ``interval`` has passed since the
channel's last message. That is how Herald keeps the messages about one post in causal order across
processes: the answer to a click books its slots before the core commits the decision that lets a worker
publish and report (``SlackAdapter.run``), so the report waits for them.

* :class:`ChannelPacer` books in this process (the embedded default: one process does everything);
* :class:`RedisPacer` books in Redis (small Lua scripts on Redis's own clock; a burst of messages to free
  channels goes with one call for them all), so the web processes and the workers together keep Slack's
  pace. If Redis doesn't answer within its timeout, it books in the process instead for a while (logged
  once per outage), then asks Redis again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis, RedisCluster

from bot.pacing import (
    HOLD,
    POLL,
    REDIS_RETRY_AFTER,
    REDIS_TIMEOUT,
    Budgets,
    LocalPacer,
    Pacer,
    SharedPacer,
    Slot,
    redis_target,
)
from handlers.settings import Settings
from tasks.broker import redis_client

__all__ = [
    "HOLD",
    "POLL",
    "SLACK",
    "ChannelPacer",
    "Pacer",
    "RedisPacer",
    "Slot",
    "for_settings",
    "redis_client",
    "shared",
]

DEFAULT_INTERVAL = 1.0
SLACK = Budgets(chat_interval=DEFAULT_INTERVAL)
KEY_PREFIX = "herald:slack:pace:"


class ChannelPacer(LocalPacer):
    """Books slots in this process."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(Budgets(chat_interval=interval), clock)
        self.interval = interval


class RedisPacer(SharedPacer):
    """Books slots in Redis, shared by every process pointed at it; the in-process pacer when Redis can't."""

    def __init__(
        self,
        connect: Callable[[], Redis | RedisCluster],
        *,
        interval: float = DEFAULT_INTERVAL,
        prefix: str = KEY_PREFIX,
        timeout: float = REDIS_TIMEOUT,
        retry_after: float = REDIS_RETRY_AFTER,
    ) -> None:
        super().__init__(
            connect,
            budgets=Budgets(chat_interval=interval),
            prefix=prefix,
            event="slack",
            timeout=timeout,
            retry_after=retry_after,
        )
        self.interval = interval


_shared = ChannelPacer()
_by_redis: dict[tuple[object, ...], RedisPacer] = {}


def shared() -> ChannelPacer:
    """The process-wide in-process pacer."""
    return _shared


def for_settings(settings: Settings) -> Pacer:
    """The process-wide pacer for these settings: in Redis when Redis is configured, else in the process.

    Every notifier of the process built from the same settings gets the same pacer (one Redis client).
    """
    target = redis_target(settings)
    if target is None:
        return _shared
    pacer = _by_redis.get(target)
    if pacer is None:
        pacer = _by_redis[target] = RedisPacer(lambda: redis_client(settings))
    return pacer
