"""What every chat's pacer shares: the booked slot, and booking in Redis with a fallback to the process.

A chat platform asks for a pace (Slack: ~1 message/s per channel; Telegram: ~1/s per chat, 20/min per
group, 30/s per bot) that every process talking to it must keep together. Each adapter's ``pacing``
module keeps its platform's budgets (``bot.slack.pacing``, ``bot.telegram.pacing``) in small Lua scripts
run on Redis's own clock; this module holds what they have in common:

* :class:`Slot`, a message's booked place in its chat: sleep until its estimated time, then *take* it;
* :class:`RedisBooking`, the Redis side: one client per event loop, a short timeout per call (longer for a
  new client's first), and when Redis doesn't answer, booking in the process for a while (one warning per
  outage, one line when Redis answers again);
* :func:`redis_target`, which settings share one process-wide pacer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio import Redis, RedisCluster

from handlers.settings import Settings

log = structlog.get_logger(__name__)
HOLD = 10.0  # seconds past its time (or its sender's last look) an untaken slot still holds the slots after it
POLL = 0.05  # seconds between looks while an earlier slot holds this one
REDIS_TIMEOUT = 0.5  # seconds a booking may wait for Redis before it is booked in the process
CONNECT_TIMEOUT = 2.0  # the same for a new client's first call (a cluster client learns the slot map first)
REDIS_RETRY_AFTER = 5.0  # seconds of booking in the process before Redis is asked again


@dataclass
class Slot:
    """A booked slot: its chat, its estimated time (``time.monotonic()``) and its id in the booking pacer."""

    channel: str
    due: float
    id: str
    shared: bool = False  # booked in Redis
    used: bool = False
    group: bool = False  # the chat is a group (a budget of its own where the platform has one)

    async def sleep(self) -> None:
        self.used = True
        delay = self.due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


def ms(seconds: float) -> int:
    """Seconds as Redis-clock milliseconds."""
    return round(seconds * 1000)


def redis_target(settings: Settings) -> tuple[Any, ...] | None:
    """The Redis these settings book in (the key of a process-wide pacer), or ``None``: in the process."""
    if settings.queue_backend == "memory":
        return None
    return (settings.queue_backend, settings.redis_host, settings.redis_port, tuple(settings.cluster_nodes))


class RedisBooking:
    """Runs a pacer's scripts in Redis; says when to book in the process instead.

    ``event`` names the log lines (``slack`` → ``slack.pacing_in_process``, ``slack.pacing_shared_again``).
    """

    def __init__(
        self,
        connect: Callable[[], Redis | RedisCluster],
        *,
        event: str,
        timeout: float = REDIS_TIMEOUT,
        retry_after: float = REDIS_RETRY_AFTER,
    ) -> None:
        self.event = event
        self.timeout = timeout
        self.retry_after = retry_after
        self._connect = connect
        self._client: tuple[asyncio.AbstractEventLoop, Redis | RedisCluster] | None = None
        self._connected = False  # the client has answered once
        self._local_until = 0.0  # booking in the process until then (Redis failed)
        self._falling_back = False

    def _redis(self) -> Redis | RedisCluster:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client[0] is not loop:
            self._client, self._connected = (loop, self._connect()), False
        return self._client[1]

    async def eval(self, script: str, keys: list[str], *args: Any) -> Any:
        """Run ``script`` on ``keys`` (all under one hash tag) within the timeout."""
        client = self._redis()
        async with asyncio.timeout(self.timeout if self._connected else max(self.timeout, CONNECT_TIMEOUT)):
            result = await client.eval(script, len(keys), *keys, *args)  # type: ignore[misc]
        self._connected = True
        return result

    @property
    def shared(self) -> bool:
        """Book in Redis now (not within ``retry_after`` of a failure)."""
        return time.monotonic() >= self._local_until

    def failed(self, exc: Exception) -> None:
        """Redis down, slow or refusing: pace in this process for a while (logged once per outage)."""
        self._local_until = time.monotonic() + self.retry_after
        if not self._falling_back:
            self._falling_back = True
            log.warning(f"{self.event}.pacing_in_process", error=type(exc).__name__, retry_after=self.retry_after)

    def answered(self) -> None:
        """Redis answered: if it had failed, say it is shared again."""
        if self._falling_back:
            self._falling_back = False
            log.info(f"{self.event}.pacing_shared_again")

    async def aclose(self) -> None:
        """Close the client if it belongs to the running event loop."""
        if self._client is not None and self._client[0] is asyncio.get_running_loop():
            client, self._client = self._client[1], None
            await client.aclose()
