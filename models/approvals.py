"""Approval decisions: who decided what on which version of a post, at which level."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.members import Member
from models.posts import Post


class Decision(StrEnum):
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"


class ApprovalDecision(Model):
    """One member's decision at one level on one version.

    The unique key makes a repeated click idempotent across restarts: the second insert fails and
    the caller answers with the decision already on record.
    """

    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "models.Post", related_name="decisions", on_delete=fields.CASCADE
    )
    version = fields.IntField()
    level = fields.IntField()
    approver: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="decisions", on_delete=fields.RESTRICT
    )
    decision = fields.CharField(max_length=24)
    reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "approval_decisions"
        unique_together = (("post", "version", "level", "approver"),)
