"""The HTTP side: health, readiness and Prometheus metrics, and Slack's request URL ``POST /slack/events``.

Slack's slash commands, interactions (buttons, modals) and events all arrive at ``/slack/events``;
bolt's Starlette adapter turns each into a bolt request (verifying its signature) and the response
back, nothing else.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from tortoise import connections

from handlers.settings import Settings

if TYPE_CHECKING:
    from bot.slack.app import SlackApp

SLACK_PATH = "/slack/events"
SLACK_ACK = Histogram(
    "herald_slack_ack_seconds",
    "From a Slack request reaching Herald's app to its HTTP response (the ack); Slack gives up after 3 s",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0),
)


def create_app(settings: Settings, *, slack: SlackApp | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if slack is not None:
            await slack.start()
        try:
            yield
        finally:
            if slack is not None:
                await slack.stop()  # let replies already under way reach Slack

    app = FastAPI(title="Herald", docs_url=None, redoc_url=None, lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, str]:
        try:
            await connections.get("default").execute_query("SELECT 1")
        except Exception as exc:
            response.status_code = 503
            return {"status": "database unavailable", "error": type(exc).__name__}
        return {"status": "ready"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    if slack is not None:
        from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler

        handler = AsyncSlackRequestHandler(slack.bolt)

        async def slack_events(request: Request) -> Response:
            began = time.perf_counter()
            response = await handler.handle(request)
            SLACK_ACK.observe(time.perf_counter() - began)
            return response

        # a plain Starlette route: FastAPI's parameter machinery has nothing to do here, and every
        # microsecond before the ack counts when Slack sends a burst of clicks
        app.router.add_route(SLACK_PATH, slack_events, methods=["POST"], include_in_schema=False)

    return app
