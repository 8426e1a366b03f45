"""`herald cron …` and `herald queue status`: the ops commands from a terminal, one command per call, on the
embedded default (SQLite, in-process queue), against what a shell session set up."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.auxil.processes import base_env, herald_command, run_shell

SETUP = """/account add dryrun demo
/role add bob approver
/draft --to demo --every "every weekday 09:00" --tz Europe/Berlin --count 10 Good morning!
/as bob
/approve 1
"""


def herald(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(herald_command(*args), text=True, capture_output=True, env=base_env(), cwd=cwd, timeout=60)


def test_cron_and_queue_commands_from_the_terminal(tmp_path: Path) -> None:
    setup = run_shell(SETUP, base_env(), tmp_path, wait=1.0)
    assert setup.returncode == 0, setup.stdout + setup.stderr

    listed = herald(tmp_path, "cron", "list", "--as", "alice")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "#1 every weekday at 09:00 (Europe/Berlin) → demo — active, next run" in listed.stdout

    paused = herald(tmp_path, "cron", "pause", "1", "--as", "alice")
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert "Series 1 is paused" in paused.stdout
    assert "Series: 0 active, 1 paused, 0 finished." in herald(tmp_path, "cron", "status", "--as", "alice").stdout

    resumed = herald(tmp_path, "cron", "resume", "1", "--as", "alice")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "active, next run" in herald(tmp_path, "cron", "list", "--as", "alice").stdout

    status = herald(tmp_path, "queue", "status", "--as", "alice")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "Queue status" in status.stdout and "Queue: in-process." in status.stdout
    metrics = herald(tmp_path, "queue", "metrics", "--as", "alice")
    assert metrics.returncode == 0, metrics.stdout + metrics.stderr
    assert "Queue metrics, last 24 h to " in metrics.stdout


def test_a_refused_command_exits_1_with_the_reason(tmp_path: Path) -> None:
    setup = run_shell(SETUP, base_env(), tmp_path, wait=1.0)
    assert setup.returncode == 0, setup.stdout + setup.stderr

    unknown = herald(tmp_path, "cron", "pause", "7", "--as", "alice")
    assert unknown.returncode == 1
    assert "There is no series 7; /cron list shows them." in unknown.stdout

    not_ops = herald(tmp_path, "queue", "status", "--as", "bob")
    assert not_ops.returncode == 1
    assert "Only members with the ops role or admins can run /queue status." in not_ops.stdout

    status = herald(tmp_path, "cron", "status", "--as", "bob")  # ops-only in every adapter, not just in Slack
    assert status.returncode == 1
    assert "Only members with the ops role or admins can run /cron status." in status.stdout
    assert "Traceback" not in unknown.stderr + not_ops.stderr + status.stderr
