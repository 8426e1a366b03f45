"""Throw-away PostgreSQL databases for tests (asyncpg, no psycopg).

Every operation exists as a coroutine (``*_async``) and as a blocking wrapper with the plain name.
The wrappers work both outside and inside a running event loop (inside one they run the coroutine
on a private loop in a helper thread, blocking the caller until it is done), so they can be called
from sync and async fixtures alike.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from .services import ServiceUnavailableError

DEFAULT_DSN_BASE = "postgresql://postgres@127.0.0.1:5432"
MAINTENANCE_DB = "postgres"
PG_START_COMMAND = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
CONNECT_TIMEOUT = 5.0

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_T = TypeVar("_T")

__all__ = [
    "create_database",
    "create_database_async",
    "drop_database",
    "drop_database_async",
    "require_postgres",
    "require_postgres_async",
    "terminate_backends",
    "terminate_backends_async",
]


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion from sync code, whether or not an event loop is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the calling thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="postgres-sync-wrapper")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: _T = box["result"]
    return result


def _with_database(url: str, database: str) -> str:
    """Return ``url`` with its path replaced by ``/database`` (scheme, user, host and port kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def _database_of(url: str) -> str:
    """Return the database name of ``url``; raise ``ValueError`` if it has none or it is not a safe name."""
    name = urlsplit(url).path.lstrip("/")
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a test database URL (database {name!r} is not a plain identifier): {url}")
    return name


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"


async def _connect_maintenance(url: str) -> asyncpg.Connection:
    """Connect to the maintenance database of the server ``url`` points at."""
    return await asyncpg.connect(_with_database(url, MAINTENANCE_DB), timeout=CONNECT_TIMEOUT)


async def require_postgres_async(dsn_base: str = DEFAULT_DSN_BASE) -> None:
    """Return if PostgreSQL at ``dsn_base`` accepts a connection, else raise ``ServiceUnavailableError``."""
    try:
        conn = await _connect_maintenance(dsn_base)
    except (OSError, TimeoutError, asyncpg.CannotConnectNowError) as exc:
        raise ServiceUnavailableError(
            f"PostgreSQL is not reachable on {_host_port(dsn_base)}: "
            f"start it with `{PG_START_COMMAND}` ({type(exc).__name__}: {exc})"
        ) from exc
    except asyncpg.PostgresError as exc:
        raise ServiceUnavailableError(
            f"PostgreSQL on {_host_port(dsn_base)} refused the test connection ({dsn_base}): {exc}"
        ) from exc
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


def require_postgres(dsn_base: str = DEFAULT_DSN_BASE) -> None:
    """Blocking :func:`require_postgres_async`."""
    _run(require_postgres_async(dsn_base))


async def create_database_async(prefix: str = "herald_test", dsn_base: str = DEFAULT_DSN_BASE) -> str:
    """Create a new, uniquely named, empty database and return its ``postgres://`` URL.

    The name is ``<prefix>_<12 hex digits>``; the caller owns the database and should pass the URL to
    :func:`drop_database_async` when done.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    if not _IDENTIFIER.match(name):
        raise ValueError(f"prefix {prefix!r} gives an invalid database name {name!r}")
    conn = await _connect_maintenance(dsn_base)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urlsplit(dsn_base)
    return urlunsplit(("postgres", parts.netloc, f"/{name}", "", ""))


def create_database(prefix: str = "herald_test", dsn_base: str = DEFAULT_DSN_BASE) -> str:
    """Blocking :func:`create_database_async`."""
    return _run(create_database_async(prefix, dsn_base))


async def terminate_backends_async(url: str, application_name: str | None = None) -> int:
    """Kill (``pg_terminate_backend``) every session connected to the database of ``url``.

    Only sessions whose ``application_name`` equals ``application_name`` are killed when it is given.
    Our own session is on the maintenance database and never killed. Returns how many were killed.
    """
    name = _database_of(url)
    conn = await _connect_maintenance(url)
    try:
        killed = await conn.fetchval(
            """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
            FROM pg_stat_activity
            WHERE datname = $1 AND pid <> pg_backend_pid()
              AND ($2::text IS NULL OR application_name = $2::text)
            """,
            name,
            application_name,
        )
    finally:
        await conn.close()
    return int(killed or 0)


def terminate_backends(url: str, application_name: str | None = None) -> int:
    """Blocking :func:`terminate_backends_async`."""
    return _run(terminate_backends_async(url, application_name))


async def drop_database_async(url: str) -> None:
    """Terminate every session on the database of ``url`` and drop it; no error if it is already gone."""
    name = _database_of(url)
    conn = await _connect_maintenance(url)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        # WITH (FORCE) (PostgreSQL 13+) also ends sessions that connected after the line above.
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def drop_database(url: str) -> None:
    """Blocking :func:`drop_database_async`."""
    _run(drop_database_async(url))
