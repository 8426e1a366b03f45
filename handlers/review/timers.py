"""Approval expiry and reminders, as timers that fire once at their time.

* ``expire`` at the post's due time: if approval isn't complete by then, the post doesn't go out;
  it becomes ``expired`` and the author gets a Reschedule button.
* ``remind`` per level: after the level has waited ``remind_after`` (and again as long again
  later), and ``remind_before`` ahead of the due time; at most two per level and version, and the
  second (or the one before the due time, when no other can follow) also tells the admins.

A timer records the post version and level it was set for; if the post moved on, it does nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from handlers import audit
from handlers.admin.members import mentions
from handlers.context import Services
from handlers.drafting.views import awaited, preview
from handlers.messages import Button, Reply
from handlers.notices import member_zone, tell_members, tell_origin
from handlers.review import asking
from handlers.review.policy import Policy, policy_for
from handlers.timing.timeparse import format_local
from models.errors import InvalidTransition
from models.lifecycle import Action, PostState, advance
from models.members import ADMIN_ROLE, Member, MemberRole
from models.posts import Post
from models.timers import Timer

log = structlog.get_logger(__name__)
EXPIRE, REMIND = "expire", "remind"
MAX_REMINDERS = 2


async def plan_level(post: Post, policy: Policy, *, now: datetime) -> None:
    """Set the reminders for the post's current level (call when a level opens)."""
    level = post.approval_level
    if policy.remind_after > timedelta(0):
        for n in (1, 2):
            at = now + policy.remind_after * n
            if post.due_at is None or at < post.due_at:
                await Timer.create(
                    kind=REMIND, post_id=post.id, version=post.version, level=level, run_at=at, data={"why": "waiting"}
                )
    if post.due_at is not None and policy.remind_before > timedelta(0):
        at = post.due_at - policy.remind_before
        if at > now:
            await Timer.create(
                kind=REMIND, post_id=post.id, version=post.version, level=level, run_at=at, data={"why": "due"}
            )


async def plan_expiry(post: Post) -> None:
    if post.due_at is not None:
        await Timer.create(kind=EXPIRE, post_id=post.id, version=post.version, run_at=post.due_at)


TimerHandler = Callable[[Timer, Services], Awaitable[None]]


def register(kind: str, handler: TimerHandler) -> None:
    """Make ``handler`` fire timers of ``kind``: other modules add their kinds at wiring (e.g.
    ``handlers.timing.recurring.install``). Registering the same again changes nothing; another handler
    for a kind already taken is a mistake."""
    if HANDLERS.setdefault(kind, handler) is not handler:
        raise ValueError(f"timer kind {kind!r} already has a handler")


async def fire(timer: Timer, services: Services) -> None:
    handler = HANDLERS.get(timer.kind)
    if handler is None:
        log.warning("timer.unknown_kind", kind=timer.kind, timer_id=timer.id)
        return
    await handler(timer, services)


async def _current_post(timer: Timer) -> Post | None:
    post = await Post.filter(id=timer.post_id).first()
    return post if post is not None and post.version == timer.version else None


async def _fire_expire(timer: Timer, services: Services) -> None:
    if post := await _current_post(timer):
        await _expire(post, services)


async def _fire_remind(timer: Timer, services: Services) -> None:
    if post := await _current_post(timer):
        await _remind(post, timer, services)


HANDLERS: dict[str, TimerHandler] = {EXPIRE: _fire_expire, REMIND: _fire_remind}
"""What fires each kind of timer: this module's own, and those :func:`register` adds."""


async def _expire(post: Post, services: Services) -> None:
    if post.due_at is None or post.due_at > services.clock.now():
        return  # rescheduled since the timer was set
    policy = await policy_for(post)
    waiting = await awaited(post, policy)  # before the state changes: they are the ones to tell
    try:
        await advance(post.id, Action.EXPIRE, expected_version=post.version)
    except InvalidTransition:
        return  # approved, withdrawn or rejected meanwhile
    await audit.record(
        "post.expired", post_id=post.id, state=PostState.EXPIRED.value, version=post.version, level=post.approval_level
    )
    log.info("post.expired", post_id=post.id, level=post.approval_level)
    author = await Member.get(id=post.author_id)  # type: ignore[attr-defined]
    when = format_local(post.due_at, member_zone(author, services))
    at = f" ({policy.at(post.approval_level)})" if policy.depth > 1 else ""
    text = (
        f"Post {post.id} was due {when} but approval wasn't complete{at}, so it did not go out. "
        "Pick a new time to send it for approval again."
    )
    reschedule = Button("Reschedule", f"/schedule {post.id}", "primary", ask="when")
    await tell_origin(services, post, Reply(text=text, buttons=(reschedule,), post_id=post.id, kind="report"))
    note = Reply(text=f"Post {post.id} expired before it was approved; nothing more to decide.", post_id=post.id)
    await tell_members(services, waiting, note)


async def _remind(post: Post, timer: Timer, services: Services) -> None:
    if post.lifecycle_state != PostState.PENDING_APPROVAL or post.approval_level != timer.level:
        return
    sent = await _reminders_sent(post, timer.level or 0)
    if sent >= MAX_REMINDERS:
        return
    policy = await policy_for(post)
    waiting = await awaited(post, policy)
    if not waiting:
        return
    last = sent + 1 == MAX_REMINDERS or timer.data.get("why") == "due"
    due = "as soon as approved" if post.due_at is None else None
    await audit.record(
        "approval.reminder",
        post_id=post.id,
        version=post.version,
        level=timer.level,
        to=[m.name for m in waiting],
        escalated=last,
    )
    # whoever wasn't asked yet (given the role since, or the ask was lost) is asked now, with the buttons;
    # the others were, so a reminder doesn't repeat them
    fresh = {m.id for m in await asking.ask_awaited(services, post, policy)}
    for member in waiting:
        if member.id in fresh:
            continue
        when = due or format_local(post.due_at, member_zone(member, services))  # type: ignore[arg-type]
        at = f"{policy.at(timer.level)}, " if policy.depth > 1 else ""
        text = (
            f"Reminder: post {post.id} is waiting for your approval ({at}goes out {when}); the buttons are in my "
            f"earlier message, or type /approve {post.id}."
            f"\n> {preview(post.text, 120)}"
        )
        await tell_members(services, [member], Reply(text=text, post_id=post.id))
    if last:
        admins = await Member.filter(
            id__in=list(await MemberRole.filter(role=ADMIN_ROLE).values_list("member_id", flat=True))
        ).order_by("name")
        names = ", ".join(f"@{m.name}" for m in waiting)
        text = (
            f"Escalation: post {post.id} still needs {policy.at(timer.level) or 'approval'} "
            f"({policy.level(timer.level or 1).describe()}); waiting for {names}."
        )
        await tell_members(services, admins, Reply(text=text, post_id=post.id, mentions=await mentions(waiting)))


async def _reminders_sent(post: Post, level: int) -> int:
    entries = await audit.history(post.id)
    return sum(
        1
        for e in entries
        if e.action == "approval.reminder" and e.version == post.version and (e.detail or {}).get("level") == level
    )
