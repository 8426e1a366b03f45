"""Asking the members a post awaits for their decision: a direct message with the card's buttons.

Each member is asked once per level and version of a post, however many times a level is told about
(a draft, an edit, a level opening, a reminder, a retried command, another process): the asks are
recorded in the audit log (``approval.asked``) while the post's row is locked, so two processes asking
at once see each other's record. Reminders then nudge without the buttons again.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from handlers import audit
from handlers.admin.members import mentions
from handlers.context import Services
from handlers.drafting.views import awaited, decision_buttons, preview, when_text
from handlers.messages import Reply
from handlers.notices import member_zone, tell_member
from handlers.review.policy import Policy
from models.audit import AuditEntry
from models.members import ChatIdentity, Member
from models.posts import Post

ASKED = "approval.asked"
PREVIEW_CHARS = 120


async def asked(post: Post, level: int) -> set[int]:
    """The members already asked to decide on ``level`` of the post's current version."""
    entries = await AuditEntry.filter(post_id=post.id, action=ASKED, version=post.version)
    return {int(i) for e in entries if (e.detail or {}).get("level") == level for i in e.detail.get("members", [])}


async def ask_awaited(services: Services, post: Post, policy: Policy) -> list[Member]:
    """Ask the members the post's current level awaits who weren't asked yet; returns those asked now."""
    async with in_transaction():
        locked = await Post.select_for_update().filter(id=post.id).first()
        if locked is None:
            return []
        level = locked.approval_level
        done = await asked(locked, level)
        waiting = [m for m in await awaited(locked, policy) if m.id not in done]
        # only who a chat knows can be asked; the others are asked by a reminder once they have talked to Herald
        known = await ChatIdentity.filter(member_id__in=[m.id for m in waiting]).values_list("member_id")
        reachable = {member_id for (member_id,) in known}
        new = [m for m in waiting if m.id in reachable]
        if new:
            await audit.record(
                ASKED, post_id=locked.id, version=locked.version, level=level, members=[m.id for m in new]
            )
    if not new:
        return []
    author = await Member.get(id=locked.author_id)  # type: ignore[attr-defined]
    named = await mentions([author])
    edited = f" (v{locked.version})" if locked.version > 1 else ""
    at = f" ({policy.at(level)})" if policy.depth > 1 else ""
    for member in new:
        text = (
            f"Post {locked.id} by @{author.name}{edited} needs your approval{at}, "
            f"going out {when_text(locked, member_zone(member, services))}.\n> {preview(locked.text, PREVIEW_CHARS)}"
        )
        reply = Reply(text=text, buttons=decision_buttons(locked.id), post_id=locked.id, mentions=named)
        await tell_member(services, member, reply)
    return new
