"""Herald's OAuth app on each Mastodon server, registered once (``POST /api/v1/apps``) and reused.

:class:`DatabaseApps` keeps them in ``platform_apps`` (the client secret encrypted), one row per server and
redirect URI; :class:`MemoryApps` is for tests and one-off tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tortoise.exceptions import IntegrityError

PLATFORM = "mastodon"


@dataclass(frozen=True)
class RegisteredApp:
    instance: str
    redirect_uri: str
    client_id: str
    client_secret: str


class AppStore(Protocol):
    async def find(self, instance: str, redirect_uri: str) -> RegisteredApp | None: ...

    async def save(self, app: RegisteredApp) -> RegisteredApp:
        """Keep ``app``; when another worker registered one for the same server first, theirs (to use instead)."""


class MemoryApps:
    def __init__(self) -> None:
        self.apps: dict[tuple[str, str], RegisteredApp] = {}

    async def find(self, instance: str, redirect_uri: str) -> RegisteredApp | None:
        return self.apps.get((instance, redirect_uri))

    async def save(self, app: RegisteredApp) -> RegisteredApp:
        return self.apps.setdefault((app.instance, app.redirect_uri), app)


class DatabaseApps:
    """The apps in ``platform_apps`` (:class:`models.accounts.PlatformApp`)."""

    async def find(self, instance: str, redirect_uri: str) -> RegisteredApp | None:
        from models.accounts import PlatformApp

        row = await PlatformApp.get_or_none(platform=PLATFORM, instance=instance, redirect_uri=redirect_uri)
        if row is None or not row.client_secret:
            return None
        return RegisteredApp(instance, redirect_uri, row.client_id, row.client_secret)

    async def save(self, app: RegisteredApp) -> RegisteredApp:
        from models.accounts import PlatformApp

        try:
            await PlatformApp.create(
                platform=PLATFORM,
                instance=app.instance,
                redirect_uri=app.redirect_uri,
                client_id=app.client_id,
                client_secret=app.client_secret,
            )
        except IntegrityError:  # registered by another worker meanwhile (unique platform+instance+redirect_uri)
            found = await self.find(app.instance, app.redirect_uri)
            if found is not None:
                return found
            raise
        return app
