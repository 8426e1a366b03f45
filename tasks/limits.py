"""Rate limits every worker shares: when a platform says "not before T" for an account (or for Herald's whole
app), no worker calls it for that account before T.

Fed by the platforms' answers (429 with reset headers, throttling codes, quota endpoints: ``RateLimited``'s
``retry_after``) and read before every publish. With Redis configured the block lives there (one key per
account or per app, expiring at T), so it holds across processes and machines; each process remembers what it
read for a second, so a burst to one account costs one Redis read per second, not one per post.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

#: How long a process trusts what it read from Redis.
CACHE_SECONDS = 1.0
KEY_PREFIX = "herald:rate:"


def account_key(platform: str, account_id: int) -> str:
    return f"{platform}:account:{account_id}"


def app_key(platform: str) -> str:
    return f"{platform}:app"


class RateGate(Protocol):
    async def wait(self, platform: str, account_id: int) -> float | None:
        """Seconds until ``platform`` takes a post from the account (its own block or the app's), or None."""

    async def block(self, platform: str, account_id: int | None, seconds: float) -> None:
        """Nothing to the account (or, with ``account_id`` None, to the whole platform) for ``seconds``."""


class LocalGate:
    """The gate of one process (the embedded default, and the fallback when Redis can't be reached). ``clock``
    gives unix seconds."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._until: dict[str, float] = {}
        self.clock = clock

    def _left(self, key: str, now: float) -> float | None:
        until = self._until.get(key)
        if until is None:
            return None
        if until <= now:
            del self._until[key]
            return None
        return until - now

    async def wait(self, platform: str, account_id: int) -> float | None:
        if not self._until:
            return None
        now = self.clock()
        keys = (account_key(platform, account_id), app_key(platform))
        waits = [w for w in (self._left(key, now) for key in keys) if w]
        return max(waits) if waits else None

    async def block(self, platform: str, account_id: int | None, seconds: float) -> None:
        key = app_key(platform) if account_id is None else account_key(platform, account_id)
        until = self.clock() + seconds
        self._until[key] = max(until, self._until.get(key, 0.0))


class RedisGate:
    """The gate shared through Redis (a single node or a cluster: every operation is on one key)."""

    def __init__(self, redis: Redis | RedisCluster, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.clock = clock
        self._local = LocalGate(clock)
        self._read: dict[str, tuple[float, float | None]] = {}  # key → (read at, until)
        self._reading: dict[str, asyncio.Future[float | None]] = {}
        self._warned = False

    async def _until(self, key: str, now: float) -> float | None:
        cached = self._read.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        reading = self._reading.get(key)
        if reading is None:  # one read per key at a time: a burst's deliveries share it, not one GET each
            reading = self._reading[key] = asyncio.ensure_future(self._fetch(key, now))
            reading.add_done_callback(lambda _: self._reading.pop(key, None))
        return await asyncio.shield(reading)

    async def _fetch(self, key: str, now: float) -> float | None:
        try:
            raw = await self.redis.get(KEY_PREFIX + key)
        except (RedisError, OSError) as exc:
            self._outage(exc)
            return None
        until = float(raw) if raw is not None else None
        self._read[key] = (now, until)
        return until

    async def wait(self, platform: str, account_id: int) -> float | None:
        now = self.clock()
        local = await self._local.wait(platform, account_id)
        untils = [await self._until(account_key(platform, account_id), now), await self._until(app_key(platform), now)]
        waits = [u - now for u in untils if u is not None and u > now]
        if local:
            waits.append(local)
        return max(waits) if waits else None

    async def block(self, platform: str, account_id: int | None, seconds: float) -> None:
        await self._local.block(platform, account_id, seconds)
        key = app_key(platform) if account_id is None else account_key(platform, account_id)
        until = self.clock() + seconds
        self._read[key] = (self.clock(), until)
        try:
            # keep the later of two blocks: GT needs Redis 7 for EXPIRE, so compare in the value instead
            current = await self.redis.get(KEY_PREFIX + key)
            if current is None or float(current) < until:
                await self.redis.set(KEY_PREFIX + key, f"{until:.3f}", px=max(1, int(seconds * 1000)))
        except (RedisError, OSError) as exc:
            self._outage(exc)

    def _outage(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            log.warning("rate_gate.redis_unreachable", error=type(exc).__name__, fallback="this process only")
