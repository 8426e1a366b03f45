"""Looking at posts: mine, and one post with its whole history."""

from __future__ import annotations

from handlers import audit
from handlers.context import Context
from handlers.drafting.drafts import load_post
from handlers.drafting.views import approval_card
from handlers.drafting.views import summary_line as summary
from handlers.messages import Field, Reply, info
from handlers.router import Router
from handlers.text.commandline import parse_post_id
from handlers.timing.timeparse import format_local
from models.posts import Delivery, Post

router = Router()


@router.command("mine", "/mine", "list your posts and where they stand")
async def mine_command(ctx: Context, args: str) -> list[Reply]:
    posts = await Post.filter(author_id=ctx.member.id).order_by("-id").limit(25)
    if not posts:
        return [info("You have no posts yet. Start one with /draft.", ephemeral=True)]
    return [info("Your posts:\n" + "\n".join([await summary(p, ctx.tz) for p in posts]), ephemeral=True)]


@router.command("post", "/post ID", "show a post with every version, decision and delivery")
async def post_command(ctx: Context, args: str) -> list[Reply]:
    post_id = parse_post_id(args.split()[0] if args.split() else None, "/post ID")
    post = await load_post(post_id)
    card = await approval_card(post, tz=ctx.tz)
    lines = []
    for entry in await audit.history(post_id):
        who = entry.actor.name if entry.actor else "Herald"
        detail = entry.detail or {}
        extra = ""
        if detail.get("reason"):
            extra = f": {detail['reason']}"
        elif detail.get("diff"):
            extra = "\n" + "\n".join("    " + line for line in str(detail["diff"]).splitlines()[2:])
        elif detail.get("url") or detail.get("error"):
            extra = f": {detail.get('url') or detail.get('error')}"
        level = f" (level {detail['level']})" if detail.get("level") else ""
        version = f" v{entry.version}" if entry.version else ""
        lines.append(f"{format_local(entry.created_at, ctx.tz)} {who} {entry.action}{level}{version}{extra}")
    deliveries = await Delivery.filter(post_id=post_id).prefetch_related("account").order_by("id")
    fields = list(card.fields) + [Field(f"→ {d.account.handle}", d.url or d.last_error or d.state) for d in deliveries]
    text = card.text + "\nHistory:\n" + "\n".join(lines)
    return [
        Reply(
            text=text,
            fields=tuple(fields),
            buttons=card.buttons,
            ephemeral=True,
            post_id=post_id,
            previews=card.previews,
        )
    ]
