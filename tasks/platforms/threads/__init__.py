"""Threads (Meta): text, an image or a carousel of up to 20 through a container; 60-day tokens."""

from __future__ import annotations

from tasks.platforms.base import Platform
from tasks.platforms.threads.client import ThreadsClient
from tasks.platforms.threads.rules import RULES
from tasks.platforms.threads.settings import ThreadsSettings

PLATFORM = Platform(rules=RULES, settings=ThreadsSettings, client=ThreadsClient)

__all__ = ["PLATFORM", "ThreadsClient", "ThreadsSettings"]
