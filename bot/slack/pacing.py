"""About one message per second per channel, as Slack asks of ``chat.postMessage``, for all processes.

A post *books* a slot in its channel, sleeps until the slot's estimated time, then *takes* it. Taking
waits, if need be, until

* every slot booked before it in the channel was taken or released (or is ``HOLD`` seconds overdue: its
  sender died or hangs), so booking order is posting order even when a sender is late for its slot;
* ``interval`` has passed since the channel's last message actually went out.

A slot's time is estimated at booking: ``interval`` after the latest slot still held in the channel (or
after the last message). Nothing else is held while sleeping, so channels don't wait for each other, and
a slot given back (released unused) leaves no gap behind it.

That is how Herald keeps the messages about one post in causal order across processes: the answer to a
click books its slots before the core commits the decision that lets a worker publish and report
(``SlackAdapter.run``), so the report waits for them.

* :class:`ChannelPacer` books in this process (the embedded default: one process does everything);
* :class:`RedisPacer` books in Redis (small Lua scripts on each channel's two keys, on Redis's own clock;
  a burst of messages to free channels goes with one call for them all),
  so the web processes and the workers together keep Slack's pace. If Redis doesn't answer within its
  timeout, it books in the process instead for a while (logged once per outage), then asks Redis again
  (:class:`bot.pacing.RedisBooking`, shared with Telegram's pacer).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis, RedisCluster

from bot.pacing import HOLD, POLL, REDIS_RETRY_AFTER, REDIS_TIMEOUT, RedisBooking, Slot, ms, redis_target
from handlers.settings import Settings
from tasks.batching import Coalescer
from tasks.broker import redis_client

log = structlog.get_logger(__name__)
__all__ = ["HOLD", "POLL", "ChannelPacer", "Pacer", "RedisPacer", "Slot", "for_settings", "redis_client", "shared"]
DEFAULT_INTERVAL = 1.0
PRUNE_AT = 10_000
KEY_PREFIX = "herald:slack:pace:"
GO_BATCH = 100  # channels in one GO call at most


class Pacer(Protocol):
    interval: float

    async def book(self, channel: str) -> Slot:
        """Book a slot in the channel."""

    async def release(self, slot: Slot) -> None:
        """Give back a slot that wasn't used."""

    async def take(self, slot: Slot) -> None:
        """Sleep until the slot is this message's to use (module docstring)."""

    async def wait(self, channel: str) -> None:
        """Book a slot in the channel and take it."""

    async def aclose(self) -> None:
        """Close connections this pacer opened (in the running event loop)."""


class ChannelPacer:
    """Books slots in this process."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}  # channel → when its last message went out
        self._held: dict[str, dict[str, tuple[float, int]]] = {}  # channel → {slot id: (its time, booking no.)}
        self._ids = itertools.count()

    def reserve(self, channel: str) -> float:
        """Book a slot in the channel; returns how many seconds until its estimated time."""
        return self._reserve(channel)[0]

    def _held_in(self, channel: str, now: float) -> dict[str, tuple[float, int]]:
        held = self._held.setdefault(channel, {})
        for other, (at, _) in list(held.items()):
            if at + HOLD <= now:
                del held[other]  # overdue: it holds nobody any longer
        return held

    def _reserve(self, channel: str) -> tuple[float, str]:
        now = self._clock()
        if len(self._held) > PRUNE_AT:
            self._held = {c: h for c, h in self._held.items() if any(at + HOLD > now for at, _ in h.values())}
            self._last = {c: t for c, t in self._last.items() if t + self.interval > now}
        held = self._held_in(channel, now)
        at = max(now, self._last.get(channel, now - self.interval) + self.interval)
        if held:
            at = max(at, max(t for t, _ in held.values()) + self.interval)
        number = next(self._ids)
        held[str(number)] = (at, number)
        return at - now, str(number)

    def claim(self, channel: str, slot_id: str | None = None) -> float:
        """Note slot ``slot_id``'s message going out now if it may; else how long until it should look again."""
        now = self._clock()
        held = self._held_in(channel, now)
        mine = held.get(slot_id or "")
        if mine is not None and any(other < mine for other in held.values()):
            return POLL
        ready = self._last.get(channel, now - self.interval) + self.interval
        if ready > now:
            return ready - now
        self._last[channel] = now
        held.pop(slot_id or "", None)
        return 0.0

    def _book(self, channel: str) -> Slot:
        delay, slot_id = self._reserve(channel)
        return Slot(channel, time.monotonic() + delay, slot_id)

    async def book(self, channel: str) -> Slot:
        return self._book(channel)  # synchronous: no await between reading and booking the slot

    async def release(self, slot: Slot) -> None:
        if not slot.used:
            self._held.get(slot.channel, {}).pop(slot.id, None)

    async def take(self, slot: Slot) -> None:
        await slot.sleep()
        while True:
            delay = self.claim(slot.channel, slot.id)
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def wait(self, channel: str) -> None:
        await self.take(self._book(channel))

    async def aclose(self) -> None:
        return None


# Times are milliseconds of Redis's clock (one clock for every process). KEYS: when the channel's last
# message went out, and its held slots (a sorted set: slot id → its time; ids are times, made unique).
# BOOK (ARGV: interval, hold) returns {milliseconds until the slot, the slot's id}.
BOOK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0') + interval)
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if top[2] then
  at = math.max(at, tonumber(top[2]) + math.max(interval, 1))
end
redis.call('ZADD', KEYS[2], at, at)
redis.call('PEXPIRE', KEYS[2], at - now + tonumber(ARGV[2]) + 1000)
return {at - now, at}
"""
# TAKE (ARGV: interval, the slot's id, hold, poll) returns 0 (noted as gone out: go) or milliseconds to wait.
TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3]))
local mine = redis.call('ZSCORE', KEYS[2], ARGV[2])
if mine and redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. mine) > 0 then
  return tonumber(ARGV[4])
end
local ready = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[1])
if ready > now then
  return ready - now
end
redis.call('SET', KEYS[1], now, 'PX', tonumber(ARGV[1]) + 1000)
redis.call('ZREM', KEYS[2], ARGV[2])
return 0
"""
# GO (ARGV: interval, hold; KEYS: the (last, held) pairs of one or more channels), for messages with no slot
# booked before: for each channel, when nothing is held in it and its last message went out ``interval`` ago
# or more, notes the message as gone out ({0, 0}: go); else books a slot as BOOK does ({ms, id}). One round
# trip for a whole burst of reports (a worker's relay tells many at once): see ``RedisPacer.wait``.
GO = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local hold = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS, 2 do
  local last, held = KEYS[i], KEYS[i + 1]
  redis.call('ZREMRANGEBYSCORE', held, '-inf', now - hold)
  local ready = tonumber(redis.call('GET', last) or '0') + interval
  if ready <= now and redis.call('ZCARD', held) == 0 then
    redis.call('SET', last, now, 'PX', interval + 1000)
    out[#out + 1] = 0
    out[#out + 1] = 0
  else
    local at = math.max(now, ready)
    local top = redis.call('ZRANGE', held, -1, -1, 'WITHSCORES')
    if top[2] then
      at = math.max(at, tonumber(top[2]) + math.max(interval, 1))
    end
    redis.call('ZADD', held, at, at)
    redis.call('PEXPIRE', held, at - now + hold + 1000)
    out[#out + 1] = at - now
    out[#out + 1] = at
  end
end
return out
"""
# RELEASE (ARGV: the slot's id).
RELEASE = """
return redis.call('ZREM', KEYS[2], ARGV[1])
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
        self.local = ChannelPacer(interval)
        self.redis = RedisBooking(connect, event="slack", timeout=timeout, retry_after=retry_after)
        self._goes: tuple[asyncio.AbstractEventLoop, Coalescer[str, tuple[int, int]]] | None = None

    def _keys(self, channel: str) -> tuple[str, str]:
        """The channel's two keys. Every channel's share one hash tag, so one script may run on many
        channels (on a cluster they live on one master: a few small keys per channel, short-lived)."""
        base = f"{self.prefix}{{pace}}:{channel}"
        return base + ":last", base + ":held"

    async def _eval(self, script: str, channels: list[str], *args: Any) -> Any:
        """Run ``script`` on the keys of ``channels``."""
        return await self.redis.eval(script, [key for channel in channels for key in self._keys(channel)], *args)

    async def _go(self, channels: list[str]) -> list[tuple[int, int]]:
        """:data:`GO` for the channels of the messages that asked together (the ``_goes`` coalescer)."""
        flat = await self._eval(GO, channels, ms(self.interval), ms(HOLD))
        return [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]

    def _going(self) -> Coalescer[str, tuple[int, int]]:
        loop = asyncio.get_running_loop()
        if self._goes is None or self._goes[0] is not loop:
            self._goes = (loop, Coalescer(self._go, max_batch=GO_BATCH))
        return self._goes[1]

    async def book(self, channel: str) -> Slot:
        if self.redis.shared:
            try:
                wait_ms, slot_id = await self._eval(BOOK, [channel], ms(self.interval), ms(HOLD))
            except Exception as exc:
                self.redis.failed(exc)
            else:
                self.redis.answered()
                return Slot(channel, time.monotonic() + int(wait_ms) / 1000, str(int(slot_id)), shared=True)
        return self.local._book(channel)

    async def take(self, slot: Slot) -> None:
        await slot.sleep()
        while True:
            if slot.shared and self.redis.shared:
                args = (ms(self.interval), slot.id, ms(HOLD), ms(POLL))
                try:
                    delay = int(await self._eval(TAKE, [slot.channel], *args)) / 1000
                except Exception as exc:
                    self.redis.failed(exc)
                    return  # its slot was booked in Redis: go
            else:
                delay = self.local.claim(slot.channel, None if slot.shared else slot.id)
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
            await self._eval(RELEASE, [slot.channel], slot.id)
        except Exception as exc:  # it holds the slots after it until it is overdue (HOLD)
            log.info("slack.pacing_release_failed", error=type(exc).__name__)

    async def wait(self, channel: str) -> None:
        """Book and take in one (:data:`GO`): a message to a free channel goes at once, after one round trip
        shared with the other messages asking at the same moment."""
        if not self.redis.shared:
            await self.local.take(self.local._book(channel))
            return
        try:
            wait_ms, slot_id = await self._going()(channel)
        except Exception as exc:
            self.redis.failed(exc)
            await self.local.take(self.local._book(channel))
            return
        if int(slot_id):  # not free: booked; take it as any slot
            await self.take(Slot(channel, time.monotonic() + int(wait_ms) / 1000, str(int(slot_id)), shared=True))

    async def aclose(self) -> None:
        await self.redis.aclose()


_shared = ChannelPacer()
_by_redis: dict[tuple[Any, ...], RedisPacer] = {}


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
