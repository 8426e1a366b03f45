"""Social accounts Herald publishes to."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.crypto import EncryptedTextField


class SocialAccount(Model):
    """One account on one platform, e.g. (``mastodon``, ``herald@fosstodon``).

    ``credentials`` is a JSON document (tokens, page ids, base URL) kept encrypted at rest.
    """

    id = fields.IntField(primary_key=True)
    platform = fields.CharField(max_length=32)
    handle = fields.CharField(max_length=128, unique=True, description="the name used in --to")
    credentials = EncryptedTextField(null=True)
    token_expires_at = fields.DatetimeField(null=True)
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "social_accounts"

    def __str__(self) -> str:
        return self.handle
