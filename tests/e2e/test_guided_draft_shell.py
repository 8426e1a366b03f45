"""The guided ``/draft`` typed into `herald shell`: the flow with its ticks, a restart of the shell in the middle
(a new process over the same database goes on with the draft), and the post the one-line form makes."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from tests.auxil.processes import base_env, run_shell

BEFORE_RESTART = """/account add dryrun demo
/account add dryrun news
/role add bob approver
/draft
Launch day is here
/draft pick 2
/draft pick 1
/draft pick 2
"""

AFTER_RESTART = """/draft next
/draft when type
in 2h
/draft submit
/draft submit
/draft --to demo --at "in 2h" Launch day is here
/as bob
/approve 1
/approve 2
"""


def test_the_guided_draft_in_the_shell_goes_on_after_a_restart(tmp_path: Path) -> None:
    env = base_env()
    first = run_shell(BEFORE_RESTART, env, tmp_path, wait=5)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "Let's write a post. Send its text" in out
    assert "herald> Where should it go? Choose the accounts (✓ chosen), then Next.\n        Chosen: none yet" in out
    assert "[demo (Dry run): /draft pick 1] [news (Dry run): /draft pick 2] [Next: /draft next]" in out
    ticks = [line.strip() for line in out.splitlines() if line.strip().startswith("Chosen:")]
    assert ticks == ["Chosen: none yet", "Chosen: news", "Chosen: news, demo", "Chosen: demo"]
    assert out.count("herald> (updated) Where should it go?") == 3  # one message, ticked in place
    assert "[✓ demo (Dry run): /draft pick 1] [news (Dry run): /draft pick 2]" in out

    second = run_shell(AFTER_RESTART, env, tmp_path, wait=5)  # a new process: the draft is in the database
    assert second.returncode == 0, second.stdout + second.stderr
    out = second.stdout
    assert "When should it go out? (Your time zone: UTC.)" in out
    assert "Type when it should go out, in your time zone (UTC)" in out
    assert "Here is your post; Submit sends it on" in out and "Targets: demo · When: " in out
    assert "Dry run · demo (18 characters): Launch day is here" in out
    assert "Post 1 is waiting for approval (anyone with role approver); it goes to demo at " in out
    assert "! You have no draft under way here (it was sent or cancelled); /draft starts one." in out
    assert "Post 2 is waiting for approval (anyone with role approver); it goes to demo at " in out
    with sqlite3.connect(tmp_path / "data" / "herald.sqlite3") as db:
        rows = db.execute("SELECT text, media, due_at, origin, author_id FROM posts ORDER BY id").fetchall()
        targets = db.execute("SELECT post_id, account_id FROM deliveries ORDER BY id").fetchall()
    (text_1, media_1, due_1, origin_1, author_1), (text_2, media_2, due_2, origin_2, author_2) = rows
    assert (text_1, media_1, origin_1, author_1) == (text_2, media_2, origin_2, author_2)
    assert text_1 == "Launch day is here" and targets == [(1, 1), (2, 1)]
    gap = datetime.fromisoformat(due_2) - datetime.fromisoformat(due_1)  # "in 2h", typed a moment apart
    assert timedelta(0) <= gap < timedelta(seconds=30)
    assert "Post 1 by @alice approved by @bob; it goes to demo at " in out
    assert "Post 2 by @alice approved by @bob; it goes to demo at " in out
    assert "Something went wrong" not in out + first.stdout
