"""The audit log is append-only: entries are created, never changed or deleted through the model."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError

from models.audit import AuditEntry
from models.errors import HeraldError
from models.members import Member


async def test_entries_are_created_and_read_back_in_order(any_db: str) -> None:
    bob = await Member.create(name="bob", display_name="Bob")
    first = await AuditEntry.create(
        post_id=1, actor=bob, action="submit", state="pending_approval", version=1, detail={"to": ["demo"]}
    )
    second = AuditEntry(post_id=1, actor=None, action="expire", state="expired", version=1)
    await second.save()
    assert first.id is not None and second.id is not None and first.id < second.id
    entries = await AuditEntry.filter(post_id=1)
    assert [(e.action, e.actor_id, e.state, e.detail) for e in entries] == [
        ("submit", bob.id, "pending_approval", {"to": ["demo"]}),
        ("expire", None, "expired", {}),
    ]
    assert entries[0].created_at is not None


async def test_saving_an_existing_entry_is_refused(any_db: str) -> None:
    entry = await AuditEntry.create(post_id=3, action="submit", state="pending_approval")
    entry.action = "reject"
    with pytest.raises(HeraldError, match=r"^The audit log is append-only: entries can't be changed or deleted\.$"):
        await entry.save()
    loaded = await AuditEntry.get(id=entry.id)
    loaded.state = "rejected"
    with pytest.raises(HeraldError, match="append-only"):
        await loaded.save(update_fields=["state"])
    assert (await AuditEntry.get(id=entry.id)).action == "submit"
    assert (await AuditEntry.get(id=entry.id)).state == "pending_approval"


async def test_deleting_an_entry_is_refused(any_db: str) -> None:
    entry = await AuditEntry.create(post_id=4, action="submit")
    with pytest.raises(HeraldError, match=r"^The audit log is append-only: entries can't be changed or deleted\.$"):
        await entry.delete()
    loaded = await AuditEntry.get(id=entry.id)
    with pytest.raises(HeraldError, match="append-only"):
        await loaded.delete()
    assert await AuditEntry.filter(id=entry.id).count() == 1


async def test_a_member_with_history_cannot_be_deleted(any_db: str) -> None:
    """History keeps naming who did what: deleting its actor is refused, the entry stays as it was."""
    carol = await Member.create(name="carol", display_name="Carol")
    entry = await AuditEntry.create(post_id=5, actor=carol, action="submit")
    with pytest.raises(IntegrityError):
        await carol.delete()
    kept = await AuditEntry.get(id=entry.id)
    assert (kept.action, kept.actor_id) == ("submit", carol.id)


async def test_bulk_delete_is_refused_too(sqlite_db: str) -> None:
    entry = await AuditEntry.create(post_id=6, action="submit")
    with pytest.raises(HeraldError):
        await AuditEntry.filter(id=entry.id).delete()
    assert await AuditEntry.filter(id=entry.id).count() == 1


async def test_database_refuses_raw_update_and_delete(any_db: str) -> None:
    """Even SQL that bypasses the ORM can't rewrite history: triggers in the migrations refuse it."""
    from tortoise import connections

    entry = await AuditEntry.create(post_id=7, action="submit")
    conn = connections.get("default")
    for sql in (
        f"UPDATE audit_log SET action = 'forged' WHERE id = {entry.id}",
        f"DELETE FROM audit_log WHERE id = {entry.id}",
    ):
        with pytest.raises(Exception, match="append-only"):
            await conn.execute_script(sql)
    rows = await conn.execute_query_dict(f"SELECT action FROM audit_log WHERE id = {entry.id}")
    assert rows == [{"action": "submit"}]
