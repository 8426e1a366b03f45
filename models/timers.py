"""Timers: scheduled work about a post other than publishing (approval expiry, reminders).

The dispatcher takes due timers with the same ``FOR UPDATE SKIP LOCKED`` claim it uses for
deliveries, so each fires once however many dispatchers run, and work per tick depends on what is
due, not on how many posts exist.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class Timer(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=32)
    post_id = fields.IntField(db_index=True)
    version = fields.IntField(description="the post version the timer was set for; stale versions are ignored")
    level = fields.IntField(null=True)
    run_at = fields.DatetimeField()
    fired_at = fields.DatetimeField(null=True)
    data: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]

    class Meta:
        table = "timers"
        indexes = (("fired_at", "run_at"),)
