"""Posts and their per-account deliveries."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.accounts import SocialAccount
from models.members import Member
from models.states import DeliveryState, PostState


class Post(Model):
    """A post and where it stands. Its state changes only through :func:`models.lifecycle.advance`.

    ``origin`` is where the draft came from (adapter, channel, thread), so results are reported back
    into the same conversation. ``approval_ref`` is the adapter's id of the approval message, so it
    can be edited in place.
    """

    id = fields.IntField(primary_key=True)
    author: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="posts", on_delete=fields.RESTRICT
    )
    text = fields.TextField()
    media: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    state = fields.CharField(max_length=24, default=PostState.DRAFT.value, db_index=True)
    due_at = fields.DatetimeField(null=True)
    version = fields.IntField(default=1)
    approval_level = fields.IntField(default=1, description="the level now awaiting decisions")
    origin: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    approval_ref: dict[str, Any] | None = fields.JSONField(null=True)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    deliveries: fields.ReverseRelation[Delivery]

    class Meta:
        table = "posts"

    @property
    def lifecycle_state(self) -> PostState:
        return PostState(self.state)


class Delivery(Model):
    """One post on one account: the unit the dispatcher enqueues and a worker publishes.

    A worker publishes only after moving the row from ``queued`` to ``publishing`` in one
    conditional UPDATE (the claim), so a redelivered or duplicated queue message does nothing.
    """

    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "models.Post", related_name="deliveries", on_delete=fields.CASCADE
    )
    account: fields.ForeignKeyRelation[SocialAccount] = fields.ForeignKeyField(
        "models.SocialAccount", related_name="deliveries", on_delete=fields.RESTRICT
    )
    state = fields.CharField(max_length=16, default=DeliveryState.WAITING.value)
    due_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    external_id = fields.CharField(max_length=255, null=True)
    url = fields.CharField(max_length=1024, null=True)
    last_error = fields.TextField(null=True)
    idempotency_key = fields.CharField(max_length=64)
    claimed_by = fields.CharField(max_length=128, null=True)
    claimed_at = fields.DatetimeField(null=True)
    queued_at = fields.DatetimeField(null=True)
    published_at = fields.DatetimeField(null=True)
    reported_at = fields.DatetimeField(null=True, description="when the outcome was told in the chat")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "deliveries"
        unique_together = (("post", "account"),)
        indexes = (("state", "due_at"), ("reported_at", "state"))

    @property
    def delivery_state(self) -> DeliveryState:
        return DeliveryState(self.state)
