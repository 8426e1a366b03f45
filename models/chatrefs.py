"""Where an adapter showed a message with a stable ref, so it can edit it in place later.

A reply with ``ref="post:12:approval"`` posted by the Slack adapter in channel C1 as ts 1732.0001 is
remembered here; the next reply with the same ref in that conversation becomes a ``chat.update``.
Workers in other processes use the same table, so a report can update a card the web process posted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

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


async def shown(adapter: str, refs: Sequence[str]) -> list[list[Shown]]:
    """For each of ``refs``, every conversation showing that message on ``adapter``, oldest first.

    One plain indexed query for all of them: it runs for the reports a worker sends (a burst's reports look
    their cards up together), where building the ORM's query would cost more than running it.
    """
    if not refs:
        return []
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        sql = "SELECT ref, channel, message_id FROM chat_message_refs WHERE adapter = $1 AND ref = ANY($2::text[])"
        params: list[Any] = [adapter, list(refs)]
    else:
        marks = ", ".join("?" * len(refs))
        sql = f"SELECT ref, channel, message_id FROM chat_message_refs WHERE adapter = ? AND ref IN ({marks})"
        params = [adapter, *refs]
    found: dict[str, list[Shown]] = {}
    for row in await conn.execute_query_dict(sql + " ORDER BY id", params):
        found.setdefault(str(row["ref"]), []).append(Shown(str(row["channel"]), str(row["message_id"])))
    return [found.get(ref, []) for ref in refs]
