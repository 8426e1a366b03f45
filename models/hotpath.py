"""The publish hot path on PostgreSQL: claim and record in one statement each.

The ORM path (``handlers/delivery.py``) takes about a dozen round trips per delivery; a burst of
thousands of posts due in the same second needs far fewer. These statements do the same state
changes as the ORM path, with the same conditions, so the outcome is identical:

* :func:`claim` moves the delivery ``queued → publishing`` and its post to ``publishing`` in one
  statement, returning what the publisher needs; the post update only happens if the delivery
  update did, and reports whether the post could start (it may have been cancelled meanwhile).
* :func:`record_published` marks the delivery published, appends the audit entries and, for a post
  with a single delivery, settles the post as published. Posts with several deliveries settle through
  the ORM path, which locks the post row (two siblings finishing at once must see each other).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tortoise import connections

CLAIM = """
WITH c AS (
    UPDATE deliveries SET state = 'publishing', claimed_by = $2, claimed_at = $3, attempts = attempts + 1,
                          updated_at = $3
    WHERE id = $1 AND state = 'queued'
    RETURNING id, post_id, account_id, attempts, idempotency_key
), p AS (
    UPDATE posts SET state = 'publishing', updated_at = $3
    WHERE id = (SELECT post_id FROM c) AND state IN ('scheduled', 'publishing')
    RETURNING id, text, media, origin
)
SELECT c.id, c.post_id, c.attempts, c.idempotency_key, a.platform, a.handle, a.credentials,
       p.text, p.media, p.origin, (p.id IS NOT NULL) AS started,
       (SELECT count(*) FROM deliveries s WHERE s.post_id = c.post_id) AS siblings
FROM c JOIN social_accounts a ON a.id = c.account_id LEFT JOIN p ON p.id = c.post_id
"""

RECORD_PUBLISHED_SINGLE = """
WITH d AS (
    UPDATE deliveries SET state = 'published', external_id = $2, url = $3, published_at = $4, last_error = NULL,
                          updated_at = $4
    WHERE id = $1 AND state = 'publishing' AND claimed_by = $6
    RETURNING post_id
), p AS (
    UPDATE posts SET state = 'published', updated_at = $4
    WHERE id = (SELECT post_id FROM d) AND state = 'publishing'
    RETURNING id, version
), a AS (
    INSERT INTO audit_log (post_id, action, state, version, detail, created_at)
    SELECT post_id, 'delivery.published', NULL, NULL, $5::jsonb, $4 FROM d
    UNION ALL
    SELECT id, 'post.published', 'published', version, '{}'::jsonb, $4 FROM p
)
SELECT (SELECT count(*) FROM d) AS recorded, (SELECT count(*) FROM p) AS settled
"""


def available() -> bool:
    """True when the default connection is PostgreSQL (the hot path's SQL is PostgreSQL's)."""
    return bool(connections.get("default").capabilities.dialect == "postgres")


async def claim(delivery_id: int, worker: str, now: datetime) -> dict[str, Any] | None:
    rows = await connections.get("default").execute_query_dict(CLAIM, [delivery_id, worker, now])
    if not rows:
        return None
    row = dict(rows[0])
    for key in ("media", "origin"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


async def record_published(
    delivery_id: int, external_id: str, url: str, now: datetime, detail: dict[str, Any], worker: str
) -> bool:
    """Record a single-delivery post as published by ``worker``; False when that claim is no longer
    ours (the reconciler gave the delivery to someone else meanwhile)."""
    rows = await connections.get("default").execute_query_dict(
        RECORD_PUBLISHED_SINGLE, [delivery_id, external_id, url, now, json.dumps(detail), worker]
    )
    return bool(rows and rows[0]["recorded"])
