"""An account connection under way: the OAuth ``state`` an admin's login link carries, single-use."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.crypto import EncryptedTextField
from models.members import Member


class Connection(Model):
    """``/account connect PLATFORM`` made this; the platform's redirect to ``/oauth/{platform}/callback`` brings
    ``state`` back. It is bound to the member who asked and the conversation to answer in, expires, and is used
    once (``used_at``). ``code_verifier`` is the PKCE secret; ``choices`` the accounts the login gave when the
    admin must pick one (Facebook Pages, LinkedIn person or organization), as encrypted JSON."""

    id = fields.IntField(primary_key=True)
    state = fields.CharField(max_length=128, unique=True)
    platform = fields.CharField(max_length=32)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="connections", on_delete=fields.CASCADE
    )
    conversation: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    instance = fields.CharField(max_length=255, null=True, description="Mastodon: base URL of the server")
    code_verifier = EncryptedTextField(null=True)
    choices = EncryptedTextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "connections"
        table_description = "account connections under way, by OAuth state"
