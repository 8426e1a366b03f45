"""Which queue Herald runs on: in-process, taskiq-redis streams on one Redis, or on Redis Cluster."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from taskiq import AsyncBroker, InMemoryBroker
from taskiq_redis import RedisStreamBroker

from handlers.settings import Settings
from tasks import publish
from tasks.streams import ResilientStreamClusterBroker

CONSUMER_GROUP = "herald-workers"


def build_broker(settings: Settings, *, consumer_name: str | None = None) -> tuple[AsyncBroker, Any]:
    """Return the broker for these settings and its registered publish task."""
    broker: AsyncBroker
    backend = settings.queue_backend
    if backend == "memory":
        broker = InMemoryBroker(max_async_tasks=settings.worker_concurrency)
    elif backend == "redis":
        auth = f":{settings.redis_password}@" if settings.redis_password else ""
        broker = RedisStreamBroker(
            f"redis://{auth}{settings.redis_host}:{settings.redis_port}",
            queue_name=settings.queue_name,
            consumer_group_name=CONSUMER_GROUP,
            consumer_name=consumer_name,
            maxlen=1_000_000,
            idle_timeout=int(settings.reclaim_idle_seconds * 1000),
            xread_count=64,
            socket_timeout=None,
        )
    else:
        nodes = settings.cluster_nodes or [(str(settings.redis_host), settings.redis_port)]
        broker = ResilientStreamClusterBroker(
            nodes,
            queue_name=settings.queue_name,
            consumer_group_name=CONSUMER_GROUP,
            consumer_name=consumer_name,
            password=settings.redis_password,
            reclaim_idle_ms=int(settings.reclaim_idle_seconds * 1000),
        )
    task = publish.register(broker)
    return broker, task


def redis_client(settings: Settings, *, timeout: float = 0.5) -> Redis | RedisCluster:
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
