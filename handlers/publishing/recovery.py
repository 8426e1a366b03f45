"""Putting deliveries right after something went wrong: retry, verify, republish, reschedule.

These are the text twins of the buttons on failure reports (``Retry``, ``Verify``, ``Republish``).
Every change goes through the state machine (:func:`~models.lifecycle.advance` for the post,
:func:`~models.lifecycle.move_deliveries` for its deliveries), in one transaction with its audit entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from handlers import audit
from handlers.context import Context
from handlers.drafting.drafts import load_post, parse_due
from handlers.drafting.views import approval_card, when_text
from handlers.messages import Reply, info
from handlers.publishing.delivery import refresh_cards
from handlers.review import timers
from handlers.review.policy import policy_for
from handlers.router import Router
from handlers.text.commandline import parse_post_id
from handlers.timing import scheduling
from models.approvals import ApprovalDecision, Decision
from models.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from models.lifecycle import (
    RULES,
    Action,
    DeliveryState,
    Move,
    PostState,
    advance,
    describe_refusal,
    move_deliveries,
)
from models.members import ADMIN_ROLE
from models.posts import Delivery, Post

router = Router()


def _may_manage(ctx: Context, post: Post) -> None:
    if post.author_id != ctx.member.id and not ctx.has_role(ADMIN_ROLE):  # type: ignore[attr-defined]
        raise PermissionDenied(f"Only the author of post {post.id} or an admin can do that.")


async def _delivery(token: str | None, usage: str) -> Delivery:
    delivery_id = parse_post_id(token, usage)
    delivery = await Delivery.filter(id=delivery_id).prefetch_related("account", "post").first()
    if delivery is None:
        raise NotFound(f"There is no delivery {delivery_id}.")
    return delivery


@router.command("retry", "/retry ID", "publish a failed post again to the accounts where it failed")
async def retry_command(ctx: Context, args: str) -> list[Reply]:
    post = await load_post(parse_post_id(args.split()[0] if args.split() else None, "/retry ID"))
    _may_manage(ctx, post)
    async with in_transaction():
        await advance(post.id, Action.RETRY)
        changed = await move_deliveries(
            Move.RETRY, {"post_id": post.id}, due_at=ctx.now, last_error=None, reported_at=None
        )
        if not changed:  # only unknown outcomes: retrying would leave the post scheduled with nothing to send
            raise InvalidInput(
                f"Post {post.id} has no failed delivery to retry; an unknown outcome needs /verify or /republish."
            )
        await audit.record(
            "post.retry",
            post_id=post.id,
            actor=ctx.member,
            state=PostState.SCHEDULED.value,
            version=post.version,
            deliveries=changed,
        )
    await scheduling.announce(ctx.services, ctx.now)
    return [info(f"Post {post.id} will be published again to {changed} account(s) now.")]


async def _unknown(args: str, usage: str, ctx: Context, only: str) -> Delivery:
    delivery = await _delivery(args.split()[0] if args.split() else None, usage)
    _may_manage(ctx, delivery.post)
    if delivery.delivery_state != DeliveryState.UNKNOWN:
        raise InvalidInput(f"Delivery {delivery.id} is {delivery.state}; only unknown outcomes {only}.")
    return delivery


async def _decide(delivery: Delivery, move: Move, **changes: Any) -> Post:
    """Lock the post (its deliveries settle under that lock) and move the delivery, if it is still unknown:
    two people deciding at once can't both win."""
    post = await Post.select_for_update().get(id=delivery.post.id)
    if not await move_deliveries(move, {"id": delivery.id}, **changes):
        raise InvalidTransition(f"Delivery {delivery.id} was decided meanwhile; nothing changed.")
    return post


@router.command("verify", "/verify DELIVERY [URL]", "confirm a post did reach the account (outcome was unknown)")
async def verify_command(ctx: Context, args: str) -> list[Reply]:
    delivery = await _unknown(args, "/verify DELIVERY [URL]", ctx, "need verifying")
    words = args.split()
    url = words[1] if len(words) > 1 else delivery.url
    async with in_transaction():
        post = await _decide(delivery, Move.VERIFY, url=url, last_error=None, published_at=ctx.now, reported_at=ctx.now)
        state = post.lifecycle_state
        if state not in RULES[Action.VERIFY].sources:  # e.g. cancelled meanwhile: nothing of it is published
            raise InvalidTransition(describe_refusal(post.id, Action.VERIFY, state))
        states = set(await Delivery.filter(post_id=post.id).values_list("state", flat=True))
        if states <= {DeliveryState.PUBLISHED.value, DeliveryState.CANCELLED.value}:  # else it stays as it is
            state = await advance(post.id, Action.VERIFY)
        await audit.record(
            "delivery.verified",
            post_id=post.id,
            actor=ctx.member,
            state=state.value,
            version=post.version,
            account=delivery.account.handle,
            url=url,
        )
    await refresh_cards(ctx.services.notifier, [post.id])  # the card drops the question it asked
    return [info(f"Marked post {post.id} as published on {delivery.account.handle}; it won't be sent again.")]


@router.command("republish", "/republish DELIVERY", "send a post whose outcome was unknown once more")
async def republish_command(ctx: Context, args: str) -> list[Reply]:
    delivery = await _unknown(args, "/republish DELIVERY", ctx, "can be republished")
    async with in_transaction():
        post = await _decide(delivery, Move.REPUBLISH, due_at=ctx.now, last_error=None, reported_at=None)
        state = post.lifecycle_state
        if state != PostState.PUBLISHING:  # its other deliveries are still going out: it stays publishing
            state = await advance(post.id, Action.REPUBLISH)  # refused unless failed (e.g. cancelled meanwhile)
        await audit.record(
            "delivery.republish",
            post_id=post.id,
            actor=ctx.member,
            state=state.value,
            version=post.version,
            account=delivery.account.handle,
        )
    await scheduling.announce(ctx.services, ctx.now)
    return [info(f"Post {post.id} will be sent to {delivery.account.handle} again now.")]


SCHEDULE_USAGE = "/schedule ID WHEN"


async def _back_on_schedule(ctx: Context, post: Post, due: datetime | None) -> PostState:
    """A missed post goes out again at ``due`` (now when None); its approval still stands."""
    when = due or ctx.now
    state = await advance(post.id, Action.RESCHEDULE, to=PostState.SCHEDULED, expected_version=post.version, due_at=due)
    await move_deliveries(Move.RESCHEDULE, {"post_id": post.id}, due_at=when, last_error=None, reported_at=None)
    return state


@router.command("publish", "/publish ID", "publish a missed post now")
async def publish_command(ctx: Context, args: str) -> list[Reply]:
    post = await load_post(parse_post_id(args.split()[0] if args.split() else None, "/publish ID"))
    _may_manage(ctx, post)
    if post.lifecycle_state != PostState.MISSED:
        raise InvalidInput(f"Post {post.id} is {post.lifecycle_state.label}; /publish is for posts that were missed.")
    async with in_transaction():
        state = await _back_on_schedule(ctx, post, None)
        await audit.record(
            "post.republished", post_id=post.id, actor=ctx.member, state=state.value, version=post.version
        )
    await scheduling.announce(ctx.services, ctx.now)
    return [info(f"Post {post.id} will be published now.")]


@router.command("schedule", SCHEDULE_USAGE, "change when a post goes out (now, in 2h, tomorrow 09:00 …)")
async def schedule_command(ctx: Context, args: str) -> list[Reply]:
    head, _, when = args.strip().partition(" ")
    post = await load_post(parse_post_id(head or None, SCHEDULE_USAGE))
    _may_manage(ctx, post)
    if not when.strip():
        raise InvalidInput(f"When should it go out? Usage: {SCHEDULE_USAGE}")
    due = parse_due(ctx, when)
    state = post.lifecycle_state
    movable = {PostState.DRAFT, PostState.PENDING_APPROVAL, PostState.CHANGES_REQUESTED, PostState.SCHEDULED}
    if state not in movable | {PostState.EXPIRED, PostState.MISSED}:
        raise InvalidInput(f"Post {post.id} is {state.label}, so its time can't be changed.")
    async with in_transaction():
        if state == PostState.MISSED:
            new_state = await _back_on_schedule(ctx, post, due)
        elif state == PostState.EXPIRED:  # same version: its decisions still stand, an open change request too
            changes_open = await ApprovalDecision.filter(
                post_id=post.id, version=post.version, decision=Decision.REQUEST_CHANGES.value
            ).exists()
            back = PostState.CHANGES_REQUESTED if changes_open else PostState.PENDING_APPROVAL
            new_state = await advance(post.id, Action.RESCHEDULE, to=back, expected_version=post.version, due_at=due)
        else:
            new_state = await advance(post.id, Action.EDIT, expected_version=post.version, due_at=due)
        if state == PostState.SCHEDULED:
            await Delivery.filter(post_id=post.id, state=DeliveryState.SCHEDULED.value).update(due_at=due or ctx.now)
        await audit.record(
            "post.rescheduled",
            post_id=post.id,
            actor=ctx.member,
            state=new_state.value,
            version=post.version,
            due_at=due.isoformat() if due else "as soon as approved",
        )
        post = await load_post(post.id)
        if post.lifecycle_state in {PostState.PENDING_APPROVAL, PostState.CHANGES_REQUESTED}:
            await timers.plan_expiry(post)
        if post.lifecycle_state == PostState.PENDING_APPROVAL:
            await timers.plan_level(post, await policy_for(post), now=ctx.now)
    if state in {PostState.SCHEDULED, PostState.MISSED}:
        await scheduling.announce(ctx.services, due or ctx.now)
    again = (
        {
            PostState.PENDING_APPROVAL: " It is waiting for approval again.",
            PostState.CHANGES_REQUESTED: " It still waits for the changes that were asked for.",
        }.get(post.lifecycle_state, "")
        if state == PostState.EXPIRED
        else ""
    )
    return [
        info(f"Post {post.id} now goes out {when_text(post, ctx.tz)}.{again}"),
        await approval_card(post, tz=ctx.tz),
    ]
