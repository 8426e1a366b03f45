"""The post lifecycle: every legal state change of a post, in one table.

A post moves only through :func:`advance`, which applies a row of :data:`RULES` with a conditional
``UPDATE … WHERE state IN (…)`` so that two concurrent callers can never both win: the loser sees
zero rows changed and gets :class:`~models.errors.InvalidTransition` (or the caller's own
``AlreadyDecided``) with a sentence saying why.

    draft ──submit──▶ pending_approval ──approve(last level)──▶ scheduled ──start──▶ publishing
      │                  │   ▲   │                                  │  ▲                 │
      │                  │   │   └─request changes─▶ changes_requested │ retry/resched.  ├─▶ published
      │                  │   └──────────resubmit/edit───────┘           │  │              └─▶ failed
      │                  ├─reject─▶ rejected                           ├─miss─▶ missed
      │                  └─expire─▶ expired ─reschedule─▶ pending      └─cancel─▶ cancelled
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise.expressions import F

from models.errors import InvalidTransition, NotFound


class PostState(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    CHANGES_REQUESTED = "changes_requested"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    MISSED = "missed"

    @property
    def label(self) -> str:
        return {
            PostState.PENDING_APPROVAL: "awaiting approval",
            PostState.CHANGES_REQUESTED: "waiting for changes",
            PostState.SCHEDULED: "approved and scheduled",
        }.get(self, self.value)


MAX_ID = 2**31 - 1  # posts.id is a 32-bit integer
TERMINAL = frozenset({PostState.REJECTED, PostState.PUBLISHED, PostState.CANCELLED})


class DeliveryState(StrEnum):
    """State of one post on one social account."""

    WAITING = "waiting"  # the post is not approved yet
    SCHEDULED = "scheduled"  # due at ``due_at``; the dispatcher will enqueue it
    QUEUED = "queued"  # handed to the queue; a worker will claim it
    PUBLISHING = "publishing"  # claimed by a worker; the platform call may be under way
    PUBLISHED = "published"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the request was sent but its outcome is not known; a human decides
    CANCELLED = "cancelled"
    MISSED = "missed"  # came due while Herald was down, beyond the grace window


DELIVERY_FINAL = frozenset(
    {
        DeliveryState.PUBLISHED,
        DeliveryState.FAILED,
        DeliveryState.UNKNOWN,
        DeliveryState.CANCELLED,
        DeliveryState.MISSED,
    }
)


class Action(StrEnum):
    SUBMIT = "submit"
    SCHEDULE_DIRECT = "schedule_direct"
    APPROVE_LEVEL = "approve_level"
    APPROVE_FINAL = "approve_final"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    EDIT = "edit"
    CANCEL = "cancel"
    START_PUBLISH = "start_publish"
    FINISH_PUBLISHED = "finish_published"
    FINISH_FAILED = "finish_failed"
    RETRY = "retry"
    EXPIRE = "expire"
    MISS = "miss"
    RESCHEDULE = "reschedule"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[PostState]
    target: PostState | None  # None: the state stays as it is (e.g. an edit while pending)
    phrase: str  # completes "Post 3 is rejected, so it can't be …"


S = PostState
RULES: dict[Action, Rule] = {
    Action.SUBMIT: Rule(frozenset({S.DRAFT, S.CHANGES_REQUESTED}), S.PENDING_APPROVAL, "submitted"),
    Action.SCHEDULE_DIRECT: Rule(frozenset({S.DRAFT, S.CHANGES_REQUESTED}), S.SCHEDULED, "scheduled"),
    Action.APPROVE_LEVEL: Rule(frozenset({S.PENDING_APPROVAL}), S.PENDING_APPROVAL, "approved"),
    Action.APPROVE_FINAL: Rule(frozenset({S.PENDING_APPROVAL}), S.SCHEDULED, "approved"),
    Action.REQUEST_CHANGES: Rule(frozenset({S.PENDING_APPROVAL}), S.CHANGES_REQUESTED, "sent back for changes"),
    Action.REJECT: Rule(frozenset({S.PENDING_APPROVAL}), S.REJECTED, "rejected"),
    Action.WITHDRAW: Rule(
        frozenset({S.DRAFT, S.PENDING_APPROVAL, S.CHANGES_REQUESTED, S.SCHEDULED, S.EXPIRED, S.MISSED}),
        S.CANCELLED,
        "withdrawn",
    ),
    Action.EDIT: Rule(
        frozenset({S.DRAFT, S.PENDING_APPROVAL, S.CHANGES_REQUESTED, S.SCHEDULED, S.EXPIRED, S.MISSED}),
        None,
        "edited",
    ),
    Action.CANCEL: Rule(
        frozenset({S.DRAFT, S.PENDING_APPROVAL, S.CHANGES_REQUESTED, S.SCHEDULED, S.EXPIRED, S.MISSED, S.FAILED}),
        S.CANCELLED,
        "cancelled",
    ),
    Action.START_PUBLISH: Rule(frozenset({S.SCHEDULED, S.PUBLISHING}), S.PUBLISHING, "published"),
    Action.FINISH_PUBLISHED: Rule(frozenset({S.PUBLISHING}), S.PUBLISHED, "marked published"),
    Action.FINISH_FAILED: Rule(frozenset({S.PUBLISHING}), S.FAILED, "marked failed"),
    Action.RETRY: Rule(frozenset({S.FAILED}), S.SCHEDULED, "retried"),
    Action.EXPIRE: Rule(frozenset({S.PENDING_APPROVAL, S.CHANGES_REQUESTED}), S.EXPIRED, "expired"),
    Action.MISS: Rule(frozenset({S.SCHEDULED}), S.MISSED, "marked missed"),
    Action.RESCHEDULE: Rule(frozenset({S.EXPIRED, S.MISSED, S.FAILED}), None, "rescheduled"),
}


def target_of(action: Action, current: PostState) -> PostState:
    """The state ``action`` leads to from ``current``; raises if the move is not legal."""
    rule = RULES[action]
    if current not in rule.sources:
        raise InvalidTransition(f"it is {current.label}, so it can't be {rule.phrase}")
    return rule.target or current


def describe_refusal(post_id: int, action: Action, current: PostState) -> str:
    rule = RULES[action]
    return f"Post {post_id} is {current.label}, so it can't be {rule.phrase}."


async def advance(
    post_id: int,
    action: Action,
    *,
    to: PostState | None = None,
    expected_version: int | None = None,
    bump_version: bool = False,
    extra_filters: dict[str, Any] | None = None,
    **changes: Any,
) -> PostState:
    """Apply ``action`` to post ``post_id`` atomically and return its new state.

    ``to`` overrides the rule's target only for rules whose target is ``None`` (state kept or
    chosen by the caller, e.g. a reschedule that goes back to approval). ``expected_version`` makes
    the update also fail if somebody edited the post meanwhile. ``changes`` are other columns to set
    in the same UPDATE.
    """
    from models.posts import Post  # local import: posts imports lifecycle

    if not 0 < post_id <= MAX_ID:
        raise NotFound(f"There is no post {post_id}.")
    rule = RULES[action]
    filters: dict[str, Any] = {"id": post_id, "state__in": [s.value for s in rule.sources]}
    if expected_version is not None:
        filters["version"] = expected_version
    if extra_filters:
        filters.update(extra_filters)
    values: dict[str, Any] = dict(changes)
    new_state = rule.target or to
    if new_state is not None:
        values["state"] = new_state.value
    if bump_version:
        values["version"] = F("version") + 1
    if not values:
        values["state"] = F("state")
    changed = await Post.filter(**filters).update(**values)
    if changed == 1:
        if new_state is not None:
            return new_state
        current = await Post.get(id=post_id).values_list("state", flat=True)
        return PostState(str(current))
    row = await Post.filter(id=post_id).first()
    if row is None:
        raise NotFound(f"There is no post {post_id}.")
    current_state = PostState(row.state)
    if current_state not in rule.sources:
        raise InvalidTransition(describe_refusal(post_id, action, current_state))
    raise InvalidTransition(f"Post {post_id} changed while you were looking at it; please look again.")
