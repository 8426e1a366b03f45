"""X (Twitter): API v2 posts with the chunked media upload, OAuth 2.0 with PKCE and rotating refresh tokens."""

from __future__ import annotations

from tasks.platforms.base import Platform
from tasks.platforms.x.client import XClient
from tasks.platforms.x.rules import RULES
from tasks.platforms.x.settings import XSettings

PLATFORM = Platform(rules=RULES, settings=XSettings, client=XClient)

__all__ = ["PLATFORM", "RULES", "XClient", "XSettings"]
