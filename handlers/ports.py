"""What the application needs from the outside, as protocols that outer layers implement.

``bot/`` provides a :class:`Notifier` per chat; ``tasks/`` provides a :class:`Scheduler` hook so the
dispatcher hears about newly scheduled posts at once instead of at its next poll, and a
:class:`QueueProbe` so ``/queue status`` can say how the queue transport is doing. The wiring picks the
:class:`MediaStore` (``models.media``: a directory, or the database with PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from handlers.messages import Conversation, Reply
from models.media import StoredMedia


class Notifier(Protocol):
    async def notify(self, conversation: Conversation, reply: Reply) -> None:
        """Deliver ``reply`` into ``conversation`` (edit in place when ``reply.ref`` was seen)."""


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
