"""The queue probe behind ``/queue status``: how long the Redis stream is and who reads it.

It looks through the broker's own client (``XLEN`` and ``XINFO GROUPS`` on the broker's stream and
consumer group; both read-only) and never waits longer than ``timeout``: a Redis that is down or
hanging becomes a :class:`~handlers.ports.QueueStats` with ``problem`` set, so the rest of the status
still shows.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisClusterException, RedisError, ResponseError
from taskiq_redis import RedisStreamBroker

from handlers.ports import QueueStats
from tasks.streams import ResilientStreamClusterBroker

log = structlog.get_logger(__name__)

TIMEOUT = 2.0


class StreamProbe:
    """:class:`~handlers.ports.QueueProbe` for the stream brokers: one Redis or the Redis Cluster."""

    def __init__(self, broker: RedisStreamBroker | ResilientStreamClusterBroker, *, timeout: float = TIMEOUT) -> None:
        self.broker = broker
        self.timeout = timeout
        self.backend = "Redis Cluster" if isinstance(broker, ResilientStreamClusterBroker) else "Redis"

    async def stats(self) -> QueueStats:
        stream, group = self.broker.queue_name, self.broker.consumer_group_name
        try:
            async with asyncio.timeout(self.timeout):
                if isinstance(self.broker, ResilientStreamClusterBroker):
                    return await self._read(await self.broker.client())
                async with Redis(connection_pool=self.broker.connection_pool) as client:
                    return await self._read(client)
        except TimeoutError:
            problem = f"no answer within {self.timeout:g} s"
        except ResponseError as exc:  # it answered, with an error (auth, wrong type …)
            problem = f"it answered with an error: {str(exc).splitlines()[0][:120]}"
        except (RedisError, RedisClusterException, OSError) as exc:
            problem = f"can't connect ({type(exc).__name__})"
        log.warning("queue.probe_failed", backend=self.backend, stream=stream, problem=problem)
        return QueueStats(self.backend, stream, group, problem=problem)

    async def _read(self, client: Any) -> QueueStats:
        stream, group = self.broker.queue_name, self.broker.consumer_group_name
        length = int(await client.xlen(stream))
        try:
            groups = await client.xinfo_groups(stream)
        except ResponseError as exc:
            if "no such key" not in str(exc).lower():
                raise
            groups = []  # no stream yet: nothing was ever enqueued and no worker started
        ours = next((g for g in groups if _text(g.get("name")) == group), None)
        if ours is None:
            return QueueStats(self.backend, stream, group, length=length, group_exists=False)
        lag = ours.get("lag")
        return QueueStats(
            self.backend,
            stream,
            group,
            length=length,
            pending=int(ours.get("pending") or 0),
            consumers=int(ours.get("consumers") or 0),
            lag=None if lag is None else int(lag),
        )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
