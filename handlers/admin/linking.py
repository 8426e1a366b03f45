"""One Herald identity across chats: ``/link`` joins a member's identities on two chats, ``/unlink`` parts them.

``/link`` in one chat answers (to the member alone) with a one-time code; ``/link CODE`` sent from another chat
joins the two chat identities into one member, so roles, time zone, approvals and "no self-approval" hold
across both. A code is 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), expires after
10 minutes and works once; a wrong, used or expired one gets a sentence and changes nothing.

When the other chat already had a member of its own (anyone who spoke to Herald there has one), the two
members are merged in one transaction. The member created first keeps their name and time zone; the other
one's chat identities, roles (added to the first's), posts, decisions, accounts connected, connections,
conversations under way and link codes move to them, and approval policies naming the other one by name name
the first instead. The audit log is append-only (its rows can't be changed, even by Herald), so the other
member's row stays behind, without chats or roles, for the history that names them.

Two members are not merged (a sentence says why, nothing changes, the code stays usable) when the result
would be unsafe:

* both are known on the same chat (one member has one identity per chat: which one would speak for them?);
* one decided on a post the other wrote: merged, that would be someone who approved their own post;
* both decided on the same version of a post (one person would have two decisions at one level).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from tortoise.transactions import in_transaction

from handlers import audit
from handlers.context import Context
from handlers.messages import Reply, info
from handlers.router import Router
from models.accounts import SocialAccount
from models.approvals import ApprovalDecision
from models.connections import Connection
from models.dialogs import Dialog, LinkCode
from models.errors import InvalidInput, NotFound, PermissionDenied
from models.members import ChatIdentity, Member, MemberRole
from models.policies import ApprovalPolicy
from models.posts import Post

router = Router()

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud or typed from a phone without doubt
CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=10)
LINK_USAGE = "/link (a code to send from your other chat) · /link CODE · /unlink CHAT"

WRONG_CODE = "That is not a link code I gave; send /link in your other chat for a new one."
USED_CODE = "That link code was already used; send /link in your other chat for a new one."
EXPIRED_CODE = "That link code has expired (codes last 10 minutes); send /link in your other chat for a new one."
SAME_CHAT = "That code is for your other chat: send /link {code} there, not in {adapter}."


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def _normalize(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch not in " -")


async def _chats_of(member_id: int) -> list[ChatIdentity]:
    return await ChatIdentity.filter(member_id=member_id).order_by("adapter", "id")


def _chat_list(identities: list[ChatIdentity]) -> str:
    return ", ".join(f"{i.adapter} ({i.external_id})" for i in identities)


@router.command("link", LINK_USAGE, "be the same member in two chats (Slack, Telegram, the shell)", ephemeral=True)
async def link_command(ctx: Context, args: str) -> list[Reply]:
    words = args.split()
    if len(words) > 1:
        raise InvalidInput(f"Usage: {LINK_USAGE}")
    if words and words[0].lower() != "new":
        return await _redeem(ctx, _normalize(words[0]))
    chats = await _chats_of(ctx.member.id)
    if len({c.adapter for c in chats}) > 1 and not words:
        return [
            info(
                f"You are linked in {len({c.adapter for c in chats})} chats: {_chat_list(chats)}. "
                "/link new gives a code to link one more; /unlink CHAT parts one.",
                ephemeral=True,
            )
        ]
    code = await _issue(ctx)
    return [
        info(
            f"Your link code is {code}. Send /link {code} to Herald from your other chat within 10 minutes; "
            "it works once.",
            ephemeral=True,
        )
    ]


async def _issue(ctx: Context) -> str:
    for _ in range(5):  # 31^8 codes: a clash is as good as impossible, but the unique key decides
        code = new_code()
        if not await LinkCode.exists(code=code):
            await LinkCode.create(
                code=code, member=ctx.member, adapter=ctx.conversation.adapter, expires_at=ctx.now + CODE_TTL
            )
            return code
    raise RuntimeError("no free link code after 5 tries")


async def _redeem(ctx: Context, code: str) -> list[Reply]:
    here = ctx.conversation.adapter
    async with in_transaction():
        row = await LinkCode.select_for_update().filter(code=code).first() if code else None
        if row is None:
            raise NotFound(WRONG_CODE)
        if row.used_at is not None:
            raise InvalidInput(USED_CODE)
        if row.expires_at <= ctx.now:
            raise InvalidInput(EXPIRED_CODE)
        if row.adapter == here:
            raise InvalidInput(SAME_CHAT.format(code=code, adapter=here))
        other = await Member.get(id=row.member_id)  # type: ignore[attr-defined]
        if other.id == ctx.member.id:
            chats = await _chats_of(ctx.member.id)
            return [info(f"You are already linked here: {_chat_list(chats)}.", ephemeral=True)]
        keep, merged = (other, ctx.member) if other.id < ctx.member.id else (ctx.member, other)
        # both members locked, in id order (no deadlock): a second link of either waits for this one
        await Member.select_for_update().filter(id__in=[keep.id, merged.id]).order_by("id")
        await _refuse_unsafe(keep, merged)
        row.used_at = ctx.now
        await row.save(update_fields=["used_at"])
        moved = await _merge(keep, merged)
        await audit.record(
            "member.linked", actor=keep, member=keep.name, merged=merged.name, merged_id=merged.id, moved=moved
        )
    chats = await _chats_of(keep.id)
    zone = (
        f" Your time zone is {keep.timezone} (@{merged.name} had {merged.timezone}; /tz changes it)."
        if merged.timezone != keep.timezone
        else ""
    )
    name = f"You are @{keep.name} in {_chat_list(chats)}."
    return [info(f"Linked. {name} Roles, approvals and posts are shared across these chats.{zone}", ephemeral=True)]


async def _refuse_unsafe(keep: Member, merged: Member) -> None:
    """Raise with the sentence saying why ``keep`` and ``merged`` can't be one member, if they can't."""
    mine = {i.adapter: i for i in await _chats_of(keep.id)}
    for identity in await _chats_of(merged.id):
        if identity.adapter in mine:
            raise PermissionDenied(
                f"@{keep.name} and @{merged.name} are both known on {identity.adapter}; one member has one identity "
                "per chat, so they can't be linked."
            )
    for approver, author in ((keep, merged), (merged, keep)):
        crossed = (
            await ApprovalDecision.filter(approver_id=approver.id, post__author_id=author.id)
            .order_by("post_id")
            .values_list("post_id", flat=True)
        )
        if crossed:
            raise PermissionDenied(
                f"@{approver.name} decided on post {crossed[0]} by @{author.name}; linked, that would be someone "
                "deciding on their own post, so they can't be linked."
            )
    theirs = {
        (p, v, lvl)
        for p, v, lvl in await ApprovalDecision.filter(approver_id=merged.id).values_list("post_id", "version", "level")
    }
    if theirs:
        for post_id, version, level in await ApprovalDecision.filter(approver_id=keep.id).values_list(
            "post_id", "version", "level"
        ):
            if (post_id, version, level) in theirs:
                raise PermissionDenied(
                    f"@{keep.name} and @{merged.name} both decided on post {post_id} (v{version}, level {level}); "
                    "one person can't have two decisions there, so they can't be linked."
                )


async def _merge(keep: Member, merged: Member) -> dict[str, int]:
    """Move everything of ``merged`` that says who someone is to ``keep`` (inside the caller's transaction)."""
    counts = {
        "identities": await ChatIdentity.filter(member_id=merged.id).update(member_id=keep.id),
        "posts": await Post.filter(author_id=merged.id).update(author_id=keep.id),
        "decisions": await ApprovalDecision.filter(approver_id=merged.id).update(approver_id=keep.id),
        "accounts": await SocialAccount.filter(connected_by_id=merged.id).update(connected_by_id=keep.id),
    }
    await Connection.filter(member_id=merged.id).update(member_id=keep.id)
    await Dialog.filter(member_id=merged.id).update(member_id=keep.id)  # on the merged one's chats only
    await LinkCode.filter(member_id=merged.id).update(member_id=keep.id)
    have = {str(r) for r in await MemberRole.filter(member_id=keep.id).values_list("role", flat=True)}
    roles = [str(r) for r in await MemberRole.filter(member_id=merged.id).values_list("role", flat=True)]
    for role in roles:
        if role not in have:
            await MemberRole.create(member_id=keep.id, role=role)
    await MemberRole.filter(member_id=merged.id).delete()
    counts["roles"] = len(roles)
    counts["policies"] = await _rename_in_policies(merged.name, keep.name)
    return counts


async def _rename_in_policies(old: str, new: str) -> int:
    """Approval policies name members by name: name ``new`` wherever they named ``old``."""

    def swap(who: dict[str, object]) -> bool:
        names = who.get("members")
        if not isinstance(names, list) or old not in names:
            return False
        who["members"] = sorted({new if n == old else str(n) for n in names})
        return True

    changed = 0
    for policy in await ApprovalPolicy.all().select_for_update():
        levels = [dict(level) for level in policy.levels]
        direct = dict(policy.direct or {})
        touched = [swap(level) for level in levels] + [swap(direct)]
        if any(touched):
            policy.levels, policy.direct = levels, direct
            await policy.save(update_fields=["levels", "direct"])
            changed += 1
    return changed


UNLINK_USAGE = "/unlink CHAT (e.g. /unlink telegram: that chat is no longer you)"


@router.command("unlink", UNLINK_USAGE, "part a chat linked with /link", ephemeral=True)
async def unlink_command(ctx: Context, args: str) -> list[Reply]:
    adapter = args.strip().lower()
    if not adapter or " " in adapter:
        raise InvalidInput(f"Usage: {UNLINK_USAGE}")
    if adapter == ctx.conversation.adapter:
        raise InvalidInput(f"You are talking from {adapter}: send /unlink {adapter} from the chat you keep.")
    chats = await _chats_of(ctx.member.id)
    gone = [c for c in chats if c.adapter == adapter]
    if not gone:
        raise NotFound(f"You aren't linked on {adapter}; /link shows your chats.")
    async with in_transaction():
        await ChatIdentity.filter(id__in=[c.id for c in gone]).delete()
        await Dialog.filter(member_id=ctx.member.id, adapter=adapter).delete()  # a guided draft there ends with it
    await audit.record("member.unlinked", actor=ctx.member, member=ctx.member.name, adapter=adapter)
    left = [c for c in chats if c.adapter != adapter]
    return [
        info(
            f"{adapter} is no longer linked to you: it will be a new member there. You are @{ctx.member.name} in "
            f"{_chat_list(left)}.",
            ephemeral=True,
        )
    ]
