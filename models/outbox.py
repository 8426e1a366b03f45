"""Outbox of chat notifications written by workers for adapters that read them back.

Workers run in their own processes and must not import chat adapters; an adapter that can't be
reached from a worker (the local shell) reads its notifications from here.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class OutboxMessage(Model):
    id = fields.BigIntField(primary_key=True)
    adapter = fields.CharField(max_length=16)
    channel = fields.CharField(max_length=128)
    thread = fields.CharField(max_length=128, null=True)
    post_id = fields.IntField(null=True)
    payload: dict[str, Any] = fields.JSONField()  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
        indexes = (("adapter", "channel", "delivered_at"),)
