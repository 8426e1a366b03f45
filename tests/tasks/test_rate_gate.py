"""The rate gate every worker shares: a block one process learns (a 429's reset, a used-up quota) holds for every
other process talking to the same Redis or Redis Cluster, per account or for a platform's whole app."""

from __future__ import annotations

import asyncio
import time

import pytest

from handlers.settings import Settings
from tasks.broker import redis_client
from tasks.limits import CACHE_SECONDS, LocalGate, RedisGate
from tests.infra.redis_cluster import RedisClusterProcess


@pytest.fixture(params=["redis", "cluster"])
def settings(request: pytest.FixtureRequest) -> Settings:
    if request.param == "redis":
        return Settings(REDIS_HOST="127.0.0.1", REDIS_PORT=6379)  # type: ignore[call-arg]
    cluster: RedisClusterProcess = request.getfixturevalue("cluster")
    return Settings(**cluster.env())  # type: ignore[arg-type]


async def test_a_block_seen_by_one_process_holds_in_another(settings: Settings) -> None:
    platform = f"test-{time.monotonic_ns()}"
    first, second = RedisGate(redis_client(settings)), RedisGate(redis_client(settings))
    try:
        assert await second.wait(platform, 7) is None
        await first.block(platform, 7, 30)
        await asyncio.sleep(CACHE_SECONDS)  # what second read before is forgotten by now
        wait = await second.wait(platform, 7)
        assert wait is not None and 28 < wait <= 30
        assert await second.wait(platform, 8) is None  # another account of the same platform is free
        await first.block(platform, None, 60)  # the whole app
        await asyncio.sleep(CACHE_SECONDS)
        for account in (7, 8):
            wait = await second.wait(platform, account)
            assert wait is not None and 58 < wait <= 60
    finally:
        await first.redis.aclose()
        await second.redis.aclose()


async def test_a_shorter_block_never_shortens_a_longer_one(settings: Settings) -> None:
    platform = f"test-{time.monotonic_ns()}"
    first, second = RedisGate(redis_client(settings)), RedisGate(redis_client(settings))
    try:
        await first.block(platform, 1, 120)
        await second.block(platform, 1, 5)
        third = RedisGate(redis_client(settings))
        wait = await third.wait(platform, 1)
        await third.redis.aclose()
        assert wait is not None and wait > 100
    finally:
        await first.redis.aclose()
        await second.redis.aclose()


async def test_without_redis_the_gate_still_holds_in_the_process() -> None:
    gate = RedisGate(redis_client(Settings(REDIS_HOST="127.0.0.1", REDIS_PORT=1)))  # type: ignore[call-arg]
    await gate.block("x", 1, 30)
    wait = await gate.wait("x", 1)
    assert wait is not None and wait > 25
    await gate.redis.aclose()


async def test_the_local_gate_follows_its_clock() -> None:
    now = [1000.0]
    gate = LocalGate(lambda: now[0])
    await gate.block("x", 1, 10)
    assert await gate.wait("x", 1) == 10
    now[0] += 10
    assert await gate.wait("x", 1) is None
