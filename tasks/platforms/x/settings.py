"""X's app credentials and hosts, from the environment (every URL overridable for tests and proxies)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class XSettings(BaseSettings):
    """``X_CLIENT_ID``/``X_CLIENT_SECRET``: the OAuth 2.0 client of a confidential app (Web App type) in the X
    developer console; the hosts default to X's public ones."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    client_id: str = Field("", alias="X_CLIENT_ID")
    client_secret: str = Field("", alias="X_CLIENT_SECRET")
    #: The app's consumer key and secret, for accounts connected with OAuth 1.0a user tokens (optional).
    api_key: str = Field("", alias="X_API_KEY")
    api_secret: str = Field("", alias="X_API_SECRET")
    api_url: str = Field("https://api.x.com", alias="X_API_URL")
    upload_url: str = Field("", alias="X_UPLOAD_URL")  # empty: the media upload lives on X_API_URL
    authorize_url: str = Field("https://x.com/i/oauth2/authorize", alias="X_AUTHORIZE_URL")
    token_url: str = Field("", alias="X_TOKEN_URL")  # empty: X_API_URL/2/oauth2/token
    web_url: str = Field("https://x.com", alias="X_WEB_URL")  # where a post's link points
    #: Bytes per APPEND segment (X takes up to 5 MB per segment; smaller is kinder to slow links).
    chunk_bytes: int = Field(4 * 1024 * 1024, alias="X_UPLOAD_CHUNK_BYTES", gt=0, le=5 * 1024 * 1024)
    #: How long one publish waits for X to process a video or GIF before handing the wait to a retry.
    processing_timeout: float = Field(120.0, alias="X_MEDIA_PROCESSING_TIMEOUT", gt=0)

    @property
    def api(self) -> str:
        return self.api_url.rstrip("/")

    @property
    def upload(self) -> str:
        return (self.upload_url or self.api_url).rstrip("/")

    @property
    def token(self) -> str:
        return self.token_url or f"{self.api}/2/oauth2/token"

    @property
    def secret_values(self) -> tuple[str, ...]:
        return tuple(s for s in (self.client_secret, self.api_secret) if s)


__all__ = ["XSettings"]
