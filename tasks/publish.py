"""Publishing one delivery: claim it, call its platform's publisher, record and report the outcome."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import structlog
from taskiq import AsyncBroker, Context, TaskiqDepends

from handlers import delivery
from tasks.publishers.base import Publication
from tasks.publishers.errors import OutcomeUnknown, Permanent, Transient
from tasks.runtime import Runtime

log = structlog.get_logger(__name__)
TASK_NAME = "herald.publish_delivery"


async def run_delivery(rt: Runtime, delivery_id: int) -> str:
    """Publish delivery ``delivery_id`` at most once; returns what happened, for the log line."""
    claimed = await delivery.claim(delivery_id, worker=rt.worker_id, now=rt.clock.now())
    if claimed is None:
        log.info("delivery.skipped", delivery_id=delivery_id, reason="not queued (done, taken or cancelled)")
        return "skipped"
    publisher = rt.publishers.for_platform(claimed.platform)
    if publisher is None:
        await delivery.failed(
            claimed, reason=f"Herald can't publish to {claimed.platform} yet.", now=rt.clock.now(), notifier=rt.notifier
        )
        return "failed"
    publication = Publication(
        post_id=claimed.post_id,
        delivery_id=claimed.delivery_id,
        handle=claimed.handle,
        text=claimed.text,
        media=claimed.media,
        credentials=json.loads(claimed.credentials or "{}"),
        idempotency_key=claimed.idempotency_key,
    )
    try:
        result = await publisher.publish(publication)
    except Transient as exc:
        return await _transient(rt, claimed, str(exc), exc.retry_after)
    except Permanent as exc:
        await delivery.failed(claimed, reason=str(exc), now=rt.clock.now(), notifier=rt.notifier)
        return "failed"
    except OutcomeUnknown as exc:
        if publisher.idempotent:
            return await _transient(rt, claimed, str(exc), None)
        await delivery.failed(claimed, reason=str(exc), now=rt.clock.now(), notifier=rt.notifier, unknown=True)
        return "unknown"
    except Exception:
        # A bug in a publisher: we can't tell whether the request went out.
        log.exception("publisher.crashed", post_id=claimed.post_id, delivery_id=delivery_id)
        reason = "Herald hit an unexpected error while publishing."
        if publisher.idempotent:
            return await _transient(rt, claimed, reason, None)
        await delivery.failed(claimed, reason=reason, now=rt.clock.now(), notifier=rt.notifier, unknown=True)
        return "unknown"
    await delivery.published(
        claimed, external_id=result.external_id, url=result.url, now=rt.clock.now(), notifier=rt.notifier
    )
    return "published"


async def _transient(rt: Runtime, claimed: delivery.Claimed, reason: str, retry_after: float | None) -> str:
    if claimed.attempt >= rt.retry.max_attempts:
        await delivery.failed(
            claimed,
            reason=f"{reason} (gave up after {claimed.attempt} attempts)",
            now=rt.clock.now(),
            notifier=rt.notifier,
        )
        return "failed"
    at = rt.clock.now() + timedelta(seconds=rt.retry.delay(claimed.attempt, retry_after))
    await delivery.retry_later(claimed, reason=reason, at=at)
    await rt.scheduler.scheduled(at)
    return "retry"


def register(broker: AsyncBroker) -> Any:
    """Register the publish task on ``broker``; the worker puts a :class:`Runtime` in ``broker.state``."""

    async def publish_delivery(delivery_id: int, context: Context = TaskiqDepends()) -> str:
        runtime: Runtime = context.state.runtime
        outcome = await run_delivery(runtime, delivery_id)
        log.info("task.done", task=TASK_NAME, delivery_id=delivery_id, outcome=outcome)
        return outcome

    return broker.register_task(publish_delivery, task_name=TASK_NAME)
