"""Posting slots: the weekly times at which an account likes to post (``/draft --at next``)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.accounts import SocialAccount


class PostingSlots(Model):
    """An account's weekly slots, as ``[weekday (0 = Monday), minute of the day]`` pairs in ``timezone``."""

    id = fields.IntField(primary_key=True)
    account: fields.OneToOneRelation[SocialAccount] = fields.OneToOneField(
        "models.SocialAccount", related_name="slots", on_delete=fields.CASCADE
    )
    timezone = fields.CharField(max_length=64)
    weekly: list[list[int]] = fields.JSONField(default=list)  # type: ignore[assignment]
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "posting_slots"
