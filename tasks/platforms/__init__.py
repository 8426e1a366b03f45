"""Publisher registry: the platform name of a social account → the publisher that serves it."""

from __future__ import annotations

import httpx

from tasks.platforms.base import Publication, Published, Publisher
from tasks.platforms.dryrun import DryRunPublisher
from tasks.platforms.fake import FakePlatformPublisher


class Publishers:
    def __init__(self, by_platform: dict[str, Publisher], fallback: Publisher | None = None) -> None:
        self._by_platform = by_platform
        self._fallback = fallback

    def for_platform(self, name: str) -> Publisher | None:
        return self._by_platform.get(name, self._fallback)


def dry_run() -> Publishers:
    """Every platform goes to one shared dry-run publisher (the embedded default)."""
    return Publishers({}, fallback=DryRunPublisher())


def live(client: httpx.AsyncClient, timeout: httpx.Timeout) -> Publishers:
    """The real publishers, sharing one HTTP client. Platforms without one fail with a clear reason.

    ``timeout`` bounds every platform call; it must stay well inside the task timeout, or the
    reconciler would take a slow publish for a dead one.
    """
    return Publishers(
        {
            # test platforms: each account names its server (credentials' base_url)
            "fake": FakePlatformPublisher(client, idempotent=True, timeout=timeout),
            "fake-nokey": FakePlatformPublisher(
                client, idempotent=False, label="The fake platform (no key)", timeout=timeout
            ),
        }
    )


__all__ = ["DryRunPublisher", "Publication", "Published", "Publisher", "Publishers", "dry_run", "live"]
