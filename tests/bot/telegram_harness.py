"""Herald's HTTP app with the Telegram side, on a real uvicorn port in the test's event loop, the fake Bot API
(``tests/fakes/telegram.py``) as Telegram.

``TelegramHarness.send`` posts an update to ``/telegram/webhook`` as Telegram does (JSON, the secret header);
``settle`` waits for the work Herald does after answering 200. Members: alice, bob, carol, dave (each with a
private chat with the bot) and an approvals group.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.http import create_app
from bot.notifiers import OutboxNotifier, RoutingNotifier
from bot.telegram import app as telegram_app
from handlers.app import Herald
from handlers.context import Services
from handlers.ports import Notifier, NullScheduler, SystemClock
from handlers.settings import Settings
from handlers.timing import recurring
from models.media import LocalMediaStore
from tests.bot.harness import serving
from tests.fakes.telegram import BOT_TOKEN, FakeTelegram, Sent

SECRET = "telegram-webhook-secret-0123456789"
USERS = {"alice": 1001, "bob": 1002, "carol": 1003, "dave": 1004}


def add_people(fake: FakeTelegram) -> int:
    """The four members and the approvals group (where the bot is a member); the group's id."""
    for name, uid in USERS.items():
        fake.add_user(uid, name.title(), name)
    return fake.add_group("Approvals")


def settings_for(fake: FakeTelegram, **extra: str) -> Settings:
    values = {"TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_API_URL": fake.url, "TELEGRAM_WEBHOOK_SECRET": SECRET}
    return Settings(**(values | extra))  # type: ignore[arg-type]


@dataclass
class TelegramHarness:
    fake: FakeTelegram
    telegram: telegram_app.TelegramApp
    http: httpx.AsyncClient
    url: str
    group: int
    media: LocalMediaStore

    @property
    def webhook(self) -> str:
        return self.url + "/telegram/webhook"

    async def send(self, update: dict[str, Any], *, secret: str | None = SECRET) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.http.post(self.webhook, json=update, headers=headers)

    async def say(self, who: str, text: str, *, chat: int | None = None, **kw: Any) -> httpx.Response:
        """``who`` sends ``text`` (in their private chat unless ``chat``), and Herald's work is waited for."""
        response = await self.send(self.fake.message_update(USERS[who], chat, text, **kw))
        assert response.status_code == 200, response.text
        await self.settle()
        return response

    async def click(self, who: str, message: Sent, label: str) -> dict[str, Any]:
        update = self.fake.click(USERS[who], message, label)
        response = await self.send(update)
        assert response.status_code == 200
        await self.settle()
        return update

    async def settle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the updates queued are processed and the work they started is done."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 3:
            busy = self.telegram.application.update_queue.qsize() or self.telegram.adapter.busy
            quiet = 0 if busy else quiet + 1
            if time.monotonic() > deadline:
                raise AssertionError(f"Herald still busy after {timeout}s")
            await asyncio.sleep(0.01)

    def cards(self, chat: int) -> list[Sent]:
        """The approval cards in ``chat`` (messages with a Targets line that reply to nothing)."""
        return [m for m in self.fake.messages_in(chat) if m.reply_to is None and "\nTargets: " in (m.text or "")]

    def card(self, chat: int) -> Sent:
        (card,) = self.cards(chat)
        return card

    def replies_to(self, message: Sent) -> list[str]:
        return [str(m.text) for m in self.fake.messages_in(message.chat_id, reply_to=message.message_id)]


def herald_for(routes: dict[str, Notifier], media: LocalMediaStore) -> Herald:
    recurring.install()  # as bot/wiring.py does for every process
    services = Services(notifier=RoutingNotifier(routes), scheduler=NullScheduler(), clock=SystemClock(), media=media)
    return Herald(services)


@asynccontextmanager
async def harness(
    fake: FakeTelegram, *, polling: bool = False, answer_budget: float = 5.0, **settings: str
) -> AsyncIterator[TelegramHarness]:
    """The whole HTTP side with Telegram, wired to an in-process Herald whose notifier for ``telegram`` is the
    adapter's own (as in ``herald run``). A click's answer waits up to ``answer_budget`` for the core's sentence
    (long by default: the tests read the sentence; ``test_telegram_clicks`` tries a short one)."""
    group = add_people(fake) if not fake.users else next(c for c in fake.channels.values() if c.type != "private").id
    routes: dict[str, Notifier] = {"shell": OutboxNotifier()}
    with tempfile.TemporaryDirectory(prefix="herald-tg-media-") as folder:
        media = LocalMediaStore(Path(folder))
        herald = herald_for(routes, media)
        telegram = telegram_app.build(
            settings_for(fake, **settings), herald, media=media, polling=polling, answer_budget=answer_budget
        )
        routes["telegram"] = telegram.notifier
        async with (
            httpx.AsyncClient(timeout=10) as http,
            serving(create_app(settings_for(fake, **settings), telegram=telegram)) as url,
        ):
            yield TelegramHarness(fake, telegram, http, url, group, media)
