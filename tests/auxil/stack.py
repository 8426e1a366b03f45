"""A whole Herald deployment on this machine, for chaos tests and benchmarks.

A :class:`Stack` owns, for its lifetime:

* a fresh PostgreSQL database (``python -m bot.cli db upgrade`` applied), dropped at the end;
* a Redis Cluster: the one passed in, or its own 6-node :class:`RedisClusterProcess`;
* fake social platforms (:class:`~tests.auxil.fake_servers.PlatformProcess`, in their own processes so their
  receive timestamps don't wait for this one, or in-process threads), and optionally a fake Slack
  (:class:`~tests.auxil.fake_servers.ChatProcess`) the workers report into over HTTP;
* ``herald worker`` and ``herald dispatcher`` subprocesses with live publishing, a queue of their own
  (``HERALD_QUEUE={herald-<name>}:<hex>``) and the given tuning; killed only by their own PIDs.

Data goes straight into the database with asyncpg (no tortoise in this process, so a test session's own
tortoise connection is left alone): a member, ``fake`` accounts whose credentials are encrypted with the
stack's ``HERALD_SECRET_KEY`` exactly as :mod:`models.crypto` does, and approved posts (post ``scheduled``,
one ``scheduled`` delivery per account with its ``due_at`` and a unique idempotency key) whose origin is the
``shell`` conversation ``chaos``, so every report lands in the ``outbox`` table where it can be counted.

Everything is blocking: the database side runs on a private event loop in a helper thread, so the same
calls work from plain tests, async tests and benchmark scripts.

    with Stack(tmp_path, workers=3) as stack:
        posts = stack.create_posts(due_in(3.0, count=500, spread=3.0))
        stack.wait_drained(posts, timeout=60)
        outcome = stack.outcome(posts)
        assert outcome.ok, outcome.summary()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import asyncpg
from cryptography.fernet import Fernet

from handlers.settings import DEFAULTS as SETTINGS
from models.crypto import derive_fernet_key
from tasks.platforms.base import Credentials
from tests.auxil.fake_servers import ChatProcess, Platform, PlatformProcess, PlatformThread, Record
from tests.auxil.processes import HeraldProcess, base_env, herald_command
from tests.fakes.platform import DEFAULT_TOKEN
from tests.infra.postgres import DEFAULT_DSN_BASE, create_database, drop_database, terminate_backends
from tests.infra.redis_cluster import RedisClusterProcess

_T = TypeVar("_T")

SECRET = "stack-secret-key-0123456789abcdef"
ORIGIN = {"adapter": "shell", "channel": "chaos", "thread": None}
AUTHOR = "chaos"
#: Delivery states after which nothing more happens without a human.
FINAL_STATES = frozenset({"published", "failed", "unknown", "cancelled", "missed"})
WORKER_APP = "herald-worker"
_REPORT = re.compile(r"^Post (\d+) ")


def due_in(first: float, *, count: int, spread: float = 0.0, now: float | None = None) -> list[datetime]:
    """``count`` due times, the first ``first`` seconds from now, evenly spaced over ``spread`` seconds."""
    start = (time.time() if now is None else now) + first
    step = spread / (count - 1) if count > 1 else 0.0
    return [datetime.fromtimestamp(start + i * step, UTC) for i in range(count)]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PostRef:
    """A post the stack created: its id, its (unique) text and when it is due."""

    post_id: int
    text: str
    due_at: datetime


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    post_id: int
    account_id: int
    state: str
    attempts: int
    due_at: datetime | None
    last_error: str | None
    claimed_by: str | None
    idempotency_key: str
    published_at: datetime | None
    queued_at: datetime | None = None
    claimed_at: datetime | None = None
    reported_at: datetime | None = None


@dataclass
class Outcome:
    """Exactly-once bookkeeping for a set of posts, one delivery each (see :meth:`Stack.outcome`)."""

    posts: list[PostRef]
    at_platform: dict[int, int]  # post id → accepted publishes at the fake platforms
    delivery_states: dict[int, list[str]]  # post id → its deliveries' states
    reports: dict[int, int]  # post id → report messages in the outbox
    post_states: Counter[str] = field(default_factory=Counter)

    @property
    def lost(self) -> list[int]:
        """Posts the platform never received."""
        return sorted(p.post_id for p in self.posts if self.at_platform.get(p.post_id, 0) == 0)

    @property
    def duplicates(self) -> list[int]:
        """Posts the platform received more than once per delivery."""
        return sorted(
            p.post_id
            for p in self.posts
            if self.at_platform.get(p.post_id, 0) > max(1, len(self.delivery_states.get(p.post_id, [])))
        )

    @property
    def unpublished(self) -> list[int]:
        """Posts with a delivery not in state ``published``."""
        return sorted(
            p.post_id for p in self.posts if any(s != "published" for s in self.delivery_states.get(p.post_id, ["?"]))
        )

    @property
    def unreported(self) -> list[int]:
        return sorted(p.post_id for p in self.posts if self.reports.get(p.post_id, 0) == 0)

    @property
    def over_reported(self) -> list[int]:
        return sorted(
            p.post_id
            for p in self.posts
            if self.reports.get(p.post_id, 0) > max(1, len(self.delivery_states.get(p.post_id, [])))
        )

    @property
    def states(self) -> Counter[str]:
        return Counter(s for states in self.delivery_states.values() for s in states)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicates or self.unpublished or self.unreported or self.over_reported)

    def summary(self) -> str:
        def ids(values: list[int]) -> str:
            return f"{len(values)}" + (f" {values[:10]}{'…' if len(values) > 10 else ''}" if values else "")

        return (
            f"{len(self.posts)} posts: lost {ids(self.lost)}, duplicated {ids(self.duplicates)}, "
            f"not published in the database {ids(self.unpublished)}, unreported {ids(self.unreported)}, "
            f"reported twice {ids(self.over_reported)}; delivery states {dict(self.states)}, "
            f"post states {dict(self.post_states)}"
        )


# --------------------------------------------------------------------------------------------- the stack


@dataclass(frozen=True)
class Tuning:
    """Worker and dispatcher settings passed as HERALD_* variables."""

    requeue_after: float = SETTINGS.requeue_after_seconds
    reclaim_idle: float = SETTINGS.reclaim_idle_seconds
    task_timeout: float = SETTINGS.task_timeout_seconds
    dispatch_interval: float = SETTINGS.dispatch_interval
    concurrency: int = SETTINGS.worker_concurrency
    log_level: str = SETTINGS.log_level
    log_format: str = SETTINGS.log_format

    def env(self) -> dict[str, str]:
        return {
            "HERALD_REQUEUE_AFTER": str(self.requeue_after),
            "HERALD_RECLAIM_IDLE": str(self.reclaim_idle),
            "HERALD_TASK_TIMEOUT": str(self.task_timeout),
            "HERALD_DISPATCH_INTERVAL": str(self.dispatch_interval),
            "HERALD_WORKER_CONCURRENCY": str(self.concurrency),
            "HERALD_LOG_LEVEL": self.log_level,
            "HERALD_LOG_FORMAT": self.log_format,
        }


#: Production defaults (Settings') — for benchmarks.
DEFAULTS = Tuning()
#: Short recovery windows so a chaos test sees recovery within seconds.
CHAOS = Tuning(requeue_after=3.0, reclaim_idle=4.0, task_timeout=3.0)


class _Portal:
    """A private event loop in a daemon thread: run coroutines on it from any thread, blocking."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="stack-db", daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


class Stack:
    """PostgreSQL database + Redis Cluster + fake platform(s) + Herald worker and dispatcher processes.

    ``workdir`` gets the process logs (``worker-1.log`` …) and is the processes' working directory.
    ``cluster``: use this (running) cluster; None starts one owned (and stopped) by the stack.
    ``platform``: ``"process"`` (default) or ``"thread"`` for the default fake platform.
    ``account_platform``: the default account's platform (:meth:`add_account`): ``"mastodon"`` publishes to the
    fake with Herald's real Mastodon client.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        cluster: RedisClusterProcess | None = None,
        name: str = "chaos",
        workers: int = 2,
        dispatchers: int = 1,
        tuning: Tuning = CHAOS,
        platform: str = "process",
        idempotent: bool = True,
        secret: str = SECRET,
        dsn_base: str = DEFAULT_DSN_BASE,
        extra_env: dict[str, str] | None = None,
        chat: bool = False,
        account_platform: str = "fake",
    ) -> None:
        self.workdir = Path(workdir)
        self.name = name
        self.tuning = tuning
        self.secret = secret
        self.queue = f"{{herald-{name}}}:{uuid.uuid4().hex[:8]}"
        self._cluster = cluster
        self._own_cluster = cluster is None
        self._want = (workers, dispatchers)
        self._platform_kind = platform
        self._idempotent = idempotent
        self._account_platform = account_platform
        self._dsn_base = dsn_base
        self._extra_env = dict(extra_env or {})
        self._fernet = Fernet(derive_fernet_key(secret))
        self._portal: _Portal | None = None
        self._pool: asyncpg.Pool | None = None
        self._counter: Counter[str] = Counter()
        self.db_url = ""
        self.env: dict[str, str] = {}
        self.workers: list[HeraldProcess] = []
        self.dispatchers: list[HeraldProcess] = []
        self.platforms: list[Platform] = []
        self.chat: ChatProcess | None = ChatProcess(self.workdir) if chat else None
        self.author_id = 0
        self.account_id = 0
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ lifecycle

    @property
    def cluster(self) -> RedisClusterProcess:
        assert self._cluster is not None, "stack not started"
        return self._cluster

    @property
    def platform(self) -> Platform:
        """The default fake platform (the one the default account publishes to)."""
        return self.platforms[0]

    def start(self) -> Self:
        """Start everything and wait until the processes are ready; on failure, stop what was started."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            started = time.monotonic()
            if self._cluster is None:
                self._cluster = RedisClusterProcess()
                self._cluster.start()
            self.timings["cluster_s"] = time.monotonic() - started
            self.db_url = create_database(f"herald_{self.name.replace('-', '_')}", self._dsn_base)
            if self.chat is not None:
                self._extra_env.update(self.chat.start().env())
            self.env = base_env(
                DATABASE_URL=self.db_url,
                HERALD_SECRET_KEY=self.secret,
                HERALD_QUEUE=self.queue,
                HERALD_PUBLISH_MODE="live",
                **self.cluster.env(),
                **self.tuning.env(),
                **self._extra_env,
            )
            self._migrate()
            self._portal = _Portal()
            self._pool = self._call(self._create_pool())
            default = self.add_platform(kind=self._platform_kind, idempotent=self._idempotent)
            self.author_id = self.add_member(AUTHOR)
            self.account_id = self.add_account("acme", base_url=default.url, platform=self._account_platform)
            workers, dispatchers = self._want
            self.start_processes(workers=workers, dispatchers=dispatchers)
            self.timings["start_s"] = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        return self

    async def _create_pool(self) -> asyncpg.Pool:
        return await asyncpg.create_pool(
            self.db_url.replace("postgres://", "postgresql://", 1),
            min_size=1,
            max_size=4,
            server_settings={"application_name": "herald-stack"},
        )

    def _migrate(self) -> None:
        result = subprocess.run(
            herald_command("db", "upgrade"),
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"herald db upgrade failed ({result.returncode}): {result.stderr[-2000:]}")

    def stop(self) -> None:
        """Stop the processes (SIGTERM, then SIGKILL by PID), the platforms, drop the database, stop our cluster.

        Safe to call twice and after a failed start."""
        procs = [p for p in self.workers + self.dispatchers]
        for proc in procs:
            if proc.proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.stop(timeout=15)
        for platform in self.platforms:
            with contextlib.suppress(Exception):
                platform.stop()
        self.platforms = []
        if self.chat is not None:
            self.chat.stop()
        if self._pool is not None:
            with contextlib.suppress(Exception):
                self._call(self._pool.close(), timeout=10)
            self._pool = None
        if self._portal is not None:
            self._portal.close()
            self._portal = None
        if self.db_url:
            with contextlib.suppress(Exception):
                drop_database(self.db_url)
            self.db_url = ""
        if self._own_cluster and self._cluster is not None:
            self._cluster.stop()
            self._cluster = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ processes

    def _spawn(self, role: str) -> HeraldProcess:
        self._counter[role] += 1
        return HeraldProcess(f"{role}-{self._counter[role]}", [role], self.env, self.workdir, self.workdir)

    def start_processes(self, *, workers: int = 0, dispatchers: int = 0, timeout: float = 60.0) -> list[HeraldProcess]:
        """Start more workers and dispatchers; returns once each is ready (see :meth:`_ready`)."""
        new = [self._spawn("worker") for _ in range(workers)] + [self._spawn("dispatcher") for _ in range(dispatchers)]
        self.workers += [p for p in new if p.name.startswith("worker")]
        self.dispatchers += [p for p in new if p.name.startswith("dispatcher")]
        deadline = time.monotonic() + timeout
        for proc in new:
            while not self._ready(proc):
                if proc.proc.poll() is not None:
                    raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode}:\n{proc.log()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{proc.name} did not start within {timeout} s:\n{proc.log()[-3000:]}")
                time.sleep(0.05)
        return new

    def _ready(self, proc: HeraldProcess) -> bool:
        """Logged that it started (log level info or debug); at quieter levels, holds a connection to the master
        serving the queue's stream (both roles connect there only in their broker's start-up, right before
        they log that they started)."""
        if self.tuning.log_level in ("debug", "info"):
            return ("worker.started" if proc.name.startswith("worker") else "dispatcher.started") in proc.log()
        return self.cluster.master_port_for_key(self.queue) in _connected_ports(proc.pid)

    @property
    def processes(self) -> list[HeraldProcess]:
        return self.workers + self.dispatchers

    def alive(self) -> list[HeraldProcess]:
        return [p for p in self.processes if p.proc.poll() is None]

    def dead(self) -> list[HeraldProcess]:
        return [p for p in self.processes if p.proc.poll() is not None]

    @staticmethod
    def worker_id(proc: HeraldProcess) -> str:
        """What the worker writes into ``deliveries.claimed_by`` (``tasks.runtime.worker_name``)."""
        return f"{socket.gethostname()}-{proc.pid}"

    def logs(self, tail: int = 4000) -> str:
        """The end of every process log, for assertion messages."""
        return "\n".join(f"--- {p.name} (pid {p.pid}, rc {p.proc.poll()})\n{p.log()[-tail:]}" for p in self.processes)

    def grep_logs(self, needle: str) -> dict[str, int]:
        """How many lines of each process log contain ``needle`` (only processes with any)."""
        counts = {p.name: sum(needle in line for line in p.log().splitlines()) for p in self.processes}
        return {name: n for name, n in counts.items() if n}

    def component_pids(self) -> dict[str, list[int]]:
        """PIDs of everything serving this stack, by component: Herald's processes, the fakes, the cluster's
        nodes and the PostgreSQL backends connected to the stack's database (for CPU accounting)."""
        backends = self.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids: dict[str, list[int]] = {
            "workers": [p.pid for p in self.workers if p.proc.poll() is None],
            "dispatchers": [p.pid for p in self.dispatchers if p.proc.poll() is None],
            "platform": [p.pid for p in self.platforms if isinstance(p, PlatformProcess)],
            "postgres": [int(r["pid"]) for r in backends],
            "redis": [self.cluster.pid_of(port) for port in self.cluster.ports],
        }
        if self.chat is not None:
            pids["chat"] = [self.chat.pid]
        return pids

    def terminate_worker_connections(self) -> int:
        """``pg_terminate_backend`` every PostgreSQL session of the workers; returns how many."""
        return terminate_backends(self.db_url, application_name=WORKER_APP)

    # ------------------------------------------------------------------ platforms and accounts

    def add_platform(self, *, kind: str = "process", name: str | None = None, **settings: Any) -> Platform:
        """Start another fake platform (``kind`` ``process`` or ``thread``); ``settings`` as FakePlatform's."""
        self._counter["platform"] += 1
        label = name or f"platform-{self._counter['platform']}"
        platform: Platform
        if kind == "process":
            platform = PlatformProcess(self.workdir, name=label, **settings).start()
        elif kind == "thread":
            platform = PlatformThread(name=label, **settings).start()
        else:
            raise ValueError(f"platform kind {kind!r}: 'process' or 'thread'")
        self.platforms.append(platform)
        return platform

    def add_member(self, name: str) -> int:
        async def insert(conn: asyncpg.Connection) -> int:
            return int(
                await conn.fetchval(
                    "INSERT INTO members (name, display_name, timezone, created_at)"
                    " VALUES ($1, $1, 'UTC', now()) RETURNING id",
                    name,
                )
            )

        return self._with_conn(insert)

    def add_account(self, handle: str, *, base_url: str, platform: str = "fake", token: str = DEFAULT_TOKEN) -> int:
        """A social account publishing to ``base_url``; credentials encrypted as ``models.crypto`` does.

        ``platform`` ``"mastodon"``: credentials as Herald's Mastodon client keeps them (the fake speaks Mastodon's
        ``POST /api/v1/statuses`` with ``Idempotency-Key``), so the real client publishes; ``"fake"`` and
        ``"fake-nokey"``: the test platforms' clients (``tasks/platforms/fake.py``)."""
        if platform == "mastodon":
            extra = {"instance": base_url, "account_id": "1", "acct": "herald", "username": "herald"}
            document = Credentials(access_token=token, extra=extra).to_json()
        else:
            document = json.dumps({"token": token, "base_url": base_url})
        credentials = self._fernet.encrypt(document.encode()).decode()

        async def insert(conn: asyncpg.Connection) -> int:
            return int(
                await conn.fetchval(
                    "INSERT INTO social_accounts (platform, handle, credentials, enabled, created_at)"
                    " VALUES ($1, $2, $3, true, now()) RETURNING id",
                    platform,
                    handle,
                    credentials,
                )
            )

        return self._with_conn(insert)

    # ------------------------------------------------------------------ posts

    def create_posts(
        self,
        due: Sequence[datetime],
        *,
        accounts: Sequence[int] | None = None,
        origin: dict[str, Any] | Callable[[int], dict[str, Any]] | None = ORIGIN,
        label: str | None = None,
    ) -> list[PostRef]:
        """Approved posts (``scheduled``), one per due time, with one ``scheduled`` delivery per account.

        ``origin``: the conversation reports go to, or a function of the post's index giving it. Texts are
        unique (``<label> #<n>``), so platform records map back to posts. One statement per call.
        """
        self._counter["batch"] += 1
        tag = label or f"{self.name}-{self._counter['batch']}-{uuid.uuid4().hex[:6]}"
        texts = [f"{tag} #{i}" for i in range(len(due))]
        account_ids = list(accounts or [self.account_id])
        origins = [json.dumps((origin(i) if callable(origin) else origin) or {}) for i in range(len(due))]

        async def insert(conn: asyncpg.Connection) -> list[PostRef]:
            rows = await conn.fetch(
                """
                WITH new_posts AS (
                    INSERT INTO posts (text, media, state, due_at, version, approval_level, origin,
                                       created_at, updated_at, author_id)
                    SELECT t, '[]'::jsonb, 'scheduled', d, 1, 1, o, now(), now(), $4
                    FROM unnest($1::text[], $2::timestamptz[], $3::jsonb[]) AS u(t, d, o)
                    RETURNING id, text, due_at
                ), new_deliveries AS (
                    INSERT INTO deliveries (state, due_at, attempts, idempotency_key, updated_at, account_id, post_id)
                    SELECT 'scheduled', p.due_at, 0, replace(gen_random_uuid()::text, '-', ''), now(), a, p.id
                    FROM new_posts p CROSS JOIN unnest($5::int[]) AS a
                )
                SELECT id, text, due_at FROM new_posts
                """,
                texts,
                list(due),
                origins,
                self.author_id,
                account_ids,
            )
            return sorted((PostRef(r["id"], r["text"], r["due_at"]) for r in rows), key=lambda p: p.post_id)

        return self._with_conn(insert)

    def store_future_posts(
        self, count: int, *, first_due: datetime, spacing: timedelta = timedelta(seconds=1), chunk: int = 250_000
    ) -> float:
        """Store ``count`` approved posts due from ``first_due`` on (``INSERT … SELECT generate_series``, in
        chunks), then ``VACUUM ANALYZE``; returns the seconds it took."""
        started = time.monotonic()

        async def insert(conn: asyncpg.Connection) -> None:
            for offset in range(0, count, chunk):
                size = min(chunk, count - offset)
                await conn.execute(
                    """
                    WITH new_posts AS (
                        INSERT INTO posts (text, media, state, due_at, version, approval_level, origin,
                                           created_at, updated_at, author_id)
                        SELECT 'future #' || g, '[]'::jsonb, 'scheduled', $2::timestamptz + g * $3::interval,
                               1, 1, $4::jsonb, now(), now(), $5
                        FROM generate_series($1::int, $1::int + $6::int - 1) AS g
                        RETURNING id, due_at
                    )
                    INSERT INTO deliveries (state, due_at, attempts, idempotency_key, updated_at, account_id, post_id)
                    SELECT 'scheduled', due_at, 0, md5(id::text || random()::text), now(), $7, id FROM new_posts
                    """,
                    offset,
                    first_due,
                    spacing,
                    json.dumps(ORIGIN),
                    self.author_id,
                    size,
                    self.account_id,
                    timeout=None,
                )
            for table in ("posts", "deliveries"):
                await conn.execute(f"VACUUM ANALYZE {table}", timeout=None)

        self._with_conn(insert, timeout=None)
        return time.monotonic() - started

    # ------------------------------------------------------------------ reading

    def deliveries(self, posts: Iterable[PostRef] | None = None) -> list[DeliveryRow]:
        ids = None if posts is None else [p.post_id for p in posts]

        async def query(conn: asyncpg.Connection) -> list[DeliveryRow]:
            rows = await conn.fetch(
                "SELECT id, post_id, account_id, state, attempts, due_at, last_error, claimed_by, idempotency_key,"
                " published_at, queued_at, claimed_at, reported_at"
                " FROM deliveries WHERE $1::int[] IS NULL OR post_id = ANY($1::int[]) ORDER BY id",
                ids,
            )
            return [DeliveryRow(**dict(r)) for r in rows]

        return self._with_conn(query)

    def delivery_states(self, posts: Iterable[PostRef] | None = None) -> Counter[str]:
        return Counter(d.state for d in self.deliveries(posts))

    def reports(self, posts: Iterable[PostRef] | None = None) -> list[dict[str, Any]]:
        """Outbox messages of kind ``report`` (one per finished delivery): post id, channel, text, created_at."""
        ids = None if posts is None else [p.post_id for p in posts]

        async def query(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            rows = await conn.fetch(
                "SELECT post_id, channel, payload::text AS payload, created_at FROM outbox"
                " WHERE ($1::int[] IS NULL OR post_id = ANY($1::int[])) AND payload->>'kind' = 'report' ORDER BY id",
                ids,
            )
            found = []
            for r in rows:
                payload = json.loads(r["payload"])
                found.append(
                    {
                        "post_id": r["post_id"],
                        "channel": r["channel"],
                        "text": payload.get("text", ""),
                        "created_at": r["created_at"],
                    }
                )
            return found

        return self._with_conn(query)

    def chat_reports(self, posts: Iterable[PostRef] | None = None) -> list[dict[str, Any]]:
        """Reports that reached the fake chat (``post_id``, ``channel``, ``text``, ``at``)."""
        assert self.chat is not None, "this stack has no fake chat"
        wanted = None if posts is None else {p.post_id for p in posts}
        found = []
        for message in self.chat.messages():
            match = _REPORT.match(message["text"])
            if match and (wanted is None or int(match[1]) in wanted):
                found.append({**message, "post_id": int(match[1])})
        return found

    def progress(self, posts: Sequence[PostRef]) -> tuple[int, int]:
        """(deliveries in a final state, posts reported) for ``posts``: report rows in the outbox, or with a fake
        chat, the posts it got a report about (read only once every delivery is final; 0 until then)."""
        ids = [p.post_id for p in posts]

        async def query(conn: asyncpg.Connection) -> tuple[int, int, int]:
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE state = ANY($2::text[])) AS final, count(*) AS total"
                " FROM deliveries WHERE post_id = ANY($1::int[])",
                ids,
                sorted(FINAL_STATES),
            )
            if self.chat is not None:
                return int(row["final"]), int(row["total"]), 0
            reported = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE post_id = ANY($1::int[]) AND payload->>'kind' = 'report'", ids
            )
            return int(row["final"]), int(row["total"]), int(reported)

        final, total, reported = self._with_conn(query)
        if self.chat is not None and final >= total:
            # Reading every chat message is heavy: only once the deliveries are all final.
            reported = len({r["post_id"] for r in self.chat_reports(posts)})
        return final, reported

    def wait_drained(
        self,
        posts: Sequence[PostRef],
        *,
        timeout: float,
        reports: bool = True,
        report_grace: float = 10.0,
        interval: float = 0.2,
    ) -> float:
        """Wait until every delivery of ``posts`` is final and, with ``reports``, reported; returns the seconds
        waited. ``TimeoutError`` saying where things stand when that doesn't happen within ``timeout``, or when
        every delivery is final but the reports are still missing ``report_grace`` seconds later (a report
        follows its delivery's outcome at once, or never)."""
        started = time.monotonic()
        expected = len(self.deliveries(posts)) if posts else 0
        final = reported = 0
        all_final_at: float | None = None
        while time.monotonic() - started < timeout:
            final, reported = self.progress(posts)
            if final >= expected and (not reports or reported >= expected):
                return time.monotonic() - started
            if final >= expected:
                all_final_at = all_final_at or time.monotonic()
                if time.monotonic() - all_final_at > report_grace:
                    break
            time.sleep(interval)
        waited = time.monotonic() - started
        raise TimeoutError(
            f"not drained after {waited:.0f} s: {final}/{expected} deliveries final, {reported} reported; "
            f"delivery states {dict(self.delivery_states(posts))}"
        )

    def records_by_post(
        self, posts: Sequence[PostRef], platforms: Iterable[Platform] | None = None
    ) -> dict[int, list[Record]]:
        """Every accepted publish at the fake platforms, by the post whose text it carries."""
        by_text = {p.text: p.post_id for p in posts}
        found: dict[int, list[Record]] = {}
        for platform in platforms if platforms is not None else self.platforms:
            for record in platform.records():
                post_id = by_text.get(record.text)
                if post_id is not None:
                    found.setdefault(post_id, []).append(record)
        return found

    def outcome(self, posts: Sequence[PostRef], platforms: Iterable[Platform] | None = None) -> Outcome:
        """Exactly-once check of ``posts``: platform count per post, delivery states, reports."""
        records = self.records_by_post(posts, platforms)
        states: dict[int, list[str]] = {}
        for row in self.deliveries(posts):
            states.setdefault(row.post_id, []).append(row.state)
        found = self.chat_reports(posts) if self.chat is not None else self.reports(posts)
        reports = Counter(r["post_id"] for r in found)
        ids = [p.post_id for p in posts]

        async def post_states(conn: asyncpg.Connection) -> Counter[str]:
            rows = await conn.fetch("SELECT state, count(*) AS n FROM posts WHERE id = ANY($1::int[]) GROUP BY 1", ids)
            return Counter({r["state"]: r["n"] for r in rows})

        return Outcome(
            posts=list(posts),
            at_platform={k: len(v) for k, v in records.items()},
            delivery_states=states,
            reports=dict(reports),
            post_states=self._with_conn(post_states),
        )

    def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        """Run a read query on the stack's database (for checks the helpers don't cover)."""

        async def run(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            return [dict(r) for r in await conn.fetch(query, *args)]

        return self._with_conn(run)

    # ------------------------------------------------------------------ plumbing

    def _call(self, coro: Coroutine[Any, Any, _T], timeout: float | None = 120.0) -> _T:
        if self._portal is None:
            coro.close()
            raise RuntimeError("stack not started")
        return self._portal.call(coro, timeout)

    def _with_conn(self, body: Callable[[asyncpg.Connection], Awaitable[_T]], timeout: float | None = 120.0) -> _T:
        pool = self._pool
        if pool is None:
            raise RuntimeError("stack not started")

        async def run() -> _T:
            async with pool.acquire() as conn:
                return await body(conn)

        return self._call(run(), timeout)


def _connected_ports(pid: int) -> set[int]:
    """Remote ports of the established TCP connections (IPv4) process ``pid`` holds."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = set()
    with contextlib.suppress(OSError), open(f"/proc/{pid}/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
                ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


def chaos_tuning(**changes: Any) -> Tuning:
    """:data:`CHAOS` with some settings changed."""
    return replace(CHAOS, **changes)
