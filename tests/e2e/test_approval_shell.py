"""The README's two-level approval example, typed into `herald shell`, on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auxil.processes import base_env, herald_command, run_shell
from tests.infra.postgres import create_database, drop_database

SCRIPT = """/account add dryrun acme
/role add bob editor
/as carol
/as dan
/as erin
/as alice
/policy set acme level1=role:editor level2=@carol,@dan:all
/draft --to acme --at now Big launch today!
/as carol
/approve 1
/as bob
/approve 1 --text Big launch today! 🚀
/as erin
/approve 1
/as carol
/approve 1
/as dan
/changes 1 say which product
/as alice
/edit 1 Big launch today: Herald 1.0! 🚀
/as bob
/approve 1
/as carol
/approve 1
/as dan
/approve 1
/approve 1
/post 1
"""

EXPECTED = [
    "Approval policy for acme:",
    "level 1 of 2: anyone with role editor (now: bob)",
    "level 2 of 2: all of @carol and @dan (now: carol, dan)",
    "Post 1 is waiting for approval (level 1 of 2: anyone with role editor)",
    "! Level 1 of post 1 needs anyone with role editor.",
    "Post 1 by @alice: @bob approved (after editing it to v2); now at level 2 of 2 (all of @carol and @dan).",
    "herald (to alice)> @bob edited your post 1 (now v2):",
    "herald (to carol)> Post 1 by @alice (v2) needs your approval (level 2 of 2)",
    "! Level 2 of post 1 needs all of @carol and @dan.",
    "Post 1 by @alice: @carol approved; level 2 still waits for @dan.",
    "Post 1 by @alice sent back for changes by @dan: say which product",
    "Post 1 is now version 3. Approval starts again from level 1.",
    "herald (to carol)> Post 1 changed after you approved version 2 (alice edited it to v3)",
    "Post 1 by @alice approved by @dan; it goes to acme now.",
    "You already approved post 1; nothing changed.",
    "Post 1 by @alice published to acme (Dry run): https://dryrun.invalid/acme/dry-1",
    "decision.request_changes (level 2) v2: say which product",
]


def check(out: str) -> None:
    position = 0
    for sentence in EXPECTED:
        found = out.find(sentence, position if sentence.startswith("Post 1 by @alice published") else 0)
        assert found >= 0, f"missing: {sentence}\n---\n{out}"
    assert "Something went wrong" not in out


def test_two_level_example_on_sqlite(tmp_path: Path) -> None:
    result = run_shell(SCRIPT, base_env(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    check(result.stdout)


@pytest.fixture
def pg_database() -> Iterator[str]:
    url = create_database("herald_shell")
    try:
        yield url
    finally:
        drop_database(url)


def test_two_level_example_on_postgres(tmp_path: Path, pg_database: str) -> None:
    env = base_env(DATABASE_URL=pg_database, HERALD_SECRET_KEY="shell-secret-key-0123456789")
    upgrade = subprocess.run(
        herald_command("db", "upgrade"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert upgrade.returncode == 0, upgrade.stderr
    result = run_shell(SCRIPT, env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    check(result.stdout)
