"""Rolling upgrade: a message queued by a dispatcher from before messages carried several deliveries
(``herald.publish_delivery``: one delivery id and its due time) is still run by today's ``herald worker``.

One post on a real stack (PostgreSQL, the session's Redis Cluster, a fake platform, one worker, no dispatcher):
its delivery is set ``queued`` as the old dispatcher did, then the test sends the legacy message for it twice.
The platform must get the post once, the delivery end ``published`` and reported, and the worker log show one
legacy task that published and one that did nothing (the claim in PostgreSQL).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from tasks import publish
from tasks.broker import CONSUMER_GROUP
from tasks.streams import ResilientStreamClusterBroker
from tests.auxil.stack import CHAOS, Stack, due_in
from tests.infra.redis_cluster import HOST, RedisClusterProcess

pytestmark = [pytest.mark.cluster, pytest.mark.postgres, pytest.mark.timeout(120)]

LEGACY_DONE = re.compile(
    rf"task\.done\b(?=.*\btask={re.escape(publish.SINGLE_TASK_NAME)}(?:\s|$))(?=.*\bdelivery_id=(\d+)\b).*\boutcome=(\w+)"
)


async def send_legacy(stack: Stack, delivery_id: int, due_iso: str, *, copies: int) -> None:
    """Queue ``copies`` legacy messages for one delivery on the stack's queue, as the old dispatcher sent them."""
    broker = ResilientStreamClusterBroker(
        [(HOST, port) for port in stack.cluster.ports], queue_name=stack.queue, consumer_group_name=CONSUMER_GROUP
    )
    publish.register(broker)
    task = broker.find_task(publish.SINGLE_TASK_NAME)
    assert task is not None, f"{publish.SINGLE_TASK_NAME} is not registered"
    await broker.startup()
    try:
        for _ in range(copies):
            await task.kiq(delivery_id, due_iso)
    finally:
        await broker.shutdown()


def legacy_outcomes(stack: Stack, delivery_id: int) -> Counter[str]:
    """``outcome=`` of every legacy ``task.done`` line for ``delivery_id`` in the worker logs."""
    found = (LEGACY_DONE.search(line) for p in stack.workers for line in p.log().splitlines())
    return Counter(m[2] for m in found if m and int(m[1]) == delivery_id)


def test_legacy_single_delivery_message_publishes_once(tmp_path: Path, cluster: RedisClusterProcess) -> None:
    with Stack(tmp_path, cluster=cluster, name="rolling-upgrade", workers=1, dispatchers=0, tuning=CHAOS) as stack:
        posts = stack.create_posts(due_in(1.0, count=1))
        queued = stack.fetch(
            "UPDATE deliveries SET state = 'queued', queued_at = now(), updated_at = now()"
            " WHERE post_id = $1 AND state = 'scheduled' RETURNING id",
            posts[0].post_id,
        )
        assert len(queued) == 1, queued
        delivery_id = int(queued[0]["id"])

        asyncio.run(send_legacy(stack, delivery_id, posts[0].due_at.isoformat(), copies=2))

        stack.wait_drained(posts, timeout=30)
        deadline = time.monotonic() + 10
        while sum(legacy_outcomes(stack, delivery_id).values()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)

        outcome = stack.outcome(posts)
        assert outcome.ok, f"{outcome.summary()}\n{stack.logs()}"
        assert [len(r) for r in stack.records_by_post(posts).values()] == [1]
        [row] = stack.deliveries(posts)
        assert (row.state, row.attempts, row.claimed_by) == ("published", 1, stack.worker_id(stack.workers[0]))
        assert legacy_outcomes(stack, delivery_id) == Counter({"published": 1, "skipped": 1}), stack.logs()
        assert not stack.dead(), stack.logs()
