"""Writing to the append-only audit log."""

from __future__ import annotations

from typing import Any

from models.audit import AuditEntry
from models.members import Member


async def record(
    action: str,
    *,
    post_id: int | None = None,
    actor: Member | None = None,
    state: str | None = None,
    version: int | None = None,
    **detail: Any,
) -> AuditEntry:
    return await AuditEntry.create(
        action=action, post_id=post_id, actor=actor, state=state, version=version, detail=detail
    )


async def history(post_id: int) -> list[AuditEntry]:
    return await AuditEntry.filter(post_id=post_id).order_by("id").prefetch_related("actor")
