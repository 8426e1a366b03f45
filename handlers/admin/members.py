"""Members: who is talking, their roles and time zone."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.exceptions import IntegrityError

from handlers import audit
from handlers.context import Context
from handlers.messages import Mention, Reply, Sender, info
from handlers.router import Router
from models.errors import InvalidInput, NotFound
from models.members import ADMIN_ROLE, ChatIdentity, Member, MemberRole

router = Router()
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


_NOT_NAME = re.compile(r"[^a-z0-9._-]+")


def member_name(raw: str, fallback: str) -> str:
    """A chat's user name (``Zoë Müller``, ``@bob``) as a Herald member name: lower case; letters, digits, ``.``,
    ``_``, ``-``; ``fallback`` (the chat's user id) when nothing usable is left."""
    name = _NOT_NAME.sub("-", raw.strip().lstrip("@").lower()).strip("-._")[:64]
    return name or fallback.lower()


def normalize_name(raw: str) -> str:
    name = raw.strip().lstrip("@").lower()
    if not _NAME.match(name):
        raise InvalidInput(f"{raw!r} is not a member name: use letters, digits, dot, dash or underscore (e.g. bob).")
    return name


async def resolve(sender: Sender) -> tuple[Member, frozenset[str]]:
    """Find or create the member behind ``sender``; the very first member becomes an admin."""
    identity = await ChatIdentity.filter(adapter=sender.adapter, external_id=sender.external_id).first()
    if identity is not None:
        member = await Member.get(id=identity.member_id)  # type: ignore[attr-defined]
    else:
        member = await _member_for_new_identity(sender)
    return member, await roles_of(member)


async def _member_for_new_identity(sender: Sender) -> Member:
    """The member a chat identity Herald hasn't seen yet belongs to.

    A member of that name is theirs when no other chat knows that member yet (named before they spoke, as
    ``/role add bob approver`` does, or known on this same chat). A name is no proof across chats (anyone may
    call themselves alice on Telegram), so a member another chat already knows is only joined with ``/link``;
    the newcomer gets a name of their own (``alice-telegram``).
    """
    name = normalize_name(sender.name)
    member = await Member.filter(name=name).first()
    if member is not None and await ChatIdentity.filter(member_id=member.id).exclude(adapter=sender.adapter).exists():
        name = await _free_name(name, sender.adapter)
        member = None
    if member is None:
        first = not await Member.exists()
        try:
            member = await Member.create(
                name=name,
                display_name=sender.display_name or sender.name,
                timezone=sender.timezone or "UTC",
            )
        except IntegrityError:  # created concurrently by another message from the same person
            member = await Member.get(name=name)
        else:
            if first:
                await MemberRole.create(member=member, role=ADMIN_ROLE)
            await audit.record("member.created", actor=member, name=name, admin=first)
    with contextlib.suppress(IntegrityError):  # the same identity was attached concurrently
        await ChatIdentity.create(member=member, adapter=sender.adapter, external_id=sender.external_id)
    return member


async def _free_name(name: str, adapter: str) -> str:
    base = normalize_name(f"{name[: 63 - len(adapter)]}-{adapter}")
    taken = {str(n) for n in await Member.filter(name__startswith=base).values_list("name", flat=True)}
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base[:60]}-{n}"
    return candidate


async def roles_of(member: Member) -> frozenset[str]:
    rows = await MemberRole.filter(member_id=member.id).values_list("role", flat=True)
    return frozenset(str(r) for r in rows)


async def find(name: str) -> Member:
    member = await Member.filter(name=normalize_name(name)).first()
    if member is None:
        raise NotFound(f"There is no member called {normalize_name(name)}.")
    return member


async def find_or_create(name: str) -> Member:
    normalized = normalize_name(name)
    member = await Member.filter(name=normalized).first()
    if member is None:
        member = await Member.create(name=normalized, display_name=normalized)
    return member


async def mentions(people: Iterable[Member]) -> tuple[Mention, ...]:
    """How a reply names ``people`` (``@name``), with who they are on each chat; one query for all."""
    unique = {m.id: m for m in people}
    if not unique:
        return ()
    rows = (
        await ChatIdentity.filter(member_id__in=list(unique))
        .order_by("id")
        .values_list("member_id", "adapter", "external_id")
    )
    chats: dict[int, list[tuple[str, str]]] = {}
    for member_id, adapter, external_id in rows:
        chats.setdefault(int(member_id), []).append((str(adapter), str(external_id)))
    return tuple(Mention(m.name, tuple(chats.get(m.id, ()))) for m in unique.values())


async def mentions_named(names: Iterable[str]) -> tuple[Mention, ...]:
    """:func:`mentions` of the members called ``names`` (names nobody has are left out)."""
    wanted = sorted(set(names))
    return await mentions(await Member.filter(name__in=wanted).order_by("name")) if wanted else ()


async def with_role(role: str) -> list[Member]:
    ids = await MemberRole.filter(role=role).values_list("member_id", flat=True)
    return await Member.filter(id__in=list(ids)).order_by("name")


ROLE_USAGE = "/role add NAME ROLE · /role remove NAME ROLE · /role list"


role_group = router.group("role", ROLE_USAGE, "give or take a role (admin)", default="list")


@role_group.command("list", ephemeral=True)
async def role_list(ctx: Context, args: str) -> list[Reply]:
    rows = await MemberRole.all().prefetch_related("member").order_by("role")
    if not rows:
        return [info("Nobody has a role yet.")]
    by_role: dict[str, list[str]] = {}
    for row in rows:
        by_role.setdefault(row.role, []).append(row.member.name)
    lines = [f"{role}: {', '.join(sorted(names))}" for role, names in sorted(by_role.items())]
    return [info("Roles:\n" + "\n".join(lines))]


def _name_and_role(args: str) -> tuple[str, str]:
    words = args.split()
    if len(words) != 2:
        raise InvalidInput(f"Usage: {ROLE_USAGE}")
    return words[0], normalize_name(words[1])


@role_group.command("add", role=ADMIN_ROLE, ephemeral=True)
async def role_add(ctx: Context, args: str) -> list[Reply]:
    name, role = _name_and_role(args)
    member = await find_or_create(name)
    _, created = await MemberRole.get_or_create(member=member, role=role)
    await audit.record("role.added", actor=ctx.member, member=member.name, role=role)
    text = f"@{member.name} is now {role}." if created else f"@{member.name} was already {role}."
    return [Reply(text=text, mentions=await mentions([member]))]


@role_group.command("remove", role=ADMIN_ROLE, ephemeral=True)
async def role_remove(ctx: Context, args: str) -> list[Reply]:
    name, role = _name_and_role(args)
    member = await find(name)
    removed = await MemberRole.filter(member=member, role=role).delete()
    if role == ADMIN_ROLE and removed and not await MemberRole.exists(role=ADMIN_ROLE):
        await MemberRole.create(member=member, role=role)
        raise InvalidInput(f"{member.name} is the last admin; make someone else admin first.")
    await audit.record("role.removed", actor=ctx.member, member=member.name, role=role)
    return [info(f"{member.name} is no longer {role}." if removed else f"{member.name} wasn't {role}.")]


@router.command("tz", "/tz ZONE (e.g. /tz Europe/Berlin)", "set your time zone")
async def tz_command(ctx: Context, args: str) -> list[Reply]:
    zone = args.strip()
    if not zone:
        return [info(f"Your time zone is {ctx.member.timezone}.", ephemeral=True)]
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"{zone!r} is not a time zone I know; use a name like Europe/Berlin.") from None
    ctx.member.timezone = zone
    await ctx.member.save(update_fields=["timezone"])
    return [info(f"Your time zone is now {zone}.", ephemeral=True)]


@router.command("whoami", "/whoami", "show your name, roles and time zone")
async def whoami_command(ctx: Context, args: str) -> list[Reply]:
    roles = ", ".join(sorted(ctx.roles)) or "no roles"
    return [info(f"You are {ctx.member.name} ({roles}; time zone {ctx.member.timezone}).", ephemeral=True)]
