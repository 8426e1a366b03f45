"""The cluster stream broker against the real 6-node Redis Cluster."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from taskiq import AckableMessage
from taskiq.message import BrokerMessage

from tasks.streams import ResilientStreamClusterBroker, retryable
from tests.infra.redis_cluster import RedisClusterProcess


def message(payload: bytes, queue: str | None = None) -> BrokerMessage:
    labels = {"queue_name": queue} if queue else {}
    return BrokerMessage(task_id=uuid.uuid4().hex, task_name="t", message=payload, labels=labels)


@pytest.fixture
async def queue_name() -> str:
    return f"{{herald-test}}:{uuid.uuid4().hex[:8]}"


def broker(cluster: RedisClusterProcess, queue: str, name: str, **kwargs: object) -> ResilientStreamClusterBroker:
    return ResilientStreamClusterBroker(
        cluster.startup_nodes, queue_name=queue, consumer_name=name, xread_block_ms=200, **kwargs
    )  # type: ignore[arg-type]


async def take(gen: AsyncIterator[AckableMessage], count: int, limit: float = 10.0) -> list[AckableMessage]:
    got: list[AckableMessage] = []

    async def collect() -> None:
        async for msg in gen:
            got.append(msg)
            if len(got) == count:
                return

    await asyncio.wait_for(collect(), limit)
    return got


async def test_kick_listen_ack_deletes_finished_entries(cluster: RedisClusterProcess, queue_name: str) -> None:
    producer = broker(cluster, queue_name, "producer")
    consumer = broker(cluster, queue_name, "c1", count=10)
    await producer.startup()
    await consumer.startup()
    try:
        await asyncio.gather(*(producer.kick(message(f"m{i}".encode())) for i in range(25)))
        got = await take(consumer.listen(), 25)
        assert sorted(m.data for m in got) == sorted(f"m{i}".encode() for i in range(25))
        groups = await consumer.redis.xinfo_groups(queue_name)
        assert groups[0]["pending"] == 25
        for m in got:
            await m.ack()  # type: ignore[misc]
        groups = await consumer.redis.xinfo_groups(queue_name)
        assert groups[0]["pending"] == 0
        assert await consumer.redis.xlen(queue_name) == 0  # acked entries are deleted, the stream stays small
    finally:
        await producer.shutdown()
        await consumer.shutdown()


async def test_reads_are_bounded(cluster: RedisClusterProcess, queue_name: str) -> None:
    producer = broker(cluster, queue_name, "producer")
    consumer = broker(cluster, queue_name, "c1", count=5)
    await producer.startup()
    await consumer.startup()
    try:
        for i in range(40):
            await producer.kick(message(str(i).encode()))
        gen = consumer.listen()
        await take(gen, 1)
        pending = (await consumer.redis.xinfo_groups(queue_name))[0]["pending"]
        assert pending == 5  # one read took COUNT=5, not the whole backlog
    finally:
        await producer.shutdown()
        await consumer.shutdown()


async def test_dead_consumers_messages_are_reclaimed(cluster: RedisClusterProcess, queue_name: str) -> None:
    producer = broker(cluster, queue_name, "producer")
    dead = broker(cluster, queue_name, "dead", count=100)
    survivor = broker(cluster, queue_name, "survivor", reclaim_idle_ms=300, reclaim_interval=0.2)
    for b in (producer, dead, survivor):
        await b.startup()
    try:
        for i in range(10):
            await producer.kick(message(f"job{i}".encode()))
        taken = await take(dead.listen(), 10)  # read, never acked: as if SIGKILLed mid-task
        assert len(taken) == 10
        redone = await take(survivor.listen(), 10, limit=10)
        assert sorted(m.data for m in redone) == sorted(f"job{i}".encode() for i in range(10))
        for m in redone:
            await m.ack()  # type: ignore[misc]
        assert (await survivor.redis.xinfo_groups(queue_name))[0]["pending"] == 0
    finally:
        for b in (producer, dead, survivor):
            await b.shutdown()


async def test_an_enqueue_batch_leaves_nothing_for_the_cyclic_collector(
    cluster: RedisClusterProcess, queue_name: str
) -> None:
    # the dispatcher enqueues dozens of batches a second for weeks, and its collector runs rarely (bot/heap.py):
    # a redis-py cluster pipeline per batch (a cycle with its execution strategy) grew it by ~6 MB per 10 minutes
    producer = broker(cluster, queue_name, "producer")
    await producer.startup()
    try:
        await producer.kick(message(b"warm-up"))  # connections and the slot map are made once
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            await asyncio.gather(*(producer.kick(message(f"m{i}".encode())) for i in range(25)))
            await producer.kick(message(b"alone"))
            found = gc.collect()
            left = Counter(type(o).__name__ for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        assert found == 0, f"objects only the cyclic collector frees: {dict(left)}"
        assert await producer.redis.xlen(queue_name) == 27
    finally:
        await producer.shutdown()


async def test_a_batch_for_several_streams_reaches_each(cluster: RedisClusterProcess, queue_name: str) -> None:
    other = f"{{herald-other}}:{uuid.uuid4().hex[:8]}"  # another hash tag: most likely another master
    producer = broker(cluster, queue_name, "producer", maxlen=1000)
    await producer.startup()
    try:
        await asyncio.gather(
            *(producer.kick(message(f"m{i}".encode(), queue=other if i % 2 else None)) for i in range(10))
        )
        mine = [fields[b"data"] for _, fields in await producer.redis.xrange(queue_name)]
        theirs = [fields[b"data"] for _, fields in await producer.redis.xrange(other)]
        assert mine == [f"m{i}".encode() for i in range(0, 10, 2)]  # in order, each once
        assert theirs == [f"m{i}".encode() for i in range(1, 10, 2)]
    finally:
        await producer.redis.delete(other)
        await producer.shutdown()


def raised_in(filename: str, exc: BaseException) -> BaseException:
    """``exc`` with a traceback through code in ``filename``, as if that module had raised it."""
    try:
        exec(compile("raise exc", filename, "exec"), {"exc": exc})
    except BaseException as raised:
        return raised
    raise AssertionError("not raised")


def test_a_write_racing_a_closing_redis_connection_counts_as_a_lost_connection() -> None:
    # redis-py 8.1 lets this race escape as AttributeError/TypeError (redis/redis-py#4287); a worker died of it
    # when chaos R2 killed the stream's master mid-burst
    import redis.asyncio.connection

    inside = str(redis.asyncio.connection.__file__)
    assert retryable(raised_in(inside, AttributeError("'NoneType' object has no attribute 'writelines'")))
    assert retryable(raised_in(inside, TypeError("'NoneType' object is not callable")))
    assert retryable(RedisConnectionError("Connection closed by server."))
    # the same errors from anywhere else are bugs, not connection trouble
    assert not retryable(raised_in(__file__, AttributeError("'NoneType' object has no attribute 'writelines'")))
    assert not retryable(raised_in(inside, ValueError("bad value")))
