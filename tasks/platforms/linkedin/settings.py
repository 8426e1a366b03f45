"""LinkedIn's environment variables: the app's credentials, its hosts and the API version it speaks."""

from __future__ import annotations

import re

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: LinkedIn's versioned API wants ``LinkedIn-Version: YYYYMM`` (sometimes a patch: ``202508.02``) on every
#: ``/rest`` call; each monthly version lives at least a year. 202607 (July 2026) is the newest version the
#: versioning page listed when this was written; move it forward with LINKEDIN_VERSION.
DEFAULT_VERSION = "202607"
#: "Sign In with LinkedIn using OpenID Connect" + "Share on LinkedIn". LinkedIn wants the Community Management API
#: alone on its app, so such an app has no OpenID: it asks for "r_basicprofile w_member_social" instead.
MEMBER_SCOPES = "openid profile w_member_social"
#: Posting as a page needs LinkedIn's Community Management API product on the app.
ORGANIZATION_SCOPES = "w_organization_social r_organization_social rw_organization_admin"
_VERSION = re.compile(r"\d{6}(\.\d{2})?")


class LinkedInSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    client_id: str = Field("", alias="LINKEDIN_CLIENT_ID")
    client_secret: str = Field("", alias="LINKEDIN_CLIENT_SECRET")
    api_url: str = Field("https://api.linkedin.com", alias="LINKEDIN_API_URL")
    #: authorization, accessToken and revoke live under this one base
    auth_url: str = Field("https://www.linkedin.com/oauth/v2", alias="LINKEDIN_AUTH_URL")
    version: str = Field(DEFAULT_VERSION, alias="LINKEDIN_VERSION")
    member_scopes: str = Field(MEMBER_SCOPES, alias="LINKEDIN_MEMBER_SCOPES")
    #: scopes asked for besides the member's; empty when the app has no Community Management API access
    organization_scopes: str = Field(ORGANIZATION_SCOPES, alias="LINKEDIN_ORGANIZATION_SCOPES")

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.strip()
        if not _VERSION.fullmatch(value):
            raise ValueError(f"LINKEDIN_VERSION must look like 202607 (YYYYMM), not {value!r}")
        return value

    @property
    def scopes(self) -> tuple[str, ...]:
        scopes = f"{self.member_scopes} {self.organization_scopes}".replace(",", " ").split()
        return tuple(dict.fromkeys(scopes))

    @property
    def secret_values(self) -> tuple[str, ...]:
        return tuple(s for s in (self.client_secret,) if s)


__all__ = ["DEFAULT_VERSION", "MEMBER_SCOPES", "ORGANIZATION_SCOPES", "LinkedInSettings"]
