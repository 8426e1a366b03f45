"""Builds Herald from its settings: database, secrets, notifier, queue, dispatcher, worker runtime."""

from __future__ import annotations

import asyncio
import os
import secrets as pysecrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from taskiq import AsyncBroker, InMemoryBroker
from taskiq_redis import RedisStreamBroker

from bot import logs
from bot.notifiers import OutboxNotifier, RoutingNotifier
from bot.slack import notifier as slack_notifier
from handlers.app import Herald
from handlers.context import Services
from handlers.drafting import media as drafting_media
from handlers.ports import Notifier, QueueProbe, Scheduler, SystemClock
from handlers.review import timers
from handlers.settings import Settings
from handlers.text import textcount
from handlers.text.platforms import PLATFORMS
from handlers.timing import recurring
from models import crypto, db
from models.errors import ConfigError
from models.media import media_store
from models.timers import Timer
from tasks import platforms, tokens
from tasks.broker import build_broker, redis_client
from tasks.dispatcher import Dispatcher
from tasks.limits import RedisGate
from tasks.platforms import Publishers, dry_run, live
from tasks.platforms.directory import Directory
from tasks.platforms.media import Media, MediaSigner
from tasks.platforms.transport import http_client
from tasks.probe import StreamProbe
from tasks.runtime import Runtime
from tasks.streams import ResilientStreamClusterBroker
from tasks.worker import run_worker

SECRET_FILE = Path("data/secret.key")


def secret_key(settings: Settings) -> str:
    """HERALD_SECRET_KEY, or on the embedded default a key generated once into ./data/secret.key."""
    if settings.herald_secret_key:
        return settings.herald_secret_key
    if not settings.embedded:
        raise ConfigError("HERALD_SECRET_KEY: required outside the embedded default (at least 16 characters).")
    if not SECRET_FILE.exists():
        SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        SECRET_FILE.write_text(pysecrets.token_urlsafe(32))
        os.chmod(SECRET_FILE, 0o600)
    key = SECRET_FILE.read_text().strip()
    logs.hide(key)
    return key


def build_notifier(settings: Settings) -> Notifier:
    routes: dict[str, Notifier] = {"shell": OutboxNotifier()}
    if settings.slack_bot_token:
        routes["slack"] = slack_notifier.from_settings(settings)
    if settings.telegram_bot_token:
        from bot.telegram import notifier as telegram_notifier

        routes["telegram"] = telegram_notifier.from_settings(settings)
    return RoutingNotifier(routes)


def platform_timeout(settings: Settings) -> httpx.Timeout:
    """Platform calls end well inside the task timeout (the reconciler waits twice that)."""
    budget = max(1.0, min(30.0, settings.task_timeout_seconds * 0.8))
    return httpx.Timeout(connect=min(5.0, budget / 2), read=budget, write=min(10.0, budget), pool=min(5.0, budget))


def build_publishers(settings: Settings, client: httpx.AsyncClient) -> Publishers:
    return live(client, platform_timeout(settings)) if settings.publish_mode == "live" else dry_run()


def build_directory(settings: Settings, publishers: Publishers, client: httpx.AsyncClient) -> Directory:
    """The clients ``/account connect`` and the login pages use: the worker's in live mode; in the dry run the
    real ones too (an account connected while trying Herald out is the one it publishes to once live)."""
    if settings.publish_mode == "live":
        return Directory(publishers)
    return Directory(live(client, platform_timeout(settings)))


def queue_probe(broker: AsyncBroker) -> QueueProbe | None:
    """The probe /queue status reads the queue through; None for the in-process queue."""
    if isinstance(broker, RedisStreamBroker | ResilientStreamClusterBroker):
        return StreamProbe(broker)
    return None


def _idempotent(publishers: Publishers, platform: str) -> bool:
    publisher = publishers.for_platform(platform)
    return bool(publisher is not None and publisher.idempotent)


@dataclass
class Components:
    settings: Settings
    broker: AsyncBroker
    task: Any
    dispatcher: Dispatcher
    runtime: Runtime
    herald: Herald
    client: httpx.AsyncClient
    media: Media
    platforms: Directory | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def in_process_queue(self) -> bool:
        return isinstance(self.broker, InMemoryBroker)

    async def aclose(self) -> None:
        await self.client.aclose()
        await slack_notifier.close_all()
        if self.settings.telegram_bot_token:
            from bot.telegram.notifier import close_all as close_telegram

            await close_telegram()


def build_media(settings: Settings) -> Media:
    """The media store (the database with PostgreSQL, else ``data/media``) and links signed with a key derived
    from HERALD_SECRET_KEY (derived when first needed: the key is configured when the database connects)."""
    return Media(media_store(settings.database_url), MediaSigner(settings.public_url))


def build(settings: Settings, *, consumer_name: str | None = None) -> Components:
    recurring.install()  # every process role records post states or fires timers: series follow both
    platforms.install()  # every platform's rules, for drafting and approval
    logs.hide(*platforms.secret_values())  # app secrets never reach a log line
    broker, task = build_broker(settings, consumer_name=consumer_name)

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        await task.kiq([(delivery_id, due_at.isoformat()) for delivery_id, due_at in chunk])

    clock = SystemClock()
    client = http_client()
    notifier = build_notifier(settings)
    publishers = build_publishers(settings, client)
    directory = build_directory(settings, publishers, client)
    media = build_media(settings)

    async def on_timer(timer: Timer) -> None:
        await timers.fire(timer, services)  # bound below: the services need the dispatcher as scheduler

    dispatcher = Dispatcher(
        enqueue,
        clock=clock,
        max_sleep=settings.dispatch_interval,
        requeue_after=settings.requeue_after_seconds,
        lead=settings.dispatch_lead_seconds,
        grace=settings.missed_grace_seconds,
        stuck_after=settings.stuck_after_seconds,
        on_timer=on_timer,
        notifier=notifier,
        idempotent=lambda platform: _idempotent(publishers, platform),
    )
    scheduler: Scheduler = dispatcher
    gate = None if settings.queue_backend == "memory" else RedisGate(redis_client(settings))
    runtime = Runtime(
        publishers=publishers, notifier=notifier, clock=clock, scheduler=scheduler, gate=gate, media=media
    )
    services = Services(
        notifier=notifier,
        scheduler=scheduler,
        clock=clock,
        default_timezone=settings.tz,
        queue_probe=queue_probe(broker),
        stuck_after=timedelta(seconds=settings.stuck_after_seconds),
        media=media.store,
        platforms=directory,
        public_url=settings.public_url,
    )
    return Components(settings, broker, task, dispatcher, runtime, Herald(services), client, media, directory)


@asynccontextmanager
async def database(
    settings: Settings, *, application_name: str, upgrade: bool = False, every_task: bool = False
) -> AsyncIterator[None]:
    """Configure secrets, apply migrations if asked (always on the embedded default), connect.

    ``every_task``: the connection is also seen by tasks that don't descend from this one (connecting in an
    ASGI lifespan, which runs in a task of its own)."""
    crypto.configure(secret_key(settings), *(k for k in [settings.herald_secret_key_old] if k))
    if upgrade or settings.embedded:
        await db.upgrade(settings.database_url)
    await db.connect(settings.database_url, application_name=application_name, every_task=every_task)
    try:
        yield
    finally:
        await db.disconnect()


@asynccontextmanager
async def assembled(
    settings: Settings, *, application_name: str, consumer_name: str | None = None, every_task: bool = False
) -> AsyncIterator[Components]:
    """Everything built and the database connected, for the life of one process (``every_task``: see
    :func:`database`)."""
    comps = build(settings, consumer_name=consumer_name)
    drafting_media.install(comps.media.store)  # approval cards check posts' media against each platform
    drafts = application_name not in ("herald-worker", "herald-dispatcher")  # workers and dispatchers count nothing
    if drafts and any(p.measure is textcount.x_length for p in PLATFORMS.values()):
        # X's counting rules take about a second to load: in a thread now, not in the first draft for X
        asyncio.get_running_loop().run_in_executor(None, textcount.warm)
    try:
        async with database(settings, application_name=application_name, every_task=every_task):
            yield comps
    finally:
        drafting_media.install(None)
        await comps.aclose()


@asynccontextmanager
async def publishing(comps: Components, *, worker: bool) -> AsyncIterator[None]:
    """The dispatcher running in this process for the block's duration, and with ``worker`` a worker too
    (on the in-process queue the publish tasks run here anyway); both stopped on the way out."""
    stop = asyncio.Event()
    background: list[asyncio.Task[None]] = [
        asyncio.create_task(comps.dispatcher.run(stop)),
        # tokens renewed ahead of expiry, owners warned of those that can't be: wherever the dispatcher runs
        asyncio.create_task(tokens.keep_fresh(comps.runtime.publishers, comps.runtime.notifier, SystemClock(), stop)),
    ]
    if comps.in_process_queue:
        comps.broker.state.runtime = comps.runtime
        await comps.broker.startup()
    elif worker:
        settings = comps.settings
        background.append(
            asyncio.create_task(
                run_worker(
                    comps.broker,
                    comps.runtime,
                    concurrency=settings.worker_concurrency,
                    stop=stop,
                    report_heartbeat=settings.report_heartbeat_seconds,
                )
            )
        )
    else:
        await comps.broker.startup()
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*background, return_exceptions=True)
        if comps.in_process_queue or not worker:
            await comps.broker.shutdown()
