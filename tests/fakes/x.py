"""FakeX: X API v2 as Herald uses it, on 127.0.0.1, written from X's documentation and real error bodies.

Served endpoints (``XSettings`` pointed at :attr:`FakeX.url` for the API, the upload, the token URL, and
``{url}/i/oauth2/authorize`` for the authorize URL):

``GET /i/oauth2/authorize``
    The consent screen, consented: 302 to ``redirect_uri`` with ``code`` and ``state`` (PKCE ``code_challenge``
    required, as X requires it).
``POST /2/oauth2/token``
    Form; the client authenticates with HTTP Basic (a confidential client), else 401 ``unauthorized_client``
    "Missing valid authorization header". ``authorization_code`` (one-time code, ``redirect_uri`` and
    ``code_verifier`` checked) and ``refresh_token`` grants. Refresh tokens come only with ``offline.access`` and
    rotate: a used one is dead. A bad code or token → 400 ``invalid_request`` "Value passed for the … was
    invalid." Answers ``{"token_type": "bearer", "expires_in": 7200, "access_token", "scope", "refresh_token"}``.
``POST /2/oauth2/revoke``
    Form ``token``; Basic auth; ``{"revoked": true}``.
OAuth 1.0a user tokens (:meth:`FakeX.issue_oauth1`) work wherever a Bearer token does: the HMAC-SHA1 signature
(consumer ``CONSUMER_KEY``/``CONSUMER_SECRET``) is checked over the method, URL and query; nonces are single-use.

``GET /2/users/me``
    ``{"data": {"id", "name", "username"}}`` (scope ``users.read``).
``POST /2/media/upload/initialize`` / ``{id}/append`` / ``{id}/finalize``, ``GET /2/media/upload?command=STATUS``
    The chunked v2 upload (scope ``media.write``): JSON init (``media_type``, ``total_bytes``,
    ``media_category``), multipart segments (``media``, ``segment_index`` 0–999, ≤ 5 MB each), finalize checks
    the byte count; videos and GIFs answer ``processing_info`` ``pending`` then follow :attr:`processing`
    (default ``in_progress`` → ``succeeded``), one state per STATUS call.
``POST /2/tweets``
    JSON ``text`` and ``media.media_ids`` (scope ``tweet.write``): media must be this user's, finalized and
    processed; up to 4 images or one video/GIF; the same text twice → 403 duplicate. 201 ``{"data": {"id",
    "text"}}`` where ``text`` is what X shows: links as t.co links, a t.co link for the media, ``&<>`` escaped.
``GET /2/users/{id}/tweets``
    ``max_results`` 5–100, newest first; ``{"data": [...], "meta": {...}}`` or only ``meta`` when there are none.

Errors are X's problem+json bodies. Control (from the test thread): :meth:`fail` queues failures for the next
posts (``expired``, ``rate_limit``, ``daily_limit``, ``forbidden``, ``invalid``, ``server_error``, ``hang``),
:meth:`fail_token` makes the token endpoint answer 5xx or 429, :meth:`revoke`/:meth:`expire` kill tokens,
:attr:`tweets` and :attr:`uploads` record what happened.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import html
import itertools
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from authlib.oauth1.rfc5849 import signature
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.oauth import AuthorizationCodes, OAuthError
from tests.fakes.server import ServedApp

CLIENT_ID: Final = "ZmFrZS14LWNsaWVudA"
CLIENT_SECRET: Final = "fake-x-client-secret"
CONSUMER_KEY: Final = "fake-x-consumer-key"  # the app's API key and secret, for OAuth 1.0a
CONSUMER_SECRET: Final = "fake-x-consumer-secret"
ALL_SCOPES: Final = frozenset({"tweet.read", "tweet.write", "users.read", "offline.access", "media.write"})
USER_ID: Final = "2244994945"
USERNAME: Final = "acme"
MAX_SEGMENT: Final = 5 * 1024 * 1024
LIMITS: Final = {"tweet_image": 5 * 1024 * 1024, "tweet_gif": 15 * 1024 * 1024, "tweet_video": 512 * 1024 * 1024}
FAILURES: Final = ("expired", "rate_limit", "daily_limit", "forbidden", "invalid", "server_error", "hang")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)


async def form_of(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (parsed here: no python-multipart needed)."""
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


async def multipart_of(request: Request) -> dict[str, bytes]:
    """A ``multipart/form-data`` body's parts by name (the stdlib's MIME parser)."""
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + await request.body())
    if not message.is_multipart():
        return {}
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = payload
    return parts


def problem(status: int, title: str, detail: str, kind: str = "about:blank", **more: Any) -> JSONResponse:
    body = {"title": title, "type": kind, "status": status, "detail": detail, **more}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


UNAUTHORIZED: Final = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}


@dataclass
class Token:
    user_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class Upload:
    media_id: str
    user_id: str
    media_type: str
    category: str
    total_bytes: int
    segments: dict[int, bytes] = field(default_factory=dict)
    finalized: bool = False
    state: str | None = None  # processing state; None: no processing (images)
    polls: int = 0


@dataclass(frozen=True)
class Tweet:
    id: str
    user_id: str
    text: str  # as sent
    shown: str  # as X shows it
    media_ids: tuple[str, ...]
    created_at: float


class FakeX:
    """X on 127.0.0.1 (module docstring). Thread-safe: the test thread scripts it while the server runs."""

    def __init__(self) -> None:
        self.codes = AuthorizationCodes(CLIENT_ID, require_pkce=True)
        self._lock = threading.Lock()
        self._ids = itertools.count(1866000000000000001)
        self.access: dict[str, Token] = {}
        self.refresh: dict[str, Token] = {}
        self.oauth1: dict[str, tuple[str, Token]] = {}  # OAuth 1.0a access token → (token secret, grant)
        self.nonces: set[str] = set()
        self.uploads: dict[str, Upload] = {}
        self.tweets: list[Tweet] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.processing: list[str] = ["in_progress", "succeeded"]
        self.check_after_secs = 1
        self._failures: deque[str] = deque()
        self._token_failures: deque[int] = deque()
        self._released = threading.Event()
        self.reset_in = 900  # seconds until a rate-limit window resets
        self.served = ServedApp(self.app(), name="fake-x")

    # --- lifecycle

    @property
    def url(self) -> str:
        return self.served.url

    def __enter__(self) -> FakeX:
        self.served.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self.served.stop()

    # --- control

    def issue(
        self, scopes: str = "tweet.read tweet.write users.read offline.access media.write", expires_in: int = 7200
    ) -> dict[str, Any]:
        """A token pair for the fake's user, as the token endpoint answers it."""
        return self._issue(USER_ID, frozenset(scopes.split()), expires_in)

    def issue_oauth1(self) -> tuple[str, str]:
        """OAuth 1.0a user tokens (access token, token secret) of the fake's user, as the developer portal gives
        them: they don't expire."""
        token, secret = f"{USER_ID}-{secrets.token_urlsafe(18)}", secrets.token_urlsafe(24)
        with self._lock:
            self.oauth1[token] = (secret, Token(USER_ID, ALL_SCOPES, float("inf")))
        return token, secret

    def fail(self, *modes: str) -> None:
        """The next ``POST /2/tweets`` requests fail in these ways, one each (``hang`` records the post, then
        answers only after :meth:`release` or when the fake stops)."""
        for mode in modes:
            if mode not in FAILURES:
                raise ValueError(f"unknown failure {mode!r}; one of {FAILURES}")
        with self._lock:
            self._failures.extend(modes)

    def fail_token(self, *statuses: int) -> None:
        """The next token requests answer these HTTP statuses (503, 429 …) and change nothing."""
        with self._lock:
            self._token_failures.extend(statuses)

    def release(self) -> None:
        self._released.set()

    def revoke(self, token: str) -> None:
        with self._lock:
            self.access.pop(token, None)
            self.refresh.pop(token, None)

    def expire(self, token: str) -> None:
        with self._lock:
            if token in self.access:
                self.access[token].expires_at = time.time() - 1

    def add_tweet(self, text: str, created_at: float | None = None) -> Tweet:
        """A post made elsewhere (another client, an earlier day)."""
        with self._lock:
            return self._record(USER_ID, text, (), created_at or time.time())

    def hits(self, path_prefix: str, method: str = "POST") -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(path_prefix))

    # --- internals

    def _issue(self, user_id: str, scopes: frozenset[str], expires_in: int = 7200) -> dict[str, Any]:
        access = secrets.token_urlsafe(24)
        with self._lock:
            self.access[access] = Token(user_id, scopes, time.time() + expires_in)
            body: dict[str, Any] = {
                "token_type": "bearer",
                "expires_in": expires_in,
                "access_token": access,
                "scope": " ".join(sorted(scopes)),
            }
            if "offline.access" in scopes:
                refresh = secrets.token_urlsafe(24)
                self.refresh[refresh] = Token(user_id, scopes, time.time() + 180 * 86400)
                body["refresh_token"] = refresh
        return body

    def _signed(self, request: Request, auth: str) -> Token | None:
        """The grant an OAuth 1.0a request is signed for (HMAC-SHA1 over the method, URL and query, RFC 5849),
        or None: unknown consumer or token, replayed nonce, bad signature."""
        header = [(k, unquote(v.strip('"'))) for k, _, v in (p.strip().partition("=") for p in auth[6:].split(","))]
        oauth = dict(header)
        query = parse_qsl(request.url.query, keep_blank_values=True)
        params = [(k, v) for k, v in [*query, *header] if k != "oauth_signature"]
        nonce, token = oauth.get("oauth_nonce", ""), oauth.get("oauth_token", "")
        with self._lock:
            grant = self.oauth1.get(token)
            if grant is None or oauth.get("oauth_consumer_key") != CONSUMER_KEY or not nonce or nonce in self.nonces:
                return None
            self.nonces.add(nonce)
        if oauth.get("oauth_signature_method") != "HMAC-SHA1":
            return None
        base = signature.construct_base_string(request.method, str(request.url), params)
        expected = signature.hmac_sha1_signature(base, CONSUMER_SECRET, grant[0])
        return grant[1] if hmac.compare_digest(expected, oauth.get("oauth_signature", "")) else None

    def _user(self, request: Request, scope: str) -> Token | JSONResponse:
        auth = request.headers.get("authorization", "")
        if auth.startswith("OAuth "):
            found = self._signed(request, auth)
        else:
            token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
            with self._lock:
                found = self.access.get(token)
        if found is None or found.expires_at <= time.time():
            return JSONResponse(UNAUTHORIZED, status_code=401, media_type="application/problem+json")
        if scope not in found.scopes:
            return problem(403, "Forbidden", "You are not permitted to perform this action.")
        return found

    def _client_ok(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            pair = base64.b64decode(auth.removeprefix("Basic ")).decode()
        except ValueError:
            return False
        client_id, _, secret = pair.partition(":")
        return unquote(client_id) == CLIENT_ID and unquote(secret) == CLIENT_SECRET

    def _record(self, user_id: str, text: str, media_ids: tuple[str, ...], created_at: float) -> Tweet:
        tweet_id = str(next(self._ids))
        shown = html.escape(_URL.sub(lambda _: f"https://t.co/{secrets.token_urlsafe(7)[:10]}", text), quote=False)
        if media_ids:
            shown += f" https://t.co/{secrets.token_urlsafe(7)[:10]}"
        tweet = Tweet(tweet_id, user_id, text, shown, media_ids, created_at)
        self.tweets.append(tweet)
        return tweet

    def _rate_limited(self, daily: bool) -> JSONResponse:
        now = int(time.time())
        response = problem(429, "Too Many Requests", "Too Many Requests")
        response.headers["x-rate-limit-limit"] = "100"
        response.headers["x-rate-limit-remaining"] = "99" if daily else "0"
        response.headers["x-rate-limit-reset"] = str(now + self.reset_in)
        response.headers["x-user-limit-24hour-limit"] = "17"
        response.headers["x-user-limit-24hour-remaining"] = "0" if daily else "5"
        response.headers["x-user-limit-24hour-reset"] = str(now + 20 * 3600)
        return response

    async def _failure(self, mode: str, user_id: str, text: str, media_ids: tuple[str, ...]) -> Response:
        if mode == "expired":
            return JSONResponse(UNAUTHORIZED, status_code=401, media_type="application/problem+json")
        if mode in ("rate_limit", "daily_limit"):
            return self._rate_limited(mode == "daily_limit")
        if mode == "forbidden":
            return problem(403, "Forbidden", "You are not permitted to perform this action.")
        if mode == "invalid":
            return JSONResponse(
                {
                    "errors": [{"parameters": {"text": [text]}, "message": "Your Tweet text is too long."}],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                },
                status_code=400,
            )
        if mode == "server_error":
            return JSONResponse({"title": "Service Unavailable", "status": 503}, status_code=503)
        # hang: X made the post, the answer never comes (the client times out)
        with self._lock:
            tweet = self._record(user_id, text, media_ids, time.time())
        await asyncio.to_thread(self._released.wait, 60)
        return JSONResponse({"data": {"id": tweet.id, "text": tweet.shown}}, status_code=201)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            with self._lock:
                self.requests.append((request.method, request.url.path))
            response: Response = await call_next(request)
            return response

        @app.get("/i/oauth2/authorize")
        async def authorize(request: Request) -> Response:
            return self.codes.authorize(dict(request.query_params))

        @app.post("/2/oauth2/token")
        async def token(request: Request) -> Response:
            form = await form_of(request)
            if not self._client_ok(request):
                body = {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}
                return JSONResponse(body, status_code=401)
            with self._lock:
                failure = self._token_failures.popleft() if self._token_failures else None
            if failure == 429:
                return self._rate_limited(daily=False)
            if failure is not None:
                return JSONResponse({"title": "Service Unavailable", "status": failure}, status_code=failure)
            grant = form.get("grant_type")
            if grant == "authorization_code":
                try:
                    issued = self.codes.redeem(form, client_id=CLIENT_ID)
                except OAuthError:
                    body = {
                        "error": "invalid_request",
                        "error_description": "Value passed for the authorization code was invalid.",
                    }
                    return JSONResponse(body, status_code=400)
                return JSONResponse(self._issue(USER_ID, frozenset(issued.scope.split())))
            if grant == "refresh_token":
                with self._lock:
                    old = self.refresh.pop(form.get("refresh_token", ""), None)  # rotation: used once
                if old is None:
                    body = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
                    return JSONResponse(body, status_code=400)
                return JSONResponse(self._issue(old.user_id, old.scopes))
            body = {"error": "unsupported_grant_type", "error_description": "Grant type is not supported."}
            return JSONResponse(body, status_code=400)

        @app.post("/2/oauth2/revoke")
        async def revoke(request: Request) -> Response:
            if not self._client_ok(request):
                body = {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}
                return JSONResponse(body, status_code=401)
            self.revoke((await form_of(request)).get("token", ""))
            return JSONResponse({"revoked": True})

        @app.get("/2/users/me")
        async def me(request: Request) -> Response:
            user = self._user(request, "users.read")
            if isinstance(user, Response):
                return user
            return JSONResponse({"data": {"id": user.user_id, "name": "Acme Coffee", "username": USERNAME}})

        @app.post("/2/media/upload/initialize")
        async def initialize(request: Request) -> Response:
            user = self._user(request, "media.write")
            if isinstance(user, Response):
                return user
            body = await request.json()
            media_type, total, category = body.get("media_type"), body.get("total_bytes"), body.get("media_category")
            if category not in LIMITS or not isinstance(total, int) or not isinstance(media_type, str):
                return problem(400, "Invalid Request", "One or more parameters to your request was invalid.")
            if total > LIMITS[category] or total <= 0:
                return problem(400, "Invalid Request", f"total_bytes {total} is out of range for {category}.")
            media_id = str(next(self._ids))
            with self._lock:
                self.uploads[media_id] = Upload(media_id, user.user_id, media_type, category, total)
            data = {"id": media_id, "media_key": f"3_{media_id}", "expires_after_secs": 86400}
            return JSONResponse({"data": data})

        def upload_of(media_id: str, user: Token) -> Upload | Response:
            with self._lock:
                upload = self.uploads.get(media_id)
            if upload is None or upload.user_id != user.user_id:
                return problem(400, "Invalid Request", f"Media id {media_id} is invalid.")
            return upload

        @app.post("/2/media/upload/{media_id}/append")
        async def append(media_id: str, request: Request) -> Response:
            user = self._user(request, "media.write")
            if isinstance(user, Response):
                return user
            upload = upload_of(media_id, user)
            if isinstance(upload, Response):
                return upload
            parts = await multipart_of(request)
            chunk, index = parts.get("media"), parts.get("segment_index", b"").decode()
            if chunk is None or not index.isdigit():
                return problem(400, "Invalid Request", "media and segment_index are required.")
            if int(index) > 999 or len(chunk) > MAX_SEGMENT:
                return problem(400, "Invalid Request", "The segment is out of range.")
            with self._lock:
                upload.segments[int(index)] = chunk
            return JSONResponse({"data": {"expires_at": int(time.time()) + 86400}})

        @app.post("/2/media/upload/{media_id}/finalize")
        async def finalize(media_id: str, request: Request) -> Response:
            user = self._user(request, "media.write")
            if isinstance(user, Response):
                return user
            upload = upload_of(media_id, user)
            if isinstance(upload, Response):
                return upload
            size = sum(len(c) for c in upload.segments.values())
            if size != upload.total_bytes or sorted(upload.segments) != list(range(len(upload.segments))):
                return problem(400, "Invalid Request", f"File size mismatch: got {size} of {upload.total_bytes} bytes.")
            data: dict[str, Any] = {
                "id": media_id,
                "media_key": f"3_{media_id}",
                "size": size,
                "expires_after_secs": 86400,
            }
            with self._lock:
                upload.finalized = True
                if upload.category in ("tweet_video", "tweet_gif"):
                    upload.state = "pending"
                    data["processing_info"] = {"state": "pending", "check_after_secs": self.check_after_secs}
            return JSONResponse({"data": data})

        @app.get("/2/media/upload")
        async def status(request: Request) -> Response:
            user = self._user(request, "media.write")
            if isinstance(user, Response):
                return user
            if request.query_params.get("command") != "STATUS":
                return problem(400, "Invalid Request", "command must be STATUS.")
            upload = upload_of(request.query_params.get("media_id", ""), user)
            if isinstance(upload, Response):
                return upload
            data: dict[str, Any] = {"id": upload.media_id, "media_key": f"3_{upload.media_id}"}
            with self._lock:
                if upload.state is not None:
                    if upload.state not in ("succeeded", "failed"):
                        upload.state = self.processing[min(upload.polls, len(self.processing) - 1)]
                        upload.polls += 1
                    info: dict[str, Any] = {"state": upload.state}
                    if upload.state in ("pending", "in_progress"):
                        info["check_after_secs"] = self.check_after_secs
                        info["progress_percent"] = 50
                    if upload.state == "failed":
                        info["error"] = {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format."}
                    data["processing_info"] = info
            return JSONResponse({"data": data})

        @app.post("/2/tweets")
        async def create(request: Request) -> Response:
            user = self._user(request, "tweet.write")
            if isinstance(user, Response):
                return user
            body = await request.json()
            text = body.get("text", "")
            media = body.get("media") or {}
            media_ids = tuple(str(m) for m in media.get("media_ids") or ())
            with self._lock:
                mode = self._failures.popleft() if self._failures else None
            if mode is not None:
                return await self._failure(mode, user.user_id, text, media_ids)
            if not text and not media_ids:
                return problem(400, "Invalid Request", "One or more parameters to your request was invalid.")
            with self._lock:
                uploads = [self.uploads.get(m) for m in media_ids]
            for media_id, up in zip(media_ids, uploads, strict=True):
                ready = up is not None and up.finalized and up.state in (None, "succeeded")
                if up is None or up.user_id != user.user_id or not ready:
                    return JSONResponse(
                        {
                            "errors": [
                                {
                                    "parameters": {"media.media_ids": [media_id]},
                                    "message": "Your media IDs are invalid.",
                                }
                            ],
                            "title": "Invalid Request",
                            "detail": "One or more parameters to your request was invalid.",
                            "type": "https://api.twitter.com/2/problems/invalid-request",
                        },
                        status_code=400,
                    )
            kinds = [u.category for u in uploads if u is not None]
            if len(kinds) > 4 or (len(kinds) > 1 and any(k != "tweet_image" for k in kinds)):
                return problem(400, "Invalid Request", "Your media IDs are invalid.")
            with self._lock:
                if any(t.user_id == user.user_id and t.text == text for t in self.tweets):
                    return problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
                tweet = self._record(user.user_id, text, media_ids, time.time())
            return JSONResponse({"data": {"id": tweet.id, "text": tweet.shown}}, status_code=201)

        @app.get("/2/users/{user_id}/tweets")
        async def timeline(user_id: str, request: Request) -> Response:
            user = self._user(request, "tweet.read")
            if isinstance(user, Response):
                return user
            raw = request.query_params.get("max_results", "10")
            if not raw.isdigit() or not 5 <= int(raw) <= 100:
                return problem(
                    400, "Invalid Request", "The `max_results` query parameter value is not between 5 and 100"
                )
            with self._lock:
                mine = [t for t in reversed(self.tweets) if t.user_id == user_id][: int(raw)]
            if not mine:
                return JSONResponse({"meta": {"result_count": 0}})
            data = [
                {
                    "id": t.id,
                    "text": t.shown,
                    "created_at": datetime.fromtimestamp(t.created_at, UTC).isoformat(timespec="milliseconds")[:-6]
                    + "Z",
                    "edit_history_tweet_ids": [t.id],
                }
                for t in mine
            ]
            meta = {"result_count": len(data), "newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
            return JSONResponse({"data": data, "meta": meta})

        return app


__all__ = ["CLIENT_ID", "CLIENT_SECRET", "USERNAME", "USER_ID", "FakeX"]
