"""Deciding on posts: approve, request changes, reject; and what awaits me.

Every decision runs in one transaction that first locks the post row (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite serialises writers anyway), so deciders on one post queue up behind each other and
see each other's decisions. The unique key on decisions makes a repeated click harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from handlers import audit, scheduling
from handlers.commandline import parse_post_id
from handlers.context import Context
from handlers.messages import Reply, info
from handlers.policy import Policy, policy_for
from handlers.router import Router
from handlers.views import approval_card, awaited, summary_line, when_text
from models.approvals import ApprovalDecision, Decision
from models.errors import AlreadyDecided, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from models.lifecycle import Action, PostState, advance, describe_refusal
from models.members import Member
from models.posts import Post

router = Router()

_PAST = {Decision.APPROVE: "approved", Decision.REQUEST_CHANGES: "sent back for changes", Decision.REJECT: "rejected"}
_ACTION = {
    Decision.APPROVE: Action.APPROVE_FINAL,
    Decision.REQUEST_CHANGES: Action.REQUEST_CHANGES,
    Decision.REJECT: Action.REJECT,
}


@dataclass(frozen=True)
class Outcome:
    post: Post
    state: PostState
    level_done: bool
    repeated: bool


async def decide(ctx: Context, post_id: int, decision: Decision, reason: str | None) -> Outcome:
    """Record ``ctx.member``'s decision on the post's current level, atomically."""
    if decision != Decision.APPROVE and not reason:
        verb = "/changes" if decision == Decision.REQUEST_CHANGES else "/reject"
        raise InvalidInput(f"Please say why: {verb} {post_id} REASON.")
    async with in_transaction():
        post = await Post.select_for_update().filter(id=post_id).first()
        if post is None:
            raise NotFound(f"There is no post {post_id}.")
        mine = await ApprovalDecision.filter(
            post_id=post_id, version=post.version, approver_id=ctx.member.id, decision=decision.value
        ).first()
        if mine is not None:
            return Outcome(post, post.lifecycle_state, level_done=False, repeated=True)
        if post.lifecycle_state != PostState.PENDING_APPROVAL:
            raise await _refusal(post, decision)
        if post.author_id == ctx.member.id:  # type: ignore[attr-defined]
            raise PermissionDenied(f"You can't {_verb(decision)} your own post.")
        policy = await policy_for(post)
        level_no = post.approval_level
        level = policy.level(level_no)
        if not level.allows(ctx.member, ctx.roles):
            raise PermissionDenied(f"Level {level_no} of post {post_id} needs {level.describe()}.")
        earlier = await ApprovalDecision.filter(
            post_id=post_id, version=post.version, level=level_no, approver_id=ctx.member.id
        ).first()
        if earlier is not None:
            raise AlreadyDecided(f"You already {_PAST[Decision(earlier.decision)]} post {post_id} at this level.")
        await ApprovalDecision.create(
            post=post, version=post.version, level=level_no, approver=ctx.member, decision=decision.value, reason=reason
        )
        level_done, state = await _apply(post, policy, decision)
        await audit.record(
            f"decision.{decision.value}",
            post_id=post_id,
            actor=ctx.member,
            state=state.value,
            version=post.version,
            level=level_no,
            reason=reason,
        )
        if state == PostState.SCHEDULED:
            due = await scheduling.release(post, now=ctx.now)
        elif state in {PostState.REJECTED}:
            await scheduling.cancel_open(post_id)
    if state == PostState.SCHEDULED:
        await scheduling.announce(ctx.services, due)
    fresh = await Post.get(id=post_id)
    return Outcome(fresh, state, level_done, repeated=False)


async def _apply(post: Post, policy: Policy, decision: Decision) -> tuple[bool, PostState]:
    level_no = post.approval_level
    if decision != Decision.APPROVE:
        return True, await advance(post.id, _ACTION[decision], expected_version=post.version)
    level = policy.level(level_no)
    if level.mode == "all":
        needed = {m.id for m in await level.candidates() if m.id != post.author_id}  # type: ignore[attr-defined]
        approved = set(
            await ApprovalDecision.filter(
                post_id=post.id, version=post.version, level=level_no, decision=Decision.APPROVE.value
            ).values_list("approver_id", flat=True)
        )
        if not needed <= approved:
            return False, PostState.PENDING_APPROVAL
    final = level_no >= policy.depth
    action = Action.APPROVE_FINAL if final else Action.APPROVE_LEVEL
    state = await advance(
        post.id,
        action,
        expected_version=post.version,
        extra_filters={"approval_level": level_no},
        approval_level=level_no + (0 if final else 1),
    )
    return True, state


async def _refusal(post: Post, decision: Decision) -> Exception:
    """Explain why a decision can't be taken now, naming who decided when somebody did."""
    last = await ApprovalDecision.filter(post_id=post.id, version=post.version).order_by("-id").first()
    if last is not None and post.lifecycle_state != PostState.PENDING_APPROVAL:
        who = await Member.get(id=last.approver_id)  # type: ignore[attr-defined]
        past = _PAST[Decision(last.decision)]
        if Decision(last.decision) == decision:
            return AlreadyDecided(f"Post {post.id} was already {past} by {who.name}.")
        return InvalidTransition(f"Post {post.id} was {past} by {who.name}, so it can't be {_PAST[decision]}.")
    return InvalidTransition(describe_refusal(post.id, _ACTION[decision], post.lifecycle_state))


def _verb(decision: Decision) -> str:
    return {Decision.APPROVE: "approve", Decision.REQUEST_CHANGES: "request changes on", Decision.REJECT: "reject"}[
        decision
    ]


async def _decision_replies(ctx: Context, outcome: Outcome, decision: Decision, reason: str | None) -> list[Reply]:
    post = outcome.post
    card = await approval_card(post, tz=ctx.tz)
    if outcome.repeated:
        return [info(f"You already {_PAST[decision]} post {post.id}; nothing changed.", ephemeral=True)]
    targets = ", ".join(f.value for f in card.fields if f.label == "Targets")
    if outcome.state == PostState.SCHEDULED:
        text = f"Post {post.id} approved by {ctx.member.name}; it goes to {targets} {_when(post, ctx)}."
    elif outcome.state == PostState.PENDING_APPROVAL:
        policy = await policy_for(post)
        if outcome.level_done:
            text = (
                f"Post {post.id}: {ctx.member.name} approved; now at level {post.approval_level} of "
                f"{policy.depth} ({policy.level(post.approval_level).describe()})."
            )
        else:
            names = ", ".join(m.name for m in await awaited(post, policy))
            text = f"Post {post.id}: {ctx.member.name} approved; still waiting for {names}."
    else:
        text = f"Post {post.id} {_PAST[decision]} by {ctx.member.name}: {reason}"
    replies = [info(text), card]
    origin = post.origin or {}
    if origin and origin != ctx.conversation.to_json():
        from handlers.messages import Conversation

        await ctx.services.notifier.notify(Conversation.from_json(origin), info(text))
    return replies


def _when(post: Post, ctx: Context) -> str:
    text = when_text(post, ctx.tz)
    return "now" if text.startswith("as soon") else f"at {text}"


def _id_and_reason(args: str, usage: str) -> tuple[int, str | None]:
    head, _, rest = args.strip().partition(" ")
    return parse_post_id(head or None, usage), (rest.strip() or None)


@router.command("approve", "/approve ID", "approve a post at its current level")
async def approve_command(ctx: Context, args: str) -> list[Reply]:
    post_id, _ = _id_and_reason(args, "/approve ID")
    outcome = await decide(ctx, post_id, Decision.APPROVE, None)
    return await _decision_replies(ctx, outcome, Decision.APPROVE, None)


@router.command("changes", "/changes ID REASON", "send a post back to its author with a reason")
async def changes_command(ctx: Context, args: str) -> list[Reply]:
    post_id, reason = _id_and_reason(args, "/changes ID REASON")
    outcome = await decide(ctx, post_id, Decision.REQUEST_CHANGES, reason)
    return await _decision_replies(ctx, outcome, Decision.REQUEST_CHANGES, reason)


@router.command("reject", "/reject ID REASON", "reject a post for good, with a reason")
async def reject_command(ctx: Context, args: str) -> list[Reply]:
    post_id, reason = _id_and_reason(args, "/reject ID REASON")
    outcome = await decide(ctx, post_id, Decision.REJECT, reason)
    return await _decision_replies(ctx, outcome, Decision.REJECT, reason)


@router.command("pending", "/pending", "list the posts waiting for your decision")
async def pending_command(ctx: Context, args: str) -> list[Reply]:
    lines = []
    for post in await Post.filter(state=PostState.PENDING_APPROVAL.value).order_by("id"):
        policy = await policy_for(post)
        if ctx.member.id in {m.id for m in await awaited(post, policy)}:
            lines.append(await summary_line(post, ctx.tz))
    if not lines:
        return [info("Nothing is waiting for your approval.", ephemeral=True)]
    return [info("Waiting for you:\n" + "\n".join(lines), ephemeral=True)]
