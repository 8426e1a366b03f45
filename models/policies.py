"""Approval policies, one per social account plus a default (account NULL)."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.accounts import SocialAccount


class ApprovalPolicy(Model):
    """``levels`` is a list of 1 to 3 ``{"members": [...], "roles": [...], "mode": "any"|"all"}``;
    ``direct`` is ``{"members": [...], "roles": [...]}``: who may publish without approval.
    ``channel`` is the conversation where approval requests for the account are posted
    (``{"adapter": "slack", "channel": "C0123"}``); without one they stay where the draft was made.
    """

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyNullableRelation[SocialAccount] = fields.OneToOneField(
        "models.SocialAccount", related_name="policy", null=True, on_delete=fields.CASCADE
    )
    levels: list[dict[str, Any]] = fields.JSONField()  # type: ignore[assignment]
    direct: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    remind_after_seconds = fields.IntField(default=4 * 3600)
    remind_before_seconds = fields.IntField(default=3600)
    channel: dict[str, Any] | None = fields.JSONField(null=True)  # type: ignore[assignment]
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "approval_policies"
