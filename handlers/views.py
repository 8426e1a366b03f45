"""Neutral renderings of posts: the approval card, one-line summaries and the detail view."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from handlers.messages import Button, Field, Reply
from handlers.platforms import platform
from handlers.policy import Policy, policy_for
from handlers.timeparse import format_local
from models.approvals import ApprovalDecision, Decision
from models.lifecycle import PostState
from models.members import Member
from models.posts import Delivery, Post

PREVIEW_CHARS = 280


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


async def character_counts(post: Post) -> str:
    """Per target platform: how long the text is against that platform's limit, e.g. ``X 120/280``."""
    rows = await Delivery.filter(post_id=post.id).prefetch_related("account").order_by("id")
    parts: dict[str, str] = {}
    for row in rows:
        info = platform(row.account.platform)
        limit = f"/{info.text_limit}" if info.text_limit else ""
        parts.setdefault(info.label, f"{info.label} {len(post.text)}{limit}")
    return " · ".join(parts.values())


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


async def approval_card(post: Post, *, tz: ZoneInfo) -> Reply:
    """The message approvers act on; edited in place (same ``ref``) after every decision."""
    policy = await policy_for(post)
    author = await Member.get(id=post.author_id)  # type: ignore[attr-defined]
    state = post.lifecycle_state
    approved_by: list[str] = []
    for level in range(1, policy.depth + 1):
        for d in await decisions_at(post, level):
            if d.decision == Decision.APPROVE:
                approved_by.append(f"{d.approver.name} (level {level})")
    fields = [
        Field("Targets", ", ".join(await target_handles(post))),
        Field("Characters", await character_counts(post)),
        Field("When", when_text(post, tz)),
        Field("Author", author.name),
        Field("Level", f"{min(post.approval_level, policy.depth)} of {policy.depth}"),
        Field("Approved by", ", ".join(approved_by) or "nobody yet"),
    ]
    buttons: tuple[Button, ...] = ()
    if state == PostState.PENDING_APPROVAL:
        waiting = await awaited(post, policy)
        current = policy.level(post.approval_level)
        fields.append(Field("Awaiting", ", ".join(m.name for m in waiting) or f"{current.describe()} (nobody yet)"))
        buttons = decision_buttons(post.id)
    fields.append(Field("State", state.label))
    text = f"Post {post.id} by {author.name} (v{post.version}) — {state.label}\n> {preview(post.text)}"
    return Reply(
        text=text, fields=tuple(fields), buttons=buttons, ref=card_ref(post.id), post_id=post.id, kind="approval"
    )


async def summary_line(post: Post, tz: ZoneInfo) -> str:
    targets = ", ".join(await target_handles(post))
    return f"#{post.id} [{post.lifecycle_state.label}] → {targets}, {when_text(post, tz)}: {preview(post.text, 60)}"
