"""The registry: every platform Herald publishes to, listed once.

Adding a platform is one package under ``tasks/platforms/`` (its rules, settings and client, exposed as
``PLATFORM``; see :mod:`tasks.platforms.base`) and one line in :data:`PLATFORMS`.
"""

from __future__ import annotations

import httpx

from handlers.text import platforms as catalogue
from tasks.platforms import bluesky, facebook, instagram, linkedin, mastodon, telegram, threads, x
from tasks.platforms.base import Client, Platform, Publication, Published
from tasks.platforms.dryrun import DryRunPublisher
from tasks.platforms.fake import FakePlatformPublisher

#: The social networks, in the order the README and the chat list them.
PLATFORMS: tuple[Platform, ...] = (
    x.PLATFORM,
    facebook.PLATFORM,
    instagram.PLATFORM,
    linkedin.PLATFORM,
    threads.PLATFORM,
    mastodon.PLATFORM,
    bluesky.PLATFORM,
    telegram.PLATFORM,
)


def install() -> None:
    """Make every platform's rules known to drafting and approval (``handlers.text.platforms``)."""
    for platform in PLATFORMS:
        catalogue.register(platform.rules)


def by_name(name: str) -> Platform | None:
    return next((p for p in PLATFORMS if p.name == name), None)


class Publishers:
    """The client that publishes to each platform (by the platform name of a social account)."""

    def __init__(self, by_platform: dict[str, Client], fallback: Client | None = None) -> None:
        self._by_platform = by_platform
        self._fallback = fallback

    def for_platform(self, name: str) -> Client | None:
        return self._by_platform.get(name, self._fallback)


def dry_run() -> Publishers:
    """Every platform goes to one shared dry-run publisher (the embedded default)."""
    return Publishers({}, fallback=DryRunPublisher())


def live(client: httpx.AsyncClient, timeout: httpx.Timeout) -> Publishers:
    """The real clients, sharing one HTTP client, each configured from its environment variables.

    ``timeout`` bounds every platform call; it must stay well inside the task timeout, or the
    reconciler would take a slow publish for a dead one.
    """
    clients: dict[str, Client] = {p.name: p.build(client, timeout) for p in PLATFORMS}
    # test platforms: each account names its server (credentials' base_url)
    clients["fake"] = FakePlatformPublisher(client, idempotent=True, timeout=timeout)
    clients["fake-nokey"] = FakePlatformPublisher(
        client, idempotent=False, label="The fake platform (no key)", timeout=timeout
    )
    return Publishers(clients)


__all__ = [
    "PLATFORMS",
    "Client",
    "DryRunPublisher",
    "Platform",
    "Publication",
    "Published",
    "Publishers",
    "by_name",
    "dry_run",
    "install",
    "live",
]
