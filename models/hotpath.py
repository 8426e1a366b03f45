"""The publish hot path on PostgreSQL: claim and record in one statement each.

The ORM path (``handlers/publishing/delivery.py``) takes about a dozen round trips per delivery; a burst of
thousands of posts due in the same second needs far fewer. These statements do the same state
changes as the ORM path, with the same conditions, so the outcome is identical. Both take many
deliveries at once (a worker groups its concurrent publishes), locking rows in id order so two
workers' batches can't deadlock each other:

* :func:`claim` moves deliveries ``queued → publishing`` and their posts to ``publishing`` in one
  statement, returning what the publisher needs (and who the author is, to name them in the report);
  a post update only happens if its delivery update did, and reports whether the post could start
  (it may have been cancelled meanwhile).
* :func:`record_published` marks deliveries published, appends the audit entries and, for posts
  with a single delivery, settles the post as published. Posts with several deliveries settle through
  the ORM path, which locks the post row (two siblings finishing at once must see each other).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections

from models.states import DELIVERY_RULES, RULES, Action, DeliveryRule, Move, Rule


def _in(rule: Rule | DeliveryRule) -> str:
    """The rule's source states as an SQL list of string literals (enum values, never input)."""
    return "(" + ", ".join(f"'{state.value}'" for state in sorted(rule.sources)) + ")"


def _to(rule: Rule | DeliveryRule) -> str:
    assert rule.target is not None
    return f"'{rule.target.value}'"


# The same moves as the ORM path, from the same tables: a delivery queued → publishing and its post
# scheduled/publishing → publishing; a delivery publishing → published and its post publishing → published.
_CLAIM, _START = DELIVERY_RULES[Move.CLAIM], RULES[Action.START_PUBLISH]
_PUBLISH, _FINISH = DELIVERY_RULES[Move.PUBLISH], RULES[Action.FINISH_PUBLISHED]

CLAIM = f"""
WITH c AS (
    UPDATE deliveries SET state = {_to(_CLAIM)}, claimed_by = $2, claimed_at = $3, attempts = attempts + 1,
                          updated_at = $3
    WHERE id IN (SELECT id FROM deliveries WHERE id = ANY($1::bigint[]) AND state IN {_in(_CLAIM)}
                 ORDER BY id FOR UPDATE)
    RETURNING id, post_id, account_id, attempts, idempotency_key
), p AS (
    UPDATE posts SET state = {_to(_START)}, updated_at = $3
    WHERE id IN (SELECT id FROM posts WHERE id IN (SELECT post_id FROM c) AND state IN {_in(_START)}
                 ORDER BY id FOR UPDATE)
    RETURNING id, text, media, origin, author_id
)
SELECT c.id, c.post_id, c.account_id, c.attempts, c.idempotency_key, a.platform, a.handle, a.credentials,
       a.status AS account_status,
       p.text, p.media, p.origin, (p.id IS NOT NULL) AS started,
       (SELECT count(*) FROM deliveries s WHERE s.post_id = c.post_id) AS siblings,
       m.name AS author,
       (SELECT json_agg(json_build_array(i.adapter, i.external_id) ORDER BY i.id) FROM chat_identities i
        WHERE i.member_id = p.author_id) AS author_chats
FROM c JOIN social_accounts a ON a.id = c.account_id LEFT JOIN p ON p.id = c.post_id
     LEFT JOIN members m ON m.id = p.author_id
"""

RECORD_PUBLISHED_SINGLES = f"""
WITH v AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
                  AS v(id, external_id, url, detail, worker)
), d AS (
    UPDATE deliveries d SET state = {_to(_PUBLISH)}, external_id = v.external_id, url = v.url, published_at = $6,
                            last_error = NULL, updated_at = $6
    FROM v
    WHERE d.id IN (SELECT x.id FROM deliveries x JOIN v ON v.id = x.id
                   WHERE x.state IN {_in(_PUBLISH)} AND x.claimed_by = v.worker ORDER BY x.id FOR UPDATE OF x)
      AND d.id = v.id
    RETURNING d.id, d.post_id, v.detail
), p AS (
    UPDATE posts SET state = {_to(_FINISH)}, updated_at = $6
    WHERE id IN (SELECT id FROM posts WHERE id IN (SELECT post_id FROM d) AND state IN {_in(_FINISH)}
                 ORDER BY id FOR UPDATE)
    RETURNING id, version
), a AS (
    INSERT INTO audit_log (post_id, action, state, version, detail, created_at)
    SELECT post_id, action, state, version, detail, $6 FROM (
        SELECT post_id, 0 AS k, 'delivery.published' AS action, NULL AS state, NULL::int AS version,
               detail::jsonb AS detail
        FROM d
        UNION ALL
        SELECT id, 1, 'post.published', {_to(_FINISH)}, version, '{{}}'::jsonb FROM p
    ) entries ORDER BY post_id, k
)
SELECT id FROM d
"""


def available() -> bool:
    """True when the default connection is PostgreSQL (the hot path's SQL is PostgreSQL's)."""
    return bool(connections.get("default").capabilities.dialect == "postgres")


async def claim(delivery_ids: list[int], worker: str, now: datetime) -> list[dict[str, Any]]:
    """Claim every queued delivery among ``delivery_ids`` for ``worker``: a row per delivery it got."""
    rows = await connections.get("default").execute_query_dict(CLAIM, [delivery_ids, worker, now])
    out = []
    for row in rows:
        row = dict(row)
        for key in ("media", "origin", "author_chats"):
            if isinstance(row.get(key), str):
                row[key] = json.loads(row[key])
        out.append(row)
    return out


@dataclass(frozen=True)
class Publish:
    """One publish to record: the delivery, what the platform said, and whose claim it was."""

    delivery_id: int
    external_id: str
    url: str
    detail: dict[str, Any]
    worker: str


async def record_published(results: list[Publish], now: datetime) -> set[int]:
    """Record deliveries of single-delivery posts as published, each only if its claim is still that
    worker's (the reconciler may have given it to someone else meanwhile); the ids that were recorded."""
    if not results:
        return set()
    rows = await connections.get("default").execute_query_dict(
        RECORD_PUBLISHED_SINGLES,
        [
            [r.delivery_id for r in results],
            [r.external_id for r in results],
            [r.url for r in results],
            [json.dumps(r.detail) for r in results],
            [r.worker for r in results],
            now,
        ],
    )
    return {int(row["id"]) for row in rows}


async def mark_reported(delivery_ids: list[int], now: datetime) -> None:
    """Mark deliveries whose outcome the chat has been told (those not marked already)."""
    await connections.get("default").execute_query(
        "UPDATE deliveries SET reported_at = $2 WHERE id = ANY($1::bigint[]) AND reported_at IS NULL",
        [delivery_ids, now],
    )


async def touch_unreported(delivery_ids: list[int], now: datetime) -> None:
    """Refresh ``updated_at`` of deliveries not yet reported (a worker is still telling them)."""
    await connections.get("default").execute_query(
        "UPDATE deliveries SET updated_at = $2 WHERE id = ANY($1::bigint[]) AND reported_at IS NULL",
        [delivery_ids, now],
    )
