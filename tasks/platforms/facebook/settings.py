"""Facebook's app settings (``FACEBOOK_*``), shared by Instagram: both log in through the same Facebook app."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.errors import ConfigError


class FacebookSettings(BaseSettings):
    """The Facebook app Herald logs in with, and where Meta's Graph API is (every URL overridable for tests)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    app_id: str = Field("", alias="FACEBOOK_APP_ID")
    app_secret: str = Field("", alias="FACEBOOK_APP_SECRET")
    api_url: str = Field("https://graph.facebook.com", alias="FACEBOOK_API_URL")
    graph_version: str = Field("v23.0", alias="FACEBOOK_GRAPH_VERSION")
    #: ``{version}`` is replaced by ``graph_version``.
    authorize_url: str = Field("https://www.facebook.com/{version}/dialog/oauth", alias="FACEBOOK_AUTHORIZE_URL")

    @property
    def secret_values(self) -> tuple[str, ...]:
        return tuple(s for s in (self.app_secret,) if s)

    @property
    def dialog_url(self) -> str:
        return self.authorize_url.replace("{version}", self.graph_version)

    def require_app(self) -> tuple[str, str]:
        """The app id and secret; ConfigError naming what is missing."""
        missing = [
            name
            for name, value in (("FACEBOOK_APP_ID", self.app_id), ("FACEBOOK_APP_SECRET", self.app_secret))
            if not value
        ]
        if missing:
            raise ConfigError(f"Facebook and Instagram need a Facebook app: set {' and '.join(missing)}.")
        return self.app_id, self.app_secret
