"""Social accounts Herald publishes to, and the OAuth apps Herald registers per server (Mastodon)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.crypto import EncryptedTextField
from models.members import Member


class AccountStatus(StrEnum):
    OK = "ok"
    RECONNECT = "reconnect"  # the platform refused the token and refreshing failed: someone must reconnect


class SocialAccount(Model):
    """One account on one platform, e.g. (``mastodon``, ``herald@fosstodon``).

    ``credentials`` is a JSON document (:class:`tasks.platforms.base.Credentials`) kept encrypted at rest.
    ``credentials_rev`` goes up by one on every write of ``credentials``: a refresh writes back only over the
    revision it read (:func:`models.credentials.swap`), so two workers refreshing at once can't lose the newer
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
