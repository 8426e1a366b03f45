"""Database bootstrap: tortoise configuration, connection lifecycle and aerich migrations.

SQLite and PostgreSQL get their own migration folders (aerich writes dialect-specific SQL):
``models/migrations/sqlite/models`` and ``models/migrations/postgres/models``. Both are generated
from the same models; ``tests/models/test_migrations.py`` fails if either drifts from the models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tortoise import Tortoise

from models.errors import ConfigError

MODEL_MODULES = [
    "models.members",
    "models.accounts",
    "models.posts",
    "models.approvals",
    "models.audit",
    "models.outbox",
    "models.policies",
    "models.timers",
    "models.chatrefs",
    "models.recurrence",
    "models.slots",
    "models.connections",
    "models.progress",
    "models.media",
    "models.dialogs",
    "aerich.models",
]
MIGRATIONS_ROOT = Path(__file__).parent / "migrations"


def dialect_of(url: str) -> str:
    """``sqlite`` or ``postgres`` for a DATABASE_URL; raises ConfigError for anything else."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return "sqlite"
    if scheme in {"postgres", "postgresql", "asyncpg"}:
        return "postgres"
    raise ConfigError(
        f"DATABASE_URL has the scheme {scheme or '(none)'!r}: use sqlite:///path or postgres://user@host/db."
    )


def tortoise_url(url: str) -> str:
    """Normalise an operator's DATABASE_URL to what tortoise expects (asyncpg for PostgreSQL)."""
    if dialect_of(url) == "postgres":
        return "asyncpg://" + url.split("://", 1)[1]
    return url


async def keep_session(connection: Any) -> None:
    """asyncpg's pool resets a connection's whole session (advisory locks, LISTEN, settings, cursors) with one
    more round trip each time it goes back to the pool, which through tortoise is after every query. Herald
    keeps no session state, so this skips that; asyncpg still rolls back a transaction left open."""


def tortoise_config(url: str, *, pool_max: int = 10, application_name: str = "herald") -> dict[str, Any]:
    connection: dict[str, Any] | str = tortoise_url(url)
    if dialect_of(url) == "postgres":
        parts = urlsplit(tortoise_url(url))
        connection = {
            "engine": "tortoise.backends.asyncpg",
            "credentials": {
                "host": parts.hostname or "127.0.0.1",
                "port": parts.port or 5432,
                "user": parts.username or "postgres",
                "password": parts.password or "",
                "database": parts.path.lstrip("/") or "postgres",
                "minsize": 1,
                "maxsize": pool_max,
                "server_settings": {"application_name": application_name},
                # a statement that hangs (lost connection, lock) fails instead of blocking forever
                "command_timeout": 30,
                "max_inactive_connection_lifetime": 300,
                "reset": keep_session,
            },
        }
    return {
        "connections": {"default": connection},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


def migrations_location(url: str) -> str:
    return str(MIGRATIONS_ROOT / dialect_of(url))


def _ensure_sqlite_dir(url: str) -> None:
    if dialect_of(url) != "sqlite":
        return
    path = url.split("://", 1)[1]
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


async def _forget_previous() -> None:
    """Drop what an earlier init cached on the model classes (queries built for another dialect).

    Only matters when one process switches databases, as the test-suite does between SQLite and
    PostgreSQL; tortoise keeps per-dialect query builders on the models across ``init`` calls.
    """
    from tortoise.backends.base.executor import EXECUTOR_CACHE  # keyed by connection name, not dialect

    if Tortoise.is_inited():
        await Tortoise.close_connections()
    EXECUTOR_CACHE.clear()


async def connect(url: str, *, pool_max: int = 10, application_name: str = "herald", every_task: bool = False) -> None:
    """Open the process-wide tortoise connection. Tortoise keeps it in a context variable, seen by this task and
    the tasks it starts; ``every_task`` also makes it the fallback for tasks that don't descend from this one."""
    _ensure_sqlite_dir(url)
    await _forget_previous()
    await Tortoise.init(
        config=tortoise_config(url, pool_max=pool_max, application_name=application_name),
        _enable_global_fallback=every_task,
    )


async def disconnect() -> None:
    await Tortoise.close_connections()


async def make_migration(url: str, name: str) -> str:
    """Write the migration that brings ``url``'s dialect from the last migration to the models.

    ``url`` must be a scratch database: it is upgraded to the last migration first. Returns the new
    file's name ("" when the models haven't changed). Run once per dialect (``herald db migrate``).
    """
    from aerich import Command

    await upgrade(url)
    config = tortoise_config(url)
    await Tortoise.init(config=config)
    command = Command(tortoise_config=config, app="models", location=migrations_location(url))
    try:
        await command.init()
        created: str = await command.migrate(name, no_input=True)
    finally:
        await Tortoise.close_connections()
    return created


async def upgrade(url: str) -> list[str]:
    """Apply every migration not yet applied; returns the names applied."""
    from aerich import Command

    _ensure_sqlite_dir(url)
    await _forget_previous()
    config = tortoise_config(url)
    await Tortoise.init(config=config)  # aerich re-uses an initialised tortoise as it finds it
    command = Command(tortoise_config=config, app="models", location=migrations_location(url))
    try:
        await command.init()
        applied: list[str] = await command.upgrade(run_in_transaction=True)
    finally:
        await Tortoise.close_connections()
    return applied
