"""Turning an approved post into due deliveries, and taking them back."""

from __future__ import annotations

from datetime import datetime

from handlers.context import Services
from models.lifecycle import Move, move_deliveries
from models.posts import Post


async def release(post: Post, *, now: datetime) -> datetime:
    """Make the post's waiting deliveries due (at its time, or now when it has none); returns when."""
    due = post.due_at or now
    await move_deliveries(Move.RELEASE, {"post_id": post.id}, due_at=due)
    return due


async def hold(post_id: int) -> None:
    """Take every not-yet-sent delivery back to waiting (the post needs approval again).

    A queued delivery's message then finds nothing to claim.
    """
    await move_deliveries(Move.HOLD, {"post_id": post_id})


async def cancel_open(post_id: int) -> None:
    """Cancel the deliveries not yet handed to the queue (a queued one's claim finds the post cancelled)."""
    await move_deliveries(Move.CANCEL, {"post_id": post_id})


async def announce(services: Services, due: datetime) -> None:
    await services.scheduler.scheduled(due)
