"""The whole loop through real processes: `herald shell < script` on the embedded default, and on
PostgreSQL + Redis (single node and the 6-node cluster) with separate `herald worker` and
`herald dispatcher` processes.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.auxil.processes import ROOT, base_env, herald_command, run_shell, running
from tests.infra.postgres import create_database, drop_database
from tests.infra.redis_cluster import RedisClusterProcess

SCRIPT = """/account add dryrun demo
/role add bob approver
/draft --to demo --at now Hello from Herald
/as bob
/approve 1
"""
SECRET = "e2e-secret-key-0123456789"


def assert_published(out: str) -> None:
    assert "Post 1 is waiting for approval" in out
    assert "[Approve: /approve 1]" in out
    assert "Post 1 by @alice approved by @bob; it goes to demo now." in out
    assert "Post 1 by @alice published to demo (Dry run): https://dryrun.invalid/demo/dry-1" in out
    assert out.index("approved by @bob") < out.index("published to demo")
    # then the card again, saying how it went (written by whichever process published)
    card = out.index("(updated) Post 1 by @alice — published")
    assert card > out.index("published to demo")
    assert "demo (Dry run) — published: https://dryrun.invalid/demo/dry-1" in out[card:]


def test_scripted_shell_on_embedded_default(tmp_path: Path) -> None:
    result = run_shell(SCRIPT, base_env(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_published(result.stdout)
    assert (tmp_path / "data" / "herald.sqlite3").exists()
    assert "Traceback" not in result.stderr


def test_shell_keeps_going_after_bad_input(tmp_path: Path) -> None:
    script = """/account add dryrun demo
/nonsense
/draft --to demo
/draft --to demo --at 2001-01-01 09:00 Too late
/draft --to ghost Hi
/role add bob approver
/draft --to demo --at now Fine
/approve 1
/reject 1 nope
/as bob
/reject 1 off-brand
/approve 1
"""
    result = run_shell(script, base_env(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for sentence in (
        "! I don't know the command /nonsense. Try /help to see what I can do.",
        "! A post needs some text.",
        "is in the past",
        "! There is no account called ghost; /account list shows them.",
        "! You can't approve your own post.",
        "! You can't reject your own post.",
        "Post 1 by @alice rejected by @bob: off-brand",
        "! Post 1 was rejected by bob, so it can't be approved.",
    ):
        assert sentence in out, sentence
    assert "published" not in out


@pytest.fixture
def pg_database() -> Iterator[str]:
    url = create_database("herald_e2e")
    try:
        yield url
    finally:
        drop_database(url)


def _published_rows(url: str) -> list[tuple[str, int]]:
    async def query() -> list[tuple[str, int]]:
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
        try:
            rows = await conn.fetch("SELECT state, attempts FROM deliveries ORDER BY id")
        finally:
            await conn.close()
        return [(r["state"], r["attempts"]) for r in rows]

    return asyncio.run(query())


@pytest.mark.parametrize("queue", ["cluster", "redis"])
def test_scripted_shell_with_worker_and_dispatcher_processes(
    queue: str, tmp_path: Path, pg_database: str, cluster: RedisClusterProcess
) -> None:
    redis_env = cluster.env() if queue == "cluster" else {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379"}
    env = base_env(
        DATABASE_URL=pg_database,
        HERALD_SECRET_KEY=SECRET,
        HERALD_QUEUE=f"{{herald-e2e}}:{uuid.uuid4().hex[:8]}",
        **redis_env,
    )
    upgrade = subprocess.run(
        herald_command("db", "upgrade"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert upgrade.returncode == 0, upgrade.stderr
    migrations = len(list((ROOT / "models" / "migrations" / "postgres" / "models").glob("[0-9]*_*.py")))
    assert f"Applied {migrations} migration(s)." in upgrade.stderr
    specs = [
        ("worker-1", ["worker"]),
        ("worker-2", ["worker"]),
        ("dispatcher-1", ["dispatcher"]),
        ("dispatcher-2", ["dispatcher"]),
    ]
    with running(specs, env, tmp_path) as procs:
        result = run_shell(SCRIPT, env, tmp_path)
        logs = "\n".join(f"--- {p.name}\n{p.log()}" for p in procs)
        assert result.returncode == 0, result.stdout + result.stderr + logs
        assert_published(result.stdout)
        assert all(p.proc.poll() is None for p in procs), logs
    assert [p.proc.returncode for p in procs] == [0, 0, 0, 0], logs
    assert _published_rows(pg_database) == [("published", 1)]
    assert not (tmp_path / "data" / "herald.sqlite3").exists()
