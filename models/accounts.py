"""Social accounts Herald publishes to, and the OAuth apps Herald registers per server (Mastodon)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.crypto import EncryptedTextField
from models.members import Member


class AccountStatus(StrEnum):
    OK = "ok"
    RECONNECT = "reconnect"  # the platform refused the token and refreshing failed: someone must reconnect


class SocialAccount(Model):
    """One account on one platform, e.g. (``mastodon``, ``herald@fosstodon``).

    ``credentials`` is a JSON document (:class:`tasks.platforms.base.Credentials`) kept encrypted at rest.
    ``credentials_rev`` goes up by one on every write of ``credentials``: a refresh writes back only over the
    revision it read (:func:`refresh_credentials`), so two workers refreshing at once can't lose the newer
    refresh token. ``status`` is ``reconnect`` while the platform refuses the account (its posts are held).
    """

    id = fields.IntField(primary_key=True)
    platform = fields.CharField(max_length=32)
    handle = fields.CharField(max_length=128, unique=True, description="the name used in --to")
    credentials = EncryptedTextField(null=True)
    credentials_rev = fields.IntField(default=0)
    token_expires_at = fields.DatetimeField(null=True)
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    status = fields.CharField(max_length=16, default=AccountStatus.OK.value)
    status_reason = fields.TextField(null=True, description="the last refusal of the platform, one sentence")
    label = fields.CharField(max_length=255, null=True, description="how the chat names it, e.g. @acme on X")
    remote_id = fields.CharField(max_length=255, null=True, description="the id of the account on the platform")
    url = fields.CharField(max_length=1024, null=True)
    connected_by: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="accounts", null=True, on_delete=fields.SET_NULL
    )
    checked_at = fields.DatetimeField(null=True, description="when a call last proved the credentials work")
    refreshed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "social_accounts"

    def __str__(self) -> str:
        return self.handle


class PlatformApp(Model):
    """Herald's OAuth app on one server of a federated platform (Mastodon: ``POST /api/v1/apps`` per instance)."""

    id = fields.IntField(primary_key=True)
    platform = fields.CharField(max_length=32)
    instance = fields.CharField(max_length=255, description="base URL of the server")
    client_id = fields.CharField(max_length=255)
    client_secret = EncryptedTextField(null=True)
    redirect_uri = fields.CharField(max_length=1024)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "platform_apps"
        table_description = "OAuth apps of Herald per server of a federated platform"
        unique_together = (("platform", "instance", "redirect_uri"),)


_local_locks: dict[int, asyncio.Lock] = {}


def _lock(account_id: int) -> asyncio.Lock:
    return _local_locks.setdefault(account_id, asyncio.Lock())


async def refresh_credentials(
    account_id: int,
    seen: Callable[[str | None], bool],
    refresh: Callable[[str | None], Awaitable[tuple[str, datetime | None]]],
) -> str | None:
    """Replace the account's credentials with ``refresh(current)``, unless someone already did.

    Runs under the account's row lock (``SELECT … FOR UPDATE`` on PostgreSQL, plus a lock per account in this
    process). When ``seen(stored)`` is False, the stored credentials are not the ones the caller used: another
    worker refreshed meanwhile, and its newer credentials are returned without calling ``refresh``. So a rotating
    refresh token is used once, and the newer one is never overwritten by an older answer. ``refresh`` returns
    the new JSON document and its expiry; whatever it raises propagates and nothing is written.
    """
    async with _lock(account_id), in_transaction() as conn:
        account = await SocialAccount.select_for_update().using_db(conn).get(id=account_id)
        if not seen(account.credentials):
            return account.credentials
        new, expires_at = await refresh(account.credentials)
        await (
            SocialAccount.filter(id=account_id)
            .using_db(conn)
            .update(
                credentials=new,
                credentials_rev=account.credentials_rev + 1,
                token_expires_at=expires_at,
                refreshed_at=datetime.now(UTC),
                status=AccountStatus.OK.value,
                status_reason=None,
            )
        )
        return new


async def needs_reconnect(account_id: int, reason: str) -> bool:
    """Mark the account refused; True when this call changed it (so the owner is told once)."""
    changed = await SocialAccount.filter(id=account_id, status=AccountStatus.OK.value).update(
        status=AccountStatus.RECONNECT.value, status_reason=reason
    )
    return bool(changed)
