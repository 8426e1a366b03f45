"""Social accounts: add, list, remove (admins)."""

from __future__ import annotations

import json
import re

from tortoise.exceptions import IntegrityError

from handlers import audit
from handlers.context import Context
from handlers.messages import Reply, info
from handlers.router import Router
from handlers.text.platforms import platform
from models.accounts import SocialAccount
from models.errors import InvalidInput, NotFound
from models.members import ADMIN_ROLE

router = Router()
USAGE = "/account add PLATFORM HANDLE [key=value …] · /account list · /account remove HANDLE"
_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")


async def find(handle: str) -> SocialAccount:
    account = await SocialAccount.filter(handle=handle.strip().lstrip("@")).first()
    if account is None or not account.enabled:
        raise NotFound(f"There is no account called {handle}; /account list shows them.")
    return account


async def find_many(handles: list[str]) -> list[SocialAccount]:
    return [await find(h) for h in dict.fromkeys(handles)]


account = router.group("account", USAGE, "manage the social accounts Herald posts to", default="list")


@account.command("list", ephemeral=True)
async def list_command(ctx: Context, args: str) -> list[Reply]:
    accounts = await SocialAccount.filter(enabled=True).order_by("handle")
    if not accounts:
        return [info("No accounts yet. An admin adds one with /account add PLATFORM HANDLE.")]
    lines = [f"{a.handle} ({platform(a.platform).label})" for a in accounts]
    return [info("Accounts:\n" + "\n".join(lines))]


@account.command("remove", role=ADMIN_ROLE, ephemeral=True)
async def remove_command(ctx: Context, args: str) -> list[Reply]:
    words = args.split()
    if len(words) != 1:
        raise InvalidInput(f"Usage: {USAGE}")
    account = await find(words[0])
    account.enabled = False
    await account.save(update_fields=["enabled"])
    await audit.record("account.removed", actor=ctx.member, handle=account.handle)
    return [info(f"Removed the account {account.handle}; scheduled posts to it will fail with a reason.")]


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
