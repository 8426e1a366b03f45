"""LinkedIn: posts as a member or an organization page (see :mod:`tasks.platforms.linkedin.client`)."""

from __future__ import annotations

from tasks.platforms.base import Platform
from tasks.platforms.linkedin.client import LinkedInClient
from tasks.platforms.linkedin.rules import RULES
from tasks.platforms.linkedin.settings import LinkedInSettings

PLATFORM = Platform(rules=RULES, settings=LinkedInSettings, client=LinkedInClient)

__all__ = ["PLATFORM", "RULES", "LinkedInClient", "LinkedInSettings"]
