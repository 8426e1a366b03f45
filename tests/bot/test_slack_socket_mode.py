"""Socket Mode: envelopes over a WebSocket (no public URL, no signatures) reach the same listeners."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import WSMsgType, web
from slack_sdk.web.async_client import AsyncWebClient

from tests.bot.harness import GENERAL, harness, user_id
from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack

APP_TOKEN = "xapp-1-herald-test"
pytestmark = pytest.mark.usefixtures("sqlite_db")


@dataclass
class SocketModeServer:
    """``apps.connections.open`` and the WebSocket it hands out, as Slack runs them."""

    url: str = ""
    acks: list[dict[str, Any]] = field(default_factory=list)
    opened_with: list[str] = field(default_factory=list)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def open(self, request: web.Request) -> web.Response:
        self.opened_with.append(request.headers.get("Authorization", ""))
        return web.json_response({"ok": True, "url": self.url.replace("http", "ws") + "/link"})

    async def link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}})
        self.connected.set()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
        return ws

    async def send(self, envelope: dict[str, Any]) -> None:
        await self.sockets[-1].send_json(envelope)


@pytest.fixture
async def socket_server() -> AsyncIterator[SocketModeServer]:
    server = SocketModeServer()
    app = web.Application()
    app.router.add_post("/api/apps.connections.open", server.open)
    app.router.add_get("/link", server.link)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    yield server
    for ws in server.sockets:
        await ws.close()
    await runner.cleanup()


async def test_a_slash_command_over_socket_mode(fake: FakeSlack, socket_server: SocketModeServer) -> None:
    async with harness(fake) as h:
        client = AsyncWebClient(base_url=socket_server.url + "/api/")
        handler = await h.slack.connect_socket_mode(APP_TOKEN, web_client=client)
        try:
            await asyncio.wait_for(socket_server.connected.wait(), 5)
            body, _ = inbound.slash_command("/herald", "whoami", user_id("carol"), GENERAL, user_name="carol")
            payload = dict(parse_qsl(body.decode()))  # the same fields, as JSON in an envelope
            await socket_server.send(
                {"envelope_id": "env-1", "type": "slash_commands", "payload": payload, "accepts_response_payload": True}
            )
            await fake.wait_for_async("chat.postEphemeral", timeout=5)
            await h.settle()
        finally:
            await h.slack.close_socket_mode(handler)

    assert socket_server.opened_with == [f"Bearer {APP_TOKEN}"]
    assert {"envelope_id": "env-1"}.items() <= socket_server.acks[0].items()
    assert fake.last("chat.postEphemeral").args["text"].startswith("You are carol")
