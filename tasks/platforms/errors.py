"""What can go wrong talking to a platform, converted once where the HTTP call is made.

PlatformError                       (models.errors.HeraldError)
├── Transient                       worth retrying later
│   ├── RateLimited                 429 or the platform's throttling code; ``retry_after`` seconds
│   └── PlatformDown                5xx, connection refused or reset before the request was sent
└── Permanent                       retrying will not help; the message is the platform's reason
    ├── AuthExpired                 401/403 token problems: refresh once, else someone must reconnect the account
    └── Rejected                    4xx validation, policy, media problems
        └── Duplicate               the platform already has this post (reported, never retried)
OutcomeUnknown                      the request was sent, no answer came: it may have been published
"""

from __future__ import annotations

from models.errors import HeraldError


class PlatformError(HeraldError):
    """Base of platform errors; ``str(err)`` is one sentence fit for the chat thread."""


class Transient(PlatformError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(Transient):
    """``app_wide``: the limit is on Herald's app (every account of the platform waits), not on one account."""

    def __init__(self, message: str, retry_after: float | None = None, *, app_wide: bool = False) -> None:
        super().__init__(message, retry_after)
        self.app_wide = app_wide


class PlatformDown(Transient):
    pass


class Permanent(PlatformError):
    pass


class AuthExpired(Permanent):
    pass


class Rejected(Permanent):
    pass


class Duplicate(Rejected):
    pass


class OutcomeUnknown(PlatformError):
    pass
