"""Where an adapter showed a message with a stable ref, so it can edit it in place later.

A reply with ``ref="post:12:approval"`` posted by the Slack adapter in channel C1 as ts 1732.0001 is
remembered here; the next reply with the same ref in that conversation becomes a ``chat.update``.
Workers in other processes use the same table, so a report can update a card the web process posted.
"""

from __future__ import annotations

from typing import NamedTuple

from tortoise import connections, fields
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


class Shown(NamedTuple):
    channel: str
    message_id: str


async def shown(adapter: str, ref: str) -> list[Shown]:
    """Every conversation showing the message ``ref`` on ``adapter``, oldest first.

    One plain indexed query: it runs for every report a worker sends, where building the ORM's query
    would cost more than running it.
    """
    conn = connections.get("default")
    first, second = ("$1", "$2") if conn.capabilities.dialect == "postgres" else ("?", "?")
    rows = await conn.execute_query_dict(
        f"SELECT channel, message_id FROM chat_message_refs WHERE ref = {first} AND adapter = {second} ORDER BY id",
        [ref, adapter],
    )
    return [Shown(str(row["channel"]), str(row["message_id"])) for row in rows]
