"""Facebook Pages (Graph API): rules, settings and client; :mod:`.graph` is shared with Instagram."""

from __future__ import annotations

from tasks.platforms.base import Platform
from tasks.platforms.facebook.client import FacebookClient
from tasks.platforms.facebook.rules import RULES
from tasks.platforms.facebook.settings import FacebookSettings

PLATFORM = Platform(rules=RULES, settings=FacebookSettings, client=FacebookClient)

__all__ = ["PLATFORM", "RULES", "FacebookClient", "FacebookSettings"]
