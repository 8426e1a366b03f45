"""The append-only audit log: every change to a post, who made it and why."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.manager import Manager
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.errors import HeraldError
from models.members import Member

APPEND_ONLY = "The audit log is append-only: entries can't be changed or deleted."


class _AppendOnlyQuerySet(QuerySet[Any]):
    """Refuses the bulk paths (``filter(…).delete()`` / ``.update()``) that bypass ``Model.save``."""

    def delete(self) -> Any:
        raise HeraldError(APPEND_ONLY)

    def update(self, **kwargs: Any) -> Any:
        raise HeraldError(APPEND_ONLY)


class _AppendOnlyManager(Manager):
    def get_queryset(self) -> QuerySet[Any]:
        return _AppendOnlyQuerySet(self._model)


class AuditEntry(Model):
    """One thing that happened. Rows are only ever inserted; the database refuses changes too
    (triggers in the migrations), so even a hand-written SQL UPDATE can't rewrite history."""

    id = fields.BigIntField(primary_key=True)
    post_id = fields.IntField(null=True, db_index=True)
    actor: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    action = fields.CharField(max_length=48)
    state = fields.CharField(max_length=24, null=True, description="the post's state after the action")
    version = fields.IntField(null=True)
    detail: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_log"
        ordering = ("id",)
        manager = _AppendOnlyManager()

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._saved_in_db:
            await super().save(*args, **kwargs)
            return
        raise HeraldError(APPEND_ONLY)

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        raise HeraldError(APPEND_ONLY)
