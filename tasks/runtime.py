"""What a worker process holds while it runs: publishers, the notifier, the clock, retry rules."""

from __future__ import annotations

import os
import random
import socket
from dataclasses import dataclass, field

from handlers.ports import Clock, Notifier, NullScheduler, Scheduler, SystemClock
from tasks.publishers import Publishers


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring the platform's Retry-After when it gives one."""

    max_attempts: int = 5
    base_seconds: float = 2.0
    cap_seconds: float = 900.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = random.uniform(0, min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1)))
        return max(backoff, retry_after or 0.0)


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class Runtime:
    publishers: Publishers
    notifier: Notifier
    clock: Clock = field(default_factory=SystemClock)
    scheduler: Scheduler = field(default_factory=NullScheduler)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    worker_id: str = field(default_factory=worker_name)
