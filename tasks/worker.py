"""Running a worker: listen to the broker and publish deliveries until told to stop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import structlog
from taskiq import AsyncBroker
from taskiq.receiver import Receiver

from handlers.settings import DEFAULTS
from tasks.reports import ReportRelay
from tasks.runtime import Runtime

REPORT_DRAIN_S = 10.0

log = structlog.get_logger(__name__)


async def run_worker(
    broker: AsyncBroker,
    runtime: Runtime,
    *,
    concurrency: int,
    stop: asyncio.Event,
    report_heartbeat: float = DEFAULTS.report_heartbeat_seconds,
) -> None:
    """Consume the broker's queue with up to ``concurrency`` publishes at a time, until ``stop`` is set."""
    broker.is_worker_process = True
    # reports don't hold up publishing; the heartbeat must beat well within HERALD_REQUEUE_AFTER
    runtime.reports = ReportRelay(runtime.notifier, runtime.clock, heartbeat=report_heartbeat)
    runtime.limit(concurrency)
    broker.state.runtime = runtime
    await broker.startup()
    log.info("worker.started", worker=runtime.worker_id, concurrency=concurrency)
    try:
        with ThreadPoolExecutor(max_workers=1) as executor:
            receiver = Receiver(
                broker, executor=executor, max_async_tasks=concurrency, run_startup=False, wait_tasks_timeout=30
            )
            await receiver.listen(stop)
    finally:
        await runtime.reports.drain(within=REPORT_DRAIN_S)  # what isn't told now, the straggler pass tells
        await broker.shutdown()
        log.info("worker.stopped", worker=runtime.worker_id)
