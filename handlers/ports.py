"""What the application needs from the outside, as protocols that outer layers implement.

``bot/`` provides a :class:`Notifier` per chat; ``tasks/`` provides a :class:`Scheduler` hook so the
dispatcher hears about newly scheduled posts at once instead of at its next poll, a
:class:`QueueProbe` so ``/queue status`` can say how the queue transport is doing, and :class:`Platforms`,
the social platforms' clients as ``/account`` needs them (connect, check, revoke). The wiring picks the
:class:`MediaStore` (``models.media``: a directory, or the database with PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from handlers.messages import Conversation, FormField, Reply
from models.media import StoredMedia


class Notifier(Protocol):
    async def notify(self, conversation: Conversation, reply: Reply) -> None:
        """Deliver ``reply`` into ``conversation`` (edit in place when ``reply.ref`` was seen).

        A report (``kind="report"`` with a ``post_id``) is also the adapter's to show under the post's card in
        its other conversations showing it: the core tells one conversation per chat
        (``handlers.publishing.delivery.tell_elsewhere``)."""


class MediaStore(Protocol):
    """Where a post's images and videos are kept, content-addressed (a ref is ``<sha256>.<ext>``)."""

    async def put(self, data: bytes, content_type: str, filename: str = "media") -> str:
        """Store the file (once, however often it is put); its ref."""

    async def get(self, ref: str) -> StoredMedia:
        """The stored file; :class:`~models.errors.NotFound` when there is none."""

    async def exists(self, ref: str) -> bool: ...


class Scheduler(Protocol):
    async def scheduled(self, due_at: datetime) -> None:
        """A delivery became due at ``due_at``: wake the dispatcher if that is sooner than planned."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class NullScheduler:
    async def scheduled(self, due_at: datetime) -> None:
        return None


@dataclass(frozen=True)
class QueueStats:
    """The queue transport as a :class:`QueueProbe` found it.

    ``problem`` is set (and the counts mean nothing) when the transport did not answer in time or
    answered with an error. ``length`` counts the stream's entries (acked entries are deleted, so these
    are messages not finished yet), ``pending`` those read by a consumer and not acked, ``consumers``
    the consumer names registered in the group (a stopped worker's name stays listed), ``lag`` the
    entries no consumer has read yet, when Redis can tell (it can't after deletions).
    """

    backend: str  # "Redis", "Redis Cluster"
    stream: str
    group: str
    problem: str | None = None
    length: int = 0
    pending: int = 0
    consumers: int = 0
    lag: int | None = None
    group_exists: bool = True


class QueueProbe(Protocol):
    async def stats(self) -> QueueStats:
        """Look at the queue transport; answers within a short timeout and never raises for an outage."""


@dataclass(frozen=True)
class ConnectedAccount:
    """An account a platform gave access to (after a login or a secret), as Herald saves it.

    ``credentials_json`` is the platform's credentials document (saved encrypted, never shown or logged);
    ``expires_at`` is when its access token stops working (None: it doesn't expire on its own);
    ``refreshable`` whether Herald can renew the token without the admin.
    """

    handle: str
    label: str
    url: str | None
    remote_id: str | None
    credentials_json: str = field(repr=False)
    expires_at: datetime | None = None
    refreshable: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "label": self.label,
            "url": self.url,
            "remote_id": self.remote_id,
            "credentials": self.credentials_json,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "refreshable": self.refreshable,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConnectedAccount:
        expires = data.get("expires_at")
        return cls(
            handle=str(data["handle"]),
            label=str(data["label"]),
            url=data.get("url"),
            remote_id=data.get("remote_id"),
            credentials_json=str(data["credentials"]),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            refreshable=bool(data.get("refreshable", False)),
        )


@dataclass(frozen=True)
class CheckResult:
    """What ``/account check`` found: who the credentials are (``account``), or the platform's reason
    (``problem``; ``expired`` when the platform refused the token, so the account needs reconnecting)."""

    account: ConnectedAccount | None = None
    problem: str | None = None
    expired: bool = False


class Platforms(Protocol):
    """The social platforms' clients, as connecting and checking accounts needs them. Every method raises
    :class:`~models.errors.UserError` (a sentence for the admin) for what the platform or the configuration
    refuses."""

    def secret_fields(self, platform: str) -> tuple[FormField, ...]:
        """What an admin types to connect ``platform`` without a login (empty: it connects with OAuth)."""

    def renewable(self, platform: str, credentials_json: str | None) -> bool:
        """Whether Herald renews these credentials itself (a refresh token, or a token the platform exchanges for
        a newer one): their access token's expiry is then no reason to reconnect."""

    async def prepare_login(self, platform: str, instance: str | None) -> None:
        """Make sure ``platform`` (on ``instance``) can send an admin to its login page; UserError naming what
        to configure when it can't."""

    async def connect_secret(self, platform: str, values: dict[str, str]) -> list[ConnectedAccount]:
        """Check ``values`` with a cheap call; the account(s) they give."""

    async def check(self, platform: str, credentials_json: str | None) -> CheckResult:
        """A cheap call with the stored credentials, now."""

    async def revoke(self, platform: str, credentials_json: str | None) -> bool:
        """Revoke the token where the platform allows it; False when it can't (or refused to)."""
