"""Per-message context handed to every use case: who, where, when, and the ports to the outside."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.messages import Conversation
from handlers.ports import Clock, MediaStore, Notifier, Platforms, QueueProbe, Scheduler
from handlers.settings import DEFAULTS
from models.members import Member


@dataclass(frozen=True)
class Services:
    """The application's collaborators, built once by the wiring in ``bot/``."""

    notifier: Notifier
    scheduler: Scheduler
    clock: Clock
    default_timezone: str = DEFAULTS.tz
    queue_probe: QueueProbe | None = None  # None: the in-process queue, nothing to probe
    # a claim older than this is the reconciler's (the wiring passes Settings.stuck_after_seconds)
    stuck_after: timedelta = timedelta(seconds=DEFAULTS.stuck_after_seconds)
    # a post held or down longer than this past its time is reported missed instead of sent late
    missed_grace: timedelta = timedelta(seconds=DEFAULTS.missed_grace_seconds)
    media: MediaStore | None = None  # where posts' images and videos are kept (None: refs taken as they are)
    platforms: Platforms | None = None  # None: no platform clients (accounts are added with /account add only)
    public_url: str | None = None  # HERALD_PUBLIC_URL: where browsers reach Herald's login links


@dataclass(frozen=True)
class Context:
    member: Member
    roles: frozenset[str]
    conversation: Conversation
    services: Services

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.member.timezone or self.services.default_timezone)

    def has_role(self, role: str) -> bool:
        from models.members import ADMIN_ROLE

        return role in self.roles or ADMIN_ROLE in self.roles
