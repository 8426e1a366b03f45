"""Shared fixtures: a fresh PostgreSQL database per session, the 6-node Redis Cluster, SQLite per test,
and an in-process Herald to talk to (``chat``).

A service the tests need that is missing fails the run with a message saying what to start; nothing
is skipped.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tortoise import Tortoise, connections

from models import crypto, db
from tasks import platforms
from tests.auxil.chat import Chat
from tests.infra.postgres import create_database, drop_database, require_postgres
from tests.infra.redis_cluster import RedisClusterProcess, start_from_env_or_new
from tests.infra.services import ServiceUnavailableError

# The test platforms (fake, fake-nokey) come in as a plugin, in this process and every process a test starts
os.environ.setdefault(platforms.PLUGINS_VARIABLE, "tests.fakes.platform_client")
platforms.install()  # every platform's rules, as bot/wiring.py installs them in each process

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-key-0123456789"
TABLES = [
    "publish_steps",  # keyed by delivery id, which restarts at 1: a test's steps must not resume the next one's
    "platform_apps",  # Mastodon apps by server URL: a fake's port may come back in the next test
    "media_blobs",
    "posting_slots",
    "recurrence_runs",
    "recurrences",
    "chat_message_refs",
    "timers",
    "approval_policies",
    "outbox",
    "audit_log",
    "approval_decisions",
    "deliveries",
    "posts",
    "social_accounts",
    "chat_identities",
    "member_roles",
    "members",
]


def _need(check: object) -> None:
    try:
        check()  # type: ignore[operator]
    except ServiceUnavailableError as exc:
        pytest.fail(f"{exc}", pytrace=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database made for this test session (migrated), dropped afterwards."""
    _need(require_postgres)
    url = create_database("herald_test")
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def cluster() -> Iterator[RedisClusterProcess]:
    """The 6-node Redis Cluster (3 masters, 3 replicas) shared by the session."""
    try:
        node_set = start_from_env_or_new()
    except ServiceUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield node_set
    finally:
        node_set.stop()


@pytest.fixture(scope="session", autouse=True)
def _secret_key() -> None:
    crypto.configure(TEST_SECRET)


@pytest.fixture(scope="session")
async def _pg_migrated(pg_url: str) -> str:
    await db.upgrade(pg_url)
    return pg_url


async def _reset_connection(url: str) -> None:
    if Tortoise._inited:
        await Tortoise.close_connections()
    await db.connect(url, pool_max=60)


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite://{tmp_path}/herald.sqlite3"
    await db.upgrade(url)
    await _reset_connection(url)
    yield url
    await Tortoise.close_connections()


@pytest.fixture
async def pg_db(_pg_migrated: str) -> AsyncIterator[str]:
    await _reset_connection(_pg_migrated)
    conn = connections.get("default")
    await conn.execute_script(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    yield _pg_migrated
    await Tortoise.close_connections()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> str:
    """Runs the test on the embedded default and on PostgreSQL."""
    name = "sqlite_db" if request.param == "sqlite" else "pg_db"
    return str(request.getfixturevalue(name))


@pytest.fixture
async def chat(any_db: str) -> Chat:
    """A conversation with an in-process Herald (dry-run publishing, dispatcher driven by the test)."""
    return Chat.build()


@pytest.fixture(scope="session", autouse=True)
def _quiet_logs() -> None:
    from bot import logs

    logs.configure("warning")
