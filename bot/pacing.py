"""A chat platform's pace, kept by every process that talks to it together.

Chat platforms ask a bot for a pace: Slack about one message a second per channel; Telegram about one a
second per chat, at most 20 a minute in a group and about 30 a second overall, with 429 ``retry_after``
when it thinks a chat (or the bot) went too fast. Herald's web processes and workers all send, so the pace
lives in Redis when Redis is configured (:class:`SharedPacer`), else in the process (:class:`LocalPacer`).
Each adapter's ``pacing`` module names its platform's :class:`Budgets` (``bot.slack.pacing``,
``bot.telegram.pacing``).

A message *books* a slot in its chat, sleeps until the slot's estimated time, then *takes* it (or, with
nothing to keep in order, just ``wait``\\s: book and take in one). Taking waits, if need be, until

* every slot booked before it in the chat was taken or released, or its sender stopped looking ``HOLD``
  seconds ago (it died or hangs): booking order is sending order in a chat, even when a sender is late for
  its slot. That is how Herald keeps the messages about one post in causal order across processes: the
  answer to a click books its slots before the core commits the decision that lets a worker publish and
  report (``SlackAdapter.run``), so the report waits for them;
* ``chat_interval`` has passed since the chat's last message went out;
* in a group, fewer than ``group_count`` messages went there in the last ``group_window`` seconds;
* fewer than ``bot_count`` messages went anywhere in the last ``bot_window`` seconds;
* no penalty given for the chat, or for the whole bot, is still running (``penalize`` after a 429).

(A count of 0 turns its budget off: Slack has neither.) A slot's time is estimated at booking, after the
latest slot still held in the chat and the budgets as they stand; nothing else is held while sleeping, so
chats don't wait for each other, and a slot given back (released unused) leaves no gap behind it.

In Redis, small Lua scripts run on each chat's keys on Redis's own clock (one clock for every process); a
burst of messages to free chats goes with one call for them all. Every key shares one hash tag, so one
script may touch many chats and the bot's keys, on Redis Cluster too (one master: a few small keys per
chat, short-lived). If Redis doesn't answer within its timeout, the pacer books in the process instead for
a while (logged once per outage), then asks Redis again.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis, RedisCluster

from handlers.settings import Settings
from tasks.batching import Coalescer

log = structlog.get_logger(__name__)
HOLD = 10.0  # seconds past its time (or its sender's last look) an untaken slot still holds the slots after it
POLL = 0.05  # seconds between looks while an earlier slot holds this one
PRUNE_AT = 10_000  # chats remembered in the process before the idle ones are forgotten
REDIS_TIMEOUT = 0.5  # seconds a booking may wait for Redis before it is booked in the process
CONNECT_TIMEOUT = 2.0  # the same for a new client's first call (a cluster client learns the slot map first)
REDIS_RETRY_AFTER = 5.0  # seconds of booking in the process before Redis is asked again
GO_BATCH = 100  # chats in one GO call at most
ChatId = int | str


@dataclass(frozen=True)
class Budgets:
    """A platform's pace. A count of 0 turns its budget off."""

    chat_interval: float = 1.0  # seconds between two messages to one chat
    group_count: int = 0  # messages to one group ...
    group_window: float = 0.0  # ... in any window of this many seconds
    bot_count: int = 0  # messages of the bot to all chats ...
    bot_window: float = 0.0  # ... in any window of this many seconds


@dataclass
class Slot:
    """A booked slot: its chat, its estimated time (``time.monotonic()``) and its id in the booking pacer."""

    channel: str
    due: float
    id: str
    shared: bool = False  # booked in Redis
    used: bool = False
    group: bool = False  # the chat is a group (the group budget applies)

    async def sleep(self) -> None:
        self.used = True
        delay = self.due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


class Pacer(Protocol):
    budgets: Budgets

    async def book(self, chat: ChatId, is_group: bool = False) -> Slot:
        """Book a slot in the chat (its place in the chat's order, kept until taken or released)."""

    async def take(self, slot: Slot) -> None:
        """Sleep until the slot's message may go (module docstring), and count it as gone."""

    async def release(self, slot: Slot) -> None:
        """Give back a slot that wasn't used."""

    async def wait(self, chat: ChatId, is_group: bool = False) -> None:
        """Book a slot in the chat and take it: call right before sending."""

    def slot(self, chat: ChatId, is_group: bool = False) -> AbstractAsyncContextManager[None]:
        """``async with pacer.slot(chat, is_group): send(...)``: :meth:`wait`, then the body."""

    async def penalize(self, chat: ChatId | None, retry_after: float | timedelta) -> None:
        """The platform said ``retry_after`` (a 429): hold the chat (``None``: the whole bot) that long."""

    async def aclose(self) -> None:
        """Close connections this pacer opened (in the running event loop)."""


@asynccontextmanager
async def waited(pacer: Pacer, chat: ChatId, is_group: bool = False) -> AsyncIterator[None]:
    """A pacer's ``slot``: wait for the chat's next message to be allowed, then run the body (the send)."""
    await pacer.wait(chat, is_group)
    yield


def ms(value: float) -> int:
    """Seconds as Redis-clock milliseconds."""
    return round(value * 1000)


def seconds(retry_after: float | timedelta) -> float:
    """A ``retry_after`` (python-telegram-bot gives an ``int`` or a ``timedelta``) in seconds."""
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


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


@dataclass
class _Held:
    at: float  # the slot's estimated time
    number: int  # booking order among slots with the same time
    alive: float  # holds the slots after it until then (its sender's last look + HOLD)


def _window(sent: deque[float], count: int, span: float, now: float) -> float:
    """When one more message fits ``count`` per ``span`` seconds after ``sent`` (oldest first); a count of 0:
    no such budget."""
    if count <= 0:
        return -math.inf
    while sent and sent[0] <= now - span:
        sent.popleft()
    return sent[-count] + span if len(sent) >= count else -math.inf


class LocalPacer:
    """Keeps the budgets in this process."""

    def __init__(
        self, budgets: Budgets | None = None, clock: Callable[[], float] = time.monotonic, *, hold: float = HOLD
    ) -> None:
        self.budgets = budgets or Budgets()
        self.hold = hold  # HOLD (smaller in tests)
        self._clock = clock
        self._last: dict[str, float] = {}  # chat → when its last message went out
        self._held: dict[str, dict[str, _Held]] = {}  # chat → {slot id: its place}
        self._sent: dict[str, deque[float]] = {}  # group → its messages in the window
        self._bot_sent: deque[float] = deque()  # the bot's messages in its window
        self._until: dict[str, float] = {}  # chat → the end of its penalty
        self._bot_until = -math.inf
        self._ids = itertools.count(1)

    def _prune(self, now: float) -> None:
        b = self.budgets
        self._held = {c: h for c, h in self._held.items() if any(x.alive > now for x in h.values())}
        self._last = {c: t for c, t in self._last.items() if t + b.chat_interval > now}
        self._sent = {c: s for c, s in self._sent.items() if s and s[-1] > now - b.group_window}
        self._until = {c: t for c, t in self._until.items() if t > now}

    def _held_in(self, chat: str, now: float) -> dict[str, _Held]:
        held = self._held.setdefault(chat, {})
        for other, place in list(held.items()):
            if place.alive <= now:
                del held[other]  # its sender stopped looking: it holds nobody any longer
        return held

    def _ready(self, chat: str, group: bool, now: float) -> float:
        """When the chat's next message may go by the budgets and penalties (not by the slots held)."""
        b = self.budgets
        ready = max(
            self._last.get(chat, -math.inf) + b.chat_interval,
            self._until.get(chat, -math.inf),
            self._bot_until,
            _window(self._bot_sent, b.bot_count, b.bot_window, now),
        )
        if group and b.group_count > 0:
            ready = max(ready, _window(self._sent.setdefault(chat, deque()), b.group_count, b.group_window, now))
        return ready

    def reserve(self, chat: ChatId, group: bool = False) -> float:
        """Book a slot in the chat; returns how many seconds until its estimated time."""
        return self._reserve(chat, group)[0]

    def _reserve(self, chat: ChatId, group: bool = False) -> tuple[float, str]:
        chat, now = str(chat), self._clock()
        if len(self._held) + len(self._last) + len(self._sent) > PRUNE_AT:
            self._prune(now)
        held = self._held_in(chat, now)
        at = max(now, self._ready(chat, group, now))
        if held:
            at = max(at, max(x.at for x in held.values()) + self.budgets.chat_interval)
        number = next(self._ids)
        held[str(number)] = _Held(at, number, at + self.hold)
        return at - now, str(number)

    def claim(self, chat: ChatId, group: bool = False, slot_id: str | None = None) -> float:
        """Count slot ``slot_id``'s message (or a message without a slot) as going now if it may; else how
        many seconds until it should look again."""
        chat, now = str(chat), self._clock()
        held = self._held_in(chat, now)
        mine = held.get(slot_id or "")
        if mine is not None and any((x.at, x.number) < (mine.at, mine.number) for x in held.values()):
            mine.alive = max(mine.alive, now + POLL + self.hold)
            return POLL
        ready = self._ready(chat, group, now)
        if ready > now:
            if mine is not None:  # its sender looks again then: it holds the slots after it until then + HOLD
                mine.alive = max(mine.alive, ready + self.hold)
            return ready - now
        self._last[chat] = now
        if self.budgets.bot_count > 0:
            self._bot_sent.append(now)
        if group and self.budgets.group_count > 0:
            self._sent[chat].append(now)
        held.pop(slot_id or "", None)
        return 0.0

    def block(self, chat: ChatId | None, retry_after: float | timedelta) -> None:
        """Hold the chat (``None``: every chat) for ``retry_after``."""
        until = self._clock() + seconds(retry_after)
        if chat is None:
            self._bot_until = max(self._bot_until, until)
        else:
            self._until[str(chat)] = max(self._until.get(str(chat), -math.inf), until)

    def _book(self, chat: ChatId, group: bool) -> Slot:
        delay, slot_id = self._reserve(chat, group)
        return Slot(str(chat), time.monotonic() + delay, slot_id, group=group)

    async def book(self, chat: ChatId, is_group: bool = False) -> Slot:
        return self._book(chat, is_group)  # synchronous: no await between reading and booking the slot

    async def release(self, slot: Slot) -> None:
        if not slot.used:
            self._held.get(slot.channel, {}).pop(slot.id, None)

    async def take(self, slot: Slot) -> None:
        await slot.sleep()
        while True:
            delay = self.claim(slot.channel, slot.group, slot.id)
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def wait(self, chat: ChatId, is_group: bool = False) -> None:
        await self.take(self._book(chat, is_group))

    def slot(self, chat: ChatId, is_group: bool = False) -> AbstractAsyncContextManager[None]:
        return waited(self, chat, is_group)

    async def penalize(self, chat: ChatId | None, retry_after: float | timedelta) -> None:
        self.block(chat, retry_after)

    async def aclose(self) -> None:
        return None


# Times are milliseconds of Redis's clock. KEYS: the bot's three (its messages in the window: a sorted set;
# the end of its penalty; a counter naming messages), then five per chat: when its last message went out,
# its held slots (sorted set: slot id → its time; ids are times, made unique), when each held slot's sender
# was last seen + hold (sorted set), its messages in the group window (sorted set), the end of its penalty.
# ARGV begins with the budgets: chat interval, hold, group count, group window, bot count, bot window, poll.
_COMMON = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, hold = tonumber(ARGV[1]), tonumber(ARGV[2])
local group_count, group_window = tonumber(ARGV[3]), tonumber(ARGV[4])
local bot_count, bot_window = tonumber(ARGV[5]), tonumber(ARGV[6])
local poll = tonumber(ARGV[7])
local bot_sent, bot_until, bot_seq = KEYS[1], KEYS[2], KEYS[3]

local function number(key)
  return tonumber(redis.call('GET', key) or '0')
end

-- let the key live at least ttl ms more (PEXPIRE's GT would leave a key without a TTL forever)
local function extend(key, ttl)
  if redis.call('PTTL', key) < ttl then
    redis.call('PEXPIRE', key, ttl)
  end
end

-- forget the slots whose senders stopped looking
local function prune(held, alive)
  local dead = redis.call('ZRANGEBYSCORE', alive, '-inf', now)
  if #dead > 0 then
    redis.call('ZREM', held, unpack(dead))
    redis.call('ZREMRANGEBYSCORE', alive, '-inf', now)
  end
end

-- when one more message fits count per span after the messages in sent
local function window(sent, count, span)
  if count <= 0 then
    return 0
  end
  redis.call('ZREMRANGEBYSCORE', sent, '-inf', now - span)
  local n = redis.call('ZCARD', sent)
  if n < count then
    return 0
  end
  local oldest = redis.call('ZRANGE', sent, n - count, n - count, 'WITHSCORES')
  return tonumber(oldest[2]) + span
end

-- when the chat's next message may go by the budgets and penalties (not by the slots held)
local function ready(k, group)
  local at = math.max(number(KEYS[k]) + interval, number(KEYS[k + 4]), number(bot_until))
  at = math.max(at, window(bot_sent, bot_count, bot_window))
  if group then  -- (window() is 0 when the group budget is off)
    at = math.max(at, window(KEYS[k + 3], group_count, group_window))
  end
  return at
end

-- count the chat's message as gone out now
local function note(k, group)
  redis.call('SET', KEYS[k], now, 'PX', interval + 1000)
  group = group and group_count > 0
  if bot_count > 0 or group then
    local name = now .. ':' .. redis.call('INCR', bot_seq)
    redis.call('PEXPIRE', bot_seq, math.max(bot_window, group_window) + 1000)
    if bot_count > 0 then
      redis.call('ZADD', bot_sent, now, name)
      redis.call('PEXPIRE', bot_sent, bot_window + 1000)
    end
    if group then
      redis.call('ZADD', KEYS[k + 3], now, name)
      redis.call('PEXPIRE', KEYS[k + 3], group_window + 1000)
    end
  end
end

-- book a slot no earlier than ready_at and after every slot held in the chat; returns its time
local function book(k, ready_at)
  local held, alive = KEYS[k + 1], KEYS[k + 2]
  local at = math.max(now, ready_at)
  local top = redis.call('ZRANGE', held, -1, -1, 'WITHSCORES')
  if top[2] then
    at = math.max(at, tonumber(top[2]) + math.max(interval, 1))
  end
  redis.call('ZADD', held, at, at)
  redis.call('ZADD', alive, at + hold, at)
  extend(held, at - now + hold + 1000)
  extend(alive, at - now + hold + 1000)
  return at
end
"""
# BOOK (ARGV after the budgets: 1 for a group) returns {milliseconds until the slot, the slot's id}.
BOOK = (
    _COMMON
    + """
prune(KEYS[5], KEYS[6])
local at = book(4, ready(4, ARGV[8] == '1'))
return {at - now, at}
"""
)
# TAKE (ARGV after the budgets: the slot's id, 1 for a group) returns 0 (counted as gone: go) or
# milliseconds to wait. A slot whose sender is looking stays alive: a penalty or a full window may hold it
# longer than ``hold`` without letting the slots after it by.
TAKE = (
    _COMMON
    + """
local held, alive, id = KEYS[5], KEYS[6], ARGV[8]
prune(held, alive)
-- the slot's sender looks again in ``wait`` ms: it holds the slots after it until then + hold
local function alive_for(wait)
  redis.call('ZADD', alive, 'XX', 'GT', now + wait + hold, id)
  extend(alive, wait + hold + 1000)
  extend(held, wait + hold + 1000)
  return wait
end
local mine = redis.call('ZSCORE', held, id)
if mine and redis.call('ZCOUNT', held, '-inf', '(' .. mine) > 0 then
  return alive_for(poll)
end
local at = ready(4, ARGV[9] == '1')
if at > now then
  if mine then
    return alive_for(at - now)
  end
  return at - now
end
note(4, ARGV[9] == '1')
redis.call('ZREM', held, id)
redis.call('ZREM', alive, id)
return 0
"""
)
# GO (ARGV after the budgets: 1 or 0 per chat, for a group), for messages with no slot booked before: for
# each chat, when nothing is held in it and the budgets let it go, counts the message as gone ({0, 0}: go);
# else books a slot as BOOK does ({ms, id}). One round trip for a burst of messages to many chats.
GO = (
    _COMMON
    + """
local out = {}
for i = 8, #ARGV do
  local k = 4 + (i - 8) * 5
  local group = ARGV[i] == '1'
  prune(KEYS[k + 1], KEYS[k + 2])
  local at = ready(k, group)
  if at <= now and redis.call('ZCARD', KEYS[k + 1]) == 0 then
    note(k, group)
    out[#out + 1] = 0
    out[#out + 1] = 0
  else
    at = book(k, at)
    out[#out + 1] = at - now
    out[#out + 1] = at
  end
end
return out
"""
)
# RELEASE (KEYS: the chat's held and alive; ARGV: the slot's id).
RELEASE = """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])
"""
# PENALIZE (KEYS: the chat's or the bot's penalty; ARGV: milliseconds) returns milliseconds it now runs.
PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ends = math.max(now + tonumber(ARGV[1]), tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], ends, 'PX', ends - now + 1000)
return ends - now
"""


class SharedPacer:
    """Keeps the budgets in Redis, shared by every process pointed at it; in the process when Redis can't."""

    def __init__(
        self,
        connect: Callable[[], Redis | RedisCluster],
        *,
        budgets: Budgets,
        prefix: str,
        event: str,
        timeout: float = REDIS_TIMEOUT,
        retry_after: float = REDIS_RETRY_AFTER,
        hold: float = HOLD,
    ) -> None:
        self.budgets = budgets
        self.prefix = prefix
        self.event = event
        self.local = LocalPacer(budgets, hold=hold)
        self.redis = RedisBooking(connect, event=event, timeout=timeout, retry_after=retry_after)
        self._goes: tuple[asyncio.AbstractEventLoop, Coalescer[tuple[str, bool], tuple[int, int]]] | None = None

    def _bot_keys(self) -> list[str]:
        base = f"{self.prefix}{{pace}}::bot"  # no chat is named "" (a chat's keys: ``_chat_keys``)
        return [base + ":sent", base + ":until", base + ":seq"]

    def _chat_keys(self, chat: str) -> list[str]:
        """The chat's five keys; with the bot's, under one hash tag (on a cluster: one master)."""
        base = f"{self.prefix}{{pace}}:{chat}"
        return [base + ":last", base + ":held", base + ":alive", base + ":sent", base + ":until"]

    def _budgets(self) -> list[int]:
        b = self.budgets
        return [
            ms(b.chat_interval),
            ms(self.local.hold),
            b.group_count,
            ms(b.group_window),
            b.bot_count,
            ms(b.bot_window),
            ms(POLL),
        ]

    async def _run(self, script: str, chats: list[str], *args: Any) -> Any:
        keys = self._bot_keys() + [key for chat in chats for key in self._chat_keys(chat)]
        return await self.redis.eval(script, keys, *self._budgets(), *args)

    async def _go(self, asks: list[tuple[str, bool]]) -> list[tuple[int, int]]:
        """:data:`GO` for the messages that asked together (the ``_goes`` coalescer)."""
        flat = await self._run(GO, [chat for chat, _ in asks], *(int(group) for _, group in asks))
        return [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]

    def _going(self) -> Coalescer[tuple[str, bool], tuple[int, int]]:
        loop = asyncio.get_running_loop()
        if self._goes is None or self._goes[0] is not loop:
            self._goes = (loop, Coalescer(self._go, max_batch=GO_BATCH))
        return self._goes[1]

    async def book(self, chat: ChatId, is_group: bool = False) -> Slot:
        if self.redis.shared:
            try:
                wait_ms, slot_id = await self._run(BOOK, [str(chat)], int(is_group))
            except Exception as exc:
                self.redis.failed(exc)
            else:
                self.redis.answered()
                due = time.monotonic() + int(wait_ms) / 1000
                return Slot(str(chat), due, str(int(slot_id)), shared=True, group=is_group)
        return self.local._book(chat, is_group)

    async def _claim(self, slot: Slot) -> float:
        if slot.shared and self.redis.shared:
            try:
                return int(await self._run(TAKE, [slot.channel], slot.id, int(slot.group))) / 1000
            except Exception as exc:
                self.redis.failed(exc)  # then counted in the process, in no order (the order was in Redis)
        return self.local.claim(slot.channel, slot.group, None if slot.shared else slot.id)

    async def take(self, slot: Slot) -> None:
        await slot.sleep()
        while True:
            delay = await self._claim(slot)
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
            await self.redis.eval(RELEASE, self._chat_keys(slot.channel)[1:3], slot.id)
        except Exception as exc:  # it holds the slots after it until its sender is HOLD seconds gone
            log.info(f"{self.event}.pacing_release_failed", error=type(exc).__name__)

    async def wait(self, chat: ChatId, is_group: bool = False) -> None:
        """Book and take in one (:data:`GO`): a message to a free chat goes at once, after one round trip
        shared with the other messages asking at the same moment."""
        if self.redis.shared:
            try:
                wait_ms, slot_id = await self._going()((str(chat), is_group))
            except Exception as exc:
                self.redis.failed(exc)
            else:
                self.redis.answered()
                if int(slot_id):  # not free: booked; take it as any slot
                    due = time.monotonic() + int(wait_ms) / 1000
                    await self.take(Slot(str(chat), due, str(int(slot_id)), shared=True, group=is_group))
                return
        await self.local.wait(chat, is_group)

    def slot(self, chat: ChatId, is_group: bool = False) -> AbstractAsyncContextManager[None]:
        return waited(self, chat, is_group)

    async def penalize(self, chat: ChatId | None, retry_after: float | timedelta) -> None:
        """Hold the chat (``None``: the whole bot) for ``retry_after`` in every process, and in this one
        should Redis fail before it runs out."""
        self.local.block(chat, retry_after)
        key = self._bot_keys()[1] if chat is None else self._chat_keys(str(chat))[4]
        log.info(f"{self.event}.flood_wait", chat=chat, retry_after=seconds(retry_after))
        if not self.redis.shared:
            return
        try:
            await self.redis.eval(PENALIZE, [key], ms(seconds(retry_after)))
        except Exception as exc:
            self.redis.failed(exc)
        else:
            self.redis.answered()

    async def aclose(self) -> None:
        await self.redis.aclose()
