"""Team members, their roles and their chat identities."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

ADMIN_ROLE = "admin"
APPROVER_ROLE = "approver"
OPS_ROLE = "ops"


class Member(Model):
    """A person on the team. One member may be known to several chats (shell, Slack, Telegram)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True, description="short handle, e.g. bob")
    display_name = fields.CharField(max_length=128)
    timezone = fields.CharField(max_length=64, default="UTC")
    created_at = fields.DatetimeField(auto_now_add=True)

    roles: fields.ReverseRelation[MemberRole]
    identities: fields.ReverseRelation[ChatIdentity]

    class Meta:
        table = "members"

    def __str__(self) -> str:
        return self.display_name


class MemberRole(Model):
    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="roles", on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=64, db_index=True)
    granted_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "member_roles"
        unique_together = (("member", "role"),)


class ChatIdentity(Model):
    """How a chat adapter names a member: (``slack``, ``U024BE7LH``), (``shell``, ``bob``)…"""

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="identities", on_delete=fields.CASCADE
    )
    adapter = fields.CharField(max_length=16)
    external_id = fields.CharField(max_length=128)

    class Meta:
        table = "chat_identities"
        unique_together = (("adapter", "external_id"),)
