"""Chat state that must outlive a process: button callbacks by short id, guided conversations, link codes.

Telegram's callback data holds at most 64 bytes, and python-telegram-bot's in-memory callback data is gone
after a restart or in another process: a button carries :attr:`CallbackToken.token`, and the command it stands
for is read back here by whichever process gets the click. A guided conversation (``/draft`` step by step) keeps
its step and answers in :class:`Dialog`, so a restart or another replica continues it. ``/link`` gives a
:class:`LinkCode` to send from the other chat, once.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.members import Member


class CallbackToken(Model):
    id = fields.BigIntField(primary_key=True)
    token = fields.CharField(max_length=32, unique=True)
    adapter = fields.CharField(max_length=16)
    command = fields.TextField(description="the typed twin the button stands for")
    payload: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "callback_tokens"
        table_description = "button callbacks by short id"


class Dialog(Model):
    """One member's guided conversation in one chat: its kind (``draft``), current step and answers so far."""

    id = fields.IntField(primary_key=True)
    adapter = fields.CharField(max_length=16)
    channel = fields.CharField(max_length=128)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="dialogs", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=32)
    step = fields.CharField(max_length=32)
    data: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "dialogs"
        table_description = "guided conversations under way"
        unique_together = (("adapter", "channel", "member"),)


class LinkCode(Model):
    """A one-time code from ``/link`` in one chat, to send in the other so both identities are one member."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="link_codes", on_delete=fields.CASCADE
    )
    adapter = fields.CharField(max_length=16, description="the chat the code was asked in")
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "link_codes"
        table_description = "one-time codes that join two chat identities"
