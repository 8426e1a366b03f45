"""About one message per second per channel, as Slack asks of ``chat.postMessage``, for all processes.

A post *books* its channel's next free slot, sleeps until it, then *takes* it: slots are handed out
first come, first served, one ``interval`` apart, and no lock is held while sleeping, so channels don't
wait for each other. Taking a slot waits, if need be, until

* every slot booked before it in the channel was taken or released (or is ``HOLD`` seconds overdue:
  its sender died or hangs), so booking order is posting order even when a sender is late for its slot;
* ``interval`` has passed since the channel's last message actually went out, so a late message pushes
  the next one back instead of crowding it.

That is how Herald keeps the messages about one post in causal order across processes: the answer to a
click books its slot before the core commits the decision that lets a worker publish and report
(``SlackAdapter.run``), so the report waits for it.

* :class:`ChannelPacer` books in this process (the embedded default: one process does everything);
* :class:`RedisPacer` books in Redis (small Lua scripts on one channel's keys, on Redis's own clock), so
  the web processes and the workers together keep Slack's pace. If Redis doesn't answer within its
  timeout, it books in the process instead for a while (logged once per outage), then asks Redis again.

An unused booking is released: it stops holding the slots after it, and if nobody booked after it, the
channel's next slot moves back.
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
HOLD = 10.0  # seconds past its time an untaken slot still holds the slots booked after it
POLL = 0.05  # seconds between looks while an earlier slot holds this one
PRUNE_AT = 10_000
REDIS_TIMEOUT = 0.5  # seconds a booking may wait for Redis before it is booked in the process
CONNECT_TIMEOUT = 2.0  # the same for a new client's first call (a cluster client learns the slot map first)
REDIS_RETRY_AFTER = 5.0  # seconds of booking in the process before Redis is asked again
KEY_PREFIX = "herald:slack:pace:"


@dataclass
class Slot:
    """A booked slot: its channel, when it starts (``time.monotonic()``), and its id in the booking pacer
    (the channel's next free slot as this booking left it, in that pacer's clock)."""

    channel: str
    due: float
    end: float
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
        """Give back a slot that wasn't used."""

    async def take(self, slot: Slot) -> None:
        """Sleep until the slot is this message's to use (module docstring)."""

    async def wait(self, channel: str) -> None:
        """Book the channel's next slot and take it."""

    async def aclose(self) -> None:
        """Close connections this pacer opened (in the running event loop)."""


class ChannelPacer:
    """Books slots in this process."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._next: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._held: dict[str, dict[float, float]] = {}  # channel → {slot id: when the slot starts}

    def reserve(self, channel: str) -> float:
        """Book the channel's next slot; returns how many seconds to wait for it."""
        return self._reserve(channel)[0]

    def _reserve(self, channel: str) -> tuple[float, float]:
        now = self._clock()
        slot = max(now, self._next.get(channel, now))
        self._next[channel] = end = slot + self.interval
        self._held.setdefault(channel, {})[end] = slot
        if len(self._next) > PRUNE_AT:
            self._next = {c: t for c, t in self._next.items() if t > now}
            self._last = {c: t for c, t in self._last.items() if t + self.interval > now}
            self._held = {c: h for c, h in self._held.items() if any(t + HOLD > now for t in h.values())}
        return slot - now, end

    def claim(self, channel: str, end: float | None = None) -> float:
        """Note slot ``end``'s message going out now if it may; else how long until it should look again."""
        now = self._clock()
        held = self._held.get(channel, {})
        for other, start in list(held.items()):
            if start + HOLD <= now:
                del held[other]  # overdue: it holds nobody any longer
        if end in held and any(other < end for other in held):
            return POLL
        ready = self._last.get(channel, now - self.interval) + self.interval
        if ready > now:
            return ready - now
        self._last[channel] = now
        held.pop(end, None)  # type: ignore[arg-type]
        return 0.0

    def _book(self, channel: str) -> Slot:
        delay, end = self._reserve(channel)
        return Slot(channel, time.monotonic() + delay, end)

    async def book(self, channel: str) -> Slot:
        return self._book(channel)  # synchronous: no await between reading and booking the slot

    async def release(self, slot: Slot) -> None:
        if slot.used:
            return
        self._held.get(slot.channel, {}).pop(slot.end, None)
        if self._next.get(slot.channel) == slot.end:
            self._next[slot.channel] = slot.end - self.interval

    async def take(self, slot: Slot) -> None:
        await slot.sleep()
        while True:
            delay = self.claim(slot.channel, slot.end)
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def wait(self, channel: str) -> None:
        await self.take(self._book(channel))

    async def aclose(self) -> None:
        return None


# Times are milliseconds of Redis's clock (one clock for every process). KEYS: the channel's next free
# slot, when its last message went out, and its held slots (a sorted set: slot id → when it starts).
# BOOK (ARGV: interval, hold) returns {milliseconds to wait, the slot's id}.
BOOK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local nxt = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], nxt, 'PX', nxt - now + 1000)
redis.call('ZADD', KEYS[3], slot, nxt)
redis.call('PEXPIRE', KEYS[3], nxt - now + tonumber(ARGV[2]) + 1000)
return {slot - now, nxt}
"""
# TAKE (ARGV: interval, the slot's id, hold, poll) returns 0 (noted as gone out: go) or milliseconds to wait.
TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[3]))
local mine = redis.call('ZSCORE', KEYS[3], ARGV[2])
if mine and redis.call('ZCOUNT', KEYS[3], '-inf', '(' .. mine) > 0 then
  return tonumber(ARGV[4])
end
local ready = tonumber(redis.call('GET', KEYS[2]) or '0') + tonumber(ARGV[1])
if ready > now then
  return ready - now
end
redis.call('SET', KEYS[2], now, 'PX', tonumber(ARGV[1]) + 1000)
redis.call('ZREM', KEYS[3], ARGV[2])
return 0
"""
# RELEASE (ARGV: the slot's id, interval).
RELEASE = """
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], tonumber(ARGV[1]) - tonumber(ARGV[2]), 'KEEPTTL')
end
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
        self._connected = False  # the client has answered once
        self._local_until = 0.0  # booking in the process until then (Redis failed)
        self._falling_back = False

    def _redis(self) -> Redis | RedisCluster:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client[0] is not loop:
            self._client, self._connected = (loop, self._connect()), False
        return self._client[1]

    async def _eval(self, script: str, channel: str, *args: Any) -> Any:
        """Run ``script`` on the channel's three keys (one hash slot: the channel is their hash tag)."""
        client = self._redis()
        base = f"{self.prefix}{{{channel}}}"
        keys = (base + ":next", base + ":last", base + ":held")
        async with asyncio.timeout(self.timeout if self._connected else max(self.timeout, CONNECT_TIMEOUT)):
            result = await client.eval(script, 3, *keys, *args)  # type: ignore[misc]
        self._connected = True
        return result

    def _ms(self, seconds: float) -> int:
        return round(seconds * 1000)

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
                wait_ms, end = await self._eval(BOOK, channel, self._ms(self.interval), self._ms(HOLD))
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
                args = (self._ms(self.interval), str(int(slot.end)), self._ms(HOLD), self._ms(POLL))
                try:
                    delay = int(await self._eval(TAKE, slot.channel, *args)) / 1000
                except Exception as exc:
                    self._redis_failed(exc)
                    return  # its slot was booked in Redis: go
            else:
                delay = self.local.claim(slot.channel, None if slot.shared else slot.end)
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
            await self._eval(RELEASE, slot.channel, str(int(slot.end)), self._ms(self.interval))
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
