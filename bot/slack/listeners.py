"""The bolt listeners: ack at once, then hand the payload to the adapter.

The app runs with ``process_before_response=True``, so a listener's HTTP response goes out as soon as
the listener returns: these return right after ``ack()``, having started the real work as a task.
Only modal submits wait (briefly) for the core, because their errors travel in the ack.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack import modals
from bot.slack.adapter import SlackAdapter

Json = dict[str, Any]
ANY_COMMAND = re.compile(r"^/")
HERALD_ACTION = re.compile(r"^herald\.")


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    # bolt tries listeners in this order, each match costing a few microseconds: clicks first, as
    # they come in bursts (fifty approvers on one card)
    @app.action(HERALD_ACTION)
    async def on_click(ack: AsyncAck, body: Json) -> None:
        adapter.request_arrived()
        await ack()
        adapter.spawn(adapter.click(body), what="click", urgent=adapter.opens_modal(body))

    @app.command(ANY_COMMAND)
    async def on_command(ack: AsyncAck, body: Json) -> None:
        adapter.request_arrived()
        await ack()
        adapter.spawn(adapter.command(body), what="command", urgent=adapter.opens_modal(body))

    @app.view(modals.DRAFT_CALLBACK)
    async def on_draft_submit(ack: AsyncAck, body: Json) -> None:
        await adapter.submit_draft(ack, body)

    @app.view(modals.ASK_CALLBACK)
    async def on_answer_submit(ack: AsyncAck, body: Json) -> None:
        await adapter.submit_answer(ack, body)

    @app.event("app_home_opened")
    async def on_home_opened(event: Json) -> None:  # events are acked by bolt
        if event.get("tab", "home") == "home":
            adapter.spawn(adapter.home(str(event["user"])), what="app home")
