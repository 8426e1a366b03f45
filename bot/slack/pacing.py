"""About one message per second per channel, as Slack asks of ``chat.postMessage``, for all processes.

A post *books* its channel's next free slot, sleeps until it, then *takes* it: slots are handed out
first come, first served, one ``interval`` apart, and no lock is held while sleeping, so channels don't
wait for each other. Taking a slot also waits until ``interval`` has passed since the channel's last
message actually went out, so a message sent late in its slot (its sender booked early, then worked)
pushes the next one back instead of crowding it.

Booking order is posting order: a message booked before another is posted before it, as long as its
sender takes its slot within an interval of it. That is how Herald keeps the messages about one post in
causal order across processes (``SlackAdapter.run``: the answer to a click books its slot before the
core commits the decision that lets a worker publish and report).

* :class:`ChannelPacer` books in this process (the embedded default: one process does everything);
* :class:`RedisPacer` books in Redis (one small Lua script per booking, on Redis's own clock), so the
  web processes and the workers together keep Slack's pace. If Redis doesn't answer within its
  timeout, it books in the process instead for a while (logged once per outage), and tries Redis
  again afterwards.

An unused booking can be released: if nobody booked after it, the channel's next slot moves back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from handlers.settings import Settings

log = structlog.get_logger(__name__)
DEFAULT_INTERVAL = 1.0
PRUNE_AT = 10_000
REDIS_TIMEOUT = 0.5  # seconds a booking may wait for Redis before it is booked in the process
REDIS_RETRY_AFTER = 5.0  # seconds of booking in the process before Redis is asked again
KEY_PREFIX = "herald:slack:pace:"


@dataclass
class Slot:
    """A booked slot: its channel, when it starts (``time.monotonic()``), and what releasing it needs."""

    channel: str
    due: float
    end: float  # the channel's next slot as this booking left it, in the booking pacer's clock
    shared: bool = False  # booked in Redis
    used: bool = False

    async def sleep(self) -> None:
        self.used = True
        delay = self.due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


class Pacer(Protocol):
    interval: float

    async def book(self, channel: str) -> Slot:
        """Book the channel's next free slot."""

    async def release(self, slot: Slot) -> None:
        """Give back a slot that wasn't used (only possible while nobody booked after it)."""

    async def take(self, slot: Slot) -> None:
        """Sleep until the slot, and until ``interval`` after the channel's last message went out."""

    async def wait(self, channel: str) -> None:
        """Book the channel's next slot and sleep until it."""

    async def aclose(self) -> None:
        """Close connections this pacer opened (in the running event loop)."""


class ChannelPacer:
    """Books slots in this process."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._next: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def reserve(self, channel: str) -> float:
        """Book the channel's next slot; returns how many seconds to wait for it."""
        now = self._clock()
        slot = max(now, self._next.get(channel, now))
        self._next[channel] = slot + self.interval
        if len(self._next) > PRUNE_AT:
            self._next = {c: t for c, t in self._next.items() if t > now}
            self._last = {c: t for c, t in self._last.items() if t + self.interval > now}
        return slot - now

    def claim(self, channel: str) -> float:
        """Note a message going out now, if ``interval`` has passed since the last; else how long until it has."""
        now = self._clock()
        ready = self._last.get(channel, now - self.interval) + self.interval
        if ready > now:
            return ready - now
        self._last[channel] = now
        return 0.0

    def _book(self, channel: str) -> Slot:
        delay = self.reserve(channel)
        return Slot(channel, time.monotonic() + delay, self._next[channel])

    async def book(self, channel: str) -> Slot:
        return self._book(channel)  # synchronous: no await between reading and booking the slot

    async def release(self, slot: Slot) -> None:
        if not slot.used and self._next.get(slot.channel) == slot.end:
            self._next[slot.channel] = slot.end - self.interval

    async def take(self, slot: Slot) -> None:
        await slot.sleep()
        while True:
            delay = self.claim(slot.channel)
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def wait(self, channel: str) -> None:
        await self.take(self._book(channel))

    async def aclose(self) -> None:
        return None


# Times are milliseconds of Redis's clock (one clock for every process); ARGV[1] is the interval (ms).
# KEYS[1]: the channel's next free slot.
# Returns {milliseconds to wait, the next free slot this booking left}; the key lives a second past it.
BOOK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local nxt = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], nxt, 'PX', nxt - now + 1000)
return {slot - now, nxt}
"""
# KEYS[1] as above; ARGV[1]: the next free slot the booking left; ARGV[2]: the interval (ms).
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], tonumber(ARGV[1]) - tonumber(ARGV[2]), 'KEEPTTL')
  return 1
end
return 0
"""
# KEYS[1]: when the channel's last message went out. Returns 0 (noted: go now) or milliseconds to wait.
CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ready = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[1])
if ready > now then
  return ready - now
end
redis.call('SET', KEYS[1], now, 'PX', tonumber(ARGV[1]) + 1000)
return 0
"""


class RedisPacer:
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
        self.interval = interval
        self.prefix = prefix
        self.timeout = timeout
        self.retry_after = retry_after
        self.local = ChannelPacer(interval)
        self._connect = connect
        self._client: tuple[asyncio.AbstractEventLoop, Redis | RedisCluster] | None = None
        self._local_until = 0.0  # booking in the process until then (Redis failed)
        self._falling_back = False

    def _redis(self) -> Redis | RedisCluster:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client[0] is not loop:
            self._client = (loop, self._connect())
        return self._client[1]

    async def _eval(self, script: str, key: str, *args: Any) -> Any:
        async with asyncio.timeout(self.timeout):
            return await self._redis().eval(script, 1, self.prefix + key, *args)  # type: ignore[misc]

    @property
    def _shared(self) -> bool:
        return time.monotonic() >= self._local_until

    def _redis_failed(self, exc: Exception) -> None:
        """Redis down, slow or refusing: pace in this process for a while (logged once per outage)."""
        self._local_until = time.monotonic() + self.retry_after
        if not self._falling_back:
            self._falling_back = True
            log.warning("slack.pacing_in_process", error=type(exc).__name__, retry_after=self.retry_after)

    async def book(self, channel: str) -> Slot:
        if self._shared:
            try:
                wait_ms, end = await self._eval(BOOK, channel, round(self.interval * 1000))
            except Exception as exc:
                self._redis_failed(exc)
            else:
                if self._falling_back:
                    self._falling_back = False
                    log.info("slack.pacing_shared_again")
                return Slot(channel, time.monotonic() + int(wait_ms) / 1000, float(end), shared=True)
        return self.local._book(channel)

    async def take(self, slot: Slot) -> None:
        await slot.sleep()
        while True:
            if slot.shared and self._shared:
                try:
                    delay = int(await self._eval(CLAIM, slot.channel + ":last", round(self.interval * 1000))) / 1000
                except Exception as exc:
                    self._redis_failed(exc)
                    return  # its slot was booked in Redis: go
            else:
                delay = self.local.claim(slot.channel)
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def release(self, slot: Slot) -> None:
        if slot.used:
            return
        if not slot.shared:
            await self.local.release(slot)
            return
        try:
            await self._eval(RELEASE, slot.channel, str(int(slot.end)), round(self.interval * 1000))
        except Exception as exc:  # the slot stays a gap of one interval in the channel: harmless
            log.info("slack.pacing_release_failed", error=type(exc).__name__)

    async def wait(self, channel: str) -> None:
        await self.take(await self.book(channel))

    async def aclose(self) -> None:
        if self._client is not None and self._client[0] is asyncio.get_running_loop():
            client, self._client = self._client[1], None
            await client.aclose()


def redis_client(settings: Settings, *, timeout: float = REDIS_TIMEOUT) -> Redis | RedisCluster:
    """A client for the Redis the queue is on (``REDIS_HOST``, or the cluster's nodes), with short timeouts."""
    options: dict[str, Any] = {
        "password": settings.redis_password,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    if settings.queue_backend == "cluster":
        from redis.asyncio.cluster import ClusterNode

        nodes = settings.cluster_nodes or [(str(settings.redis_host), settings.redis_port)]
        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in nodes], require_full_coverage=False, **options)
    return Redis(host=str(settings.redis_host), port=settings.redis_port, retry=Retry(NoBackoff(), 0), **options)


_shared = ChannelPacer()
_by_redis: dict[tuple[Any, ...], RedisPacer] = {}


def shared() -> ChannelPacer:
    """The process-wide in-process pacer."""
    return _shared


def for_settings(settings: Settings) -> Pacer:
    """The process-wide pacer for these settings: in Redis when Redis is configured, else in the process.

    Every notifier of the process built from the same settings gets the same pacer (one Redis client).
    """
    if settings.queue_backend == "memory":
        return _shared
    target = (settings.queue_backend, settings.redis_host, settings.redis_port, tuple(settings.cluster_nodes))
    pacer = _by_redis.get(target)
    if pacer is None:
        pacer = _by_redis[target] = RedisPacer(lambda: redis_client(settings))
    return pacer
