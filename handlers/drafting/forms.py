"""What chat forms (a Slack modal, a Telegram keyboard) offer to choose from."""

from __future__ import annotations

from handlers.text.platforms import PLATFORMS
from models.accounts import SocialAccount


async def draft_targets() -> list[tuple[str, str]]:
    """The accounts a draft may go to, as ``(handle, platform label)``, by handle."""
    accounts = await SocialAccount.filter(enabled=True).order_by("handle")
    return [(a.handle, PLATFORMS[a.platform].label if a.platform in PLATFORMS else a.platform) for a in accounts]
