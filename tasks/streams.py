"""A Redis Cluster stream broker that keeps its promises through crashes and failovers.

taskiq-redis's ``RedisStreamClusterBroker`` (taskiq-redis 1.2) never reclaims
a dead consumer's pending messages, reads without COUNT, dies when a master fails over, never trims
and races a not-yet-initialised cluster client. This subclass keeps its wire format and fixes those:

* the cluster client is initialised once before use and never closed behind the broker's back;
* reads are bounded (``XREADGROUP COUNT``);
* every ``reclaim_interval`` it ``XAUTOCLAIM``s messages idle longer than ``reclaim_idle_ms`` (set it
  above the task timeout) from consumers that died, and redoes them;
* connection, timeout and cluster-topology errors are logged and retried with backoff instead of
  ending ``listen()``: redis-py refreshes the slot map and finds the promoted replica;
* acknowledging also deletes the entry (``XACK`` + ``XDEL``), so the stream holds only unfinished work;
  ``MAXLEN ~`` stays as a safety cap;
* acks and adds that happen together go as one command (acks) or one script (adds, :data:`ADD_MANY`).

Exactly-once publishing does not rest on this: a delivery is claimed in PostgreSQL before any
platform call, so a message redone here after a slow (not dead) consumer finished does nothing.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import structlog
from redis.asyncio import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage
from taskiq.abc.broker import AsyncBroker
from taskiq.message import BrokerMessage
from taskiq_redis import RedisStreamClusterBroker

from handlers.settings import DEFAULTS
from tasks.batching import Coalescer

log = structlog.get_logger(__name__)

RETRYABLE = (RedisConnectionError, RedisTimeoutError, RedisClusterException, OSError)
MAX_BACKOFF = 2.0
_REDIS_CONNECTION = os.path.join("redis", "asyncio", "connection.py")
#: XADD every message of a batch to one stream (KEYS[1]), capped at about ARGV[1] entries; ARGV[2…] are the
#: messages' data. One EVAL per stream and batch, instead of redis-py's cluster pipeline: that costs ~45 µs of
#: client CPU per command where this costs ~3, and each pipeline is a reference cycle (pipeline ↔ its execution
#: strategy) that only the cyclic collector frees: a dispatcher at a steady 40 posts/s grew by 4–6 MB per 10
#: minutes between the collector's passes. EVAL rather than EVALSHA: no NOSCRIPT to handle on a node that has
#: just been promoted.
ADD_MANY = """
for i = 2, #ARGV do
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'data', ARGV[i])
end
return #ARGV - 1
"""


def retryable(exc: BaseException) -> bool:
    """Whether a failed Redis call is worth another try: a lost connection, a timeout, a cluster in flux.

    redis-py (8.1) lets a write that races with its connection closing, as when a master dies mid-burst,
    escape as ``AttributeError: 'NoneType' object has no attribute 'writelines'`` or a ``TypeError`` from
    asyncio's transport instead of its ``ConnectionError`` (redis/redis-py#4287, #3546): such an error raised
    inside redis-py's connection code is a lost connection too, not a bug to die of.
    """
    if isinstance(exc, RETRYABLE):
        return True
    if not isinstance(exc, AttributeError | TypeError):
        return False
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(_REDIS_CONNECTION):
            return True
        tb = tb.tb_next
    return False


class ResilientStreamClusterBroker(RedisStreamClusterBroker):
    def __init__(
        self,
        startup_nodes: list[tuple[str, int]],
        *,
        queue_name: str,
        consumer_group_name: str = "herald",
        consumer_name: str | None = None,
        password: str | None = None,
        count: int = 64,
        xread_block_ms: int = 1000,
        reclaim_idle_ms: int = int(DEFAULTS.reclaim_idle_seconds * 1000),
        reclaim_interval: float = 5.0,
        maxlen: int = 1_000_000,
        kick_attempts: int = 20,
    ) -> None:
        host, port = startup_nodes[0]
        super().__init__(
            f"redis://{host}:{port}",
            queue_name=queue_name,
            consumer_group_name=consumer_group_name,
            consumer_name=consumer_name,
            consumer_id="0",
            xread_block=xread_block_ms,
            maxlen=maxlen,
            approximate=True,
        )
        # Replace the client built from one URL with one that knows every node, so start-up works
        # even when the first node is the one that is down.
        from redis.asyncio.cluster import ClusterNode

        self.redis = RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in startup_nodes],
            password=password,
            socket_timeout=max(5.0, xread_block_ms / 1000 + 3),
            socket_connect_timeout=2.0,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
            require_full_coverage=False,
        )
        self.count = count
        self.stream_maxlen = maxlen  # the parent's ``maxlen`` may be None; ours never is
        self.reclaim_idle_ms = reclaim_idle_ms
        self.reclaim_interval = reclaim_interval
        self.kick_attempts = kick_attempts
        self._ready = asyncio.Lock()
        self._initialised = False
        # many tasks finish (and the dispatcher enqueues many) at once: one round trip per batch
        self._acks: Coalescer[tuple[str, str], None] = Coalescer(self._ack_many, max_batch=500, max_inflight=1)
        self._adds: Coalescer[tuple[str, bytes], None] = Coalescer(self._add_many, max_batch=200, max_inflight=4)

    async def _ensure_client(self) -> None:
        if self._initialised:
            return
        async with self._ready:
            if not self._initialised:
                await self.redis.initialize()
                self._initialised = True

    async def client(self) -> RedisCluster:
        """The broker's cluster client, initialised (for read-only looks such as the queue probe)."""
        await self._ensure_client()
        return self.redis

    async def _declare_consumer_group(self) -> None:
        await self._ensure_client()
        try:
            await self.redis.xgroup_create(self.queue_name, self.consumer_group_name, id="0", mkstream=True)
        except ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise

    async def startup(self) -> None:
        await AsyncBroker.startup(self)
        await self._retrying("startup", self._declare_consumer_group)

    async def kick(self, message: BrokerMessage) -> None:
        await self._ensure_client()
        await self._adds((message.labels.get("queue_name") or self.queue_name, message.message))

    async def _add_many(self, messages: list[tuple[str, bytes]]) -> list[None]:
        """XADD each message, with one script per stream (a failed script is sent again whole: a message added
        twice is harmless, its delivery is claimed in PostgreSQL once)."""
        by_queue: dict[str, list[bytes]] = {}
        for queue_name, data in messages:
            by_queue.setdefault(queue_name, []).append(data)
        for queue_name, batch in by_queue.items():

            async def add(queue_name: str = queue_name, batch: list[bytes] = batch) -> None:
                await self.redis.eval(ADD_MANY, 1, queue_name, self.stream_maxlen, *batch)

            await self._retrying("kick", add, attempts=self.kick_attempts)
        return [None] * len(messages)

    def _ack_generator(self, id: str, queue_name: str) -> Callable[[], Awaitable[None]]:
        async def _ack() -> None:
            await self._acks((queue_name, id))

        return _ack

    async def _ack_many(self, entries: list[tuple[str, str]]) -> list[None]:
        by_queue: dict[str, list[str]] = {}
        for queue_name, ident in entries:
            by_queue.setdefault(queue_name, []).append(ident)
        for queue_name, ids in by_queue.items():

            async def ack_and_delete(queue_name: str = queue_name, ids: list[str] = ids) -> None:
                await self.redis.xack(queue_name, self.consumer_group_name, *ids)
                await self.redis.xdel(queue_name, *ids)

            await self._retrying("ack", ack_and_delete)
        return [None] * len(entries)

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        await self._ensure_client()
        next_reclaim = 0.0
        failures = 0
        while True:
            try:
                if time.monotonic() >= next_reclaim:
                    next_reclaim = time.monotonic() + self.reclaim_interval
                    for message in await self._reclaim():
                        yield message
                fetched = await self.redis.xreadgroup(
                    self.consumer_group_name,
                    self.consumer_name,
                    {self.queue_name: ">"},
                    count=self.count,
                    block=self.block,
                )
                failures = 0
            except ResponseError as exc:
                if "NOGROUP" in str(exc):  # the stream was lost with a master that had no replica
                    await self._retrying("recreate group", self._declare_consumer_group)
                    continue
                raise
            except Exception as exc:
                if not retryable(exc):
                    raise
                failures += 1
                await self._backoff("listen", exc, failures)
                continue
            for _stream, entries in fetched or []:  # type: ignore[str-unpack]
                for msg_id, fields in entries:  # type: ignore[str-unpack,union-attr]
                    yield self._message(msg_id, fields)  # type: ignore[arg-type]

    async def _reclaim(self) -> list[AckableMessage]:
        """Take over messages whose consumer has been silent longer than ``reclaim_idle_ms``."""
        messages: list[AckableMessage] = []
        start = "0-0"
        while True:
            result = await self.redis.xautoclaim(
                self.queue_name,
                self.consumer_group_name,
                self.consumer_name,
                min_idle_time=self.reclaim_idle_ms,
                start_id=start,
                count=self.count,
            )
            start, claimed = result[0], result[1]
            for msg_id, fields in claimed:
                if fields:  # None for entries deleted meanwhile
                    messages.append(self._message(msg_id, fields))
            if claimed:
                log.warning("stream.reclaimed", count=len(claimed), consumer=self.consumer_name)
            if start in (b"0-0", "0-0") or len(messages) >= self.count:
                return messages

    def _message(self, msg_id: Any, fields: dict[Any, Any]) -> AckableMessage:
        ident = msg_id.decode() if isinstance(msg_id, bytes) else str(msg_id)
        return AckableMessage(data=fields[b"data"], ack=self._ack_generator(id=ident, queue_name=self.queue_name))

    async def _retrying(self, what: str, op: Callable[[], Awaitable[None]], attempts: int = 1_000_000) -> None:
        for attempt in range(1, attempts + 1):
            try:
                await op()
                return
            except Exception as exc:
                if attempt == attempts or not retryable(exc):
                    raise
                await self._backoff(what, exc, attempt)

    async def _backoff(self, what: str, exc: BaseException, attempt: int) -> None:
        delay = min(MAX_BACKOFF, 0.05 * 2 ** min(attempt, 8))
        log.warning("stream.retry", op=what, attempt=attempt, error=type(exc).__name__, delay=delay)
        await asyncio.sleep(delay)
