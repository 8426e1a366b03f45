"""/home: one member's overview — their open posts, what awaits their approval, the next 7 days.

Slack shows it as the App Home tab; any chat can show it as replies (``/home`` in the shell).
"""

from __future__ import annotations

from datetime import timedelta

from handlers.context import Context
from handlers.drafting.views import awaited, summary_line
from handlers.messages import Button, Reply
from handlers.review.policy import policy_for
from handlers.router import Router
from models.lifecycle import PostState
from models.posts import Post

router = Router()
HORIZON = timedelta(days=7)
MAX_ITEMS = 10
OPEN = [PostState.DRAFT, PostState.PENDING_APPROVAL, PostState.CHANGES_REQUESTED, PostState.EXPIRED]
COMING = [PostState.PENDING_APPROVAL, PostState.SCHEDULED, PostState.PUBLISHING]


def _decision_buttons(post_id: int) -> tuple[Button, ...]:
    return (
        Button("Approve", f"/approve {post_id}", "primary"),
        Button("Request changes", f"/changes {post_id}", ask="reason"),
        Button("Reject", f"/reject {post_id}", "danger", ask="reason"),
    )


@router.command("home", "/home", "your open posts, what awaits your approval, and the next 7 days")
async def home_command(ctx: Context, args: str) -> list[Reply]:
    replies: list[Reply] = []
    mine = await Post.filter(author_id=ctx.member.id, state__in=[s.value for s in OPEN]).order_by("-id")
    lines = [await summary_line(p, ctx.tz) for p in mine[:MAX_ITEMS]]
    more = f"\n… and {len(mine) - MAX_ITEMS} more (/mine)" if len(mine) > MAX_ITEMS else ""
    replies.append(Reply(text="Your open posts:\n" + ("\n".join(lines) or "none") + more, ephemeral=True))

    waiting: list[Post] = []
    for post in await Post.filter(state=PostState.PENDING_APPROVAL.value).order_by("due_at", "id"):
        if ctx.member.id in {m.id for m in await awaited(post, await policy_for(post))}:
            waiting.append(post)
    heading = "Waiting for your approval:" if waiting else "Nothing is waiting for your approval."
    replies.append(Reply(text=heading, ephemeral=True))
    for post in waiting[:MAX_ITEMS]:
        replies.append(
            Reply(
                text=await summary_line(post, ctx.tz),
                buttons=_decision_buttons(post.id),
                ephemeral=True,
                post_id=post.id,
            )
        )

    coming = (
        await Post.filter(state__in=[s.value for s in COMING], due_at__gte=ctx.now, due_at__lte=ctx.now + HORIZON)
        .order_by("due_at", "id")
        .limit(25)
    )
    lines = [await summary_line(p, ctx.tz) for p in coming]
    replies.append(Reply(text="The next 7 days:\n" + ("\n".join(lines) or "nothing scheduled"), ephemeral=True))
    return replies
