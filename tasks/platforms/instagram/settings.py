"""Instagram's settings: the Facebook app (``FACEBOOK_*``, Instagram logs in through Facebook Login) plus
``INSTAGRAM_*`` overrides and the publishing knobs."""

from __future__ import annotations

from pydantic import Field

from tasks.platforms.facebook.settings import FacebookSettings


class InstagramSettings(FacebookSettings):
    """``INSTAGRAM_API_URL`` overrides ``FACEBOOK_API_URL`` for the Instagram calls only (a proxy, a test)."""

    instagram_api_url: str | None = Field(None, alias="INSTAGRAM_API_URL")
    #: Posts per 24 h when ``content_publishing_limit`` doesn't say (Meta's docs have said 25, 50 and 100).
    quota_total: int = Field(50, alias="INSTAGRAM_QUOTA_TOTAL")
    #: How long to wait between two looks at a container still ``IN_PROGRESS``, and how many looks per attempt.
    poll_seconds: float = Field(3.0, alias="INSTAGRAM_POLL_SECONDS")
    max_polls: int = Field(20, alias="INSTAGRAM_MAX_POLLS")

    @property
    def graph_url(self) -> str:
        return self.instagram_api_url or self.api_url
