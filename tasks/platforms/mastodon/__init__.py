"""Mastodon: any server, Herald's app registered on each (see :mod:`tasks.platforms.mastodon.client`)."""

from __future__ import annotations

from tasks.platforms.base import Platform
from tasks.platforms.mastodon.client import MastodonClient
from tasks.platforms.mastodon.rules import RULES
from tasks.platforms.mastodon.settings import MastodonSettings

PLATFORM = Platform(rules=RULES, settings=MastodonSettings, client=MastodonClient)

__all__ = ["PLATFORM", "MastodonClient", "MastodonSettings"]
