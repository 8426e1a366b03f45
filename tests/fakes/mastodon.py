"""A fake Mastodon server (4.3) on 127.0.0.1, written from Mastodon's API documentation and its real answers.

Endpoints (errors are ``{"error": "<reason>"}`` as Mastodon sends them; OAuth errors RFC 6749 style)::

    POST /api/v1/apps                         register an app → client_id/client_secret
    GET  /oauth/authorize                     auto-consent: 302 to redirect_uri with code (PKCE S256 honoured)
    POST /oauth/token                         authorization_code → {"access_token","token_type","scope","created_at"}
    POST /oauth/revoke                        client_id, client_secret, token → {}
    GET  /api/v1/accounts/verify_credentials  the token's account                      (scope read:accounts)
    GET  /api/v2/instance                     configuration.statuses / media_attachments limits
    POST /api/v2/media                        multipart ``file`` → 200 processed, or 202 ``url`` null  (write:media)
    GET  /api/v1/media/:id                    206 while processing, 200 once processed
    POST /api/v1/statuses                     status, media_ids[], visibility; Idempotency-Key     (write:statuses)
    GET  /api/v1/statuses/:id

A status call with an ``Idempotency-Key`` the account already used (within the hour) answers the original status
and creates nothing. Attaching media still processing → 422; more than 4 → 422; text over the limit → 422.

Control (from the test thread, thread-safe): :meth:`FakeMastodon.token` issues a token without the OAuth dance,
:meth:`revoke` revokes one, :meth:`fail` scripts the next answers of one endpoint (``expired``, ``rate_limit``,
``server_error``, ``reject``, ``hang``), :meth:`process_media_after` makes uploads asynchronous (202, then 206 for
N polls). ``statuses``, ``media``, ``apps`` and ``calls`` record what the server got.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from handlers.text import textcount
from tests.fakes import forms
from tests.fakes.oauth import AuthorizationCodes, OAuthError
from tests.fakes.server import ServedApp

INVALID_TOKEN: Final = "The access token is invalid"
OUT_OF_SCOPE: Final = "This action is outside the authorized scopes"
IMAGE_LIMIT: Final = 16 * 1024 * 1024
VIDEO_LIMIT: Final = 99 * 1024 * 1024
NOT_YOURS: Final = "You are not authorized to revoke this token"
MODES: Final = ("expired", "rate_limit", "server_error", "reject", "hang")
INVALID_GRANT: Final = (
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in "
    "the authorization request, or was issued to another client."
)
INVALID_CLIENT: Final = (
    "Client authentication failed due to unknown client, no client authentication included, or unsupported "
    "authentication method."
)


@dataclass
class App:
    client_id: str
    client_secret: str
    name: str
    redirect_uris: list[str]
    scopes: list[str]
    website: str | None
    codes: AuthorizationCodes


@dataclass
class Token:
    value: str
    username: str
    scopes: list[str]
    client_id: str | None = None


@dataclass
class Media:
    id: str
    username: str
    content_type: str
    size: int
    polls_left: int  # GETs still answered 206 (processing)
    status_id: str | None = None


@dataclass
class Status:
    id: str
    username: str
    text: str
    media_ids: list[str]
    visibility: str
    idempotency_key: str | None
    created_at: datetime
    token: str


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


_URL: Final = re.compile(r"https?://[^\s<>\"]+")
_MENTION: Final = re.compile(r"@([a-z0-9_]+)@([\w.-]*\w)", re.IGNORECASE)


def _render(text: str) -> str:
    """Text as Mastodon renders it: links cut in spans (the full URL kept), mentions as @user, line breaks."""

    def link(match: re.Match[str]) -> str:
        url = match.group()
        scheme, rest = url.split("://", 1)
        shown, hidden = rest[:30], rest[30:]
        return (
            f'<a href="{escape(url)}" rel="nofollow noopener" target="_blank">'
            f'<span class="invisible">{scheme}://</span><span class="ellipsis">{escape(shown)}</span>'
            f'<span class="invisible">{escape(hidden)}</span></a>'
        )

    def mention(match: re.Match[str]) -> str:
        user, server = match.groups()
        anchor = f'<a href="https://{server}/@{user}" class="u-url mention">@<span>{user}</span></a>'
        return f'<span class="h-card">{anchor}</span>'

    parts, last = [], 0
    for found in _URL.finditer(text):
        parts.append(_MENTION.sub(mention, escape(text[last : found.start()])))
        parts.append(link(found))
        last = found.end()
    parts.append(_MENTION.sub(mention, escape(text[last:])))
    return "".join(parts).replace("\n", "<br />")


def _scope_ok(granted: list[str], needed: str) -> bool:
    top = needed.split(":")[0]
    return needed in granted or top in granted


class FakeMastodon:
    """One Mastodon server. ``max_characters`` and ``max_media`` are what /api/v2/instance announces."""

    def __init__(self, *, domain: str = "127.0.0.1", max_characters: int = 500, max_media: int = 4) -> None:
        self.domain = domain
        self.max_characters = max_characters
        self.max_media = max_media
        self.hang_seconds = 3.0
        self.rate_limit_reset = timedelta(seconds=120)
        self.apps: list[App] = []
        self.tokens: dict[str, Token] = {}
        self.media: dict[str, Media] = {}
        self.statuses: list[Status] = []
        self.calls: list[Call] = []
        self.revoked: list[str] = []
        self._keys: dict[tuple[str, str], tuple[Status, float]] = {}
        self._failures: dict[str, list[str]] = {}
        self._processing_polls = 0
        self._ids = itertools.count(109_000_000_000_000_001)
        self._lock = threading.Lock()
        self.served: ServedApp | None = None
        self.app = self._build()

    # --- control (test thread)

    @property
    def url(self) -> str:
        assert self.served is not None, "start() the fake first"
        return self.served.url

    def start(self) -> FakeMastodon:
        self.served = ServedApp(self.app, name="fake-mastodon").start()
        return self

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop()

    def __enter__(self) -> FakeMastodon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def token(self, username: str = "alice", scopes: str = "read:accounts write:statuses write:media") -> str:
        value = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[value] = Token(value, username, scopes.split())
        return value

    def revoke(self, token: str) -> None:
        with self._lock:
            self.tokens.pop(token, None)
            self.revoked.append(token)

    def fail(self, endpoint: str, mode: str, times: int = 1) -> None:
        """The next ``times`` calls of ``endpoint`` (``statuses``, ``media``, ``media_get``, ``verify_credentials``,
        ``apps``, ``token``, ``account_statuses``) answer ``mode`` (:data:`MODES`) instead."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            self._failures.setdefault(endpoint, []).extend([mode] * times)

    def process_media_after(self, polls: int) -> None:
        """Uploads from now on answer 202 and stay processing (206) for ``polls`` GETs (0: processed at once)."""
        with self._lock:
            self._processing_polls = polls

    def finish_processing(self) -> None:
        """Every upload still processing is processed now."""
        with self._lock:
            for media in self.media.values():
                media.polls_left = 0

    def count(self, method: str, path_start: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.method == method and c.path.startswith(path_start))

    # --- the server

    def _next_id(self) -> str:
        return str(next(self._ids))

    def _failure(self, endpoint: str) -> str | None:
        with self._lock:
            queue = self._failures.get(endpoint)
            return queue.pop(0) if queue else None

    def _scripted(self, mode: str) -> Response:
        if mode == "expired":
            return JSONResponse({"error": INVALID_TOKEN}, 401)
        if mode == "rate_limit":
            reset = (datetime.now(UTC) + self.rate_limit_reset).isoformat(timespec="milliseconds")
            headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
            return JSONResponse({"error": "Too many requests"}, 429, headers=headers)
        if mode == "server_error":
            return JSONResponse({"error": "We're sorry, but something went wrong on our end."}, 503)
        return JSONResponse(
            {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"}, 422
        )

    def _auth(self, request: Request, scope: str) -> Token | Response:
        header = request.headers.get("authorization", "")
        value = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        with self._lock:
            token = self.tokens.get(value)
        if token is None:
            return JSONResponse({"error": INVALID_TOKEN}, 401)
        if not _scope_ok(token.scopes, scope):
            return JSONResponse({"error": OUT_OF_SCOPE}, 403)
        return token

    def _account(self, username: str) -> dict[str, Any]:
        return {
            "id": str(abs(hash(username)) % 10**12),
            "username": username,
            "acct": username,
            "display_name": username.title(),
            "url": f"{self.url}/@{username}",
            "locked": False,
            "bot": False,
        }

    def _media_json(self, media: Media) -> dict[str, Any]:
        processed = media.polls_left <= 0
        kind = "video" if media.content_type.startswith("video/") else "image"
        return {
            "id": media.id,
            "type": kind,
            "url": f"{self.url}/system/media/{media.id}.bin" if processed else None,
            "preview_url": f"{self.url}/system/media/{media.id}_small.bin",
            "description": None,
            "blurhash": None,
        }

    def _status_json(self, status: Status) -> dict[str, Any]:
        paragraphs = "".join(f"<p>{_render(p)}</p>" for p in status.text.split("\n\n") if p)
        with self._lock:
            media = [self._media_json(self.media[m]) for m in status.media_ids]
        return {
            "id": status.id,
            "created_at": status.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "visibility": status.visibility,
            "uri": f"{self.url}/users/{status.username}/statuses/{status.id}",
            "url": f"{self.url}/@{status.username}/{status.id}",
            "content": paragraphs,
            "media_attachments": media,
            "account": self._account(status.username),
        }

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            headers = {k: v for k, v in request.headers.items() if k in ("authorization", "idempotency-key")}
            with self._lock:
                self.calls.append(Call(request.method, request.url.path, headers))
            response: Response = await call_next(request)
            return response

        @app.post("/api/v1/apps")
        async def register(request: Request) -> Response:
            if mode := self._failure("apps"):
                return self._scripted(mode)
            form = await forms.read(request)
            name = form.get("client_name") or ""
            uris = [u for value in form.all("redirect_uris") for u in value.split()]
            if not name:
                return JSONResponse({"error": "Validation failed: Application name can't be blank"}, 422)
            if not uris or not all("://" in u or u == "urn:ietf:wg:oauth:2.0:oob" for u in uris):
                return JSONResponse({"error": "Validation failed: Redirect URI must be an absolute URI."}, 422)
            scopes = (form.get("scopes") or "read").split()
            registered = App(
                client_id=secrets.token_urlsafe(32),
                client_secret=secrets.token_urlsafe(32),
                name=name,
                redirect_uris=uris,
                scopes=scopes,
                website=form.get("website") or None,
                codes=AuthorizationCodes("pending"),
            )
            registered.codes = AuthorizationCodes(registered.client_id)
            with self._lock:
                self.apps.append(registered)
            return JSONResponse(
                {
                    "id": str(len(self.apps)),
                    "name": name,
                    "website": registered.website,
                    "scopes": scopes,
                    "redirect_uri": "\n".join(uris),
                    "redirect_uris": uris,
                    "vapid_key": "BCk-fake",
                    "client_id": registered.client_id,
                    "client_secret": registered.client_secret,
                    "client_secret_expires_at": 0,
                }
            )

        def find_app(client_id: str | None) -> App | None:
            with self._lock:
                return next((a for a in self.apps if a.client_id == client_id), None)

        @app.get("/oauth/authorize")
        async def authorize(request: Request) -> Response:
            params = dict(request.query_params)
            registered = find_app(params.get("client_id"))
            if registered is None:
                return JSONResponse({"error": "invalid_client", "error_description": INVALID_CLIENT}, 401)
            if params.get("redirect_uri") not in registered.redirect_uris:
                return JSONResponse(
                    {
                        "error": "invalid_redirect_uri",
                        "error_description": "The requested redirect uri is malformed "
                        "or doesn't match client redirect URI.",
                    },
                    400,
                )
            asked = (params.get("scope") or "read").split()
            if not all(_scope_ok(registered.scopes, s) for s in asked):
                return JSONResponse(
                    {
                        "error": "invalid_scope",
                        "error_description": "The requested scope is invalid, unknown, or malformed.",
                    },
                    400,
                )
            if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
                return JSONResponse(
                    {"error": "invalid_request", "error_description": "Code challenge method must be S256."}, 400
                )
            return registered.codes.authorize(params)

        @app.post("/oauth/token")
        async def token(request: Request) -> Response:
            if mode := self._failure("token"):
                return self._scripted(mode)
            form = await forms.read(request)
            data = {k: v[0] for k, v in form.fields.items() if v}
            client_id, client_secret = data.get("client_id"), data.get("client_secret")
            basic = request.headers.get("authorization", "")
            if basic.startswith("Basic "):
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            registered = find_app(client_id)
            if registered is None or client_secret != registered.client_secret:
                return JSONResponse({"error": "invalid_client", "error_description": INVALID_CLIENT}, 401)
            if data.get("grant_type") != "authorization_code":
                return JSONResponse(
                    {
                        "error": "unsupported_grant_type",
                        "error_description": "The authorization grant type is not "
                        "supported by the authorization server.",
                    },
                    400,
                )
            try:
                grant = registered.codes.redeem(data, client_id=client_id)
            except OAuthError as exc:
                if exc.error == "invalid_client":
                    return JSONResponse({"error": "invalid_client", "error_description": INVALID_CLIENT}, 401)
                return JSONResponse({"error": "invalid_grant", "error_description": INVALID_GRANT}, 400)
            scopes = (grant.scope or "read").split()
            value = secrets.token_urlsafe(32)
            with self._lock:
                self.tokens[value] = Token(value, "alice", scopes, client_id)
            return JSONResponse(
                {
                    "access_token": value,
                    "token_type": "Bearer",
                    "scope": " ".join(scopes),
                    "created_at": int(time.time()),
                }
            )

        @app.post("/oauth/revoke")
        async def revoke(request: Request) -> Response:
            form = await forms.read(request)
            registered = find_app(form.get("client_id"))
            if registered is None or form.get("client_secret") != registered.client_secret:
                return JSONResponse(
                    {
                        "error": "unauthorized_client",
                        "error_description": "You are not authorized to revoke this token",
                    },
                    403,
                )
            value = form.get("token") or ""
            with self._lock:
                found = self.tokens.get(value)
                if found is not None and found.client_id in (None, registered.client_id):
                    del self.tokens[value]
                    self.revoked.append(value)
            return JSONResponse({})

        @app.get("/api/v1/accounts/verify_credentials")
        async def verify_credentials(request: Request) -> Response:
            if mode := self._failure("verify_credentials"):
                return self._scripted(mode)
            who = self._auth(request, "read:accounts")
            if isinstance(who, Response):
                return who
            return JSONResponse(self._account(who.username))

        @app.get("/api/v2/instance")
        async def instance() -> Response:
            return JSONResponse(
                {
                    "domain": self.domain,
                    "title": "Fake Mastodon",
                    "version": "4.3.0",
                    "configuration": {
                        "urls": {"streaming": "wss://127.0.0.1"},
                        "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
                        "statuses": {
                            "max_characters": self.max_characters,
                            "max_media_attachments": self.max_media,
                            "characters_reserved_per_url": 23,
                        },
                        "media_attachments": {
                            "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"],
                            "image_size_limit": IMAGE_LIMIT,
                            "image_matrix_limit": 33177600,
                            "video_size_limit": VIDEO_LIMIT,
                            "video_frame_rate_limit": 120,
                            "video_matrix_limit": 8294400,
                        },
                    },
                }
            )

        @app.post("/api/v2/media")
        async def upload(request: Request) -> Response:
            if mode := self._failure("media"):
                return self._scripted(mode)
            who = self._auth(request, "write:media")
            if isinstance(who, Response):
                return who
            try:
                form = await forms.read(request)
            except ValueError:
                return JSONResponse({"error": "Validation failed: File can't be blank"}, 422)
            file = form.files.get("file")
            if form.kind != "multipart" or file is None or not file.data:
                return JSONResponse({"error": "Validation failed: File can't be blank"}, 422)
            if not file.content_type.startswith(("image/", "video/")):
                return JSONResponse({"error": "Validation failed: File content type is invalid, File is invalid"}, 422)
            limit = VIDEO_LIMIT if file.content_type.startswith("video/") else IMAGE_LIMIT
            if len(file.data) > limit:
                return JSONResponse(
                    {"error": f"Validation failed: File file size must be less than {limit // 1_048_576} MB"}, 422
                )
            with self._lock:
                media = Media(self._next_id(), who.username, file.content_type, len(file.data), self._processing_polls)
                self.media[media.id] = media
            body = self._media_json(media)
            return JSONResponse(body, 200 if body["url"] else 202)

        @app.get("/api/v1/media/{media_id}")
        async def media_status(media_id: str, request: Request) -> Response:
            if mode := self._failure("media_get"):
                return self._scripted(mode)
            who = self._auth(request, "write:media")
            if isinstance(who, Response):
                return who
            with self._lock:
                media = self.media.get(media_id)
                if media is None or media.username != who.username:
                    return JSONResponse({"error": "Record not found"}, 404)
                if media.polls_left > 0:
                    media.polls_left -= 1
                    return JSONResponse(self._media_json(Media(**{**media.__dict__, "polls_left": 1})), 206)
            return JSONResponse(self._media_json(media))

        @app.post("/api/v1/statuses")
        async def post_status(request: Request) -> Response:
            who = self._auth(request, "write:statuses")
            if isinstance(who, Response):
                return who
            mode = self._failure("statuses")
            if mode is not None and mode != "hang":
                return self._scripted(mode)
            key = request.headers.get("idempotency-key")
            with self._lock:
                earlier = self._keys.get((who.username, key)) if key else None
            if earlier is not None and time.time() - earlier[1] < 3600:
                return JSONResponse(self._status_json(earlier[0]))
            form = await forms.read(request)
            text = form.get("status") or ""
            media_ids = form.all("media_ids[]") or form.all("media_ids")
            if len(media_ids) > self.max_media:
                return JSONResponse({"error": f"Cannot attach more than {self.max_media} files"}, 422)
            with self._lock:
                attached = [
                    m
                    for m in media_ids
                    if m in self.media and self.media[m].username == who.username and self.media[m].status_id is None
                ]
                if any(self.media[m].polls_left > 0 for m in attached):
                    return JSONResponse(
                        {"error": "Cannot attach files that have not finished processing. Try again in a moment!"}, 422
                    )
            if not text.strip() and not attached:
                return JSONResponse({"error": "Validation failed: Text can't be blank"}, 422)
            if textcount.mastodon_length(text) > self.max_characters:
                return JSONResponse(
                    {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"}, 422
                )
            visibility = form.get("visibility") or "public"
            with self._lock:
                status = Status(
                    self._next_id(), who.username, text, attached, visibility, key, datetime.now(UTC), who.value
                )
                for m in attached:
                    self.media[m].status_id = status.id
                self.statuses.append(status)
                if key:
                    self._keys[(who.username, key)] = (status, time.time())
            if mode == "hang":
                await asyncio.sleep(self.hang_seconds)
            return JSONResponse(self._status_json(status))

        @app.get("/api/v1/accounts/{account_id}/statuses")
        async def account_statuses(account_id: str, request: Request) -> Response:
            if mode := self._failure("account_statuses"):
                return self._scripted(mode)
            header = request.headers.get("authorization")
            if header is not None:  # a token must carry read:statuses here
                who = self._auth(request, "read:statuses")
                if isinstance(who, Response):
                    return who
            limit = min(int(request.query_params.get("limit", "20")), 40)
            with self._lock:
                mine = [s for s in self.statuses if self._account(s.username)["id"] == account_id]
            return JSONResponse([self._status_json(s) for s in reversed(mine)][:limit])

        @app.get("/api/v1/statuses/{status_id}")
        async def get_status(status_id: str) -> Response:
            with self._lock:
                found = next((s for s in self.statuses if s.id == status_id), None)
            if found is None:
                return JSONResponse({"error": "Record not found"}, 404)
            return JSONResponse(self._status_json(found))

        return app
