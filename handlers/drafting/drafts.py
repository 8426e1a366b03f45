"""Drafting: create a post, edit it, withdraw or cancel it."""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Callable
from datetime import datetime

from tortoise.transactions import in_transaction

from handlers import audit
from handlers.admin import accounts
from handlers.context import Context
from handlers.drafting.media import describe
from handlers.drafting.views import approval_card, when_text
from handlers.messages import Reply, info
from handlers.notices import tell_card, tell_members
from handlers.review import timers
from handlers.review.asking import ask_awaited
from handlers.review.policy import Policy, may_publish_directly, strictest
from handlers.router import Router
from handlers.text.commandline import parse_post_id, split_options
from handlers.text.platforms import check_text, platform
from handlers.timing import recurring, scheduling, slots
from handlers.timing.cronrules import parse_every
from handlers.timing.timeparse import ensure_future, parse_when
from models.accounts import SocialAccount
from models.approvals import ApprovalDecision, Decision
from models.errors import InvalidInput, NotFound, PermissionDenied, about
from models.lifecycle import Action, PostState, advance
from models.members import ADMIN_ROLE, Member
from models.posts import Delivery, Post

router = Router()
DRAFT_USAGE = (
    "/draft [--to ACCOUNT,…] [--at WHEN|next] [--every RULE [--tz ZONE] [--until DATE|--count N]]"
    " [--media REF,…] [--review] TEXT"
)
DRAFT_OPTIONS = frozenset({"to", "at", "every", "tz", "until", "count", "media"})
DRAFT_FLAGS = frozenset({"review"})
MAX_TEXT = 10_000
NO_ACCOUNTS = "There are no accounts to post to yet; an admin connects one with /account connect PLATFORM."


# ``--at next`` alone takes the next free slot; a day-like word after it (``next blursday``) is a
# mistyped time, to be quoted back, not the start of the post's text.
_AFTER_NEXT = re.compile(r"--at\s+next\s+(\S+)", re.IGNORECASE)
_DAYISH = re.compile(r"[a-z]*day|mon|tues?|weds?|thu|thurs?|fri|sat|sun", re.IGNORECASE)


def _accepts_time(ctx: Context, args: str = "") -> Callable[[str], bool]:
    after_next = _AFTER_NEXT.search(args)
    slot_ok = not (after_next and _DAYISH.fullmatch(after_next.group(1)))

    def accept(candidate: str) -> bool:
        if candidate.lower() == "next":
            return slot_ok
        try:
            parse_when(candidate, now=ctx.now, tz=ctx.tz)
        except InvalidInput:
            return False
        return True

    return accept


def _accepts_until(ctx: Context) -> Callable[[str], bool]:
    accepts_time = _accepts_time(ctx)
    return lambda candidate: recurring.looks_like_date(candidate) or accepts_time(candidate)


def _accepts_schedule(candidate: str) -> bool:
    try:
        parse_every(candidate)
    except InvalidInput:
        return False
    return True


async def load_post(post_id: int) -> Post:
    post = await Post.filter(id=post_id).first()
    if post is None:
        raise NotFound(f"There is no post {post_id}.")
    return post


def parse_due(ctx: Context, raw: str | None) -> datetime | None:
    """None means "as soon as approved"."""
    if raw is None or raw.strip().lower() == "now":
        return None
    when = parse_when(raw, now=ctx.now, tz=ctx.tz)
    ensure_future(when, now=ctx.now, tz=ctx.tz)
    return when


async def _targets(raw: str | None) -> list[SocialAccount]:
    if raw is None:
        enabled = await SocialAccount.filter(enabled=True).order_by("id")
        if len(enabled) == 1:
            return enabled
        if not enabled:
            raise InvalidInput(NO_ACCOUNTS)
        raise InvalidInput("Which accounts? Add --to ACCOUNT (several: --to x,linkedin); /account list shows them.")
    handles = [h for h in (p.strip() for p in raw.split(",")) if h]
    if not handles:
        raise InvalidInput("--to needs at least one account name.")
    return await accounts.find_many(handles)


@router.command("draft", DRAFT_USAGE, "write a post and send it for approval (/draft alone: step by step)")
async def draft_command(ctx: Context, args: str) -> list[Reply]:
    from handlers.drafting import guided  # the guided /draft builds on this module

    stepped = await guided.intercept(ctx, args)
    if stepped is not None:
        return stepped
    options, text = split_options(
        args,
        known=DRAFT_OPTIONS,
        flags=DRAFT_FLAGS,
        multiword={"at": _accepts_time(ctx, args), "every": _accepts_schedule, "until": _accepts_until(ctx)},
        command="/draft",
    )
    next_slot = (options.get("at") or "").lower() == "next"
    with about("when"):
        series = recurring.read_options(ctx, options)
        due = None if next_slot else parse_due(ctx, options.get("at"))
    with about("text"):
        if not text:
            raise InvalidInput(f"A post needs some text. Usage: {DRAFT_USAGE}")
        check_length(text)
    with about("media"):
        media = await stored(ctx, media_refs(options.get("media")))
    with about("targets"):
        targets = await _targets(options.get("to"))
    _, replies = await create_draft(
        ctx,
        text=text,
        media=media,
        targets=targets,
        due=due,
        next_slot=next_slot,
        series=series,
        review="review" in options,
    )
    return replies


def check_length(text: str) -> None:
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"That post is {len(text)} characters; Herald takes at most {MAX_TEXT}.")


async def create_draft(
    ctx: Context,
    *,
    text: str,
    media: list[str],
    targets: list[SocialAccount],
    due: datetime | None,
    next_slot: bool = False,
    series: recurring.Spec | None = None,
    review: bool = False,
) -> tuple[Post, list[Reply]]:
    """Make the post from what the member gave (the one-line ``/draft`` and the guided one both end here):
    check it against every target's rules, then submit it for approval or schedule it directly; returns the
    post and the replies. ``due`` None: as soon as approved; ``next_slot``: the first free posting slot."""
    if next_slot:
        with about("when"):
            due = await slots.next_free(targets, now=ctx.now)
    metas = await describe(media, ctx.services.media)
    with about("text"):
        for account in targets:
            check_text(platform(account.platform), text, media, metas)
    policy = await strictest(targets)
    direct = not review and await may_publish_directly(ctx.member, ctx.roles, targets)
    if not direct:
        await _check_someone_can_approve(ctx, policy)
    async with in_transaction():
        post = await Post.create(
            author=ctx.member, text=text, media=media, due_at=due, origin=ctx.conversation.to_json()
        )
        for account in targets:
            await Delivery.create(post=post, account=account, idempotency_key=uuid.uuid4().hex)
        if series is not None:
            await recurring.start(post, series)
        await audit.record(
            "post.created",
            post_id=post.id,
            actor=ctx.member,
            state=PostState.DRAFT.value,
            version=1,
            text=text,
            targets=[a.handle for a in targets],
        )
        if direct:
            state = await advance(post.id, Action.SCHEDULE_DIRECT)
            released = await scheduling.release(post, now=ctx.now)
        else:
            state = await advance(post.id, Action.SUBMIT)
            await timers.plan_level(post, policy, now=ctx.now)
            await timers.plan_expiry(post)
        await audit.record(
            "post.scheduled_directly" if direct else "post.submitted",
            post_id=post.id,
            actor=ctx.member,
            state=state.value,
            version=1,
        )
    post = await load_post(post.id)
    where = f"it goes to {', '.join(a.handle for a in targets)} {_when_phrase(post, ctx)}"
    if series is not None:
        where = recurring.where_phrase(series, [a.handle for a in targets], ctx.tz)
    elif next_slot:
        where += " (the next free slot)"
    if direct:
        await scheduling.announce(ctx.services, released)
        return post, [
            info(
                f"Post {post.id} is scheduled without approval (you may publish directly to these accounts); "
                f"{where.replace('as soon as approved', 'now')}."
            )
        ]
    confirm = info(
        f"Post {post.id} is waiting for approval ({policy.who_at(1)}); {where}.",
        ephemeral=True,
    )
    card = await approval_card(post, tz=ctx.tz)
    await tell_card(ctx.services, post, card, skip=ctx.conversation)
    await ask_awaited(ctx.services, post, policy)
    return post, [confirm, card]


async def _check_someone_can_approve(ctx: Context, policy: Policy) -> None:
    """Refuse a draft no one could ever approve: each level needs its own non-author approver."""
    options = [[m.id for m in await level.candidates() if m.id != ctx.member.id] for level in policy.levels]
    for number, (level, ids) in enumerate(zip(policy.levels, options, strict=True), 1):
        if not ids:
            raise InvalidInput(
                f"Nobody but you can approve level {number} of the {policy.source} policy ({level.describe()}); "
                f"ask an admin to give someone that role or change it with /policy set {policy.source} …."
            )
    if not _distinct_pick(options, frozenset()):
        raise InvalidInput(
            f"The {policy.source} policy needs a different approver at each of its {policy.depth} levels, and "
            f"there aren't enough people besides you; ask an admin to change it with /policy set {policy.source} …."
        )


def _distinct_pick(options: list[list[int]], taken: frozenset[int]) -> bool:
    """Whether each level can get its own member (levels ≤ 3, so plain backtracking is enough)."""
    if not options:
        return True
    return any(_distinct_pick(options[1:], taken | {m}) for m in options[0] if m not in taken)


MAX_MEDIA = 10


def media_refs(raw: str | None) -> list[str]:
    """``--media ref1,ref2``: stored image references (adapters store the files and pass their refs)."""
    if raw is None:
        return []
    refs = [r.strip() for r in raw.split(",") if r.strip()]
    if not refs:
        raise InvalidInput("--media needs at least one image reference.")
    if len(refs) > MAX_MEDIA:
        raise InvalidInput(f"A post takes at most {MAX_MEDIA} images; this has {len(refs)}.")
    return refs


async def stored(ctx: Context, refs: list[str]) -> list[str]:
    """The refs, each checked against the media store (when Herald has one): a ref it doesn't have is refused."""
    store = ctx.services.media
    if store is None:
        return refs
    for ref in refs:
        if not await store.exists(ref):
            raise InvalidInput(f"Herald has no stored file {ref!r}; attach the image or video again.")
    return refs


def _when_phrase(post: Post, ctx: Context) -> str:
    text = when_text(post, ctx.tz)
    return text if text.startswith("as soon") else f"at {text}"


EDIT_USAGE = "/edit ID NEW TEXT"


@router.command("edit", EDIT_USAGE, "change a post's text (approval starts again)")
async def edit_command(ctx: Context, args: str) -> list[Reply]:
    head, _, new_text = args.strip().partition(" ")
    post_id = parse_post_id(head or None, EDIT_USAGE)
    new_text = new_text.strip()
    if not new_text:
        raise InvalidInput(f"What should the post say? Usage: {EDIT_USAGE}")
    post = await load_post(post_id)
    if post.author_id != ctx.member.id:  # type: ignore[attr-defined]
        raise PermissionDenied(f"Only the author can edit post {post_id}.")
    if new_text == post.text:
        return [info(f"Post {post_id} already says that; nothing changed.", ephemeral=True)]
    metas = await describe(post.media, ctx.services.media)
    if None in metas:  # a file gone from the store: the card says so; a new text can't fix it, so no refusal
        metas = []
    for delivery in await Delivery.filter(post_id=post_id).prefetch_related("account"):
        check_text(platform(delivery.account.platform), new_text, list(post.media), metas)
    targets = [d.account for d in await Delivery.filter(post_id=post_id).prefetch_related("account")]
    policy = await strictest(targets)
    open_states = {PostState.PENDING_APPROVAL, PostState.CHANGES_REQUESTED, PostState.SCHEDULED}
    direct = post.lifecycle_state == PostState.SCHEDULED and await may_publish_directly(ctx.member, ctx.roles, targets)
    resubmit = post.lifecycle_state in open_states and not direct
    # a missed post's time has passed and its approval was for the old text: it waits to be rescheduled
    to = (
        PostState.PENDING_APPROVAL
        if resubmit
        else PostState.EXPIRED
        if post.lifecycle_state == PostState.MISSED
        else None
    )
    diff = "\n".join(
        difflib.unified_diff(post.text.splitlines(), new_text.splitlines(), "before", "after", lineterm="", n=1)
    )
    earlier = await Member.filter(
        id__in=list(
            await ApprovalDecision.filter(
                post_id=post_id, version=post.version, decision=Decision.APPROVE.value
            ).values_list("approver_id", flat=True)
        )
    )
    async with in_transaction():
        state = await advance(
            post_id,
            Action.EDIT,
            to=to,
            expected_version=post.version,
            bump_version=True,
            text=new_text,
            approval_level=1,
        )
        if resubmit or to == PostState.EXPIRED:
            await scheduling.hold(post_id)
        await audit.record(
            "post.edited",
            post_id=post_id,
            actor=ctx.member,
            state=state.value,
            version=post.version + 1,
            diff=diff,
            text=new_text,
        )
        post = await load_post(post_id)
        if resubmit:
            await timers.plan_level(post, policy, now=ctx.now)
            await timers.plan_expiry(post)
    if earlier:
        await tell_members(
            ctx.services,
            earlier,
            Reply(
                text=f"Post {post_id} changed after you approved version {post.version - 1} "
                f"({ctx.member.name} edited it to v{post.version}); it needs approval again from level 1.",
                post_id=post_id,
            ),
        )
    card = await approval_card(post, tz=ctx.tz)
    await tell_card(ctx.services, post, card, skip=ctx.conversation)
    if resubmit:
        await ask_awaited(ctx.services, post, policy)
    note = " Approval starts again from level 1." if resubmit else ""
    return [info(f"Post {post_id} is now version {post.version}.{note}", ephemeral=True), card]


async def _end(ctx: Context, args: str, action: Action, usage: str) -> list[Reply]:
    post_id = parse_post_id(args.split()[0] if args.split() else None, usage)
    post = await load_post(post_id)
    is_author = post.author_id == ctx.member.id  # type: ignore[attr-defined]
    if not is_author and not (action == Action.CANCEL and ctx.has_role(ADMIN_ROLE)):
        who = "the author" if action == Action.WITHDRAW else "the author or an admin"
        raise PermissionDenied(f"Only {who} can {action.value} post {post_id}.")
    async with in_transaction():
        state = await advance(post_id, action)
        await scheduling.cancel_open(post_id)
        await audit.record(
            f"post.{action.value}", post_id=post_id, actor=ctx.member, state=state.value, version=post.version
        )
    post = await load_post(post_id)
    verb = "withdrawn" if action == Action.WITHDRAW else "cancelled"
    return [info(f"Post {post_id} is {verb}; it will not be published."), await approval_card(post, tz=ctx.tz)]


@router.command("withdraw", "/withdraw ID", "take your own post back")
async def withdraw_command(ctx: Context, args: str) -> list[Reply]:
    return await _end(ctx, args, Action.WITHDRAW, "/withdraw ID")


@router.command(
    "cancel", "/cancel ID", "stop a post from going out (author or admin; /cancel alone leaves a guided draft)"
)
async def cancel_command(ctx: Context, args: str) -> list[Reply]:
    return await _end(ctx, args, Action.CANCEL, "/cancel ID")
