"""The HTTP side: health, readiness and Prometheus metrics, and Slack's request URL ``POST /slack/events``.

Slack's slash commands, interactions (buttons, modals) and events all arrive at ``/slack/events``;
:class:`SlackEndpoint` turns each into a bolt request (bolt verifies its signature) and bolt's response
back, nothing else. It does what bolt's Starlette adapter does, minus Starlette's request and response
objects, and :class:`Front` hands it ``POST /slack/events`` before FastAPI's middleware: Slack sends
clicks in bursts, and every microsecond before an ack is multiplied by the burst.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from starlette.routing import Route
from tortoise import connections

from handlers.settings import Settings

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.slack.app import SlackApp

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SLACK_PATH = "/slack/events"
SLACK_ACK = Histogram(
    "herald_slack_ack_seconds",
    "From a Slack request reaching Herald's app to its HTTP response (the ack); Slack gives up after 3 s",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0),
)


def metrics_registry() -> CollectorRegistry:
    """This process's metrics, or, when several serving processes share the port (``PROMETHEUS_MULTIPROC_DIR``
    set by ``herald serve --workers``), all of theirs together, whichever process answers."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def create_app(settings: Settings, *, slack: SlackApp | None = None, lifespan: bool = True) -> ASGIApp:
    """The HTTP app; with ``lifespan``, its ASGI lifespan starts and stops ``slack`` (``bot.serving`` does that
    itself, around the database connection)."""

    @asynccontextmanager
    async def slack_lifespan(_: FastAPI) -> AsyncIterator[None]:
        if slack is not None:
            await slack.start()
        try:
            yield
        finally:
            if slack is not None:
                await slack.stop()  # let replies already under way reach Slack

    app = FastAPI(title="Herald", docs_url=None, redoc_url=None, lifespan=slack_lifespan if lifespan else None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, str]:
        """503 while the database can't be reached; 200 otherwise, with ``"slack": "unreachable"`` while
        Slack's Web API isn't answering.

        Slack being down doesn't fail readiness: an unready process gets no traffic, and Slack's requests
        would then fail outright, while a ready one still acks them, saves what people ask for and posts
        the answers once the Web API is back. The field is there for monitoring to alert on.
        """
        try:
            await connections.get("default").execute_query("SELECT 1")
        except Exception as exc:
            response.status_code = 503
            return {"status": "database unavailable", "error": type(exc).__name__}
        if slack is not None and not slack.reachable:
            return {"status": "ready", "slack": "unreachable"}
        return {"status": "ready"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)

    if slack is None:
        return app
    endpoint = SlackEndpoint(slack.bolt)
    # FastAPI knows the route too (other methods get its 405), but POST comes in through the front door
    app.router.routes.append(Route(SLACK_PATH, endpoint, methods=["POST"], include_in_schema=False))
    return Front(app, endpoint)


class Front:
    """The app uvicorn serves: ``POST /slack/events`` straight to the Slack endpoint, all else to FastAPI."""

    def __init__(self, app: FastAPI, slack: ASGIApp) -> None:
        self.app = app
        self.slack = slack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == SLACK_PATH and scope["method"] == "POST":
            await self.slack(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class SlackEndpoint:
    """ASGI endpoint for Slack's requests: the raw request to bolt, bolt's response (the ack) back."""

    def __init__(self, bolt: AsyncApp) -> None:
        self.bolt = bolt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        began = time.perf_counter()
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers: dict[str, list[str]] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        request = bolt_request(body.decode("utf-8"), scope["query_string"].decode("latin-1"), headers)
        response = await self.bolt.async_dispatch(request)
        content = response.body.encode("utf-8")
        raw_headers = [(b"content-length", str(len(content)).encode())]
        raw_headers += [
            (name.encode("latin-1"), v.encode("latin-1")) for name, vs in response.headers.items() for v in vs
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": content})
        SLACK_ACK.observe(time.perf_counter() - began)


def bolt_request(body: str, query: str, headers: dict[str, list[str]]) -> AsyncBoltRequest:
    """What ``AsyncBoltRequest(body=body, query=query, headers=headers)`` builds, the body parsed faster.

    bolt parses a form body with ``urllib.parse``, whose pure-Python percent-decoding makes parsing one
    click cost ~150 µs (Slack sends the whole message, blocks and all, percent-encoded: ~4 KB);
    :func:`parse_body` gives the same result in ~35 µs. The request stays an HTTP request throughout:
    bolt checks the signature over ``raw_body`` as always.
    """
    request = AsyncBoltRequest(body="", query=query, headers=headers)  # type: ignore[arg-type]
    request.raw_body = body
    request.body = parse_body(body, request.content_type)
    request.context = build_async_context(AsyncBoltContext(), request.body)
    return request


def parse_body(body: str, content_type: str | None) -> dict[str, Any]:
    """bolt's ``parse_body``: JSON as it is, a form's ``payload`` field as JSON, any other form as a dict."""
    if not body:
        return {}
    if content_type == "application/json" or body.startswith("{"):
        parsed: dict[str, Any] = json.loads(body)
        return parsed
    form = parse_form(body)
    if "payload" in body:  # as bolt decides it: the raw body mentions a payload
        payload = form.get("payload")
        parsed = json.loads(payload) if payload is not None else {}
        return parsed
    return form


def parse_form(body: str) -> dict[str, str]:
    """``dict(urllib.parse.parse_qsl(body, keep_blank_values=True))``, percent-decoding in C."""
    fields: dict[str, str] = {}
    for pair in body.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            fields[_unquote_plus(name)] = _unquote_plus(value)
    return fields


def _unquote_plus(text: str) -> str:
    """``urllib.parse.unquote(text.replace("+", " "))``: UTF-8, malformed sequences replaced.

    What Slack sends is ASCII with every ``%`` starting an escape: then each ``%XX`` becomes ``\\xXX``
    and Python's own ``unicode_escape`` codec decodes the lot (no other backslash can be there to
    misread). Anything else (a stray ``%``, non-ASCII text, a backslash) goes to ``urllib``.
    """
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    if text.isascii() and "\\" not in text:
        try:
            latin = text.replace("%", "\\x").encode("ascii").decode("unicode_escape")
        except UnicodeDecodeError:  # a "%" without two hex digits after it
            pass
        else:
            return latin.encode("latin-1").decode("utf-8", "replace")
    return unquote(text)
