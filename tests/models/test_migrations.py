"""Committed migrations build the schema on SQLite and PostgreSQL; the models have not drifted from them."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aerich import Command
from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE

from models import db
from tests.infra.postgres import create_database, drop_database

EXPECTED_TABLES = {
    "aerich",
    "members",
    "member_roles",
    "chat_identities",
    "social_accounts",
    "platform_apps",
    "connections",
    "publish_steps",
    "media_blobs",
    "callback_tokens",
    "dialogs",
    "link_codes",
    "posts",
    "deliveries",
    "approval_decisions",
    "audit_log",
    "outbox",
    "approval_policies",
    "timers",
    "chat_message_refs",
    "recurrences",
    "recurrence_runs",
    "posting_slots",
}


def committed(dialect: str) -> list[str]:
    folder = db.MIGRATIONS_ROOT / dialect / "models"
    return sorted(p.name for p in folder.glob("*.py") if p.name[0].isdigit())


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    url = create_database("herald_migr")
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each dialect; tortoise is left closed for the next test's fixture."""
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path}/nested/dir/migr.sqlite3"  # upgrade creates the directory
    else:
        url = str(request.getfixturevalue("fresh_pg"))
    try:
        yield url
    finally:
        await Tortoise.close_connections()


async def table_names(url: str) -> set[str]:
    await db.connect(url)
    try:
        conn = connections.get("default")
        if db.dialect_of(url) == "sqlite":
            rows = await conn.execute_query_dict(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        else:
            rows = await conn.execute_query_dict(
                "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        return {str(r["name"]) for r in rows}
    finally:
        await db.disconnect()


async def drift(url: str, tmp_path: Path) -> tuple[str | None, list[str]]:
    """Run ``aerich migrate`` on a copy of the committed migrations; return its result and the new files."""
    dialect = db.dialect_of(url)
    location = tmp_path / "aerich" / dialect
    shutil.copytree(db.MIGRATIONS_ROOT / dialect, location, ignore=shutil.ignore_patterns("__pycache__"))
    before = set((location / "models").iterdir())
    config = db.tortoise_config(url)
    # the same order as db.upgrade(): a clean tortoise initialised for this database before aerich
    await Tortoise.close_connections()
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=config)
    try:
        command = Command(tortoise_config=config, app="models", location=str(location))
        await command.init()
        result = await command.migrate("drift", no_input=True)
    finally:
        await Tortoise.close_connections()
    new = sorted(p.name for p in set((location / "models").iterdir()) - before if p.suffix == ".py")
    return result, new


async def test_committed_migrations_match_the_models(fresh_url: str, tmp_path: Path) -> None:
    dialect = db.dialect_of(fresh_url)
    files = committed(dialect)
    assert files, f"no migrations committed for {dialect}"

    assert await db.upgrade(fresh_url) == files
    assert await table_names(fresh_url) == EXPECTED_TABLES
    assert await db.upgrade(fresh_url) == []  # nothing left to apply

    result, new_files = await drift(fresh_url, tmp_path)
    assert not result, f"the models drifted from the {dialect} migrations: aerich generated {result}"
    assert new_files == []
    assert await db.upgrade(fresh_url) == []


def test_both_dialects_have_the_same_history() -> None:
    assert committed("sqlite") == committed("postgres")
    assert db.migrations_location("sqlite://x.db").endswith("migrations/sqlite")
    assert db.migrations_location("postgres://u@h/d").endswith("migrations/postgres")
