"""``herald serve --workers N``: the HTTP side in several processes sharing one port.

One Python process acks Slack's clicks one after another, so a burst of clicks waits in line on one
core; with N processes the kernel spreads the connections over N. uvicorn's own supervisor starts the
processes (and restarts one that dies); each builds its own :class:`PerProcessApp` from the environment:
on the ASGI lifespan's startup it connects the database, builds the Slack app and the HTTP app
(:func:`bot.http.create_app`); on shutdown it lets replies under way reach Slack and disconnects. State
lives in PostgreSQL, so a click may land on any process.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import AsyncExitStack
from typing import Any

import uvicorn

from bot import heap, logs
from bot.http import ASGIApp, Receive, Scope, Send, create_app
from bot.slack.notifier import close_all as close_slack_sessions
from bot.wiring import assembled
from handlers.settings import load_settings

#: uvicorn's settings for the HTTP side, one process or several (httptools: its C parser; h11, the
#: pure-Python fallback, costs three times the CPU per request; no access log: uvicorn would call the
#: logger per request even when it writes nothing).
UVICORN: dict[str, Any] = {"http": "httptools", "log_level": "warning", "access_log": False}


class PerProcessApp:
    """The ASGI app of one serving process, assembled in its lifespan (module docstring)."""

    def __init__(self) -> None:
        self.settings = load_settings()  # `herald serve` checked them before starting the processes
        logs.configure(self.settings.log_level, self.settings.log_format)
        self._app: ASGIApp | None = None
        self._resources = AsyncExitStack()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert self._app is not None, "served before the lifespan started"
        await self._app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._start()
                except Exception as exc:
                    await self._resources.aclose()
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._resources.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self) -> None:
        settings, stack = self.settings, self._resources
        comps = await stack.enter_async_context(assembled(settings, application_name="herald-http", every_task=True))
        stack.push_async_callback(close_slack_sessions)
        slack = None
        if settings.slack_bot_token:
            from bot.slack.app import build as build_slack

            slack = build_slack(settings, comps.herald, comps.client)
            await slack.start()
            stack.push_async_callback(slack.stop)  # let replies already under way reach Slack
        self._app = create_app(settings, slack=slack, lifespan=False)
        heap.settle(space_passes=False)  # what lives as long as the process stays out of the collector's passes


def app() -> PerProcessApp:
    """uvicorn's factory (``bot.serving:app``), called once in each process."""
    return PerProcessApp()


def run(host: str, port: int, workers: int) -> None:
    """Serve on ``host:port`` with ``workers`` processes until SIGINT/SIGTERM (uvicorn's supervisor).

    The processes keep their Prometheus metrics in files of a shared directory, so ``/metrics`` answers for all
    of them (prometheus-client's multiprocess mode).
    """
    with tempfile.TemporaryDirectory(prefix="herald-metrics-") as metrics:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics  # the processes inherit it before importing the client
        uvicorn.run(
            "bot.serving:app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            lifespan="on",
            **UVICORN,
        )
