"""Posting slots (Buffer-style): weekly times per account, and ``/draft --at next`` taking the next free one.

Slots are wall times in the zone they were set in (the setting member's, or ``--tz``), so a 09:00
slot stays 09:00 local across DST changes; a slot in a spring-forward gap is at the end of the gap.
A slot is *free* when no other post that is drafted, waiting for approval or scheduled goes to that
account at that exact time. With several targets, the slots of the first account named decide, and
the time must be free on all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handlers import audit
from handlers.admin import accounts
from handlers.context import Context
from handlers.messages import Reply, info
from handlers.router import Router
from handlers.text.commandline import split_options
from handlers.timing.cronrules import DAY_NAMES, localize, parse_clock, parse_days, parse_zone
from handlers.timing.timeparse import format_local
from models.accounts import SocialAccount
from models.errors import InvalidInput
from models.lifecycle import DeliveryState, PostState
from models.members import OPS_ROLE
from models.posts import Delivery
from models.slots import PostingSlots

router = Router()
SLOTS_USAGE = "/slots set ACCOUNT [--tz ZONE] DAYS TIMES [DAYS TIMES …] · /slots show [ACCOUNT] · /slots clear ACCOUNT"
EXAMPLE = '"mon-fri 09:00,13:00 sat 10:00"'
HORIZON = timedelta(weeks=8)
"""How far ahead ``--at next`` looks for a free slot."""
MAX_SLOTS = 100
OCCUPYING = [PostState.DRAFT, PostState.PENDING_APPROVAL, PostState.CHANGES_REQUESTED, PostState.SCHEDULED]


def parse_weekly(spec: str) -> list[list[int]]:
    """``mon-fri 09:00,13:00 sat 10:00`` → sorted ``[weekday, minute of day]`` pairs; InvalidInput if unreadable."""
    tokens = spec.split()
    slots: set[tuple[int, int]] = set()
    days: list[int] | None = None
    timed = True
    for token in tokens:
        if token[0].isdigit():
            if days is None:
                break
            for clock in filter(None, token.split(",")):
                hour, minute = parse_clock(clock)
                slots.update((day, hour * 60 + minute) for day in days)
            timed = True
        else:
            if not timed:
                break
            days, timed = parse_days(token), False
    else:
        if slots and timed:
            if len(slots) > MAX_SLOTS:
                raise InvalidInput(f"That is {len(slots)} slots a week; an account takes at most {MAX_SLOTS}.")
            return [list(pair) for pair in sorted(slots)]
    raise InvalidInput(f'Couldn\'t read the slots "{spec.strip()}": write days and times like {EXAMPLE}.')


def _days_text(days: list[int]) -> str:
    parts, run = [], [days[0]]
    for day in [*days[1:], -1]:
        if day == run[-1] + 1:
            run.append(day)
            continue
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[d] for d in run)
        run = [day]
    return ",".join(parts)


def spec_text(weekly: list[list[int]], *, words: bool = False) -> str:
    """The slots as /slots set reads them (``mon-fri 09:00,13:00 sat 10:00``), or in words."""
    by_times: dict[tuple[int, ...], list[int]] = {}
    for day in range(7):
        times = tuple(sorted(m for d, m in weekly if d == day))
        if times:
            by_times.setdefault(times, []).append(day)
    groups = []
    for times, days in by_times.items():
        clocks = [f"{m // 60:02d}:{m % 60:02d}" for m in times]
        if words:
            listed = clocks[0] if len(clocks) == 1 else ", ".join(clocks[:-1]) + " and " + clocks[-1]
            groups.append(f"{_days_text(days)} at {listed}")
        else:
            groups.append(f"{_days_text(days)} {','.join(clocks)}")
    return ("; " if words else " ").join(groups)


def _candidates(row: PostingSlots, now: datetime, until: datetime) -> Iterator[datetime]:
    """The account's slot instants after ``now`` up to ``until``, earliest first, each once."""
    tz = ZoneInfo(row.timezone)
    day, last = now.astimezone(tz).date(), now
    while True:
        for weekday, minute in row.weekly:
            if weekday != day.weekday():
                continue
            at = localize(datetime.combine(day, time(minute // 60, minute % 60)), tz)
            if at > until:
                return
            if at > last:  # a gap moves a slot onto the next one: offer it once
                last = at
                yield at
        day += timedelta(days=1)


async def next_free(targets: list[SocialAccount], *, now: datetime) -> datetime:
    """The first slot of ``targets[0]`` after ``now`` that no other post takes on any of the targets."""
    first = targets[0]
    row = await PostingSlots.filter(account_id=first.id).first()
    if row is None or not row.weekly:
        raise InvalidInput(
            f"{first.handle} has no posting slots, so --at next has nothing to pick: set them with "
            f"/slots set {first.handle} mon-fri 09:00, or give a time (--at tomorrow 09:00)."
        )
    until = now + HORIZON
    taken = await (
        Delivery.filter(
            account_id__in=[a.id for a in targets],
            post__state__in=[s.value for s in OCCUPYING],
            post__due_at__gt=now,
            post__due_at__lte=until,
        )
        .exclude(state=DeliveryState.CANCELLED.value)
        .values_list("post__due_at", flat=True)
    )
    busy = {at.astimezone(UTC) for at in taken if isinstance(at, datetime)}  # type: ignore[attr-defined]
    for at in _candidates(row, now, until):
        if at not in busy:
            return at
    where = first.handle if len(targets) == 1 else ", ".join(a.handle for a in targets)
    raise InvalidInput(
        f"Every slot of {first.handle} in the next {HORIZON.days // 7} weeks is taken on {where}; "
        "add slots with /slots set or give a time with --at."
    )


slots = router.group("slots", SLOTS_USAGE, "weekly posting times per account, used by /draft --at next", default="show")


@slots.command("show", ephemeral=True)
async def show_command(ctx: Context, args: str) -> list[Reply]:
    return await _show(ctx, args.split()[0] if args.split() else None)


@slots.command("clear", role=OPS_ROLE)
async def clear_command(ctx: Context, args: str) -> list[Reply]:
    if not args.strip():
        raise InvalidInput(f"Usage: {SLOTS_USAGE}")
    account = await accounts.find(args.split()[0])
    removed = await PostingSlots.filter(account_id=account.id).delete()
    if not removed:
        return [info(f"{account.handle} had no posting slots; nothing changed.", ephemeral=True)]
    await audit.record("slots.cleared", actor=ctx.member, account=account.handle)
    return [info(f"Cleared the posting slots of {account.handle}; /draft --at next no longer picks for it.")]


@slots.command("set", role=OPS_ROLE)
async def set_command(ctx: Context, args: str) -> list[Reply]:
    handle, _, spec = args.strip().partition(" ")
    if not handle:
        raise InvalidInput(f"Usage: {SLOTS_USAGE}")
    account = await accounts.find(handle)
    options, text = split_options(spec, known={"tz"}, command="/slots set")
    tz = parse_zone(options["tz"]) if "tz" in options else ctx.tz
    weekly = parse_weekly(text)
    row = await PostingSlots.filter(account_id=account.id).first()
    if row is None:
        row = await PostingSlots.create(account=account, timezone=tz.key, weekly=weekly)
    else:
        row.timezone, row.weekly = tz.key, weekly
        await row.save()
    await audit.record("slots.set", actor=ctx.member, account=account.handle, slots=spec_text(weekly), zone=tz.key)
    return [info(await _describe(ctx, account, row))]


async def _describe(ctx: Context, account: SocialAccount, row: PostingSlots) -> str:
    try:
        nxt = f"next free slot {format_local(await next_free([account], now=ctx.now), ctx.tz)}"
    except InvalidInput:
        nxt = f"no free slot in the next {HORIZON.days // 7} weeks"
    return (
        f"Posting slots for {account.handle} ({row.timezone}): {spec_text(row.weekly, words=True)}; {nxt}.\n"
        f"As a command: /slots set {account.handle} --tz {row.timezone} {spec_text(row.weekly)}"
    )


async def _show(ctx: Context, handle: str | None) -> list[Reply]:
    if handle is not None:
        account = await accounts.find(handle)
        row = await PostingSlots.filter(account_id=account.id).first()
        if row is None:
            return [
                info(
                    f"{account.handle} has no posting slots; set them with /slots set {account.handle} "
                    "mon-fri 09:00,13:00.",
                    ephemeral=True,
                )
            ]
        return [info(await _describe(ctx, account, row), ephemeral=True)]
    rows = await PostingSlots.all().prefetch_related("account").order_by("id")
    if not rows:
        text = "No account has posting slots yet; set them with /slots set ACCOUNT mon-fri 09:00."
        return [info(text, ephemeral=True)]
    return [info("\n".join([await _describe(ctx, r.account, r) for r in rows]), ephemeral=True)]


__all__ = ["next_free", "parse_weekly", "router", "spec_text"]
