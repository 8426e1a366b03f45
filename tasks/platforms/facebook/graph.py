"""Meta's Graph API, shared by Facebook Pages and Instagram: error classification, token exchange, a call helper.

Graph answers errors (mostly HTTP 400, sometimes 403 or 500) as
``{"error": {"message", "type", "code", "error_subcode", "is_transient", "error_user_msg", "fbtrace_id"}}``;
:func:`classifier` maps them once, by ``code``/``error_subcode``, before the standard HTTP mapping::

    code 190 (and 102, 10, 200–299: token or permission)   → AuthExpired
    error_subcode 2207042 (Instagram daily publishing limit) → DailyLimit (a RateLimited)
    error_subcode 2207020 (expired Instagram container)      → ContainerExpired (a Rejected the client handles)
    code 4, 17, 32, 613, 80001, 80002 (throttled)           → RateLimited; retry_after from the header
                                                              X-Business-Use-Case-Usage: the largest
                                                              ``estimated_time_to_regain_access`` (minutes)
    is_transient true, code 2 (temporary trouble)            → PlatformDown
    code 506 (duplicate post)                                → Duplicate
    code 368 (blocked for policy)                            → Rejected
    anything else with an ``error`` object                   → Rejected (4xx) / PlatformDown (5xx)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx

from tasks.platforms.errors import (
    AuthExpired,
    Duplicate,
    PlatformDown,
    PlatformError,
    RateLimited,
    Rejected,
)
from tasks.platforms.http import Classify, PlatformHTTP, platform_reason

THROTTLED: Final = frozenset({4, 17, 32, 613, 80001, 80002})
TOKEN_CODES: Final = frozenset({102, 190, 10})
DAILY_LIMIT_SUBCODE: Final = 2207042
EXPIRED_CONTAINER_SUBCODE: Final = 2207020
#: How many pages of ``/me/accounts`` to read (100 Pages each) before stopping.
MAX_PAGES: Final = 10
#: What a long-lived user token lasts when the exchange doesn't say (Meta: "about 60 days").
LONG_LIVED: Final = timedelta(days=60)


class DailyLimit(RateLimited):
    """Instagram's 24-hour publishing quota is used up (``retry_after`` filled in by the client from the quota)."""


class ContainerExpired(Rejected):
    """An Instagram container older than 24 hours: it must be made again, not published."""


#: Graph's code 4: the app's own request limit (17 is the user's, 32 the Page's, 613 a call's custom limit).
APP_LIMIT_CODE = 4


def classifier(label: str) -> Classify:
    """The ``classify`` hook for :class:`~tasks.platforms.http.PlatformHTTP` (module docstring)."""

    def classify(response: httpx.Response) -> PlatformError | None:
        error = graph_error(response)
        if error is None:
            return None
        code, subcode = as_int(error.get("code")), as_int(error.get("error_subcode"))
        reason = platform_reason(response)
        said = f"{label} said: {reason}" if reason else f"{label} refused the request (error {code})."
        if code in TOKEN_CODES or (code is not None and 200 <= code <= 299):
            return AuthExpired(f"{said} Reconnect the account.")
        if subcode == DAILY_LIMIT_SUBCODE:
            return DailyLimit(f"{label} allows no more posts for this account today.")
        if subcode == EXPIRED_CONTAINER_SUBCODE:
            return ContainerExpired(said)
        if code in THROTTLED:
            wait = regain_access(response.headers)
            app_wide = code == APP_LIMIT_CODE  # "Application request limit reached": every account waits
            message = f"{label} is throttling {'Herald' if app_wide else 'this account'}."
            if wait is not None:
                message += f" Retry in {max(1, math.ceil(wait / 60))} minute{'s' if wait > 60 else ''}."
            return RateLimited(message, retry_after=wait, app_wide=app_wide)
        if error.get("is_transient") is True or code == 2:
            return PlatformDown(f"{said} (temporary)" if reason else f"{label} has a temporary problem.")
        if code == 506:
            return Duplicate(said)
        if response.status_code >= 500:
            return PlatformDown(said)
        return Rejected(said)

    return classify


def graph_error(response: httpx.Response) -> dict[str, Any] | None:
    """The ``error`` object of a Graph error body (Facebook, Instagram, Threads), or None."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def regain_access(headers: httpx.Headers) -> float | None:
    """Seconds until Meta lifts a throttle, from ``X-Business-Use-Case-Usage``
    (``{"<object id>": [{"type": "pages", "estimated_time_to_regain_access": <minutes>, …}]}``); None if absent."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes: list[float] = []
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                value = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else None
                if isinstance(value, int | float) and value > 0:
                    minutes.append(float(value))
    return max(minutes) * 60 if minutes else None


class Graph:
    """One Graph API host and version for a platform's client: ``GET``/``POST`` with a token, the JSON back."""

    def __init__(self, http: PlatformHTTP, api_url: str, version: str, app_secret: str = "") -> None:
        self.http = http
        self.base = f"{api_url.rstrip('/')}/{version.strip('/')}"
        self._app_secret = app_secret.encode()

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    async def get(self, path: str, token: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        # The token goes in a header, never the URL: URLs end up in logs.
        query = {**(params or {}), **self._proof(token)}
        response = await self.http.request("GET", self.url(path), headers=_bearer(token), params=query)
        return self.http.json_object(response)

    async def post(self, path: str, token: str, data: Mapping[str, str]) -> dict[str, Any]:
        form = {**data, **self._proof(token)}
        response = await self.http.request("POST", self.url(path), headers=_bearer(token), data=form)
        return self.http.json_object(response)

    def _proof(self, token: str) -> dict[str, str]:
        """``appsecret_proof`` (HMAC-SHA256 of the token with the app secret): apps that turn on "Require App
        Secret" refuse calls without it, and it is harmless for the others. It doesn't reveal the token."""
        if not self._app_secret:
            return {}
        return {"appsecret_proof": hmac.new(self._app_secret, token.encode(), hashlib.sha256).hexdigest()}

    async def long_lived(self, app_id: str, app_secret: str, token: str) -> tuple[str, datetime]:
        """A long-lived user token (about 60 days) for ``token`` (``grant_type=fb_exchange_token``), and its expiry.

        Sent as a form POST (Graph takes POST for ``oauth/access_token`` as for any read), so the app secret and the
        token stay out of URLs."""
        form = {
            "grant_type": "fb_exchange_token",
            "client_id": app_id,
            "client_secret": app_secret,
            "fb_exchange_token": token,
        }
        response = await self.http.request("POST", self.url("oauth/access_token"), data=form)
        body = self.http.json_object(response)
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise AuthExpired(f"{self.http.label} gave no long-lived token. Reconnect the account.")
        expires_in = as_int(body.get("expires_in"))
        lifetime = timedelta(seconds=expires_in) if expires_in else LONG_LIVED
        return access, datetime.now(UTC) + lifetime

    async def pages(self, user_token: str) -> list[dict[str, Any]]:
        """The Pages the user manages (``GET /me/accounts``, following ``paging`` cursors), each with its Page
        token: ``{"id", "name", "access_token", "tasks"}``."""
        pages: list[dict[str, Any]] = []
        params = {"fields": "id,name,access_token,tasks", "limit": "100"}
        for _ in range(MAX_PAGES):
            body = await self.get("me/accounts", user_token, params)
            pages.extend(p for p in body.get("data") or [] if isinstance(p, dict) and p.get("id"))
            paging = body.get("paging")
            cursors = paging.get("cursors") if isinstance(paging, dict) else None
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not isinstance(paging, dict) or not paging.get("next") or not after:
                break
            params = {**params, "after": str(after)}
        return pages


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def slug(name: str, fallback: str) -> str:
    """A Herald handle from a Page name: "Acme Coffee!" → "acme-coffee"."""
    out: list[str] = []
    for ch in name.lower():
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-") or fallback


__all__ = [
    "ContainerExpired",
    "DailyLimit",
    "Graph",
    "classifier",
    "regain_access",
    "slug",
]
