"""The composition root connects what used to be connected by importing a module."""

from __future__ import annotations

import subprocess
import sys

from tests.auxil.processes import ROOT, base_env

# A fresh interpreter: in this one, other tests have wired Herald already.
WIRED = """
import asyncio

from handlers.app import Herald  # the whole core, every handler module imported
from handlers.review import timers
from handlers.timing import recurring

assert not recurring.installed(), "importing the core connected the series hook"
assert recurring.KIND not in timers.HANDLERS

from bot.wiring import build
from handlers.settings import Settings

comps = build(Settings(_env_file=None))
assert recurring.installed()
build(Settings(_env_file=None))  # a second assembly in the same process: still one listener
from models.audit import AuditEntry
from tortoise.signals import Signals
assert AuditEntry._listeners[Signals.post_save][AuditEntry].count(recurring._on_audit) == 1
asyncio.run(comps.aclose())
print("wired")
"""


def test_the_series_hook_and_timer_kind_are_active_after_wiring_and_not_before() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WIRED], cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "wired", done.stdout + done.stderr
