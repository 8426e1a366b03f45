"""Herald's ASGI app on a real uvicorn port in the test's event loop, with the fake Slack as Web API.

``SlackHarness`` sends requests built and signed as Slack sends them (``tests/fakes/slack_requests``)
and waits for the work Herald does after its ack (``settle``). The database is whatever the test's
fixture connected (the app shares the test's event loop, so it shares the connection too).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from bot.http import create_app
from bot.notifiers import OutboxNotifier, RoutingNotifier
from bot.slack import app as slack_app
from bot.slack.notifier import SlackNotifier, web_client
from bot.slack.pacing import ChannelPacer, Pacer
from bot.slack.retrying import Backoff
from handlers.app import Herald
from handlers.context import Services
from handlers.ports import NullScheduler, Platforms, SystemClock
from handlers.settings import Settings
from handlers.timing import recurring
from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack, PostedMessage

Json = dict[str, Any]
GENERAL, APPROVALS = "C0GENERAL1", "C0APPROVE1"
USERS = {
    "alice": ("U0ALICE001", "Europe/Berlin"),
    "bob": ("U0BOB00001", "America/New_York"),
    "carol": ("U0CAROL001", "Asia/Tokyo"),
    "dave": ("U0DAVE0001", "UTC"),
}


def user_id(name: str) -> str:
    return USERS[name][0]


def add_users(fake: FakeSlack) -> None:
    for name, (uid, tz) in USERS.items():
        fake.add_user(uid, name=name, real_name=name.title(), tz=tz)


def settings_for(fake: FakeSlack, **extra: str) -> Settings:
    values = {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": inbound.SIGNING_SECRET,
        "SLACK_API_URL": fake.base_url,
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn in this event loop; yields ``http://127.0.0.1:PORT``."""
    sock = free_socket()
    config = uvicorn.Config(app, lifespan="on", log_config=None, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]  # the test runner's
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 5
    while not server.started:
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            raise TimeoutError("uvicorn did not start")
        await asyncio.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class SlackHarness:
    fake: FakeSlack
    slack: slack_app.SlackApp
    http: httpx.AsyncClient
    url: str

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    async def send(self, signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
        body, headers = signed
        return await self.http.post(self.events_url, content=body, headers=headers)

    async def command(
        self, command: str, text: str = "", *, as_: str = "alice", channel: str = GENERAL, **kw: Any
    ) -> httpx.Response:
        return await self.send(inbound.slash_command(command, text, user_id(as_), channel, user_name=as_, **kw))

    async def click(self, message: PostedMessage, label: str, *, as_: str, **kw: Any) -> httpx.Response:
        """Click the button called ``label`` on ``message`` (as the fake holds it)."""
        element = button(message, label)
        payload_message = {"type": "message", "ts": message.ts, "text": message.text, "bot_id": message.bot_id}
        if message.thread_ts:
            payload_message["thread_ts"] = message.thread_ts
        return await self.send(
            inbound.block_action(
                element["action_id"],
                element["value"],
                user_id(as_),
                message.channel,
                message.ts,
                user_name=as_,
                message=payload_message,
                **kw,
            )
        )

    async def submit(self, callback_id: str, values: Json, metadata: str, *, as_: str = "alice") -> httpx.Response:
        return await self.send(inbound.view_submission(callback_id, values, user_id(as_), metadata, user_name=as_))

    async def event(self, event: Json) -> httpx.Response:
        body = json.dumps(
            {
                "token": "deprecated-verification-token",
                "team_id": inbound.TEAM_ID,
                "api_app_id": inbound.API_APP_ID,
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{time.time_ns()}",
                "event_time": int(time.time()),
            }
        ).encode()
        headers = {**inbound.sign(body, inbound.SIGNING_SECRET), "Content-Type": "application/json"}
        return await self.http.post(self.events_url, content=body, headers=headers)

    async def settle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the work Herald started after its acks is done."""
        deadline = time.monotonic() + timeout
        while self.slack.adapter.busy:
            if time.monotonic() > deadline:
                raise AssertionError(f"Herald still busy after {timeout}s")
            await asyncio.sleep(0.01)

    def cards(self, channel: str) -> list[PostedMessage]:
        return [m for m in self.fake.messages_in(channel) if m.thread_ts is None and has_buttons_or_fields(m)]

    def texts(self, method: str) -> list[str]:
        return [str(c.args.get("text", "")) for c in self.fake.calls(method)]


def has_buttons_or_fields(message: PostedMessage) -> bool:
    return any(b.get("type") == "actions" or "fields" in b for b in message.blocks or [])


def button(message: PostedMessage, label: str) -> Json:
    for block in message.blocks or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element["text"]["text"] == label:
                return dict(element)
    raise AssertionError(f"no button {label!r} on message {message.text!r}")


def fields_of(message: PostedMessage) -> dict[str, str]:
    """A message's fields section as ``{label: value}`` (mrkdwn ``*Label*\nvalue``)."""
    found: dict[str, str] = {}
    for block in message.blocks or []:
        for item in block.get("fields", []):
            label, _, value = item["text"].partition("\n")
            found[label.strip("*")] = value
    return found


def labels(message: PostedMessage) -> list[str]:
    return [e["text"]["text"] for b in message.blocks or [] if b.get("type") == "actions" for e in b["elements"]]


@asynccontextmanager
async def harness(
    fake: FakeSlack,
    *,
    pace: float = 0.0,
    submit_timeout: float | None = None,
    rate_limit_retries: int = 3,
    pacer: Pacer | None = None,
    backoff: Backoff | None = None,
    platforms: Platforms | None = None,
) -> AsyncIterator[SlackHarness]:
    """The whole HTTP side (FastAPI + bolt) wired to an in-process Herald whose notifier posts to ``fake``
    (paced by ``pacer``, else in the process every ``pace`` seconds; retrying with ``backoff``)."""
    settings = settings_for(fake)
    recurring.install()  # as bot/wiring.py does for every process
    notifier = SlackNotifier(
        web_client(fake.bot_token, fake.base_url, rate_limit_retries=rate_limit_retries),
        pacer=pacer or ChannelPacer(pace),
        backoff=backoff,
    )
    services = Services(
        notifier=RoutingNotifier({"slack": notifier, "shell": OutboxNotifier()}),
        scheduler=NullScheduler(),
        clock=SystemClock(),
        platforms=platforms,
    )
    async with httpx.AsyncClient(timeout=10) as files_http, httpx.AsyncClient(timeout=10) as http:
        slack = slack_app.build(
            settings, Herald(services), files_http, notifier=notifier, submit_timeout=submit_timeout
        )
        async with serving(create_app(settings, slack=slack)) as url:
            yield SlackHarness(fake, slack, http, url)
