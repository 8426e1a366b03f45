"""The state machine: the only writer of a post's and a delivery's state.

The states and the tables of legal moves are pure data in :mod:`models.states` (re-exported here);
this module applies them to the rows. A post moves only through :func:`advance`, which applies a row
of :data:`~models.states.RULES` with a conditional ``UPDATE … WHERE state IN (…)`` so that two
concurrent callers can never both win: the loser sees zero rows changed and gets
:class:`~models.errors.InvalidTransition` (or the caller's own ``AlreadyDecided``) with a sentence
saying why. Deliveries move through :func:`move_deliveries` by :data:`~models.states.DELIVERY_RULES`
the same way; the publish hot path's SQL (:mod:`models.hotpath`) builds its conditions from the same
tables. Nothing outside ``models/`` writes a state column itself (``tests/models/test_lifecycle.py``
checks the source).
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import F

from models.errors import InvalidTransition, NotFound
from models.posts import Delivery, Post
from models.states import (
    DELIVERY_FINAL,
    DELIVERY_RULES,
    MAX_ID,
    RULES,
    TERMINAL,
    Action,
    DeliveryRule,
    DeliveryState,
    Move,
    PostState,
    Rule,
    describe_refusal,
    sources,
    target_of,
)

__all__ = [
    "DELIVERY_FINAL",
    "DELIVERY_RULES",
    "MAX_ID",
    "RULES",
    "TERMINAL",
    "Action",
    "DeliveryRule",
    "DeliveryState",
    "Move",
    "PostState",
    "Rule",
    "advance",
    "describe_refusal",
    "move_deliveries",
    "target_of",
]


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
    if not 0 < post_id <= MAX_ID:
        raise NotFound(f"There is no post {post_id}.")
    rule = RULES[action]
    filters: dict[str, Any] = {"id": post_id, "state__in": sources(rule)}
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


# each move's ``state IN (…)`` list, built once: the dispatcher and the workers move deliveries on the hot path
_DELIVERY_SOURCES: dict[Move, list[str]] = {move: sources(rule) for move, rule in DELIVERY_RULES.items()}


async def move_deliveries(move: Move, where: dict[str, Any], *, to: DeliveryState | None = None, **changes: Any) -> int:
    """Apply ``move`` to the deliveries ``where`` selects (ORM filter arguments) that are in one of its
    source states, setting ``changes`` in the same UPDATE; how many moved.

    Like :func:`advance` it is one conditional UPDATE, the only way a delivery's state changes: a
    delivery that meanwhile left the source states (claimed by a worker, verified by someone else, its
    claim judged dead by the reconciler) is not touched. ``to`` is the target for rules that let the
    caller choose.
    """
    target = DELIVERY_RULES[move].target or to
    if target is None:
        raise ValueError(f"delivery move {move.value} needs a target state")
    return await Delivery.filter(**where, state__in=_DELIVERY_SOURCES[move]).update(state=target.value, **changes)
