"""Telling people things outside the conversation they are in: a member directly, or a post's origin.

A member is reached on every chat they are known to, in a direct conversation whose channel is
``dm:<their id on that chat>``; each adapter knows how to open one.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import structlog

from handlers.context import Services
from handlers.messages import Conversation, Reply
from models.chatrefs import ChatMessageRef
from models.members import ChatIdentity, Member
from models.posts import Post

log = structlog.get_logger(__name__)


def direct(adapter: str, external_id: str) -> Conversation:
    return Conversation(adapter=adapter, channel=f"dm:{external_id}")


def member_zone(member: Member, services: Services) -> ZoneInfo:
    return ZoneInfo(member.timezone or services.default_timezone)


async def tell_member(services: Services, member: Member, reply: Reply) -> None:
    for identity in await ChatIdentity.filter(member_id=member.id):
        try:
            await services.notifier.notify(direct(identity.adapter, identity.external_id), reply)
        except Exception:  # one unreachable chat must not stop the others or the caller
            log.exception("notice.failed", member=member.name, adapter=identity.adapter, post_id=reply.post_id)


async def tell_members(services: Services, members: list[Member], reply: Reply) -> None:
    seen: set[int] = set()
    for member in members:
        if member.id not in seen:
            seen.add(member.id)
            await tell_member(services, member, reply)


async def tell_origin(services: Services, post: Post, reply: Reply, *, skip: Conversation | None = None) -> None:
    """Post ``reply`` where the draft came from (unless that is ``skip``, where it was already said). A report
    (``kind="report"``) also goes to each other chat showing the post's card, once per chat (its adapter shows
    it under each card there), as a worker's reports do."""
    if not post.origin:
        return
    origin = Conversation.from_json(post.origin)
    if skip is None or origin != skip:
        try:
            await services.notifier.notify(origin, reply)
        except Exception:
            log.exception("notice.failed", post_id=post.id, adapter=origin.adapter)
    if reply.kind == "report":
        await _tell_other_chats(services, post, reply, skip={origin.adapter} | ({skip.adapter} if skip else set()))


async def _tell_other_chats(services: Services, post: Post, reply: Reply, *, skip: set[str]) -> None:
    from handlers.drafting.views import card_ref  # views imports the review package, which imports this

    try:
        rows = await ChatMessageRef.filter(ref=card_ref(post.id)).order_by("id").values_list("adapter", "channel")
    except Exception:
        log.exception("notice.failed", post_id=post.id)
        return
    for adapter, channel in rows:
        if str(adapter) in skip:
            continue
        skip.add(str(adapter))
        try:
            await services.notifier.notify(Conversation(str(adapter), str(channel)), reply)
        except Exception:  # the other chats still get it
            log.exception("notice.failed", post_id=post.id, adapter=adapter)


async def tell_card(services: Services, post: Post, card: Reply, *, skip: Conversation | None = None) -> None:
    """Show the approval card where the draft was made, in the policy's approvals channel and in every other
    conversation already showing it, on any chat (:class:`~models.chatrefs.ChatMessageRef`: a member linked in
    two chats may have drafted in one and decided in the other).

    The card keeps its ref, so an adapter that showed it before edits it in place.
    """
    from handlers.review.policy import policy_for  # policy imports messages only; avoid a cycle at import

    await tell_origin(services, post, card, skip=skip)
    origin = Conversation.from_json(post.origin) if post.origin else None
    done = {_where(c) for c in (skip, origin) if c is not None}
    channel = (await policy_for(post)).channel
    elsewhere = [channel] if channel is not None else []
    if card.ref is not None:
        rows = await ChatMessageRef.filter(ref=card.ref).order_by("id").values_list("adapter", "channel")
        elsewhere += [Conversation(str(adapter), str(key)) for adapter, key in rows]
    for conversation in elsewhere:
        if _where(conversation) in done:
            continue
        done.add(_where(conversation))
        try:
            await services.notifier.notify(conversation, card)
        except Exception:  # the other conversations still get it
            log.exception("notice.failed", post_id=post.id, adapter=conversation.adapter)


def _where(conversation: Conversation) -> tuple[str, str]:
    """A conversation regardless of thread: a card is shown once per channel."""
    return conversation.adapter, conversation.channel
