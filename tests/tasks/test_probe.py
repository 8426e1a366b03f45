"""The queue probe behind /queue status, against the real Redis Cluster and the real single Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from taskiq import InMemoryBroker
from taskiq_redis import RedisStreamBroker

from bot.wiring import build, queue_probe
from handlers.ports import QueueStats
from handlers.settings import Settings
from tasks.broker import CONSUMER_GROUP
from tasks.probe import StreamProbe
from tasks.streams import ResilientStreamClusterBroker
from tests.auxil.chat import Chat
from tests.auxil.processes import free_port
from tests.infra.redis_cluster import RedisClusterProcess
from tests.tasks.test_streams import message, take


@pytest.fixture
def queue_name() -> str:
    return f"{{herald-probe}}:{uuid.uuid4().hex[:8]}"


def cluster_broker(
    nodes: list[tuple[str, int]], queue: str, name: str, **kwargs: object
) -> ResilientStreamClusterBroker:
    return ResilientStreamClusterBroker(
        nodes,
        queue_name=queue,
        consumer_group_name=CONSUMER_GROUP,
        consumer_name=name,
        xread_block_ms=200,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_cluster_probe_counts_entries_unacked_reads_and_consumers(
    cluster: RedisClusterProcess, queue_name: str
) -> None:
    producer = cluster_broker(cluster.startup_nodes, queue_name, "producer")
    consumer = cluster_broker(cluster.startup_nodes, queue_name, "worker-1", count=3)
    probe = StreamProbe(producer)
    await producer.startup()
    await consumer.startup()
    try:
        assert await probe.stats() == QueueStats("Redis Cluster", queue_name, CONSUMER_GROUP, consumers=0, lag=0)
        for i in range(5):
            await producer.kick(message(f"m{i}".encode()))
        got = await take(consumer.listen(), 3)  # one read of COUNT 3, none acked
        stats = await probe.stats()
        assert (stats.length, stats.pending, stats.consumers, stats.lag) == (5, 3, 1, 2)
        assert stats.problem is None and stats.group_exists
        await got[0].ack()  # type: ignore[misc]  # acked entries are deleted
        stats = await probe.stats()
        assert (stats.length, stats.pending, stats.consumers) == (4, 2, 1)
    finally:
        await producer.shutdown()
        await consumer.shutdown()


async def test_cluster_probe_before_any_worker_started(cluster: RedisClusterProcess, queue_name: str) -> None:
    broker = cluster_broker(cluster.startup_nodes, queue_name, "chat")  # the chat process never starts it
    try:
        stats = await StreamProbe(broker).stats()
        assert stats == QueueStats("Redis Cluster", queue_name, CONSUMER_GROUP, length=0, group_exists=False)
    finally:
        await broker.shutdown()


async def test_cluster_probe_at_a_dead_port_says_so_within_the_timeout(queue_name: str) -> None:
    broker = cluster_broker([("127.0.0.1", free_port())], queue_name, "chat")
    started = time.monotonic()
    stats = await StreamProbe(broker, timeout=1.0).stats()
    assert time.monotonic() - started < 1.5
    assert stats.backend == "Redis Cluster" and stats.problem is not None
    assert stats.problem.startswith("can't connect (")


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never answers (a hung Redis)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_probe_of_a_hung_redis_gives_up_after_its_timeout(silent_port: int, queue_name: str) -> None:
    brokers = [
        cluster_broker([("127.0.0.1", silent_port)], queue_name, "chat"),
        RedisStreamBroker(f"redis://127.0.0.1:{silent_port}", queue_name=queue_name, socket_timeout=None),
    ]
    for broker in brokers:
        started = time.monotonic()
        stats = await StreamProbe(broker, timeout=0.5).stats()
        assert 0.45 < time.monotonic() - started < 1.5
        assert stats.problem == "no answer within 0.5 s"


@pytest.fixture
async def redis_queue(queue_name: str) -> AsyncIterator[str]:
    yield queue_name
    async with Redis(host="127.0.0.1", port=6379) as client:
        await client.delete(queue_name)


async def test_single_redis_probe(redis_queue: str) -> None:
    url = "redis://127.0.0.1:6379"
    producer = RedisStreamBroker(url, queue_name=redis_queue, consumer_group_name=CONSUMER_GROUP)
    consumer = RedisStreamBroker(
        url, queue_name=redis_queue, consumer_group_name=CONSUMER_GROUP, consumer_name="worker-1", xread_count=1
    )
    await producer.startup()
    await consumer.startup()
    try:
        for i in range(2):
            await producer.kick(message(f"m{i}".encode()))
        await take(consumer.listen(), 1)
        stats = await StreamProbe(producer).stats()
        assert stats == QueueStats("Redis", redis_queue, CONSUMER_GROUP, length=2, pending=1, consumers=1, lag=1)
    finally:
        await producer.shutdown()
        await consumer.shutdown()
    dead = RedisStreamBroker(f"redis://127.0.0.1:{free_port()}", queue_name=redis_queue)
    stats = await StreamProbe(dead, timeout=1.0).stats()
    assert stats.problem is not None and stats.problem.startswith("can't connect (")


async def test_wiring_gives_the_chat_the_probe_and_the_reconcilers_limit(
    cluster: RedisClusterProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    for field in Settings.model_fields.values():  # nothing from the outside: this test says what it needs
        if field.alias:
            monkeypatch.delenv(field.alias, raising=False)
    assert isinstance(queue_probe(cluster_broker(cluster.startup_nodes, "{herald}:publish", "x")), StreamProbe)
    assert queue_probe(InMemoryBroker()) is None
    settings = Settings(_env_file=None, REDIS_HOST="127.0.0.1", HERALD_TASK_TIMEOUT=10)  # type: ignore[call-arg]
    comps = build(settings)
    try:
        services = comps.herald.services
        assert isinstance(services.queue_probe, StreamProbe) and services.queue_probe.backend == "Redis"
        assert services.stuck_after == timedelta(seconds=25.5)  # what the dispatcher's reconciler waits
        assert comps.dispatcher._stuck_after == services.stuck_after
    finally:
        await comps.aclose()
    comps = build(Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        assert comps.herald.services.queue_probe is None
    finally:
        await comps.aclose()


async def test_queue_status_in_chat_with_the_cluster_probe(
    chat: Chat, cluster: RedisClusterProcess, queue_name: str
) -> None:
    broker = cluster_broker(cluster.startup_nodes, queue_name, "dispatcher")
    await broker.startup()
    try:
        await broker.kick(message(b"m"))
        chat.herald.services = replace(chat.herald.services, queue_probe=StreamProbe(broker))
        text = await chat.say("/queue status")  # the first member: an admin
        assert text.splitlines()[-1] == (
            f"Queue: Redis Cluster stream {queue_name}: 1 entry, 0 read and not acked, 1 not read yet, "
            f"0 consumers in group {CONSUMER_GROUP}."
        )
    finally:
        await broker.shutdown()
