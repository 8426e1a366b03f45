"""Social accounts: connect (see :mod:`handlers.admin.connect`), list, check, remove, and add (the dry run and the
test platforms)."""

from __future__ import annotations

import json
import re
from datetime import datetime

from tortoise.exceptions import IntegrityError

from handlers import audit
from handlers.admin import connect
from handlers.context import Context
from handlers.messages import Reply, info
from handlers.ports import Platforms
from handlers.router import Router
from handlers.text.platforms import platform
from models.accounts import AccountStatus, SocialAccount
from models.errors import InvalidInput, NotFound
from models.members import ADMIN_ROLE

router = Router()
USAGE = (
    "/account connect PLATFORM [SERVER] · /account list · /account check HANDLE · /account remove HANDLE"
    " · /account add PLATFORM HANDLE [key=value …]"
)
EXPIRY_WARNING_DAYS = 7
_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")


async def find(handle: str) -> SocialAccount:
    account = await SocialAccount.filter(handle=handle.strip().lstrip("@")).first()
    if account is None or not account.enabled:
        raise NotFound(f"There is no account called {handle}; /account list shows them.")
    return account


async def find_many(handles: list[str]) -> list[SocialAccount]:
    return [await find(h) for h in dict.fromkeys(handles)]


account = router.group("account", USAGE, "manage the social accounts Herald posts to", default="list")


account.command("connect", role=ADMIN_ROLE, ephemeral=True)(connect.connect_command)
account.command("pick", role=ADMIN_ROLE, ephemeral=True)(connect.pick_command)


@account.command("list", ephemeral=True)
async def list_command(ctx: Context, args: str) -> list[Reply]:
    accounts = await SocialAccount.filter(enabled=True).order_by("handle")
    if not accounts:
        return [info("No accounts yet. An admin connects one with /account connect PLATFORM.")]
    lines = []
    for a in accounts:
        label = platform(a.platform).label
        named = a.label if a.label and label in a.label else f"{a.label} ({label})" if a.label else label
        lines.append(f"{a.handle} — {named}: {state_of(a, ctx.now, ctx.services.platforms)}")
    return [info("Accounts:\n" + "\n".join(lines))]


def state_of(account: SocialAccount, now: datetime, ports: Platforms | None) -> str:
    """``ok``, ``token expires in N days`` (a warning under a week) or ``needs reconnecting (reason)``."""
    if account.status == AccountStatus.RECONNECT.value:
        return f"needs reconnecting ({account.status_reason or 'the platform refused its token'})"
    expires = _expiry(account, ports)
    if expires is None:
        return "ok"
    days = (expires - now).days
    if expires <= now:
        return "token expired: reconnect it with /account connect " + account.platform
    if days < EXPIRY_WARNING_DAYS:
        return f"⚠ token expires in {days} day{'' if days == 1 else 's'}: reconnect it before then"
    return f"ok, token expires in {days} days"


def _expiry(account: SocialAccount, ports: Platforms | None) -> datetime | None:
    """When the account stops working unless someone reconnects it: where Herald renews the access token itself,
    its refresh token's expiry (if it has one), else the access token's."""
    try:
        document = json.loads(account.credentials) if account.credentials else {}
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    renewable = ports.renewable(account.platform, account.credentials) if ports else bool(document.get("refresh_token"))
    if renewable:
        refresh_expires = document.get("refresh_expires_at")
        return datetime.fromisoformat(refresh_expires) if isinstance(refresh_expires, str) else None
    return account.token_expires_at


@account.command("check", role=ADMIN_ROLE, ephemeral=True)
async def check_command(ctx: Context, args: str) -> list[Reply]:
    words = args.split()
    if len(words) != 1:
        raise InvalidInput("Usage: /account check HANDLE")
    account = await find(words[0])
    result = await connect.platforms_of(ctx).check(account.platform, account.credentials)
    if result.account is not None:
        was_held = account.status == AccountStatus.RECONNECT.value
        await SocialAccount.filter(id=account.id).update(
            checked_at=ctx.now, status=AccountStatus.OK.value, status_reason=None
        )
        if was_held:
            await connect.release_held(account.id, ctx.services)
        return [info(f"{account.handle} works: {platform(account.platform).label} says it is {result.account.label}.")]
    if result.expired:
        await SocialAccount.filter(id=account.id).update(
            status=AccountStatus.RECONNECT.value, status_reason=result.problem
        )
        return [
            info(
                f"{account.handle} needs reconnecting: {result.problem} "
                f"Reconnect it with /account connect {account.platform}."
            )
        ]
    return [info(f"I couldn't check {account.handle} now: {result.problem}")]


@account.command("remove", role=ADMIN_ROLE, ephemeral=True)
async def remove_command(ctx: Context, args: str) -> list[Reply]:
    words = args.split()
    if len(words) != 1:
        raise InvalidInput(f"Usage: {USAGE}")
    account = await find(words[0])
    ports = ctx.services.platforms
    revoked = bool(ports and account.credentials and await ports.revoke(account.platform, account.credentials))
    account.enabled = False
    await account.save(update_fields=["enabled"])
    await audit.record("account.removed", actor=ctx.member, handle=account.handle, revoked=revoked)
    label = platform(account.platform).label
    said = (
        f"its token was revoked at {label}"
        if revoked
        else f"Herald couldn't revoke its token at {label}: remove Herald's access in the account's settings there"
        if account.credentials and ports
        else "it had no token to revoke"
    )
    return [info(f"Removed the account {account.handle}; {said}. Scheduled posts to it will fail with a reason.")]


@account.command("add", role=ADMIN_ROLE, ephemeral=True)
async def add_command(ctx: Context, args: str) -> list[Reply]:
    words = args.split()
    if len(words) < 2:
        raise InvalidInput(f"Usage: {USAGE}")
    info_ = platform(words[0])
    handle = words[1].lstrip("@")
    if not _HANDLE.match(handle):
        raise InvalidInput(f"{handle!r} is not a usable account name: letters, digits and . _ @ : - only.")
    credentials = _parse_credentials(words[2:])
    existing = await SocialAccount.filter(handle=handle).first()
    if existing is not None and existing.enabled:
        raise InvalidInput(f"There is already an account called {handle}.")
    try:
        if existing is not None:
            existing.platform, existing.enabled = info_.name, True
            existing.credentials = credentials  # type: ignore[assignment]
            await existing.save()
        else:
            await SocialAccount.create(platform=info_.name, handle=handle, credentials=credentials)
    except IntegrityError:
        raise InvalidInput(f"There is already an account called {handle}.") from None
    # never put credentials in the audit log or the logs
    await audit.record("account.added", actor=ctx.member, handle=handle, platform=info_.name)
    return [info(f"Added {info_.label} account {handle}. Draft to it with /draft --to {handle} …")]


def _parse_credentials(pairs: list[str]) -> str | None:
    if not pairs:
        return None
    creds: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"Credentials go as key=value (e.g. token=abc), not {pair.split('=')[0]!r}.")
        creds[key] = value
    return json.dumps(creds)
