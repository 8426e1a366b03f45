"""What the application needs from the outside, as protocols that outer layers implement.

``bot/`` provides a :class:`Notifier` per chat; ``tasks/`` provides a :class:`Scheduler` hook so the
dispatcher hears about newly scheduled posts at once instead of at its next poll.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from handlers.messages import Conversation, Reply


class Notifier(Protocol):
    async def notify(self, conversation: Conversation, reply: Reply) -> None:
        """Deliver ``reply`` into ``conversation`` (edit in place when ``reply.ref`` was seen)."""


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
