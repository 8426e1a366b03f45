"""Threads' environment variables: the Meta app (its *Threads* app id and secret) and every base URL."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ThreadsSettings(BaseSettings):
    """``THREADS_APP_ID``/``THREADS_APP_SECRET`` are the app's *Threads* app id and secret (App Dashboard > App
    settings > Basic shows two pairs; the Facebook pair does not work with graph.threads.net)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    app_id: str = Field("", alias="THREADS_APP_ID")
    app_secret: str = Field("", alias="THREADS_APP_SECRET")
    api_url: str = Field("https://graph.threads.net", alias="THREADS_API_URL")
    api_version: str = Field("v1.0", alias="THREADS_API_VERSION")
    authorize_url: str = Field("https://threads.net/oauth/authorize", alias="THREADS_AUTHORIZE_URL")
    #: The code exchange; empty: ``{THREADS_API_URL}/oauth/access_token``.
    token_url: str = Field("", alias="THREADS_TOKEN_URL")
    #: Seconds between two looks at a container still IN_PROGRESS, and how many such waits one publish attempt
    #: makes (all its containers together) before giving up for now: the publish is retried later and resumes
    #: with the same containers. 2 s × 10 keeps an attempt well inside Herald's task timeout (60 s).
    poll_interval: float = Field(2.0, alias="THREADS_POLL_INTERVAL")
    poll_attempts: int = Field(10, alias="THREADS_POLL_ATTEMPTS")

    @property
    def base(self) -> str:
        return self.api_url.rstrip("/")

    @property
    def graph(self) -> str:
        """The versioned Graph root: ``https://graph.threads.net/v1.0``."""
        return f"{self.base}/{self.api_version.strip('/')}"

    @property
    def code_url(self) -> str:
        return self.token_url or f"{self.base}/oauth/access_token"

    @property
    def secret_values(self) -> tuple[str, ...]:
        return tuple(s for s in (self.app_secret,) if s)
