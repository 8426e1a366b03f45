"""The registry: every platform Herald publishes to, listed once.

Adding a platform is one package under ``tasks/platforms/`` (its rules, settings and client, exposed as
``PLATFORM``; see :mod:`tasks.platforms.base`) and one line in :data:`PLATFORMS`. Platforms that live outside
Herald come in as plugins: ``HERALD_PLATFORM_PLUGINS`` names modules (comma-separated) that each expose a
``PLATFORMS`` tuple of :class:`~tasks.platforms.base.Platform` (Herald's own tests load their test platforms
this way).
"""

from __future__ import annotations

import importlib
import os
from typing import Final

import httpx

from handlers.text import platforms as catalogue
from models.errors import ConfigError
from tasks.platforms import bluesky, facebook, instagram, linkedin, mastodon, telegram, threads, x
from tasks.platforms.base import Client, Platform, Publication, Published
from tasks.platforms.dryrun import DryRunPublisher

PLUGINS_VARIABLE: Final = "HERALD_PLATFORM_PLUGINS"

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


def plugins() -> tuple[Platform, ...]:
    """The platforms of the modules ``HERALD_PLATFORM_PLUGINS`` names; ConfigError for one that can't be used."""
    found: list[Platform] = []
    for name in filter(None, (n.strip() for n in os.environ.get(PLUGINS_VARIABLE, "").split(","))):
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"{PLUGINS_VARIABLE}: the module {name!r} can't be imported ({exc}).") from None
        extra = getattr(module, "PLATFORMS", None)
        if not isinstance(extra, tuple) or not all(isinstance(p, Platform) for p in extra):
            raise ConfigError(f"{PLUGINS_VARIABLE}: {name!r} has no PLATFORMS tuple of Platform.")
        found.extend(extra)
    return tuple(found)


def every() -> tuple[Platform, ...]:
    """Herald's platforms and the plugins'."""
    return PLATFORMS + plugins()


def secret_values() -> tuple[str, ...]:
    """Every platform's configured secrets (app secrets, API secrets), for the logs to scrub."""
    values: list[str] = []
    for platform in every():
        values.extend(getattr(platform.settings(), "secret_values", ()))
    return tuple(v for v in values if v)


def install() -> None:
    """Make every platform's rules known to drafting and approval (``handlers.text.platforms``)."""
    for platform in every():
        catalogue.register(platform.rules)


def by_name(name: str) -> Platform | None:
    return next((p for p in every() if p.name == name), None)


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
    return Publishers({p.name: p.build(client, timeout) for p in every()})


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
    "secret_values",
]
