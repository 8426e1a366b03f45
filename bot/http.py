"""The HTTP side: health, readiness and Prometheus metrics, signed media links (``GET /media/{ref}``,
:mod:`bot.media`), the login pages of ``/account connect`` (:mod:`bot.oauth`), and Slack's request URL
``POST /slack/events``.

Slack's slash commands, interactions (buttons, modals) and events all arrive at ``/slack/events``;
:class:`SlackEndpoint` checks each one's signature over the raw body (unsigned or stale: 401, nothing
parsed), reads the body (the kinds Herald handles through :mod:`bot.slack.payloads`; a malformed body:
400 and one log line, an Events API delivery 200 so Slack doesn't retry it), turns it into a bolt
request and bolt's response back. It does what bolt's Starlette adapter does, minus Starlette's request
and response objects, and :class:`Front` hands it ``POST /slack/events`` before FastAPI's middleware:
Slack sends clicks in bursts, and every microsecond before an ack is multiplied by the burst.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import structlog
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from starlette.routing import Route
from tortoise import connections

from bot import oauth
from bot.slack import payloads
from handlers.settings import Settings

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.slack.app import SlackApp
    from bot.telegram.app import TelegramApp
    from tasks.platforms.media import Media

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = structlog.get_logger(__name__)
SLACK_PATH = "/slack/events"
SIGNATURE_MAX_AGE = 300  # seconds either way, as Slack documents and bolt checks
REFUSED = b'{"error":"invalid request"}'
JSON_HEADERS = {"content-type": ["application/json"]}
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


def create_app(
    settings: Settings,
    *,
    slack: SlackApp | None = None,
    lifespan: bool = True,
    media: Media | None = None,
    login: oauth.LoginPages | None = None,
    telegram: TelegramApp | None = None,
) -> ASGIApp:
    """The HTTP app; with ``lifespan``, its ASGI lifespan starts and stops ``slack`` (``bot.serving`` does that
    itself, around the database connection); with ``media``, it serves signed media links; with ``login``, the
    pages of ``/account connect``'s logins (``/oauth/{platform}/start`` and ``…/callback``, :mod:`bot.oauth`); with
    ``telegram``, Telegram's webhook ``POST /telegram/webhook`` (:mod:`bot.telegram.webhook`), and its lifespan
    starts and stops that too."""

    @asynccontextmanager
    async def slack_lifespan(_: FastAPI) -> AsyncIterator[None]:
        if slack is not None:
            await slack.start()
        if telegram is not None:
            await telegram.start()
        try:
            yield
        finally:
            if telegram is not None:
                await telegram.stop()
            if slack is not None:
                await slack.stop()  # let replies already under way reach Slack

    app = FastAPI(title="Herald", docs_url=None, redoc_url=None, lifespan=slack_lifespan if lifespan else None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, str]:
        """503 while the database can't be reached; 200 otherwise, with ``"slack": "unreachable"`` while
        Slack's Web API isn't answering (``"refused: invalid_auth"`` when it answers but refuses the token).

        Slack being down doesn't fail readiness: an unready process gets no traffic, and Slack's requests
        would then fail outright, while a ready one still acks them, saves what people ask for and posts
        the answers once the Web API is back. The field is there for monitoring to alert on.
        """
        try:
            await connections.get("default").execute_query("SELECT 1")
        except Exception as exc:
            response.status_code = 503
            return {"status": "database unavailable", "error": type(exc).__name__}
        problem = slack.problem if slack is not None else None
        return {"status": "ready", "slack": problem} if problem else {"status": "ready"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)

    if media is not None:
        from bot.media import router

        app.include_router(router(media))
    if login is not None:
        app.include_router(oauth.router(login))
    if telegram is not None:
        from bot.telegram.webhook import PATH, TelegramEndpoint

        app.router.routes.append(Route(PATH, TelegramEndpoint(telegram), methods=["POST"], include_in_schema=False))
    if slack is None:
        return app
    endpoint = SlackEndpoint(slack.bolt, settings.slack_signing_secret or "")
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
    """ASGI endpoint for Slack's requests: the signature checked, the body read, bolt's response (the ack) back.

    bolt's own signature check is off (``bot.slack.app``): it is done here, once, before anything is parsed.
    """

    def __init__(self, bolt: AsyncApp, signing_secret: str) -> None:
        self.bolt = bolt
        # no secret, no valid signature (an empty key would make signatures anyone can compute)
        self.secret = signing_secret.encode() if signing_secret.strip() else None

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
        status, content, response_headers = await self.answer(bytes(body), scope["query_string"], headers)
        raw_headers = [(b"content-length", str(len(content)).encode())]
        raw_headers += [
            (name.encode("latin-1"), v.encode("latin-1")) for name, vs in response_headers.items() for v in vs
        ]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": content})
        SLACK_ACK.observe(time.perf_counter() - began)

    async def answer(
        self, body: bytes, query: bytes, headers: dict[str, list[str]]
    ) -> tuple[int, bytes, Mapping[str, Sequence[str]]]:
        """Status, body and headers of the response to one request."""
        if not self.signed(body, headers):
            if b"ssl_check=1" in body.split(b"&"):  # Slack checking the certificate: 200, nothing runs (as bolt)
                return 200, b"", {}
            log.info("slack.request_refused", reason="bad or stale signature")
            return 401, REFUSED, JSON_HEADERS
        try:
            request = bolt_request(body.decode("utf-8"), query.decode("latin-1"), headers)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # the exceptions a body of the wrong shape raises in the parse, the payload models or bolt's
            # context extraction (payloads.BadPayload and UnicodeDecodeError are ValueErrors)
            event = _content_type(headers) == "application/json"  # only the Events API sends JSON
            problem = exc.problem if isinstance(exc, payloads.BadPayload) else type(exc).__name__
            log.warning("slack.bad_request", problem=problem, events_api=event)
            return (200 if event else 400), b"", {}
        try:
            response = await self.bolt.async_dispatch(request)
        except Exception as exc:  # bolt hands errors to its error handler; this is in case one escapes it
            ref = secrets.token_hex(3)
            log.error("slack.request_failed", kind=payloads.kind_of(request.body), ref=ref, exc_info=exc)
            return (200 if payloads.is_event(request.body) else 500), b"", {}
        return response.status, response.body.encode("utf-8"), response.headers

    def signed(self, body: bytes, headers: dict[str, list[str]]) -> bool:
        """Slack's v0 signature (``slack_sdk.signature.SignatureVerifier``'s), over the raw bytes as sent."""
        if self.secret is None:
            return False
        timestamp = headers.get("x-slack-request-timestamp", [""])[0]
        signature = headers.get("x-slack-signature", [""])[0]
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            return False
        if age > SIGNATURE_MAX_AGE:
            return False
        base = b"v0:" + timestamp.encode("latin-1") + b":" + body
        expected = "v0=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)


def _content_type(headers: dict[str, list[str]]) -> str:
    return headers.get("content-type", [""])[0].split(";")[0].strip().lower()


def bolt_request(body: str, query: str, headers: dict[str, list[str]]) -> AsyncBoltRequest:
    """What ``AsyncBoltRequest(body=body, query=query, headers=headers)`` builds, the body parsed faster, with
    the typed payload of the kinds Herald handles in its context (``payloads.CONTEXT_KEY``).

    bolt parses a form body with ``urllib.parse``, whose pure-Python percent-decoding makes parsing one
    click cost ~150 µs (Slack sends the whole message, blocks and all, percent-encoded: ~4 KB);
    :func:`parse_body` gives the same result in ~35 µs.

    Raises ``ValueError`` (:class:`~bot.slack.payloads.BadPayload` among them) for a body that isn't
    what Slack sends.
    """
    request = AsyncBoltRequest(body="", query=query, headers=headers)  # type: ignore[arg-type]
    request.raw_body = body
    parsed = parse_body(body, request.content_type)
    payload = payloads.read(parsed)
    request.body = parsed
    request.context = build_async_context(AsyncBoltContext(), parsed)
    if payload is not None:
        request.context[payloads.CONTEXT_KEY] = payload
    return request


def parse_body(body: str, content_type: str | None) -> dict[str, Any]:
    """A request's body: JSON as it is, a form's ``payload`` field as JSON, any other form as a dict.

    As bolt's ``parse_body``, except that a form is an interaction only when it has a ``payload`` field
    (bolt looks for the word anywhere in the raw body, so ``/draft Our new payload …`` parses to ``{}``).
    Raises ``ValueError`` when the JSON is not an object.
    """
    if not body:
        return {}
    if content_type == "application/json" or body.startswith("{"):
        return _object(body)
    form = parse_form(body)
    payload = form.get("payload")
    return form if payload is None else _object(payload)


def _object(text: str) -> dict[str, Any]:
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise ValueError(f"JSON {type(parsed).__name__}, not an object")
    return parsed


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
