"""The HTTP side of Herald (health, readiness, metrics, Slack's ``/slack/events``), served by uvicorn.

``herald serve`` runs it in one process or, with ``--workers N``, in N processes sharing one port (one
Python process acks Slack's clicks one after another, so a burst of clicks waits in line on one core; with
N processes the kernel spreads the connections over N; uvicorn's own supervisor starts the processes and
restarts one that dies). ``herald run`` with Slack serves it too, with the dispatcher and a worker in the
same process. Either way each serving process assembles itself once, in its ASGI lifespan: :func:`http_side`
connects the database, builds and starts the Slack app and builds the HTTP app (:func:`bot.http.create_app`);
on shutdown it lets replies under way reach Slack and disconnects. State lives in PostgreSQL, so a click may
land on any process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import uvicorn

from bot import heap, logs, oauth
from bot.http import ASGIApp, Receive, Scope, Send, create_app
from bot.slack.notifier import close_all as close_slack_sessions
from bot.wiring import Components, assembled, publishing
from handlers.settings import Settings, load_settings
from models.errors import ConfigError

#: uvicorn's settings for the HTTP side, one process or several (httptools: its C parser; h11, the
#: pure-Python fallback, costs three times the CPU per request; no access log: uvicorn would call the
#: logger per request even when it writes nothing; no ``log_config``: uvicorn's loggers go to Herald's
#: handler like every other library's, see :mod:`bot.logs`).
UVICORN: dict[str, Any] = {
    "http": "httptools",
    "loop": "uvloop",
    "lifespan": "on",
    "log_config": None,
    "log_level": "warning",
    "access_log": False,
}
#: uvicorn's exit status when the lifespan's startup failed (the database unreachable, say).
STARTUP_FAILURE = 3


def check(settings: Settings) -> None:
    """Raise :class:`~models.errors.ConfigError` for settings the HTTP side can't run with, before any process
    starts (one line naming the variable, rather than a failed start-up in every process)."""
    if settings.slack_bot_token:
        from bot.slack.app import check_settings

        check_settings(settings)
    if settings.telegram_bot_token:
        from bot.telegram.app import check_settings as check_telegram

        check_telegram(settings)


@asynccontextmanager
async def http_side(settings: Settings, *, everything: bool = False) -> AsyncIterator[ASGIApp]:
    """The HTTP process role: everything it needs assembled, for as long as the block runs.

    With ``everything`` (``herald run``), the dispatcher and a worker run in this process too, and Slack's
    events come over Socket Mode when ``SLACK_APP_TOKEN`` is set (the HTTP app then serves health and
    metrics). With ``TELEGRAM_BOT_TOKEN``, Telegram's updates come to ``/telegram/webhook`` when
    ``TELEGRAM_WEBHOOK_SECRET`` is set, else this process polls for them (:mod:`bot.telegram.app`)."""
    name = "herald" if everything else "herald-http"
    async with AsyncExitStack() as stack:
        # every_task: the lifespan runs in a task of its own, the requests in others
        comps = await stack.enter_async_context(assembled(settings, application_name=name, every_task=True))
        stack.push_async_callback(close_slack_sessions)
        slack = None
        if settings.slack_bot_token:
            from bot.slack.app import build as build_slack

            slack = build_slack(settings, comps.herald, comps.client, media=comps.media.store)
            await slack.start()
            stack.push_async_callback(slack.stop)  # let replies already under way reach Slack
        telegram = None
        if settings.telegram_bot_token:
            from bot.telegram.app import build as build_telegram

            telegram = build_telegram(settings, comps.herald, media=comps.media.store)
            await telegram.start()
            stack.push_async_callback(telegram.stop)
        if everything:
            await stack.enter_async_context(publishing(comps, worker=True))
            if slack is not None and settings.slack_app_token:
                socket_mode = await slack.connect_socket_mode(settings.slack_app_token)
                stack.push_async_callback(slack.close_socket_mode, socket_mode)
        app = create_app(
            settings,
            slack=slack,
            lifespan=False,
            media=comps.media,
            login=login_pages(settings, comps),
            telegram=telegram,
        )
        # Everything built so far (modules, the app, the ORM) lives as long as the process: out of the cyclic
        # garbage collector's way, whose full passes would otherwise walk all of it (80 ms, in the middle of
        # a burst of Slack clicks).
        heap.settle(space_passes=False)
        yield app


def login_pages(settings: Settings, comps: Components) -> oauth.LoginPages | None:
    """The login pages of ``/account connect``, where Herald has a public address to bring logins back to."""
    if not settings.public_url or comps.platforms is None:
        return None
    return oauth.LoginPages(comps.platforms, comps.herald.services, settings.public_url)


class ServingApp:
    """The ASGI app uvicorn serves: :func:`http_side` entered on the lifespan's startup, left on its shutdown,
    and every request handed to the app it yielded."""

    def __init__(self, settings: Settings, *, everything: bool = False) -> None:
        self.settings = settings
        self.everything = everything
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert self._app is not None, "served before the lifespan started"
        await self._app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        async with AsyncExitStack() as stack:
            try:
                self._app = await stack.enter_async_context(http_side(self.settings, everything=self.everything))
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                return
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})


def app() -> ServingApp:
    """uvicorn's factory (``bot.serving:app``), called once in each of the processes ``--workers`` starts."""
    settings = load_settings()  # `herald serve` checked them before starting the processes
    logs.configure_from(settings)
    return ServingApp(settings)


def run(settings: Settings, host: str, port: int, *, workers: int = 1, everything: bool = False) -> int:
    """Serve on ``host:port`` until SIGINT/SIGTERM; returns the exit status (0, or 3 if start-up failed).

    With several ``workers``, uvicorn's supervisor starts them, each calling :func:`app`; they keep their
    Prometheus metrics in files of a shared directory, so ``/metrics`` answers for all of them
    (prometheus-client's multiprocess mode)."""
    check(settings)
    if workers > 1 and settings.telegram_bot_token and not settings.telegram_webhook_secret:
        raise ConfigError(
            "TELEGRAM_WEBHOOK_SECRET: several serving processes can't all poll Telegram; set the secret and run"
            " `herald telegram set-webhook` (or serve with one process)."
        )
    if workers == 1:
        server = _Server(uvicorn.Config(ServingApp(settings, everything=everything), host=host, port=port, **UVICORN))
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    assert not everything, "the dispatcher and worker run in one process"
    with tempfile.TemporaryDirectory(prefix="herald-metrics-") as metrics:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics  # the processes inherit it before importing the client
        uvicorn.run("bot.serving:app", factory=True, host=host, port=port, workers=workers, **UVICORN)
    return 0


class _Server(uvicorn.Server):
    """uvicorn's server, minus raising SIGINT/SIGTERM again once it has shut down gracefully: the process
    then ends with status 0, as the other roles do, instead of being killed by its own signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
