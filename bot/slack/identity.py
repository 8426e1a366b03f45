"""Slack users as neutral senders: ``users.info`` gives the username, display name and time zone.

Looked up once per user and kept for an hour; concurrent lookups of the same user share one call.
If Slack can't answer, the name from the request is used (and retried sooner), so a Slack hiccup
never stops a command.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.admin.members import member_name
from handlers.messages import Sender

log = structlog.get_logger(__name__)
ADAPTER = "slack"
TTL_SECONDS = 3600.0
FALLBACK_TTL_SECONDS = 60.0


def _zone(raw: Any) -> str | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return raw


@dataclass(frozen=True)
class _Entry:
    sender: Sender
    expires: float


class Identities:
    def __init__(self, web: Callable[[], AsyncWebClient], *, ttl: float = TTL_SECONDS) -> None:
        self._web = web
        self._ttl = ttl
        self._cache: dict[str, _Entry] = {}
        self._pending: dict[str, asyncio.Future[Sender]] = {}

    async def sender(self, user_id: str, username: str = "") -> Sender:
        entry = self._cache.get(user_id)
        if entry is not None and entry.expires > time.monotonic():
            return entry.sender
        pending = self._pending.get(user_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Sender] = asyncio.get_running_loop().create_future()
        self._pending[user_id] = future
        try:
            sender, ttl = await self._look_up(user_id, username)
            self._cache[user_id] = _Entry(sender, time.monotonic() + ttl)
            future.set_result(sender)
            return sender
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            del self._pending[user_id]

    async def _look_up(self, user_id: str, username: str) -> tuple[Sender, float]:
        try:
            response = await self._web().users_info(user=user_id)
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            log.warning("slack.users_info_failed", user=user_id, error=type(exc).__name__)
            name = member_name(username, user_id)
            return Sender(ADAPTER, user_id, name, display_name=username or name), FALLBACK_TTL_SECONDS
        user: dict[str, Any] = response.get("user") or {}
        profile: dict[str, Any] = user.get("profile") or {}
        name = member_name(str(user.get("name") or username), user_id)
        display = str(profile.get("display_name") or profile.get("real_name") or user.get("real_name") or name)
        return Sender(ADAPTER, user_id, name, display_name=display, timezone=_zone(user.get("tz"))), self._ttl
