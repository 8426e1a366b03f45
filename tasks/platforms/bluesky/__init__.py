"""Bluesky: posts as ``app.bsky.feed.post`` records over XRPC, connected with an app password."""

from __future__ import annotations

from tasks.platforms.base import Platform
from tasks.platforms.bluesky.client import BlueskyClient
from tasks.platforms.bluesky.rules import RULES
from tasks.platforms.bluesky.settings import BlueskySettings

PLATFORM = Platform(rules=RULES, settings=BlueskySettings, client=BlueskyClient)

__all__ = ["PLATFORM", "BlueskyClient", "BlueskySettings"]
