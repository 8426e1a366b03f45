"""Where Herald reaches Bluesky: the entryway that logs accounts in (``BLUESKY_PDS_URL``); each account's own
PDS comes from its DID document at login."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BlueskySettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    #: ``createSession`` / ``refreshSession`` go here; bsky.social is the entryway for every account it hosts.
    pds_url: str = Field("https://bsky.social", alias="BLUESKY_PDS_URL")
    #: Where published posts are shown (``{web_url}/profile/{handle}/post/{rkey}``).
    web_url: str = Field("https://bsky.app", alias="BLUESKY_WEB_URL")
    #: Fetch the first link's page for a link card (og:title/description/image) when a post has no images.
    link_cards: bool = Field(True, alias="BLUESKY_LINK_CARDS")

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Herald holds no app-wide Bluesky secret: each account's app password is used once, never stored."""
        return ()
