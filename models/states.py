"""Post and delivery states and every legal move between them: pure data and rules, no database.

:mod:`models.lifecycle` applies these tables to the rows (it is the only writer of a post's state);
:mod:`models.posts` (the model) and :mod:`models.hotpath` (the raw SQL) read the states from here, so
nothing imports the model to know a state, and the model doesn't import the state machine.

Posts::

    draft ──submit──▶ pending_approval ──approve(last level)──▶ scheduled ──start──▶ publishing
      │                  │   ▲   │                                  │  ▲                 │
      │                  │   │   └─request changes─▶ changes_requested │ retry/resched.  ├─▶ published
      │                  │   └──────────resubmit/edit───────┘           │  │              └─▶ failed
      │                  ├─reject─▶ rejected                           ├─miss─▶ missed
      │                  └─expire─▶ expired ─reschedule─▶ pending      └─cancel─▶ cancelled

    and after a human looked at an unknown outcome: failed ─verify─▶ published (every delivery out),
    failed ─republish─▶ scheduled.

Deliveries (one post on one account), in :data:`DELIVERY_RULES`::

    waiting ─release─▶ scheduled ─enqueue─▶ queued ─claim─▶ publishing ─┬─publish─▶ published
       ▲  hold (back under approval)  │                                 ├─fail─▶ failed ─retry─▶ scheduled
       └──────────────────────────────┘                                 ├─lose─▶ unknown ─verify─▶ published
                                                                        │             └─republish─▶ scheduled
                                                                        ├─retry_later─▶ scheduled
                                                                        ├─park (account refused)─▶ held ─unpark─▶ sched.
                                                                        ├─requeue (dead worker)─▶ queued
                                                                        └─unclaim (post changed)─▶ waiting/cancelled
    scheduled, queued, held ─miss─▶ missed ─reschedule─▶ scheduled;   waiting, scheduled, held ─cancel─▶ cancelled

A delivery's state changes only through :func:`models.lifecycle.move_deliveries` (and the raw SQL of
:mod:`models.hotpath`, which builds its conditions from this table).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.errors import InvalidTransition


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
    HELD = "held"  # the platform refused the account and refreshing failed: goes out once it is reconnected


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
    VERIFY = "verify"
    REPUBLISH = "republish"


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
    # a human confirmed the outcome that was unknown: the post is out everywhere it should be
    Action.VERIFY: Rule(frozenset({S.FAILED, S.PUBLISHING}), S.PUBLISHED, "marked published"),
    # a human sends a delivery whose outcome was unknown once more (a post still publishing stays so)
    Action.REPUBLISH: Rule(frozenset({S.FAILED}), S.SCHEDULED, "republished"),
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


class Move(StrEnum):
    """What happens to one delivery."""

    RELEASE = "release"  # the post is approved: its deliveries come due
    HOLD = "hold"  # the post needs approval again: not-yet-sent deliveries wait
    ENQUEUE = "enqueue"  # the dispatcher hands it to the queue
    CLAIM = "claim"  # a worker takes it (the only gate before a platform call)
    PUBLISH = "publish"  # the platform said yes
    FAIL = "fail"  # the platform said no, for good
    LOSE = "lose"  # the request went out, its outcome is not known
    RETRY_LATER = "retry_later"  # a transient failure: due again later
    REQUEUE = "requeue"  # the reconciler retries a dead worker's claim (idempotent platforms)
    UNCLAIM = "unclaim"  # the post changed after it was queued: waiting or cancelled, as the post says
    MISS = "miss"  # came due while Herald was down, beyond the grace window
    CANCEL = "cancel"  # the post was withdrawn or cancelled
    RETRY = "retry"  # /retry: a failed delivery goes out again
    VERIFY = "verify"  # /verify: a human confirms an unknown outcome was a publish
    REPUBLISH = "republish"  # /republish: a human sends an unknown outcome once more
    RESCHEDULE = "reschedule"  # /publish, /schedule: a missed delivery goes out again
    PARK = "park"  # the account needs reconnecting: held, not failed
    UNPARK = "unpark"  # the account is reconnected: due again


@dataclass(frozen=True)
class DeliveryRule:
    sources: frozenset[DeliveryState]
    target: DeliveryState | None  # None: the caller says (UNCLAIM: waiting or cancelled)


D = DeliveryState
DELIVERY_RULES: dict[Move, DeliveryRule] = {
    Move.RELEASE: DeliveryRule(frozenset({D.WAITING}), D.SCHEDULED),
    Move.HOLD: DeliveryRule(frozenset({D.SCHEDULED, D.QUEUED}), D.WAITING),
    Move.ENQUEUE: DeliveryRule(frozenset({D.SCHEDULED}), D.QUEUED),
    Move.CLAIM: DeliveryRule(frozenset({D.QUEUED}), D.PUBLISHING),
    Move.PUBLISH: DeliveryRule(frozenset({D.PUBLISHING}), D.PUBLISHED),
    Move.FAIL: DeliveryRule(frozenset({D.PUBLISHING}), D.FAILED),
    Move.LOSE: DeliveryRule(frozenset({D.PUBLISHING}), D.UNKNOWN),
    Move.RETRY_LATER: DeliveryRule(frozenset({D.PUBLISHING}), D.SCHEDULED),
    Move.REQUEUE: DeliveryRule(frozenset({D.PUBLISHING}), D.QUEUED),
    Move.UNCLAIM: DeliveryRule(frozenset({D.PUBLISHING}), None),
    Move.MISS: DeliveryRule(frozenset({D.SCHEDULED, D.QUEUED, D.HELD}), D.MISSED),
    Move.CANCEL: DeliveryRule(frozenset({D.WAITING, D.SCHEDULED, D.HELD}), D.CANCELLED),
    Move.RETRY: DeliveryRule(frozenset({D.FAILED}), D.SCHEDULED),
    Move.VERIFY: DeliveryRule(frozenset({D.UNKNOWN}), D.PUBLISHED),
    Move.REPUBLISH: DeliveryRule(frozenset({D.UNKNOWN}), D.SCHEDULED),
    Move.RESCHEDULE: DeliveryRule(frozenset({D.MISSED}), D.SCHEDULED),
    Move.PARK: DeliveryRule(frozenset({D.PUBLISHING}), D.HELD),
    Move.UNPARK: DeliveryRule(frozenset({D.HELD}), D.SCHEDULED),
}


def sources(rule: Rule | DeliveryRule) -> list[str]:
    """The rule's source states as stored, sorted (for ``state IN (…)`` in SQL and ORM filters alike)."""
    return sorted(s.value for s in rule.sources)
