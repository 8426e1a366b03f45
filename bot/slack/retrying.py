"""When Slack's Web API can't be reached: which failures are worth waiting out, and how long to wait.

Herald acks Slack's requests without calling the Web API (see ``bot.slack.app.BotAuthorization``); what
needs it afterwards (posting a card, a reply, a report) waits out an outage: the call is tried again
after 1, 2, 4 … seconds, at most a minute apart, for up to a quarter of an hour, each wait logged with
the post it is about. What the core decided meanwhile is already saved; only showing it waits.

"Unreachable" means Slack never answered (refused or reset connection, DNS, timeout) or answered that it
is broken (HTTP 5xx, ``internal_error``, ``service_unavailable``). Any other error (``channel_not_found``,
``invalid_auth``, …) is Slack's answer and is not retried here; 429s are retried by slack-sdk after
``Retry-After``. A call that timed out may have reached Slack: its retry may then show a message twice,
which Herald prefers to losing it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError

log = structlog.get_logger(__name__)
T = TypeVar("T")
BROKEN = frozenset({"internal_error", "service_unavailable"})


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says Slack's Web API is down or out of reach (worth trying again later)."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        if response is None:
            return False
        # an AsyncSlackResponse, or aiohttp's response when the body wasn't JSON (an HTML error page)
        status = int(getattr(response, "status_code", None) or getattr(response, "status", None) or 200)
        data = getattr(response, "data", None)
        return bool(status >= 500 or (isinstance(data, dict) and data.get("error") in BROKEN))
    return isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ServerTimeoutError | TimeoutError | OSError)


@dataclass(frozen=True)
class Backoff:
    """Waits of ``first`` seconds, doubling up to ``cap``, while their sum stays within ``total``."""

    first: float = 1.0
    cap: float = 60.0
    total: float = 900.0

    def delays(self) -> Iterator[float]:
        delay, spent = self.first, 0.0
        while spent + delay <= self.total:
            yield delay
            spent += delay
            delay = min(self.cap, delay * 2)


class Reachability:
    """What this process last learned about the Web API: answering, or unreachable since when."""

    def __init__(self) -> None:
        self.down_since: float | None = None

    @property
    def reachable(self) -> bool:
        return self.down_since is None

    def failed(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("slack.unreachable", error=type(exc).__name__)

    def answered(self) -> None:
        if self.down_since is not None:
            log.info("slack.reachable_again", after=round(time.monotonic() - self.down_since, 1))
            self.down_since = None


async def retrying(
    call: Callable[[], Awaitable[T]], *, what: str, backoff: Backoff, reachability: Reachability, **fields: Any
) -> T:
    """``await call()``, tried again after each wait of ``backoff`` while Slack is unreachable.

    ``fields`` (the post id, the channel) go into the log lines. Once the waits are used up, the last
    error is raised.
    """
    delays = backoff.delays()
    attempt = 1
    while True:
        try:
            result = await call()
        except Exception as exc:
            if not unreachable(exc):
                if isinstance(exc, SlackApiError):
                    reachability.answered()  # an answer, if a refusal
                raise
            reachability.failed(exc)
            delay = next(delays, None)
            if delay is None:
                log.error("slack.gave_up", what=what, attempts=attempt, error=type(exc).__name__, **fields)
                raise
            log.warning("slack.retrying", what=what, attempt=attempt, wait=delay, error=type(exc).__name__, **fields)
            await asyncio.sleep(delay)
            attempt += 1
            continue
        reachability.answered()
        return result
