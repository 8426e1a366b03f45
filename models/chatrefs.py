"""Where an adapter showed a message with a stable ref, so it can edit it in place later.

A reply with ``ref="post:12:approval"`` posted by the Slack adapter in channel C1 as ts 1732.0001 is
remembered here; the next reply with the same ref in that conversation becomes a ``chat.update``.
Workers in other processes use the same table, so a report can update a card the web process posted.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ChatMessageRef(Model):
    id = fields.BigIntField(primary_key=True)
    adapter = fields.CharField(max_length=16)
    channel = fields.CharField(max_length=128)
    ref = fields.CharField(max_length=128)
    message_id = fields.CharField(max_length=128, description="Slack ts, Telegram message_id …")
    thread = fields.CharField(max_length=128, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "chat_message_refs"
        unique_together = (("adapter", "channel", "ref"),)
        indexes = (("ref", "adapter"),)  # every conversation showing one card (a report goes to each)
