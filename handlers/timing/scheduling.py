"""Turning an approved post into due deliveries, and taking them back."""

from __future__ import annotations

from datetime import datetime

from handlers.context import Services
from models.lifecycle import DELIVERY_FINAL, DeliveryState
from models.posts import Delivery, Post


async def release(post: Post, *, now: datetime) -> datetime:
    """Make the post's waiting deliveries due (at its time, or now when it has none); returns when."""
    due = post.due_at or now
    await Delivery.filter(post_id=post.id, state=DeliveryState.WAITING.value).update(
        state=DeliveryState.SCHEDULED.value, due_at=due
    )
    return due


async def hold(post_id: int) -> None:
    """Take every not-yet-sent delivery back to waiting (the post needs approval again).

    A queued delivery's message then finds nothing to claim.
    """
    await Delivery.filter(
        post_id=post_id, state__in=[DeliveryState.SCHEDULED.value, DeliveryState.QUEUED.value]
    ).update(state=DeliveryState.WAITING.value)


async def cancel_open(post_id: int) -> None:
    await (
        Delivery.filter(post_id=post_id)
        .exclude(state__in=[s.value for s in DELIVERY_FINAL | {DeliveryState.PUBLISHING, DeliveryState.QUEUED}])
        .update(state=DeliveryState.CANCELLED.value)
    )


async def announce(services: Services, due: datetime) -> None:
    await services.scheduler.scheduled(due)
