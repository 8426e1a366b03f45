"""/policy: admins set, show and clear approval policies from chat.

/policy set demo level1=role:editor level2=@carol,@dan:all direct=role:lead remind=4h before=1h
/policy set default level1=role:approver
/policy show demo · /policy show · /policy clear demo
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from tortoise.queryset import QuerySet

from handlers import audit
from handlers.admin import accounts
from handlers.context import Context
from handlers.messages import Conversation, Reply, info
from handlers.review.policy import (
    DEFAULT_REMIND_AFTER,
    DEFAULT_REMIND_BEFORE,
    MAX_LEVELS,
    Level,
    Policy,
    Who,
    default_policy,
    policy_of_account,
)
from handlers.router import Router
from handlers.timing.timeparse import parse_duration
from models.accounts import SocialAccount
from models.errors import InvalidInput
from models.members import ADMIN_ROLE, Member, MemberRole
from models.policies import ApprovalPolicy

router = Router()
USAGE = (
    "/policy set ACCOUNT|default level1=WHO [level2=WHO] [level3=WHO] [direct=WHO] [remind=4h] [before=1h] "
    "[channel=CHAT:ID] · "
    "/policy show [ACCOUNT] · /policy clear ACCOUNT|default — WHO is a comma-separated list of @member and "
    "role:NAME, ending in :all when everyone listed must approve (default: any one of them)"
)
_SETTING = re.compile(r"^([a-z0-9]+)=(.*)$")
_ROLE = re.compile(r"^role:([a-z0-9][a-z0-9._-]{0,63})$")
_MEMBER = re.compile(r"^@([a-z0-9][a-z0-9._-]{0,63})$")


async def _parse_who(setting: str, raw: str, *, allow_mode: bool) -> tuple[Who, str]:
    text, mode = raw.strip().lower(), "any"
    for suffix in (":all", ":any"):
        if text.endswith(suffix):
            if not allow_mode:
                raise InvalidInput(f"{setting} takes no {suffix}: it lists who may publish without approval.")
            text, mode = text[: -len(suffix)], suffix[1:]
    if not text:
        raise InvalidInput(f"{setting} is empty: list @members and/or role:NAME, e.g. {setting}=role:editor.")
    members: set[str] = set()
    roles: set[str] = set()
    for item in (p.strip() for p in text.split(",")):
        if m := _MEMBER.match(item):
            members.add(m.group(1))
        elif r := _ROLE.match(item):
            roles.add(r.group(1))
        elif ":" in item and not item.startswith("role:"):
            raise InvalidInput(
                f"{setting}: {item!r} has an unknown mode; end the list with :all (everyone) or :any (one of them)."
            )
        else:
            raise InvalidInput(f"{setting}: {item!r} is neither @member nor role:NAME (e.g. @carol or role:editor).")
    known = set(await Member.filter(name__in=list(members)).values_list("name", flat=True))
    missing = sorted(members - {str(k) for k in known})
    if missing:
        raise InvalidInput(f"{setting} names @{missing[0]}, but there is no member called {missing[0]}.")
    return Who(frozenset(members), frozenset(roles)), mode


def _parse_delay(setting: str, raw: str) -> timedelta:
    if raw.strip().lower() in {"off", "0"}:
        return timedelta(0)
    try:
        return parse_duration(raw)
    except InvalidInput:
        raise InvalidInput(f"{setting}={raw} is not a duration; use e.g. {setting}=4h, 30m or off.") from None


async def parse_policy(words: list[str], source: str) -> Policy:
    """Parse ``level1=… level2=… direct=… remind=… before=…`` into a Policy, or say exactly what's wrong."""
    levels: dict[int, Level] = {}
    direct = Who()
    remind_after, remind_before = DEFAULT_REMIND_AFTER, DEFAULT_REMIND_BEFORE
    channel: Conversation | None = None
    for word in words:
        match = _SETTING.match(word.strip())
        if not match:
            raise InvalidInput(f"{word!r} is not a setting: write name=value, e.g. level1=role:editor. Usage: {USAGE}")
        name, value = match.groups()
        if name.startswith("level") and name[5:].isdigit():
            number = int(name[5:])
            if not 1 <= number <= MAX_LEVELS:
                raise InvalidInput(f"A policy has 1 to {MAX_LEVELS} levels; {name} is out of range.")
            if number in levels:
                raise InvalidInput(f"{name} is given twice.")
            who, mode = await _parse_who(name, value, allow_mode=True)
            levels[number] = Level(who, "all" if mode == "all" else "any")
        elif name == "direct":
            direct, _ = await _parse_who(name, value, allow_mode=False)
        elif name == "remind":
            remind_after = _parse_delay(name, value)
        elif name == "before":
            remind_before = _parse_delay(name, value)
        elif name == "channel":
            adapter, sep, ident = value.partition(":")
            if not sep or not adapter or not ident:
                raise InvalidInput(f"channel={value} should be CHAT:ID, e.g. channel=slack:C0123ABCD.")
            channel = Conversation(adapter=adapter, channel=ident)
        else:
            raise InvalidInput(
                f"Unknown setting {name!r}: use level1=…, level2=…, level3=…, direct=…, remind=…, before=… "
                "or channel=…."
            )
    if not levels:
        raise InvalidInput(f"A policy needs at least level1=…. Usage: {USAGE}")
    expected = list(range(1, len(levels) + 1))
    if sorted(levels) != expected:
        got = ", ".join(f"level{n}" for n in sorted(levels))
        raise InvalidInput(f"Levels must be numbered from level1 without gaps; got {got}.")
    return Policy(tuple(levels[n] for n in expected), direct, remind_after, remind_before, source, channel)


async def describe(policy: Policy) -> str:
    lines = [f"Approval policy for {policy.source}:"]
    for number, level in enumerate(policy.levels, 1):
        people = ", ".join(m.name for m in await level.candidates()) or "nobody yet"
        lines.append(f"  {policy.at(number) or 'approved by'}: {level.describe()} (now: {people})")
    direct = policy.direct.describe() if (policy.direct.members or policy.direct.roles) else "nobody"
    lines.append(f"  may publish without approval: {direct}")
    if policy.channel is not None:
        lines.append(f"  approval requests go to: {policy.channel.adapter}:{policy.channel.channel}")
    lines.append(
        f"  reminders: after {_human(policy.remind_after)} waiting, and {_human(policy.remind_before)} "
        "before the due time; the second one also tells the admins"
    )
    lines.append(f"  as a command: /policy set {policy.source} {policy.spec()}")
    return "\n".join(lines)


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes == 0:
        return "never (off)"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


async def _target(name: str) -> SocialAccount | None:
    return None if name.lower() == "default" else await accounts.find(name)


def _rows_for(account: SocialAccount | None) -> QuerySet[ApprovalPolicy]:
    if account is None:
        return ApprovalPolicy.filter(account_id__isnull=True)
    return ApprovalPolicy.filter(account_id=account.id)


policy_group = router.group("policy", USAGE, "approval levels per account (admins set them)", default="show")


@policy_group.command("show", ephemeral=True)
async def policy_show(ctx: Context, args: str) -> list[Reply]:
    words = args.split()
    if words:
        account = await _target(words[0])
        policy = await policy_of_account(account) if account else await default_policy()
        return [info(await describe(policy))]
    texts = [await describe(await default_policy())]
    for row in await ApprovalPolicy.filter(account_id__isnull=False).prefetch_related("account"):
        texts.append(await describe(Policy.from_row(row, row.account.handle)))  # type: ignore[union-attr]
    return [info("\n".join(texts))]


async def _account_of(args: str) -> tuple[SocialAccount | None, str, list[str]]:
    """The account (None: the default policy) ``args`` names first, its label and the words after it."""
    words = args.split()
    if not words:
        raise InvalidInput(f"Usage: {USAGE}")
    account = await _target(words[0])
    return account, account.handle if account else "default", words[1:]


@policy_group.command("clear", role=ADMIN_ROLE, ephemeral=True)
async def policy_clear(ctx: Context, args: str) -> list[Reply]:
    account, label, _ = await _account_of(args)
    deleted = await _rows_for(account).delete()
    await audit.record("policy.cleared", actor=ctx.member, account=label)
    fallback = "the default policy" if account else "the built-in default (any approver)"
    return [info(f"{label} now follows {fallback}." if deleted else f"{label} had no policy of its own.")]


@policy_group.command("set", role=ADMIN_ROLE, ephemeral=True)
async def policy_set(ctx: Context, args: str) -> list[Reply]:
    account, label, settings = await _account_of(args)
    policy = await parse_policy(settings, label)
    values: dict[str, Any] = {
        "levels": [lv.to_json() for lv in policy.levels],
        "direct": policy.direct.to_json(),
        "remind_after_seconds": int(policy.remind_after.total_seconds()),
        "remind_before_seconds": int(policy.remind_before.total_seconds()),
        "channel": policy.channel.to_json() if policy.channel else None,
    }
    existing = await _rows_for(account).first()
    if existing is None:
        await ApprovalPolicy.create(account=account, **values)
    else:
        await ApprovalPolicy.filter(id=existing.id).update(**values)
    await audit.record("policy.set", actor=ctx.member, account=label, policy=policy.spec())
    notes = [
        f"role {r} is held by nobody yet"
        for lv in policy.levels
        for r in sorted(lv.who.roles)
        if not await MemberRole.exists(role=r)
    ]
    text = await describe(policy)
    if notes:
        text += "\nNote: " + "; ".join(notes) + "."
    return [info(text)]
