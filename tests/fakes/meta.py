"""MetaGraph: a fake of Meta's Graph API for Facebook Pages and Instagram professional accounts, on 127.0.0.1.

Written from Meta's documented behaviour (Graph API, Facebook Login, Pages API, Instagram Content Publishing):

``GET /{v}/dialog/oauth``
    Facebook Login's dialog, consented at once by :attr:`MetaGraph.login_as` (302 back with ``code``, ``state``).
``GET|POST /{v}/oauth/access_token``
    ``code`` (+ ``client_id``, ``client_secret``, ``redirect_uri``) → a short-lived user token (~2 h);
    ``grant_type=fb_exchange_token`` (+ app id and secret) → a long-lived user token (60 days).
    Answers ``{"access_token", "token_type": "bearer", "expires_in"}``.
``GET /{v}/me/accounts``
    The user's Pages, each with its Page token (which never expires when the user token is long-lived).
``GET /{v}/{page-id}`` (``id,name,link``, ``instagram_business_account{id,username}``), ``GET /{v}/{ig-user-id}``
    (``id,username``), ``GET /{v}/{container-id}`` (``status_code,status``: each look counts against
    :meth:`MetaGraph.set_in_progress`), ``GET /{v}/{ig-media-id}`` (``permalink`` …).
``POST /{v}/{page-id}/feed``, ``GET /{v}/{page-id}/feed``, ``POST /{v}/{page-id}/photos``
    A Page token of that Page. ``/photos`` fetches ``url`` over HTTP (error 324 when it isn't an image);
    ``published=false`` keeps the photo for ``attached_media[N]={"media_fbid": id}`` on ``/feed``.
``POST /{v}/{ig-user-id}/media``, ``GET /{v}/{ig-user-id}/media``, ``POST /{v}/{ig-user-id}/media_publish``,
``GET /{v}/{ig-user-id}/content_publishing_limit``
    A user token of someone managing the linked Page (or that Page's token). ``/media`` fetches ``image_url``
    over HTTP: the container ends ``ERROR`` when the fetch fails, isn't a JPEG or has an aspect ratio outside
    4:5..1.91:1. ``media_publish`` refuses a container not FINISHED, an ``EXPIRED`` one (subcode 2207020), and
    a full quota (subcode 2207042).

Tokens go as ``access_token`` (query or form) or ``Authorization: Bearer|OAuth``; ``appsecret_proof`` (HMAC-SHA256
of the token keyed with the app secret) is checked when sent and required while :attr:`MetaGraph.require_proof`
(the app's "Require App Secret" switch, on by default). Errors are Graph's bodies:
``{"error": {"message", "type", "code", "error_subcode", "is_transient", "fbtrace_id"}}``.

Control (thread-safe, from the test thread): :meth:`fail` (a named error from :data:`ERRORS` for the next calls
to an endpoint, or ``"hang"``: do the work, then answer nothing until :meth:`release` or the fake stops),
:meth:`expire` / :meth:`invalidate` a token, :meth:`set_in_progress`, :meth:`expire_container`,
:meth:`set_quota`, :meth:`age`; what was published is in :attr:`posts`, :attr:`photos`, :attr:`containers`,
:attr:`media`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import itertools
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image

from tasks.platforms.base import MediaFile
from tests.fakes.oauth import AuthorizationCodes, OAuthError
from tests.fakes.server import ServedApp

SHORT_LIVED: Final = 2 * 3600
LONG_LIVED: Final = 60 * 86400
DAY: Final = 86400

#: Graph's error bodies by name: (HTTP status, the ``error`` object, extra headers).
ERRORS: Final[dict[str, tuple[int, dict[str, Any], dict[str, str]]]] = {
    "expired_token": (
        400,
        {
            "message": "Error validating access token: Session has expired on Thursday, 03-Dec-26 09:00:00 PST. "
            "The current time is Thursday, 03-Dec-26 10:02:11 PST.",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
        },
        {},
    ),
    "invalid_token": (
        400,
        {
            "message": "Error validating access token: The session has been invalidated because the user changed "
            "their password or Facebook has changed the session for security reasons.",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 460,
        },
        {},
    ),
    "app_limit": (
        403,
        {
            "message": "(#4) Application request limit reached",
            "type": "OAuthException",
            "is_transient": True,
            "code": 4,
        },
        {"X-App-Usage": json.dumps({"call_count": 100, "total_cputime": 30, "total_time": 40})},
    ),
    "user_limit": (
        400,
        {"message": "(#17) User request limit reached", "type": "OAuthException", "is_transient": True, "code": 17},
        {},
    ),
    "page_limit": (
        400,
        {
            "message": "(#80001) There have been too many calls to this Page account. Wait a bit and try again. "
            "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
            "type": "OAuthException",
            "code": 80001,
        },
        {},  # X-Business-Use-Case-Usage added per Page (7 minutes)
    ),
    "custom_limit": (
        400,
        {"message": "(#613) Calls to this api have exceeded the rate limit.", "type": "OAuthException", "code": 613},
        {},
    ),
    "policy": (
        400,
        {
            "message": "It looks like you were misusing this feature by going too fast. You've been temporarily "
            "blocked from using it.",
            "type": "OAuthException",
            "code": 368,
            "error_subcode": 1390008,
        },
        {},
    ),
    "duplicate": (
        400,
        {
            "message": "Duplicate status message",
            "type": "OAuthException",
            "code": 506,
            "error_subcode": 1455006,
            "is_transient": False,
            "error_user_title": "Duplicate Status Update",
            "error_user_msg": "This status update is identical to the last one you posted.",
        },
        {},
    ),
    "transient": (
        500,
        {
            "message": "An unexpected error has occurred. Please retry your request later.",
            "type": "OAuthException",
            "is_transient": True,
            "code": 2,
        },
        {},
    ),
    "daily_limit": (
        400,
        {
            "message": "Application request limit reached",
            "type": "OAuthException",
            "is_transient": False,
            "code": 9,
            "error_subcode": 2207042,
            "error_user_title": "Cannot publish more posts",
            "error_user_msg": "You reached maximum number of posts that is allowed to be published by Content "
            "Publishing API.",
        },
        {},
    ),
    "container_expired": (
        400,
        {
            "message": "The media you are trying to access has expired. Please try to upload again.",
            "type": "OAuthException",
            "is_transient": False,
            "code": 24,
            "error_subcode": 2207020,
            "error_user_title": "Media expired",
        },
        {},
    ),
}


class GraphError(Exception):
    def __init__(self, status: int, error: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(error.get("message"))
        self.status, self.error, self.headers = status, error, headers or {}


def _invalid(message: str, code: int = 100, subcode: int | None = None) -> GraphError:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return GraphError(400, error)


@dataclass
class Token:
    value: str
    kind: str  # "user" or "page"
    user_id: str
    page_id: str | None
    expires_at: float | None
    scopes: frozenset[str]
    invalid: str | None = None  # an ERRORS name


@dataclass
class Page:
    id: str
    name: str
    admins: set[str]
    ig_user_id: str | None = None


@dataclass
class IGAccount:
    id: str
    username: str
    page_id: str


@dataclass
class Photo:
    id: str
    page_id: str
    url: str
    published: bool
    attached_to: str | None = None


@dataclass
class Post:
    id: str
    page_id: str
    message: str
    link: str | None
    photo_ids: list[str]
    created: float


@dataclass
class Container:
    id: str
    ig_user_id: str
    image_url: str | None
    caption: str
    carousel_item: bool
    children: list[str]
    final: str  # the status once processed: FINISHED or ERROR
    reason: str
    polls_left: int
    status_code: str = "IN_PROGRESS"
    fetched: int = 0  # bytes of the image Instagram fetched


@dataclass
class IGMedia:
    id: str
    ig_user_id: str
    caption: str
    container_id: str
    children: list[str]
    created: float
    permalink: str = ""


def _graph_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class MetaGraph:
    """One fake Graph API (Facebook Pages and Instagram), served at :attr:`url` while used as a context manager."""

    def __init__(self, app_id: str = "meta-app", app_secret: str = "meta-secret", version: str = "v23.0") -> None:
        self.app_id, self.app_secret, self.version = app_id, app_secret, version
        self.codes = AuthorizationCodes(app_id)
        self._lock = threading.RLock()
        self._ids = itertools.count(1000)
        self.tokens: dict[str, Token] = {}
        self.users: dict[str, str] = {}  # id → name
        self.pages: dict[str, Page] = {}
        self.ig: dict[str, IGAccount] = {}
        self.posts: list[Post] = []
        self.photos: dict[str, Photo] = {}
        self.containers: dict[str, Container] = {}
        self.media: list[IGMedia] = []
        self.calls: list[tuple[str, str]] = []  # (method, path), every Graph call
        self.login_as: str | None = None
        self.require_proof = True  # the app's "Require App Secret" switch
        self.grants: dict[str, str] = {}  # code → user id
        self._failures: dict[str, deque[str]] = defaultdict(deque)
        self._in_progress = 0
        self._quota_total: int | None = 50
        self._quota_extra = 0
        self._release = threading.Event()
        self._served = ServedApp(self._app(), name="meta-graph")

    # --- lifecycle

    @property
    def url(self) -> str:
        return self._served.url

    def __enter__(self) -> MetaGraph:
        self._served.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release.set()
        self._served.stop()

    # --- world building

    def _id(self) -> str:
        return str(next(self._ids)) + str(secrets.randbelow(10))

    def add_user(self, name: str = "Ada") -> str:
        with self._lock:
            user_id = self._id()
            self.users[user_id] = name
            self.login_as = self.login_as or user_id
            return user_id

    def add_page(self, admin: str, name: str, instagram: str | None = None) -> Page:
        with self._lock:
            page = Page(self._id(), name, {admin})
            self.pages[page.id] = page
            if instagram:
                account = IGAccount(self._id(), instagram, page.id)
                self.ig[account.id] = account
                page.ig_user_id = account.id
            return page

    def issue(
        self, user_id: str, *, page_id: str | None = None, lifetime: float | None = LONG_LIVED, scopes: str = "*"
    ) -> str:
        """A token as Facebook would issue it (a test's shortcut past the login)."""
        with self._lock:
            value = "EAA" + secrets.token_urlsafe(24)
            expires = None if lifetime is None else time.time() + lifetime
            self.tokens[value] = Token(
                value, "page" if page_id else "user", user_id, page_id, expires, frozenset(scopes.split(","))
            )
            return value

    # --- control

    def fail(self, endpoint: str, error: str, times: int = 1) -> None:
        """The next ``times`` calls to ``endpoint`` (``feed``, ``photos``, ``media``, ``media_publish``,
        ``status``, ``token``, ``accounts``, ``publishing_limit``, ``node``) answer ``error`` (an
        :data:`ERRORS` name, or ``hang``)."""
        if error != "hang" and error not in ERRORS:
            raise ValueError(error)
        with self._lock:
            self._failures[endpoint].extend([error] * times)

    def release(self) -> None:
        self._release.set()

    def expire(self, token: str) -> None:
        with self._lock:
            self.tokens[token].invalid = "expired_token"

    def invalidate(self, token: str) -> None:
        with self._lock:
            self.tokens[token].invalid = "invalid_token"

    def set_in_progress(self, polls: int) -> None:
        """New containers answer IN_PROGRESS to this many status looks before their final status."""
        with self._lock:
            self._in_progress = polls

    def expire_container(self, container_id: str) -> None:
        with self._lock:
            self.containers[container_id].status_code = "EXPIRED"
            self.containers[container_id].polls_left = 0

    def set_quota(self, total: int | None, extra_usage: int = 0) -> None:
        """``quota_total`` (None: ``config`` left out of the answer) and posts counted besides the fake's own."""
        with self._lock:
            self._quota_total, self._quota_extra = total, extra_usage

    def age(self, seconds: float) -> None:
        """Everything published so far happened ``seconds`` earlier."""
        with self._lock:
            for item in [*self.posts, *self.media]:
                item.created -= seconds

    def published(self, ig_user_id: str | None = None) -> list[IGMedia]:
        with self._lock:
            return [m for m in self.media if ig_user_id in (None, m.ig_user_id)]

    def page_posts(self, page_id: str | None = None) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if page_id in (None, p.page_id)]

    def count(self, method: str, suffix: str) -> int:
        with self._lock:
            return sum(1 for m, p in self.calls if m == method and p.endswith(suffix))

    # --- the app

    def _app(self) -> FastAPI:
        app = FastAPI()
        v = self.version

        @app.get(f"/{v}/dialog/oauth")
        async def dialog(request: Request) -> Response:
            params = dict(request.query_params)
            answer = self.codes.authorize(params)
            location = answer.headers["location"]
            code = httpx.URL(location).params.get("code")
            if code and self.login_as:
                with self._lock:
                    self.grants[code] = self.login_as
            return answer

        @app.api_route(f"/{v}/{{path:path}}", methods=["GET", "POST", "DELETE"])
        async def graph(path: str, request: Request) -> Response:
            params: dict[str, str] = dict(request.query_params)
            # Graph takes form-encoded bodies (python-multipart isn't needed for those)
            form_type = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
            if request.method == "POST" and form_type:
                form = parse_qs((await request.body()).decode(), keep_blank_values=True)
                params.update({k: values[-1] for k, values in form.items()})
            with self._lock:
                self.calls.append((request.method, path))
            try:
                body = await self._route(request.method, path.strip("/").split("/"), params, request)
            except GraphError as exc:
                error = {**exc.error, "fbtrace_id": "A" + secrets.token_hex(10)}
                return JSONResponse({"error": error}, status_code=exc.status, headers=exc.headers)
            return JSONResponse(body)

        return app

    def _token_of(self, params: dict[str, str], request: Request) -> Token:
        value = params.get("access_token")
        header = request.headers.get("authorization", "")
        if not value and " " in header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() not in ("bearer", "oauth"):
                value = ""
        if not value:
            raise _invalid("An active access token must be used to query information about the current user.", 2500)
        with self._lock:
            token = self.tokens.get(value)
        if token is None:
            raise _invalid("Invalid OAuth access token - Cannot parse access token", 190)
        proof = params.get("appsecret_proof")
        expected = hmac.new(self.app_secret.encode(), value.encode(), hashlib.sha256).hexdigest()
        if proof is not None and proof != expected:
            raise _invalid("Invalid appsecret_proof provided in the API argument", 100)
        if proof is None and self.require_proof:
            raise _invalid("API calls from the server require an appsecret_proof argument", 100)
        if token.invalid is not None:
            status, error, _ = ERRORS[token.invalid]
            raise GraphError(status, dict(error))
        if token.expires_at is not None and token.expires_at <= time.time():
            status, error, _ = ERRORS["expired_token"]
            raise GraphError(status, dict(error))
        return token

    async def _scripted(self, endpoint: str, page_id: str | None = None) -> str | None:
        with self._lock:
            queue = self._failures.get(endpoint)
            failure = queue.popleft() if queue else None
        if failure is None or failure == "hang":
            return failure
        status, error, headers = ERRORS[failure]
        headers = dict(headers)
        if failure == "page_limit":
            usage = {
                page_id or "0": [
                    {
                        "type": "pages",
                        "call_count": 100,
                        "total_cputime": 20,
                        "total_time": 30,
                        "estimated_time_to_regain_access": 7,
                    }
                ]
            }
            headers["X-Business-Use-Case-Usage"] = json.dumps(usage)
        raise GraphError(status, dict(error), headers)

    async def _hang(self) -> None:
        """The request was acted on; no answer until released (the client times out first)."""
        deadline = time.monotonic() + 30
        # released from the test thread (a threading.Event), so polled rather than awaited
        while not self._release.is_set() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    async def _route(self, method: str, parts: list[str], params: dict[str, str], request: Request) -> Any:
        if parts == ["oauth", "access_token"]:
            await self._scripted("token")
            return self._access_token(params)
        token = self._token_of(params, request)
        if parts == ["me", "accounts"] and method == "GET":
            await self._scripted("accounts")
            return self._accounts(token)
        node = parts[0]
        edge = parts[1] if len(parts) > 1 else None
        if node in self.pages:
            page = self.pages[node]
            if edge is None and method == "GET":
                await self._scripted("node")
                return self._page_fields(page, token, params.get("fields", "id,name"))
            if edge in ("feed", "photos"):
                hang = await self._scripted(edge, page.id)
                result = await (
                    self._feed(method, page, token, params) if edge == "feed" else self._photos(page, token, params)
                )
                if hang:
                    await self._hang()
                return result
        if node in self.ig:
            account = self.ig[node]
            self._may_use_ig(account, token)
            if edge is None and method == "GET":
                await self._scripted("node")
                return {"id": account.id, "username": account.username}
            if edge == "media":
                await self._scripted("media")
                if method == "POST":
                    self._need(token, "instagram_content_publish")
                    return await self._create_container(account, params)
                return self._list_media(account, params)
            if edge == "media_publish" and method == "POST":
                hang = await self._scripted("media_publish")
                result = self._publish(account, params)
                if hang:
                    await self._hang()
                return result
            if edge == "content_publishing_limit" and method == "GET":
                await self._scripted("publishing_limit")
                return self._limit(account)
        if node in self.containers and edge is None and method == "GET":
            container = self.containers[node]
            self._may_use_ig(self.ig[container.ig_user_id], token)
            await self._scripted("status")
            return self._status(container)
        media = next((m for m in self.media if m.id == node), None)
        if media is not None and edge is None and method == "GET":
            self._may_use_ig(self.ig[media.ig_user_id], token)
            return {
                "id": media.id,
                "permalink": media.permalink,
                "caption": media.caption,
                "timestamp": _graph_time(media.created),
            }
        raise _invalid(
            f"Unsupported {method.lower()} request. Object with ID '{node}' does not exist, cannot be loaded due to "
            "missing permissions, or does not support this operation.",
            100,
            33,
        )

    # --- login and tokens

    def _access_token(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("client_id") != self.app_id or params.get("client_secret") != self.app_secret:
            raise _invalid("Error validating client secret.", 1)
        if params.get("grant_type") == "fb_exchange_token":
            with self._lock:
                old = self.tokens.get(params.get("fb_exchange_token", ""))
            if old is None or old.kind != "user":
                raise _invalid("Invalid OAuth access token - Cannot parse access token", 190)
            if old.invalid is not None or (old.expires_at is not None and old.expires_at <= time.time()):
                status, error, _ = ERRORS[old.invalid or "expired_token"]
                raise GraphError(status, dict(error))
            value = self.issue(old.user_id, lifetime=LONG_LIVED, scopes=",".join(old.scopes))
            return {"access_token": value, "token_type": "bearer", "expires_in": LONG_LIVED}
        try:
            grant = self.codes.redeem(params)
        except OAuthError as exc:
            raise _invalid(exc.description, 100, 36009) from exc
        with self._lock:
            user_id = self.grants.pop(params.get("code", ""), None)
        if user_id is None:
            raise _invalid("Invalid verification code format.", 100)
        value = self.issue(user_id, lifetime=SHORT_LIVED, scopes=grant.scope.replace(" ", ","))
        return {"access_token": value, "token_type": "bearer", "expires_in": SHORT_LIVED}

    def _need(self, token: Token, scope: str) -> None:
        if "*" not in token.scopes and scope not in token.scopes:
            raise GraphError(
                403 if token.kind == "page" else 400,
                {
                    "message": f"(#200) Requires {scope} permission to manage the object",
                    "type": "OAuthException",
                    "code": 200,
                },
            )

    def _accounts(self, token: Token) -> dict[str, Any]:
        if token.kind != "user":
            raise _invalid("(#100) Tried accessing nonexisting field (accounts) on node type (Page)", 100)
        self._need(token, "pages_show_list")
        data = []
        lifetime = None if token.expires_at is None or token.expires_at - time.time() > DAY else SHORT_LIVED
        for page in list(self.pages.values()):
            if token.user_id in page.admins:
                page_token = self.issue(
                    token.user_id, page_id=page.id, lifetime=lifetime, scopes=",".join(token.scopes)
                )
                data.append(
                    {
                        "access_token": page_token,
                        "category": "Coffee Shop",
                        "name": page.name,
                        "id": page.id,
                        "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"],
                    }
                )
        return {"data": data, "paging": {"cursors": {"before": "QVFIUmJ", "after": "QVFIUmx"}}}

    def _page_fields(self, page: Page, token: Token, fields: str) -> dict[str, Any]:
        if not (token.page_id == page.id or (token.kind == "user" and token.user_id in page.admins)):
            raise _invalid("(#10) Permission denied", 10)
        out: dict[str, Any] = {"id": page.id}
        if "name" in fields:
            out["name"] = page.name
        if "link" in fields:
            out["link"] = f"https://www.facebook.com/{page.id}"
        if "instagram_business_account" in fields and page.ig_user_id:
            account = self.ig[page.ig_user_id]
            out["instagram_business_account"] = {"id": account.id, "username": account.username}
        return out

    # --- Facebook Pages

    def _page_token(self, page: Page, token: Token) -> None:
        if token.page_id != page.id:
            raise GraphError(
                403,
                {
                    "message": "(#200) If posting to a page, requires both pages_read_engagement and "
                    "pages_manage_posts as an admin with sufficient administrative permission",
                    "type": "OAuthException",
                    "code": 200,
                },
            )
        self._need(token, "pages_manage_posts")

    async def _fetch_image(self, url: str) -> tuple[Image.Image | None, int, str]:
        """The image at ``url`` as Meta's crawler gets it: (image or None, bytes, why not)."""
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            return None, 0, f"could not fetch ({type(exc).__name__})"
        if response.status_code != 200:
            return None, 0, f"HTTP {response.status_code}"
        try:
            image = Image.open(io.BytesIO(response.content))
            image.load()
        except Exception:
            return None, len(response.content), "not an image"
        return image, len(response.content), ""

    async def _photos(self, page: Page, token: Token, params: dict[str, str]) -> dict[str, Any]:
        self._page_token(page, token)
        url = params.get("url")
        if not url:
            raise _invalid("(#324) Requires upload file", 324)
        image, _, why = await self._fetch_image(url)
        if image is None:
            raise _invalid(f"(#324) Missing or invalid image file ({why})", 324)
        published = params.get("published", "true").lower() != "false"
        with self._lock:
            photo = Photo(self._id(), page.id, url, published)
            self.photos[photo.id] = photo
            if not published:
                return {"id": photo.id}
            post = Post(f"{page.id}_{photo.id}", page.id, params.get("caption", ""), None, [photo.id], time.time())
            photo.attached_to = post.id
            self.posts.append(post)
            return {"id": photo.id, "post_id": post.id}

    async def _feed(self, method: str, page: Page, token: Token, params: dict[str, str]) -> dict[str, Any]:
        if method == "GET":
            if not (token.page_id == page.id or (token.kind == "user" and token.user_id in page.admins)):
                raise _invalid("(#10) Permission denied", 10)
            limit = int(params.get("limit", "25"))
            with self._lock:
                posts = sorted((p for p in self.posts if p.page_id == page.id), key=lambda p: -p.created)[:limit]
            data = []
            for post in posts:
                item = {
                    "id": post.id,
                    "created_time": _graph_time(post.created),
                    "permalink_url": f"https://www.facebook.com/{post.id}",
                }
                if post.message:  # Graph leaves out fields a post doesn't have
                    item["message"] = post.message
                data.append(item)
            return {"data": data}
        self._page_token(page, token)
        attached = [v for k, v in sorted(params.items()) if k.startswith("attached_media[")]
        photo_ids = []
        with self._lock:
            for raw in attached:
                try:
                    photo_id = str(json.loads(raw)["media_fbid"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise _invalid("(#100) param attached_media must be an array of objects", 100) from exc
                photo = self.photos.get(photo_id)
                if photo is None or photo.page_id != page.id or photo.published or photo.attached_to:
                    raise _invalid(f"(#100) Invalid media_fbid {photo_id}", 100)
                photo_ids.append(photo_id)
            message, link = params.get("message", ""), params.get("link")
            if not message and not link and not photo_ids:
                raise _invalid("(#100) Missing message or attachment", 100)
            post = Post(f"{page.id}_{self._id()}", page.id, message, link, photo_ids, time.time())
            for photo_id in photo_ids:
                self.photos[photo_id].attached_to = post.id
            self.posts.append(post)
            return {"id": post.id}

    # --- Instagram

    def _may_use_ig(self, account: IGAccount, token: Token) -> None:
        page = self.pages[account.page_id]
        if not (token.page_id == page.id or (token.kind == "user" and token.user_id in page.admins)):
            raise _invalid("(#10) Application does not have permission for this action", 10)

    async def _create_container(self, account: IGAccount, params: dict[str, str]) -> dict[str, Any]:
        caption = params.get("caption", "")
        if len(caption) > 2200:
            raise _invalid("The caption is too long.", 100, 2207010)
        if params.get("media_type") == "CAROUSEL":
            children = [c for c in params.get("children", "").split(",") if c]
            if not 2 <= len(children) <= 10:
                raise _invalid("(#100) The carousel must have between 2 and 10 children.", 100, 2207025)
            with self._lock:
                for child in children:
                    item = self.containers.get(child)
                    if item is None or not item.carousel_item or item.ig_user_id != account.id:
                        raise _invalid(f"(#100) Invalid child {child}", 100, 2207008)
                bad = [self.containers[c] for c in children if self.containers[c].final == "ERROR"]
                final, reason = ("ERROR", bad[0].reason) if bad else ("FINISHED", "")
                container = Container(
                    self._id(), account.id, None, caption, False, children, final, reason, self._in_progress
                )
                self.containers[container.id] = container
            return {"id": container.id}
        url = params.get("image_url")
        if not url:
            raise _invalid("(#100) The parameter image_url is required", 100)
        image, size, why = await self._fetch_image(url)
        final, reason = "FINISHED", ""
        if image is None:
            final, reason = (
                "ERROR",
                f"Error: Media download has failed. The media URI doesn't meet our requirements ({why}).",
            )
        elif image.format != "JPEG":
            final, reason = "ERROR", "Error: The image format is not supported. Only JPEG is."
        elif not 0.8 <= image.width / image.height <= 1.91:
            final, reason = "ERROR", "Error: The submitted image with aspect ratio isn't supported."
        carousel_item = params.get("is_carousel_item", "false").lower() == "true"
        with self._lock:
            container = Container(
                self._id(),
                account.id,
                url,
                "" if carousel_item else caption,
                carousel_item,
                [],
                final,
                reason,
                self._in_progress,
                fetched=size,
            )
            self.containers[container.id] = container
        return {"id": container.id}

    def _status(self, container: Container) -> dict[str, Any]:
        with self._lock:
            if container.status_code == "IN_PROGRESS":
                if container.polls_left > 0:
                    container.polls_left -= 1
                else:
                    container.status_code = container.final
            code = container.status_code
            status = {
                "IN_PROGRESS": "In Progress: Media is still being processed.",
                "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
                "PUBLISHED": "Published: Media has been successfully published.",
                "EXPIRED": "Expired: Media was not published within 24 hours.",
                "ERROR": container.reason,
            }[code]
            return {"status_code": code, "status": status, "id": container.id}

    def _usage(self, account: IGAccount) -> int:
        now = time.time()
        return self._quota_extra + sum(1 for m in self.media if m.ig_user_id == account.id and m.created > now - DAY)

    def _limit(self, account: IGAccount) -> dict[str, Any]:
        with self._lock:
            entry: dict[str, Any] = {"quota_usage": self._usage(account)}
            if self._quota_total is not None:
                entry["config"] = {"quota_total": self._quota_total, "quota_duration": DAY}
            return {"data": [entry]}

    def _publish(self, account: IGAccount, params: dict[str, str]) -> dict[str, Any]:
        creation = params.get("creation_id", "")
        with self._lock:
            container = self.containers.get(creation)
            if container is None or container.ig_user_id != account.id or container.carousel_item:
                raise _invalid("(#100) Param creation_id must be a valid media container", 100)
            if container.status_code == "EXPIRED":
                status, error, _ = ERRORS["container_expired"]
                raise GraphError(status, dict(error))
            if container.status_code == "PUBLISHED":
                raise _invalid("The media has already been published.", 9007, 2207006)
            if container.status_code != "FINISHED":
                raise _invalid("Media ID is not available", 9007, 2207027)
            total = self._quota_total if self._quota_total is not None else 50
            if self._usage(account) >= total:
                status, error, _ = ERRORS["daily_limit"]
                raise GraphError(status, dict(error))
            media = IGMedia(self._id(), account.id, container.caption, container.id, container.children, time.time())
            media.permalink = f"https://www.instagram.com/p/{secrets.token_urlsafe(8)}/"
            container.status_code = "PUBLISHED"
            self.media.append(media)
            return {"id": media.id}

    def _list_media(self, account: IGAccount, params: dict[str, str]) -> dict[str, Any]:
        limit = int(params.get("limit", "25"))
        with self._lock:
            items = sorted((m for m in self.media if m.ig_user_id == account.id), key=lambda m: -m.created)[:limit]
            return {
                "data": [
                    {"id": m.id, "caption": m.caption, "permalink": m.permalink, "timestamp": _graph_time(m.created)}
                    for m in items
                ]
            }


class ImageHost:
    """Herald's signed media links, for the tests: serves images by ref and counts each fetch."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.fetches: dict[str, int] = defaultdict(int)
        app = FastAPI()

        @app.get("/media/{ref}")
        async def serve(ref: str) -> Response:
            self.fetches[ref] += 1
            if ref not in self.files:
                return JSONResponse({"detail": "Not Found"}, status_code=404)
            data, content_type = self.files[ref]
            return Response(data, media_type=content_type)

        self._served = ServedApp(app, name="image-host")

    def __enter__(self) -> ImageHost:
        self._served.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._served.stop()

    def add(self, data: bytes, content_type: str = "image/jpeg") -> str:
        ref = secrets.token_hex(6)
        self.files[ref] = (data, content_type)
        return ref

    async def read(self, ref: str) -> MediaFile:
        data, content_type = self.files[ref]
        return MediaFile(ref=ref, data=data, content_type=content_type)

    def public_url(self, ref: str, ttl: timedelta = timedelta(hours=24)) -> str:
        return f"{self._served.url}/media/{ref}?expires={int(time.time() + ttl.total_seconds())}&sig=test"


def image(width: int = 200, height: int = 200, kind: str = "JPEG") -> bytes:
    """A real small image made with Pillow."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(out, kind)
    return out.getvalue()


__all__ = ["ERRORS", "ImageHost", "MetaGraph", "image"]
