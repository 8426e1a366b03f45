"""Telegram channels, published to by Herald's bot (see :mod:`tasks.platforms.telegram.client`)."""

from __future__ import annotations

from tasks.platforms.base import Platform
from tasks.platforms.telegram.client import TelegramClient
from tasks.platforms.telegram.rules import RULES
from tasks.platforms.telegram.settings import TelegramSettings

PLATFORM = Platform(rules=RULES, settings=TelegramSettings, client=TelegramClient)

__all__ = ["PLATFORM", "TelegramClient", "TelegramSettings"]
