"""Deciding on posts: approve (optionally with an edit), request changes, reject; what awaits me.

Every decision runs in one transaction that first locks the post row (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite serialises writers anyway), so deciders on one post queue up behind each other
and see each other's decisions. The unique key on decisions makes a repeated click harmless, also
after a restart. Rules: never the author; one decision per member per level; a member approves at
most one level of a version; ANY levels need one approval, ALL levels everyone listed (members who
already approved an earlier level of this version count as having approved).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from tortoise.transactions import in_transaction

from handlers import audit
from handlers.admin.members import mentions, mentions_named
from handlers.context import Context
from handlers.drafting.views import approval_card, awaited, summary_line, when_text
from handlers.messages import Conversation, Reply, info
from handlers.notices import tell_card, tell_members, tell_origin
from handlers.review import timers
from handlers.review.asking import ask_awaited
from handlers.review.policy import Policy, policy_for
from handlers.router import Router
from handlers.text.commandline import parse_post_id, split_options
from handlers.text.platforms import check_text, platform
from handlers.timing import scheduling
from models.approvals import ApprovalDecision, Decision
from models.errors import AlreadyDecided, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from models.lifecycle import Action, PostState, advance, describe_refusal
from models.members import Member
from models.posts import Delivery, Post

router = Router()

_PAST = {
    Decision.APPROVE: "approved",
    Decision.REQUEST_CHANGES: "sent back for changes",
    Decision.REJECT: "rejected",
}
_ACTION = {
    Decision.APPROVE: Action.APPROVE_FINAL,
    Decision.REQUEST_CHANGES: Action.REQUEST_CHANGES,
    Decision.REJECT: Action.REJECT,
}


@dataclass(frozen=True)
class Outcome:
    post: Post
    state: PostState
    levels_opened: list[int] = field(default_factory=list)
    repeated: bool = False
    edited_diff: str | None = None
    restarted: bool = False
    earlier_approvers: list[Member] = field(default_factory=list)


async def level_complete(post: Post, version: int, level_no: int, policy: Policy) -> bool:
    """Whether the decisions on record complete ``level_no`` of ``version``."""
    rows = await ApprovalDecision.filter(post_id=post.id, version=version, decision=Decision.APPROVE.value)
    here = {r.approver_id for r in rows if r.level == level_no}  # type: ignore[attr-defined]
    if not here:
        return False
    level = policy.level(level_no)
    if level.mode == "any":
        return True
    elsewhere = {r.approver_id for r in rows if r.level != level_no}  # type: ignore[attr-defined]
    needed = {m.id for m in await level.candidates()} - {post.author_id} - elsewhere  # type: ignore[attr-defined]
    return needed <= here


async def decide(
    ctx: Context, post_id: int, decision: Decision, reason: str | None, *, new_text: str | None = None
) -> Outcome:
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
        if mine is not None and new_text is None:
            return Outcome(post, post.lifecycle_state, repeated=True)
        if post.lifecycle_state != PostState.PENDING_APPROVAL:
            raise await _refusal(post, decision)
        if post.author_id == ctx.member.id:  # type: ignore[attr-defined]
            raise PermissionDenied(f"You can't {_verb(decision)} your own post.")
        policy = await policy_for(post)
        level_no = post.approval_level
        level = policy.level(level_no)
        if not level.allows(ctx.member, ctx.roles):
            raise await _not_allowed(post, policy, ctx, level_no)
        await _only_once(post, ctx.member, level_no, level.describe())
        version, diff, restarted = post.version, None, False
        earlier: list[Member] = []
        if new_text is not None:
            version, diff, restarted, earlier = await _edit_as_approver(ctx, post, new_text, level_no)
        await ApprovalDecision.create(
            post=post, version=version, level=level_no, approver=ctx.member, decision=decision.value, reason=reason
        )
        post = await Post.get(id=post_id)
        opened, state = await _apply(post, policy, decision)
        await audit.record(
            f"decision.{decision.value}",
            post_id=post_id,
            actor=ctx.member,
            state=state.value,
            version=version,
            level=level_no,
            reason=reason,
        )
        if state == PostState.SCHEDULED:
            due = await scheduling.release(post, now=ctx.now)
        elif state == PostState.REJECTED:
            await scheduling.cancel_open(post_id)
        post = await Post.get(id=post_id)
        if new_text is not None and state == PostState.PENDING_APPROVAL:
            # a new version: timers are per version, so it needs its own expiry and reminders
            await timers.plan_expiry(post)
            await timers.plan_level(post, policy, now=ctx.now)
        elif opened:
            await timers.plan_level(post, policy, now=ctx.now)
    if state == PostState.SCHEDULED:
        await scheduling.announce(ctx.services, due)
    return Outcome(post, state, opened, edited_diff=diff, restarted=restarted, earlier_approvers=earlier)


async def _not_allowed(post: Post, policy: Policy, ctx: Context, level_no: int) -> Exception:
    """Why this member can't decide now: another level, or a level someone already decided."""
    needs = f"Level {level_no} of post {post.id} needs {policy.level(level_no).describe()}."
    for earlier in range(level_no - 1, 0, -1):
        if policy.level(earlier).allows(ctx.member, ctx.roles):
            rows = await ApprovalDecision.filter(
                post_id=post.id, version=post.version, level=earlier, decision=Decision.APPROVE.value
            ).prefetch_related("approver")
            names = ", ".join(sorted(r.approver.name for r in rows)) or "someone"
            return AlreadyDecided(f"Level {earlier} of post {post.id} was already approved by {names}. {needs}")
    return PermissionDenied(needs)


async def _only_once(post: Post, member: Member, level_no: int, needs: str) -> None:
    rows = await ApprovalDecision.filter(post_id=post.id, version=post.version, approver_id=member.id)
    for row in rows:
        if row.level == level_no:
            raise AlreadyDecided(f"You already {_PAST[Decision(row.decision)]} post {post.id} at this level.")
        if row.decision == Decision.APPROVE:
            raise PermissionDenied(
                f"You already approved post {post.id} at level {row.level}; level {level_no} needs someone else "
                f"({needs})."
            )


async def _edit_as_approver(
    ctx: Context, post: Post, new_text: str, level_no: int
) -> tuple[int, str, bool, list[Member]]:
    """The approver's edit becomes a new version; beyond level 1, approval restarts from level 1."""
    if new_text == post.text:
        raise InvalidInput(f"Post {post.id} already says that; use /approve {post.id} without --text.")
    for d in await Delivery.filter(post_id=post.id).prefetch_related("account"):
        check_text(platform(d.account.platform), new_text, list(post.media))
    earlier = await _approvers_of(post)
    restart = level_no > 1
    await advance(
        post.id,
        Action.EDIT,
        expected_version=post.version,
        bump_version=True,
        text=new_text,
        approval_level=1 if restart else level_no,
    )
    diff = _diff(post.text, new_text)
    await audit.record(
        "post.edited",
        post_id=post.id,
        actor=ctx.member,
        state=PostState.PENDING_APPROVAL.value,
        version=post.version + 1,
        diff=diff,
        text=new_text,
        by_approver=True,
    )
    return post.version + 1, diff, restart, earlier


def _diff(old: str, new: str) -> str:
    return "\n".join(difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm="", n=1))


async def _approvers_of(post: Post) -> list[Member]:
    ids = await ApprovalDecision.filter(
        post_id=post.id, version=post.version, decision=Decision.APPROVE.value
    ).values_list("approver_id", flat=True)
    return await Member.filter(id__in=list(ids)).order_by("name")


async def _apply(post: Post, policy: Policy, decision: Decision) -> tuple[list[int], PostState]:
    """Move the post on after a decision; returns the levels that opened and the new state."""
    if decision != Decision.APPROVE:
        return [], await advance(post.id, _ACTION[decision], expected_version=post.version)
    opened: list[int] = []
    level_no = post.approval_level
    while await level_complete(post, post.version, level_no, policy):
        final = level_no >= policy.depth
        state = await advance(
            post.id,
            Action.APPROVE_FINAL if final else Action.APPROVE_LEVEL,
            expected_version=post.version,
            extra_filters={"approval_level": level_no},
            approval_level=level_no if final else level_no + 1,
        )
        if final:
            return opened, state
        level_no += 1
        opened.append(level_no)
    return opened, PostState.PENDING_APPROVAL


async def _refusal(post: Post, decision: Decision) -> Exception:
    """Explain why a decision can't be taken now, naming who decided when somebody did."""
    last = await ApprovalDecision.filter(post_id=post.id, version=post.version).order_by("-id").first()
    caused_by = {
        PostState.SCHEDULED: Decision.APPROVE,
        PostState.CHANGES_REQUESTED: Decision.REQUEST_CHANGES,
        PostState.REJECTED: Decision.REJECT,
    }.get(post.lifecycle_state)
    if last is not None and caused_by is not None and Decision(last.decision) == caused_by:
        who = await Member.get(id=last.approver_id)  # type: ignore[attr-defined]
        past = _PAST[Decision(last.decision)]
        if Decision(last.decision) == decision:
            return AlreadyDecided(f"Post {post.id} was already {past} by {who.name}.")
        return InvalidTransition(f"Post {post.id} was {past} by {who.name}, so it can't be {_PAST[decision]}.")
    return InvalidTransition(describe_refusal(post.id, _ACTION[decision], post.lifecycle_state))


def _verb(decision: Decision) -> str:
    return {
        Decision.APPROVE: "approve",
        Decision.REQUEST_CHANGES: "request changes on",
        Decision.REJECT: "reject",
    }[decision]


async def _decision_replies(ctx: Context, outcome: Outcome, decision: Decision, reason: str | None) -> list[Reply]:
    post = outcome.post
    if outcome.repeated:
        return [info(f"You already {_PAST[decision]} post {post.id}; nothing changed.", ephemeral=True)]
    card = await approval_card(post, tz=ctx.tz)
    policy = await policy_for(post)
    author = await Member.get(id=post.author_id)  # type: ignore[attr-defined]
    named: list[Member] = [ctx.member, author]
    also: set[str] = set()
    targets = ", ".join(f.value for f in card.fields if f.label == "Targets")
    edited = f" (after editing it to v{post.version})" if outcome.edited_diff else ""
    me = f"@{ctx.member.name}"
    if outcome.state == PostState.SCHEDULED:
        rest = f" approved by {me}{edited}; it goes to {targets} {_when(post, ctx)}."
    elif outcome.state == PostState.PENDING_APPROVAL:
        level = policy.level(post.approval_level)
        also = set(level.who.members)
        if outcome.restarted:
            rest = (
                f": {me} edited it to v{post.version} and approved; approval starts "
                f"again at level 1 of {policy.depth} ({level.describe()})."
            )
        elif outcome.levels_opened:
            rest = (
                f": {me} approved{edited}; now at level {post.approval_level} of {policy.depth} ({level.describe()})."
            )
        else:
            waiting = await awaited(post, policy)
            named.extend(waiting)
            names = ", ".join(f"@{m.name}" for m in waiting)
            rest = f": {me} approved{edited}; level {post.approval_level} still waits for {names}."
    else:
        rest = f" {_PAST[decision]} by {me}: {reason}"
    people = await mentions(named) + await mentions_named(also - {m.name for m in named})
    line = Reply(text=f"Post {post.id}{rest}", post_id=post.id, mentions=people)
    # where the draft was made, the line names its author, so they are told of every decision
    told = Reply(text=f"Post {post.id} by @{author.name}{rest}", post_id=post.id, mentions=people)
    origin = Conversation.from_json(post.origin) if post.origin else None
    if origin is None:
        await tell_members(ctx.services, [author], told)
    else:
        await tell_origin(ctx.services, post, told, skip=ctx.conversation)
    await tell_card(ctx.services, post, card, skip=ctx.conversation)
    if outcome.edited_diff:
        note = f"{me} edited your post {post.id} (now v{post.version}):\n{outcome.edited_diff}"
        await tell_members(ctx.services, [author], Reply(text=note, post_id=post.id, mentions=people))
        others = [m for m in outcome.earlier_approvers if m.id != ctx.member.id]
        changed = (
            f"Post {post.id} changed after you approved it ({me} edited it to v{post.version}); "
            "it needs approval again."
        )
        await tell_members(ctx.services, others, Reply(text=changed, post_id=post.id, mentions=people))
    if outcome.state == PostState.PENDING_APPROVAL and (outcome.levels_opened or outcome.restarted):
        await ask_awaited(ctx.services, post, policy)
    return [told if origin == ctx.conversation else line, card]


def _when(post: Post, ctx: Context) -> str:
    text = when_text(post, ctx.tz)
    return "now" if text.startswith("as soon") else f"at {text}"


def _id_and_rest(args: str, usage: str) -> tuple[int, str]:
    head, _, rest = args.strip().partition(" ")
    return parse_post_id(head or None, usage), rest.strip()


APPROVE_USAGE = "/approve ID [--text NEW TEXT]"


@router.command("approve", APPROVE_USAGE, "approve a post at its current level (--text: edit it and approve)")
async def approve_command(ctx: Context, args: str) -> list[Reply]:
    post_id, rest = _id_and_rest(args, APPROVE_USAGE)
    options, leftover = split_options(rest, known={"text"}, command="/approve")
    new_text = options.get("text")
    if new_text is not None:
        new_text = (new_text + " " + leftover).strip()
        if not new_text:
            raise InvalidInput(f"--text needs the new text. Usage: {APPROVE_USAGE}")
    elif leftover:
        raise InvalidInput(
            f"/approve takes only a post number (to edit as you approve, add --text). Usage: {APPROVE_USAGE}"
        )
    outcome = await decide(ctx, post_id, Decision.APPROVE, None, new_text=new_text)
    return await _decision_replies(ctx, outcome, Decision.APPROVE, None)


@router.command("changes", "/changes ID REASON", "send a post back to its author with a reason")
async def changes_command(ctx: Context, args: str) -> list[Reply]:
    post_id, reason = _id_and_rest(args, "/changes ID REASON")
    outcome = await decide(ctx, post_id, Decision.REQUEST_CHANGES, reason or None)
    return await _decision_replies(ctx, outcome, Decision.REQUEST_CHANGES, reason)


@router.command("reject", "/reject ID REASON", "reject a post for good, with a reason")
async def reject_command(ctx: Context, args: str) -> list[Reply]:
    post_id, reason = _id_and_rest(args, "/reject ID REASON")
    outcome = await decide(ctx, post_id, Decision.REJECT, reason or None)
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
