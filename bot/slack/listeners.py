"""The bolt listeners: ack at once, then hand the typed payload to the adapter; and bolt's error handler.

The app runs with ``process_before_response=True``, so a listener's HTTP response goes out as soon as
the listener returns: these return right after ``ack()``, having started the real work as a task.
Only modal submits wait (briefly) for the core, because their errors travel in the ack.

Each listener reads its request through :mod:`bot.slack.payloads` (already read at the HTTP edge, or
read here for Socket Mode): a wrong shape raises :class:`~bot.slack.payloads.BadPayload` before the
ack, and :func:`on_error` answers it. Nothing raised in bolt reaches the ASGI server: :func:`on_error`
answers every error with one log line.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse

from bot.slack import modals, payloads
from bot.slack.adapter import SlackAdapter
from bot.slack.notifier import describe

log = structlog.get_logger(__name__)
Json = dict[str, Any]
ANY_COMMAND = re.compile(r"^/")
HERALD_ACTION = re.compile(r"^herald\.")


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    # bolt tries listeners in this order, each match costing a few microseconds: clicks first, as
    # they come in bursts (fifty approvers on one card)
    @app.action(HERALD_ACTION)
    async def on_click(ack: AsyncAck, body: Json, context: Json) -> None:
        click = payloads.of(payloads.Click, context, body)
        adapter.request_arrived()
        await ack()
        adapter.spawn(adapter.click(click), what="click", urgent=adapter.opens_modal(click))

    @app.command(ANY_COMMAND)
    async def on_command(ack: AsyncAck, body: Json, context: Json) -> None:
        command = payloads.of(payloads.SlashCommand, context, body)
        adapter.request_arrived()
        await ack()
        adapter.spawn(adapter.command(command), what="command", urgent=adapter.opens_modal(command))

    @app.view(modals.DRAFT_CALLBACK)
    async def on_draft_submit(ack: AsyncAck, body: Json, context: Json) -> None:
        await adapter.submit_draft(ack, payloads.of(payloads.ViewSubmission, context, body))

    @app.view(modals.ASK_CALLBACK)
    async def on_answer_submit(ack: AsyncAck, body: Json, context: Json) -> None:
        await adapter.submit_answer(ack, payloads.of(payloads.ViewSubmission, context, body))

    @app.view(modals.FORM_CALLBACK)
    async def on_form_submit(ack: AsyncAck, body: Json, context: Json) -> None:
        await adapter.submit_form(ack, payloads.of(payloads.ViewSubmission, context, body))

    @app.event(payloads.APP_HOME_OPENED)
    async def on_home_opened(body: Json, context: Json) -> None:  # events are acked by bolt
        event = payloads.of(payloads.AppHomeOpened, context, body).event
        if event.tab == "home":
            adapter.spawn(adapter.home(event.user), what="app home")

    app.error(on_error)


async def on_error(error: Exception, body: Json) -> BoltResponse:
    """bolt's error handler (listeners and middleware): every error answered, with one log line.

    Events API deliveries always get 200 (Slack retries anything else, and a retry can't fix it);
    requests Herald has no listener for get 404 (an event: 200, quietly); a wrong shape gets 400; any
    other failure 500, logged with a reference id.
    """
    event = payloads.is_event(body)
    kind = payloads.kind_of(body)
    if isinstance(error, BoltUnhandledRequestError):
        if event:
            log.debug("slack.event_ignored", kind=kind)
            return BoltResponse(status=200, body="")
        log.info("slack.unhandled_request", kind=kind)
        return BoltResponse(status=404, body="")
    if isinstance(error, payloads.BadPayload):
        log.warning("slack.bad_request", kind=kind, problem=error.problem, shape=error.kind)
        return BoltResponse(status=200 if event else 400, body="")
    ref = secrets.token_hex(3)
    log.error("slack.request_failed", kind=kind, ref=ref, exc_info=error, **describe(error))
    return BoltResponse(status=200 if event else 500, body="")
