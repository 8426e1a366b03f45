"""Graph-style error bodies (graph.threads.net), read once: PlatformHTTP's ``classify`` hook for Threads.

``{"error": {"message", "type": "OAuthException", "code", "error_subcode", "is_transient", "error_user_title",
"error_user_msg", "fbtrace_id"}}``, usually with HTTP 400 whatever the cause::

    code 190 (token invalid, expired, revoked), 102, 10 and 200–299 (permission)  → AuthExpired
    code 4, 17, 32, 613 (throttled), 9 (publishing limit, as Instagram sends it)   → RateLimited
    code 24 + subcode 4279009 "Media Not Found" (container not ready yet)           → PlatformDown
    is_transient true, code 2, code 1 without a subcode                             → PlatformDown
    anything else                                                                   → Rejected, with Threads' words

Facebook and Instagram answer in the same shape (:func:`tasks.platforms.facebook.graph.graph_error` reads it);
Threads' codes differ enough (9, 24/4279009) to keep its own mapping.
"""

from __future__ import annotations

import time
from typing import Final

import httpx

from tasks.platforms.errors import AuthExpired, PlatformDown, PlatformError, RateLimited, Rejected
from tasks.platforms.facebook.graph import graph_error
from tasks.platforms.http import platform_reason, retry_after

LABEL: Final = "Threads"
AUTH_CODES: Final = frozenset({190, 102, 10})
THROTTLE_CODES: Final = frozenset({4, 17, 32, 613, 9})
NOT_READY: Final = (24, 4279009)


def classify(response: httpx.Response, label: str = LABEL) -> PlatformError | None:
    """The error for a Graph error answer (module docstring); None when the body isn't one."""
    error = graph_error(response)
    if error is None:
        return None
    code, subcode = error.get("code"), error.get("error_subcode")
    user_message = error.get("error_user_msg")
    reason = platform_reason(response) or "no reason given."
    if isinstance(user_message, str) and user_message.strip():
        reason = platform_reason(httpx.Response(400, json={"message": user_message})) or reason
    said = f"{label} said: {reason}"
    if code in AUTH_CODES or (isinstance(code, int) and 200 <= code <= 299):
        return AuthExpired(f"{said} Reconnect the account.")
    if code in THROTTLE_CODES:
        wait = retry_after(response.headers, time.time())
        return RateLimited(f"{label} is limiting this account: {reason}", retry_after=wait)
    if (code, subcode) == NOT_READY:
        return PlatformDown(f"{label} hasn't finished preparing the post yet.", retry_after=30.0)
    if error.get("is_transient") is True or code == 2 or (code == 1 and subcode is None):
        return PlatformDown(said, retry_after=retry_after(response.headers, time.time(), reset_headers=False))
    return Rejected(said)


__all__ = ["classify", "graph_error"]
