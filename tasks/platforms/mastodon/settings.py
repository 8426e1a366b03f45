"""Mastodon's settings. Herald registers its own app on each server an admin connects (``POST /api/v1/apps``),
so there is no client id to configure: only where Herald can be reached (``HERALD_PUBLIC_URL``, the same variable
as :attr:`handlers.settings.Settings.public_url`) for the OAuth callback, and how long to wait for media."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handlers.settings import public_url

SCOPES = ("read:accounts", "write:statuses", "write:media")


class MastodonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    public_url: str | None = Field(None, alias="HERALD_PUBLIC_URL")
    client_name: str = Field("Herald", alias="MASTODON_CLIENT_NAME")
    website: str | None = Field(None, alias="MASTODON_APP_WEBSITE")  # shown on the consent page; default: public URL
    media_poll_interval: float = Field(1.0, alias="MASTODON_MEDIA_POLL_SECONDS", gt=0, le=60)
    media_wait: float = Field(60.0, alias="MASTODON_MEDIA_WAIT_SECONDS", gt=0, le=3600)

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        return public_url(value)

    @property
    def redirect_uri(self) -> str | None:
        """Where the server sends the admin back (``/oauth/mastodon/callback`` on Herald's HTTP side)."""
        return f"{self.public_url}/oauth/mastodon/callback" if self.public_url else None

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Nothing secret is configured: each server's client secret lives encrypted in ``platform_apps``."""
        return ()
