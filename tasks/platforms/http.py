"""Calling a platform over HTTP, with every failure converted to :mod:`tasks.platforms.errors` — the one place
that mapping lives, so each publisher only builds requests and reads successful answers.

Transport failures (httpx exceptions), by whether the platform can have acted on the request::

    never (fully) sent        ConnectError, ConnectTimeout, PoolTimeout,        → PlatformDown
                              WriteError, WriteTimeout, ProxyError
    sent, no usable answer    ReadTimeout, ReadError, RemoteProtocolError,      → OutcomeUnknown
                              any other httpx.RequestError
    unusable request          InvalidURL, UnsupportedProtocol,                  → Permanent
                              LocalProtocolError (a bad base URL or token)

Answers, after the publisher's own ``classify`` hook (for codes in bodies, as Facebook's throttling codes)::

    2xx                       returned to the caller
    429                       RateLimited; retry_after from Retry-After (seconds or HTTP date), else
                              X-RateLimit-Reset / x-rate-limit-reset / RateLimit-Reset (unix seconds,
                              ISO 8601 or seconds from now)
    408, 5xx                  PlatformDown (retry_after from Retry-After when given)
    401, 403                  AuthExpired — unless the body says "duplicate" (X answers 403): Rejected
    other 4xx                 Rejected
    anything else (1xx, 3xx)  Permanent

Every message is one sentence for the chat thread that starts with the platform's label and carries the
platform's own reason when its body has one (``error``, ``detail``, ``message``, ``error.message``,
``error_description``, ``errors[0].message``, ``title``), never a raw body:
"Mastodon said: Validation failed: Text can't be blank."
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

from tasks.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    Permanent,
    PlatformDown,
    PlatformError,
    RateLimited,
    Rejected,
)

#: Explicit limits for every call: a publish must not wait on a platform forever.
DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)
#: A reason longer than this is cut (with "…"): the chat gets one short sentence.
MAX_REASON: Final = 200
_RESET_HEADERS: Final = ("x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset")
_NOT_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.ProxyError,
)
_UNUSABLE: Final = (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)

#: A publisher's hook for platform quirks: an error for this answer, or None for the standard mapping.
Classify = Callable[[httpx.Response], PlatformError | None]


class PlatformHTTP:
    """Sends one platform's requests through ``client`` and raises only :mod:`tasks.platforms.errors`.

    ``label`` starts every error message ("Mastodon"). ``timeout`` applies to every call, whatever the client's
    default. ``clock`` (unix seconds) turns reset timestamps into ``retry_after``.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        label: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        classify: Classify | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.label = label
        self.timeout = timeout
        self._classify = classify
        self._clock = clock

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The platform's 2xx answer (body read); any other outcome raises a ``PlatformError``/``OutcomeUnknown``
        chained (``from``) to the httpx exception, if any."""
        try:
            response = await self.client.request(
                method, _parsed(url), headers=headers, data=data, json=json, params=params, timeout=self.timeout
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self.transport_error(exc) from exc
        if response.is_success:
            spent = LIMITS.get()
            if spent is not None:
                wait = exhausted(response.headers, self._clock())
                if wait is not None:
                    spent.append(wait)
            return response
        raise self.error_for(response)

    def transport_error(self, exc: httpx.HTTPError | httpx.InvalidURL) -> PlatformError:
        """The error for an httpx exception raised while calling the platform (module docstring)."""
        label = self.label
        if isinstance(exc, _UNUSABLE):
            return Permanent(f"{label} can't be called with this account's settings; check its base URL and token.")
        if isinstance(exc, httpx.PoolTimeout):
            return PlatformDown(f"{label} couldn't be called: every connection to it is busy.")
        if isinstance(exc, httpx.WriteError | httpx.WriteTimeout):
            return PlatformDown(f"{label} stopped taking the request before it was fully sent.")
        if isinstance(exc, _NOT_SENT):
            return PlatformDown(f"{label} can't be reached right now.")
        if isinstance(exc, httpx.ReadTimeout):
            return OutcomeUnknown(f"{label} didn't answer in time, so Herald can't tell whether it was published.")
        return OutcomeUnknown(
            f"{label} dropped the connection before answering, so Herald can't tell whether it was published."
        )

    def error_for(self, response: httpx.Response) -> PlatformError:
        """The error for a non-2xx answer (module docstring); needs the body read."""
        if self._classify is not None:
            special = self._classify(response)
            if special is not None:
                return special
        code, label = response.status_code, self.label
        reason = platform_reason(response)
        said = f"{label} said: {reason}" if reason else None
        if code == 429:
            wait = retry_after(response.headers, self._clock())
            message = said or f"{label} is rate limiting Herald."
            if wait is not None:
                n = max(1, math.ceil(wait))
                message += f" Retry in {n} second{'' if n == 1 else 's'}."
            return RateLimited(message, retry_after=wait)
        if code == 408 or code >= 500:
            wait = retry_after(response.headers, self._clock(), reset_headers=False)
            return PlatformDown(said or f"{label} is unavailable (HTTP {code}).", retry_after=wait)
        if code in (401, 403):
            if "duplicate" in (reason or response.text[:2000]).lower():
                return Rejected(said or f"{label} rejected the post as a duplicate.")
            refused = said or f"{label} refused the account's access token."
            return AuthExpired(f"{refused} Reconnect the account.")
        if 400 <= code < 500:
            return Rejected(said or f"{label} rejected the post (HTTP {code}).")
        return Permanent(said or f"{label} gave an unexpected answer (HTTP {code}).")

    def json_object(self, response: httpx.Response) -> dict[str, Any]:
        """A 2xx answer's JSON object. OutcomeUnknown when unreadable: the platform said yes, but Herald can't
        tell what it made (and a retry on a platform without idempotency could post twice)."""
        try:
            body = response.json()
        except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
            body = None
        if not isinstance(body, dict):
            raise OutcomeUnknown(f"{self.label} accepted the request but its answer was unreadable.")
        return body


@functools.lru_cache(maxsize=1024)
def _parsed(url: str) -> httpx.URL:
    """``url`` parsed once: a publisher calls the same few endpoints for every post, and httpx parses a string
    URL again on every request."""
    return httpx.URL(url)


#: Where a publish collects what the platform's rate-limit headers said on its successful answers: seconds until
#: the window that the call used up resets (``X-RateLimit-Remaining: 0``). The publish path reads it after the
#: call and blocks the account until then, so the next post waits instead of being refused.
LIMITS: ContextVar[list[float] | None] = ContextVar("platform_limits", default=None)
_REMAINING_HEADERS: Final = ("x-rate-limit-remaining", "x-ratelimit-remaining", "ratelimit-remaining")


def exhausted(headers: httpx.Headers, now: float) -> float | None:
    """Seconds until the rate-limit window resets when the answer says none is left in it, else None."""
    for name in _REMAINING_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        try:
            remaining = float(value)
        except ValueError:
            return None
        if remaining > 0:
            return None
        reset = name.replace("remaining", "reset")
        stamp = headers.get(reset)
        seconds = _seconds_from(stamp, now, absolute_numbers=True) if stamp else None
        return max(0.0, seconds) if seconds else None
    return None


def platform_reason(response: httpx.Response) -> str | None:
    """The platform's own explanation from an error body, as one short sentence ending in a full stop.

    Tries JSON fields (module docstring) and prefers prose over a code ("RateLimitExceeded"); a short
    ``text/plain`` body also counts. None when there is nothing readable (an HTML error page, say).
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        found = [c.strip() for c in _candidates(body) if isinstance(c, str) and c.strip()]
        prose = [c for c in found if " " in c]
        if found:
            return _sentence((prose or found)[0])
        return None
    if body is None and response.headers.get("content-type", "").startswith("text/plain"):
        text = response.text.strip()
        if text and "\n" not in text:
            return _sentence(text)
    return None


def _candidates(body: dict[str, Any]) -> list[Any]:
    error, errors = body.get("error"), body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    return [
        body.get("detail"),
        body.get("message"),
        error.get("message") if isinstance(error, dict) else None,
        error,
        body.get("error_description"),
        first.get("message") if isinstance(first, dict) else first,
        first.get("detail") if isinstance(first, dict) else None,
        body.get("title"),
    ]


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 1].rstrip() + "…"
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


def retry_after(headers: httpx.Headers, now: float, *, reset_headers: bool = True) -> float | None:
    """Seconds to wait from ``now`` (unix seconds) per ``Retry-After`` or, if absent or unreadable and
    ``reset_headers``, the rate-limit reset headers (module docstring); never negative; None when none says."""
    value = headers.get("retry-after")
    seconds = _seconds_from(value, now, absolute_numbers=False) if value else None
    if seconds is None and reset_headers:
        for name in _RESET_HEADERS:
            value = headers.get(name)
            seconds = _seconds_from(value, now, absolute_numbers=True) if value else None
            if seconds is not None:
                break
    return None if seconds is None else max(0.0, seconds)


def _seconds_from(value: str, now: float, *, absolute_numbers: bool) -> float | None:
    """``value`` as seconds from ``now``: a number (a unix timestamp when large and ``absolute_numbers``, else
    a delay), an ISO 8601 time or an HTTP date; None when unreadable."""
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        # Reset headers mix conventions: X/Bluesky send unix seconds, the IETF draft seconds from now.
        return number - now if absolute_numbers and number > 1_000_000_000 else number
    when: datetime | None = None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now


__all__ = ["DEFAULT_TIMEOUT", "LIMITS", "Classify", "PlatformHTTP", "exhausted", "platform_reason", "retry_after"]
