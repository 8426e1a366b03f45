"""An in-process Herald whose ``/account connect`` talks to the test platforms of :mod:`tests.fakes.connectable`
(served over real HTTP), and the login pages (:mod:`bot.oauth`) over the same services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from bot.notifiers import OutboxNotifier
from bot.oauth import LoginPages
from handlers.app import Herald
from handlers.context import Services
from handlers.ports import NullScheduler
from handlers.text import platforms as catalogue
from tasks.platforms import dry_run
from tasks.platforms.directory import Directory
from tasks.runtime import Runtime
from tests.auxil.chat import Chat, FrozenClock
from tests.fakes import connectable
from tests.fakes.server import ServedApp

PUBLIC_URL = "http://herald.test"


@dataclass
class Connecting:
    fake: connectable.ConnectableFake
    served: ServedApp
    directory: Directory
    chat: Chat
    services: Services

    @property
    def pages(self) -> LoginPages:
        return LoginPages(self.directory, self.services, PUBLIC_URL)


@asynccontextmanager
async def connecting(*, public_url: str | None = PUBLIC_URL) -> AsyncIterator[Connecting]:
    """The fake platform served, its two test platforms known to the catalogue for the block's duration."""
    fake = connectable.ConnectableFake()
    added = [
        p for p in (connectable.TESTNET, connectable.TESTKEY, connectable.TESTFED) if p.name not in catalogue.PLATFORMS
    ]
    for info in added:
        catalogue.register(info)
    try:
        with ServedApp(fake.app, name="connectable") as served:
            async with httpx.AsyncClient(timeout=10) as http:
                directory = Directory(connectable.publishers(served.url, http))
                clock = FrozenClock()
                notifier = OutboxNotifier()
                services = Services(
                    notifier=notifier,
                    scheduler=NullScheduler(),
                    clock=clock,
                    platforms=directory,
                    public_url=public_url,
                )
                runtime = Runtime(publishers=dry_run(), notifier=notifier, clock=clock)
                chat = Chat(Herald(services), runtime, clock)
                yield Connecting(fake, served, directory, chat, services)
    finally:
        for info in added:
            catalogue.PLATFORMS.pop(info.name, None)
