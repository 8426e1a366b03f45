"""The append-only audit log: every change to a post, who made it and why."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.errors import HeraldError
from models.members import Member


class AuditEntry(Model):
    id = fields.BigIntField(primary_key=True)
    post_id = fields.IntField(null=True, db_index=True)
    actor: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    action = fields.CharField(max_length=48)
    state = fields.CharField(max_length=24, null=True, description="the post's state after the action")
    version = fields.IntField(null=True)
    detail: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_log"
        ordering = ("id",)

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._saved_in_db:
            await super().save(*args, **kwargs)
            return
        raise HeraldError("The audit log is append-only: entries can't be changed.")

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        raise HeraldError("The audit log is append-only: entries can't be deleted.")
