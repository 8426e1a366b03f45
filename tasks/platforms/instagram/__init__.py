"""Instagram professional accounts (Graph API, logging in with the Facebook app): rules, settings and client."""

from __future__ import annotations

from tasks.platforms.base import Platform
from tasks.platforms.instagram.client import InstagramClient
from tasks.platforms.instagram.rules import RULES
from tasks.platforms.instagram.settings import InstagramSettings

PLATFORM = Platform(rules=RULES, settings=InstagramSettings, client=InstagramClient)

__all__ = ["PLATFORM", "RULES", "InstagramClient", "InstagramSettings"]
