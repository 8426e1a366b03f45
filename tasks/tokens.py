"""Refreshing an account's token: at publish time when the platform refuses it, and ahead of expiry by a
background job, both through :func:`refresh` so two workers refreshing at once can't lose the newer refresh token.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

import structlog

from handlers import audit
from handlers.ports import Clock, Notifier
from handlers.publishing import holds
from handlers.text.platforms import PLATFORMS
from models import accounts
from models.accounts import AccountStatus, SocialAccount
from models.audit import AuditEntry
from tasks.platforms import Publishers
from tasks.platforms.base import Client, Credentials
from tasks.platforms.errors import AuthExpired, PlatformError

log = structlog.get_logger(__name__)

#: Tokens expiring within this are refreshed by the background job.
AHEAD = timedelta(hours=24)
#: Accounts whose token can't be refreshed are warned about this long before it expires.
WARN_BEFORE = timedelta(days=7)


async def refresh(client: Client, account_id: int, seen: Credentials) -> Credentials:
    """The account's credentials after one refresh (or after the one another worker just did).

    A platform that answers without a new refresh token keeps the old one (a reconnect or refresh must never
    wipe it). Raises ``AuthExpired`` when the platform refuses the refresh token; Transient errors as they are.
    """

    async def do(current: str | None) -> tuple[str, datetime | None]:
        old = Credentials.from_json(current)
        new = await client.refresh(old)
        if not new.refresh_token and old.refresh_token:
            new = new.model_copy(update={"refresh_token": old.refresh_token})
        merged = new.model_copy(update={"extra": {**old.extra, **new.extra}})
        return merged.to_json(), merged.expires_at

    stored = await accounts.refresh_credentials(account_id, lambda current: Credentials.from_json(current) == seen, do)
    return Credentials.from_json(stored)


async def refresh_due(publishers: Publishers, notifier: Notifier | None, clock: Clock) -> int:
    """Refresh every token that expires within :data:`AHEAD`; warn the owners of accounts whose token will expire
    and can't be refreshed (LinkedIn without a refresh token); mark the ones the platform refuses. Returns how many
    were refreshed."""
    now = clock.now()
    due = await SocialAccount.filter(
        enabled=True, status=AccountStatus.OK.value, token_expires_at__lte=now + WARN_BEFORE
    ).order_by("token_expires_at")
    refreshed = 0
    for account in due:
        client = publishers.for_platform(account.platform)
        if client is None:
            continue
        credentials = Credentials.from_json(account.credentials)
        if not client.renewable(credentials):
            await _warn_expiring(account, notifier, now)
            continue
        if account.token_expires_at is not None and account.token_expires_at - now > AHEAD:
            continue
        try:
            await refresh(client, account.id, credentials)
        except AuthExpired as exc:
            log.warning("token.refresh_refused", account=account.handle, platform=account.platform)
            if await accounts.needs_reconnect(account.id, str(exc)) and notifier is not None:
                await holds.tell_owner(account.id, notifier, reason=str(exc))
        except PlatformError as exc:  # down or throttling: try again next round, never disconnect for it
            log.info("token.refresh_postponed", account=account.handle, platform=account.platform, error=str(exc))
        else:
            refreshed += 1
            log.info("token.refreshed", account=account.handle, platform=account.platform)
    return refreshed


async def _warn_expiring(account: SocialAccount, notifier: Notifier | None, now: datetime) -> None:
    """Once a day until it expires: the token can't be refreshed, so someone must reconnect before it does."""
    if notifier is None or account.token_expires_at is None:
        return
    recent = await AuditEntry.filter(action="account.expiry_warned", created_at__gte=now - timedelta(days=1))
    if any(entry.detail.get("handle") == account.handle for entry in recent):
        return
    days = max(0, (account.token_expires_at - now).days)
    label = PLATFORMS[account.platform].label if account.platform in PLATFORMS else account.platform
    when = "today" if days == 0 else f"in {days} day{'' if days == 1 else 's'}"
    reason = f"Its token expires {when} and {label} doesn't let Herald renew it."
    await audit.record("account.expiry_warned", handle=account.handle, platform=account.platform)
    await holds.tell_owner(account.id, notifier, reason=reason)


async def keep_fresh(
    publishers: Publishers, notifier: Notifier | None, clock: Clock, stop: asyncio.Event, every: float = 600.0
) -> None:
    """Run :func:`refresh_due` every ``every`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            await refresh_due(publishers, notifier, clock)
        except Exception:
            log.exception("token.refresh_round_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
