"""About one message per second per channel, as Slack asks of ``chat.postMessage``.

Each post reserves the next free slot of its channel and sleeps until then; no lock is held while
sleeping, so channels don't wait for each other. One pacer serves the whole process (the web side and
the notifier share it), because Slack's limit is per channel, not per client object.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

DEFAULT_INTERVAL = 1.0
PRUNE_AT = 10_000


class ChannelPacer:
    def __init__(self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._next: dict[str, float] = {}

    def reserve(self, channel: str) -> float:
        """Book the channel's next slot; returns how many seconds to wait for it."""
        now = self._clock()
        slot = max(now, self._next.get(channel, now))
        self._next[channel] = slot + self.interval
        if len(self._next) > PRUNE_AT:
            self._next = {c: t for c, t in self._next.items() if t > now}
        return slot - now

    async def wait(self, channel: str) -> None:
        delay = self.reserve(channel)  # synchronous: no await between reading and booking the slot
        if delay > 0:
            await asyncio.sleep(delay)


_shared = ChannelPacer()


def shared() -> ChannelPacer:
    """The process-wide pacer."""
    return _shared
