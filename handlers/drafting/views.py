"""Neutral renderings of posts: the approval card, one-line summaries and the detail view."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from handlers.admin.members import mentions
from handlers.drafting.media import describe
from handlers.messages import Button, Field, Preview, Reply, TargetStatus
from handlers.review.policy import Policy, policy_for
from handlers.text.platforms import MediaMeta, PlatformInfo, media_problems, platform, text_problems
from handlers.timing.timeparse import format_local
from models.approvals import ApprovalDecision, Decision
from models.lifecycle import DeliveryState, PostState
from models.members import Member
from models.posts import Delivery, Post

PREVIEW_CHARS = 280
PLATFORM_PREVIEW = 120  # characters of the text in each platform's preview on the card
CUT_BEFORE, CUT_AFTER = 80, 30  # a text too long for a platform: what fits before the ✂, what doesn't after it
WORD = 20  # shortening looks this far for a space, so the preview doesn't start or end mid-word


def decision_buttons(post_id: int) -> tuple[Button, ...]:
    """Approve / Request changes / Reject, with their text twins."""
    return (
        Button("Approve", f"/approve {post_id}", "primary"),
        Button("Request changes", f"/changes {post_id}", ask="reason"),
        Button("Reject", f"/reject {post_id}", "danger", ask="reason"),
    )


def card_ref(post_id: int) -> str:
    return f"post:{post_id}:approval"


def when_text(post: Post, tz: ZoneInfo) -> str:
    return format_local(post.due_at, tz) if post.due_at else "as soon as approved"


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    flat = text.strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


async def target_handles(post: Post) -> list[str]:
    rows = await Delivery.filter(post_id=post.id).prefetch_related("account").order_by("id")
    return [d.account.handle for d in rows]


def fitting(info: PlatformInfo, text: str) -> int:
    """How many characters of ``text`` fit within the platform's limit, as it counts them."""
    if info.text_limit is None:
        return len(text)
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits (a longer prefix counts as much or more, near enough)
        middle = (low + high + 1) // 2
        if info.length(text[:middle]) <= info.text_limit:
            low = middle
        else:
            high = middle - 1
    return low


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def platform_text(info: PlatformInfo, text: str) -> str:
    """The text as it goes out on the platform, shortened for the card.

    When the text is too long, the preview shows where the platform's limit falls: the end of what
    fits, ``✂``, then the start of what doesn't.
    """
    cut = fitting(info, text)
    if cut >= len(text):
        return preview(_one_line(text), PLATFORM_PREVIEW)
    before, after = _one_line(text[:cut]), _one_line(text[cut:])
    if len(before) > CUT_BEFORE:
        before = before[-(CUT_BEFORE - 1) :]
        space = before.find(" ")
        before = "…" + (before[space + 1 :] if 0 <= space < WORD else before)  # from a word's start
    if len(after) > CUT_AFTER:
        after = after[: CUT_AFTER - 1]
        space = after.rfind(" ")
        after = (after[:space] if space > len(after) - WORD else after).rstrip() + "…"  # to a word's end
    return f"{before.lstrip()}✂{after.rstrip()}"


def platform_preview(
    info: PlatformInfo, handles: list[str], text: str, media: list[str], metas: Sequence[MediaMeta | None] = ()
) -> Preview:
    """The card's preview of ``text`` on one platform, posted to ``handles`` there; its warnings are the
    sentences the draft checks refuse with (``metas``: what the media store says of ``media``)."""
    warnings = (*text_problems(info, text), *media_problems(info, media, metas))
    return Preview(
        target=f"{info.label} · {', '.join(handles)}",
        length=info.length(text),
        limit=info.text_limit,
        text=platform_text(info, text),
        warnings=warnings,
    )


def platform_previews(
    post: Post, targets: list[Delivery], metas: Sequence[MediaMeta | None] = ()
) -> tuple[Preview, ...]:
    """One preview per target platform (accounts on the same platform share one), in target order."""
    handles: dict[str, list[str]] = {}
    for delivery in targets:
        handles.setdefault(platform(delivery.account.platform).name, []).append(delivery.account.handle)
    return tuple(
        platform_preview(platform(name), hs, post.text, list(post.media), metas) for name, hs in handles.items()
    )


async def decisions_at(post: Post, level: int) -> list[ApprovalDecision]:
    return await ApprovalDecision.filter(post_id=post.id, version=post.version, level=level).prefetch_related(
        "approver"
    )


async def awaited(post: Post, policy: Policy) -> list[Member]:
    """Members who may still decide at the post's current level."""
    if post.lifecycle_state != PostState.PENDING_APPROVAL:
        return []
    level = policy.level(post.approval_level)
    # those who decided at this level, or approved another level of this version (one level each)
    rows = await ApprovalDecision.filter(post_id=post.id, version=post.version)
    done = {
        r.approver_id  # type: ignore[attr-defined]
        for r in rows
        if r.level == post.approval_level or r.decision == Decision.APPROVE
    }
    return [m for m in await level.candidates() if m.id != post.author_id and m.id not in done]  # type: ignore[attr-defined]


#: Post states whose card shows how each target fared.
OUTCOME_STATES = frozenset({PostState.PUBLISHING, PostState.PUBLISHED, PostState.FAILED, PostState.MISSED})


def target_status(delivery: Delivery, tz: ZoneInfo) -> TargetStatus:
    """One target's line on the card: its outcome with the link or the reason, and its own buttons."""
    state = delivery.delivery_state
    reason = delivery.last_error or ""
    buttons: tuple[Button, ...] = ()
    if state == DeliveryState.PUBLISHED:
        text = f"published: {delivery.url}" if delivery.url else "published"
    elif state == DeliveryState.FAILED:
        text = f"failed: {reason}" if reason else "failed"
    elif state == DeliveryState.UNKNOWN:
        text = f"may or may not have been published: {reason + ' ' if reason else ''}Check the account, then choose."
        buttons = (
            Button("Verify", f"/verify {delivery.id}"),
            Button("Republish", f"/republish {delivery.id}", "danger"),
        )
    elif state == DeliveryState.MISSED:
        text = "missed: Herald wasn't running when it was due"
    elif state == DeliveryState.SCHEDULED and reason and delivery.due_at is not None:
        text = f"trying again {format_local(delivery.due_at, tz)}: {reason}"
    elif state in (DeliveryState.SCHEDULED, DeliveryState.QUEUED, DeliveryState.PUBLISHING):
        text = "publishing"
    else:
        text = state.value
    account = delivery.account
    return TargetStatus(f"{account.handle} ({platform(account.platform).label})", state.value, text, buttons)


def outcome_buttons(post: Post, targets: list[Delivery]) -> tuple[Button, ...]:
    """What the card offers for the whole post once it failed or was missed (one button, however many targets)."""
    state = post.lifecycle_state
    if state == PostState.FAILED and any(d.delivery_state == DeliveryState.FAILED for d in targets):
        return (Button("Retry", f"/retry {post.id}"),)
    if state == PostState.MISSED:
        return (
            Button("Publish now", f"/publish {post.id}", "primary"),
            Button("Reschedule", f"/schedule {post.id}", ask="when"),
        )
    return ()


async def approval_card(post: Post, *, tz: ZoneInfo | None = None) -> Reply:
    """The message approvers act on; edited in place (same ``ref``) after every decision and once the post's
    deliveries settle.

    Besides the text and the fields, it previews the post on each target platform: its length as that
    platform counts it, the text as it goes out there, and what would stop it. Once publishing started it
    says how each target fared (the link, or the reason with what can be done). ``tz``: the reader's time
    zone (None: the author's).
    """
    policy = await policy_for(post)
    author = await Member.get(id=post.author_id)  # type: ignore[attr-defined]
    tz = tz or ZoneInfo(author.timezone or "UTC")
    state = post.lifecycle_state
    approved_by: list[str] = []
    named: list[Member] = [author]
    for level in range(1, policy.depth + 1):
        for d in await decisions_at(post, level):
            if d.decision == Decision.APPROVE:
                approved_by.append(f"@{d.approver.name} (level {level})" if policy.depth > 1 else f"@{d.approver.name}")
                named.append(d.approver)
    targets = await Delivery.filter(post_id=post.id).prefetch_related("account").order_by("id")
    fields = [
        Field("Targets", ", ".join(d.account.handle for d in targets)),
        Field("When", when_text(post, tz)),
        *([Field("Media", media_text(list(post.media)))] if post.media else []),
        Field("Author", f"@{author.name}"),
    ]
    buttons: tuple[Button, ...] = ()
    if state == PostState.PENDING_APPROVAL:
        if policy.depth > 1:
            fields.append(Field("Level", f"{min(post.approval_level, policy.depth)} of {policy.depth}"))
        fields.append(Field("Approved by", ", ".join(approved_by) or "nobody yet"))
        waiting = await awaited(post, policy)
        current = policy.level(post.approval_level)
        fields.append(
            Field("Awaiting", ", ".join(f"@{m.name}" for m in waiting) or f"{current.describe()} (nobody yet)")
        )
        named.extend(waiting)
        buttons = decision_buttons(post.id)
    elif approved_by:
        fields.append(Field("Approved by", ", ".join(approved_by)))
    statuses: tuple[TargetStatus, ...] = ()
    if state in OUTCOME_STATES:
        statuses = tuple(target_status(d, tz) for d in targets)
        buttons = outcome_buttons(post, targets)
    version = f" (v{post.version})" if post.version > 1 else ""
    text = f"Post {post.id} by @{author.name}{version} — {state.label}\n> {preview(post.text)}"
    return Reply(
        text=text,
        fields=tuple(fields),
        buttons=buttons,
        ref=card_ref(post.id),
        post_id=post.id,
        kind="approval",
        previews=platform_previews(post, targets, await describe(post.media) if post.media else ()),
        statuses=statuses,
        mentions=await mentions(named),
        extra={"rendered_at": datetime.now(UTC)},  # an adapter shows the newest render of a card, whatever arrives last
    )


async def summary_line(post: Post, tz: ZoneInfo) -> str:
    targets = ", ".join(await target_handles(post))
    return f"#{post.id} [{post.lifecycle_state.label}] → {targets}, {when_text(post, tz)}: {preview(post.text, 60)}"


def media_text(refs: list[str]) -> str:
    """``2 images`` / ``1 video`` / ``1 image, 1 video``: what a post carries, by the refs' file extensions."""
    videos = sum(1 for ref in refs if ref.lower().rsplit(".", 1)[-1] in ("mp4", "mov", "m4v", "webm"))
    images = len(refs) - videos
    parts = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in ((images, "image"), (videos, "video")) if n]
    return ", ".join(parts)
