"""FakeThreads: graph.threads.net and the Threads authorization window on 127.0.0.1, from Threads' docs.

Served with :class:`~tests.fakes.server.ServedApp`; point ``THREADS_API_URL`` at ``served.url`` and
``THREADS_AUTHORIZE_URL`` at ``served.url + "/oauth/authorize"``.

Tokens (the fake's clock is ``time.time() + offset``; :meth:`FakeThreads.advance` moves it)::

    GET  /oauth/authorize          client_id, redirect_uri, scope (comma-separated), response_type=code, state
                                   → 302 redirect_uri?code=…&state=…
    POST /oauth/access_token       form: client_id, client_secret, grant_type=authorization_code, redirect_uri, code
                                   → {"access_token": <1-hour token>, "user_id": <int>}; a bad code, client or
                                   secret → 400 {"error_type": "OAuthException", "code": 400, "error_message": …}
    GET  /access_token             grant_type=th_exchange_token, client_secret, access_token=<short-lived>
                                   → {"access_token": <60-day token>, "token_type": "bearer", "expires_in": 5183944}
    GET  /refresh_access_token     grant_type=th_refresh_token, access_token=<long-lived, ≥ 24 h old, unexpired>
                                   → a new 60-day token; with ``rotate`` (default) the old one stops working

Graph (``/{version}/…``; the token in ``access_token``, query or form; a bad one → 400 code 190)::

    GET  /me?fields=id,username,threads_profile_picture_url
    POST /{user}/threads           media_type TEXT (text) | IMAGE (image_url[, is_carousel_item]) |
                                   CAROUSEL (children: 2–20 FINISHED carousel items); text ≤ 500 (emoji = UTF-8
                                   bytes), ≤ 5 distinct links → {"id"}. IMAGE: the fake GETs image_url at once; a
                                   failed fetch or a body that isn't PNG/JPEG puts the container in ERROR.
    GET  /{container}?fields=status,error_message   IN_PROGRESS for ``in_progress_polls`` looks, then FINISHED
                                   (or ERROR); EXPIRED once :meth:`expire_container`; PUBLISHED once published
    POST /{user}/threads_publish   creation_id → {"id"}; a container not FINISHED → 400 code 24/4279009; over
                                   ``quota_total`` posts in 24 h → 400 code 9/2207042
    GET  /{media}?fields=…         id, text, permalink, timestamp, media_type, username
    GET  /{user}/threads?fields=…&limit=&since=&after=   newest first, with ``paging.cursors``/``paging.next``
    GET  /{user}/threads_publishing_limit?fields=quota_usage,config
         → {"data": [{"quota_usage": n, "config": {"quota_total": 250, "quota_duration": 86400}}]}

Failures on demand (:meth:`FakeThreads.fail`): the next request(s) to an endpoint answer ``rate_limit``
(400 code 4), ``server_error`` (500 code 2, is_transient), ``expired`` (400 code 190/463), ``reject``
(400 code 100), or ``hang`` (the request takes effect, the answer comes only after ``hang_seconds``).
Every method is thread-safe: call it from the test while the server runs.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

import httpx
import regex
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.oauth import AuthorizationCodes, OAuthError

SHORT_LIVED: Final = 3600
LONG_LIVED: Final = 5_183_944  # the docs' example expires_in
REFRESH_AGE: Final = 86_400
ENDPOINTS: Final = ("container", "status", "publish", "media", "list", "quota", "me", "exchange", "refresh")
_CLUSTER = regex.compile(r"\X")
_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}]")
_URL = regex.compile(r"(?:https?://|www\.)[^\s<>\"]+", regex.IGNORECASE)


@dataclass
class Token:
    value: str
    user_id: str
    kind: str  # "short" | "long"
    issued_at: float
    expires_at: float
    revoked: bool = False


@dataclass
class Container:
    id: str
    user_id: str
    media_type: str
    text: str
    image_url: str | None = None
    carousel_item: bool = False
    children: list[str] = field(default_factory=list)
    polls_left: int = 0
    outcome: str = "FINISHED"  # what it becomes once polls_left is spent: FINISHED or ERROR
    error_message: str | None = None
    expired: bool = False
    published: bool = False


@dataclass
class Post:
    id: str
    user_id: str
    container: str
    text: str
    media_type: str
    timestamp: float
    permalink: str
    image_urls: list[str]


class FakeThreads:
    """The fake's state and its control API; :attr:`app` is the FastAPI app to serve."""

    def __init__(
        self,
        *,
        app_id: str = "990602627938098",
        app_secret: str = "threads-app-secret",
        user_id: str = "17841400000000001",
        username: str = "acme",
        version: str = "v1.0",
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.user_id = user_id
        self.username = username
        self.version = version
        self.url = ""  # where it is served (set by the test)
        self.codes = AuthorizationCodes(app_id)
        self.rotate = True
        self.in_progress_polls = 0
        self.quota_total = 250
        self.quota_duration = 86_400
        self.hang_seconds = 3.0
        self.offset = 0.0
        self.tokens: dict[str, Token] = {}
        self.containers: dict[str, Container] = {}
        self.posts: list[Post] = []  # oldest first
        self.fetches: list[tuple[str, int | None]] = []  # (image_url, HTTP status or None when unreachable)
        self.publish_attempts = 0
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self._failures: dict[str, list[str]] = {}
        self._ids = itertools.count(18_000_000_000_000_001)
        self._lock = threading.Lock()
        self.app = self._build()

    # --- control API

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.offset += seconds

    def issue_token(self, *, kind: str = "long", age: float = 0.0, user_id: str | None = None) -> str:
        """A token as the platform would have issued it ``age`` seconds ago."""
        with self._lock:
            return self._issue(user_id or self.user_id, kind, self.now() - age).value

    def expire_token(self, token: str) -> None:
        with self._lock:
            self.tokens[token].expires_at = self.now() - 1

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self.tokens[token].revoked = True

    def fail(self, endpoint: str, *modes: str) -> None:
        """The next ``len(modes)`` requests to ``endpoint`` (one of :data:`ENDPOINTS`) fail as named."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        with self._lock:
            self._failures.setdefault(endpoint, []).extend(modes)

    def expire_container(self, container: str) -> None:
        with self._lock:
            self.containers[container].expired = True

    def seed_posts(self, *ages: float, text: str = "earlier post") -> None:
        """Posts published through the API ``age`` seconds ago (they count against the quota)."""
        with self._lock:
            for age in sorted(ages, reverse=True):
                self._record(Container(self._id(), self.user_id, "TEXT", text), self.now() - age)

    @property
    def published(self) -> list[Post]:
        with self._lock:
            return list(self.posts)

    # --- state (under the lock)

    def _id(self) -> str:
        return str(next(self._ids))

    def _issue(self, user_id: str, kind: str, issued_at: float) -> Token:
        life = SHORT_LIVED if kind == "short" else LONG_LIVED
        prefix = "THAA" if kind == "short" else "THLL"
        token = Token(prefix + secrets.token_urlsafe(24), user_id, kind, issued_at, issued_at + life)
        self.tokens[token.value] = token
        return token

    def _record(self, container: Container, at: float) -> Post:
        post_id = self._id()
        shortcode = secrets.token_urlsafe(8).replace("-", "a").replace("_", "b")
        urls = [self.containers[c].image_url or "" for c in container.children] or (
            [container.image_url] if container.image_url else []
        )
        post = Post(
            post_id,
            container.user_id,
            container.id,
            container.text,
            {"TEXT": "TEXT_POST", "CAROUSEL": "CAROUSEL_ALBUM"}.get(container.media_type, container.media_type),
            at,
            f"https://www.threads.net/@{self.username}/post/{shortcode}",
            urls,
        )
        container.published = True
        self.posts.append(post)
        return post

    def _failure(self, endpoint: str) -> str | None:
        with self._lock:
            queue = self._failures.get(endpoint)
            return queue.pop(0) if queue else None

    def _status(self, container: Container, *, look: bool) -> str:
        if container.published:
            return "PUBLISHED"
        if container.expired:
            return "EXPIRED"
        if container.polls_left > 0:
            if look:
                container.polls_left -= 1
            return "IN_PROGRESS"
        return container.outcome

    # --- the app

    def _build(self) -> FastAPI:
        app = FastAPI()
        v = f"/{self.version}"

        @app.middleware("http")
        async def log_requests(request: Request, call_next: Any) -> Response:
            with self._lock:
                self.requests.append((request.method, request.url.path))
            response: Response = await call_next(request)
            return response

        @app.get("/oauth/authorize")
        async def authorize(request: Request) -> Response:
            return self.codes.authorize(dict(request.query_params))

        @app.post("/oauth/access_token")
        async def code_exchange(request: Request) -> Response:
            params = await _params(request)
            if params.get("grant_type") != "authorization_code":
                return _oauth_error("Invalid grant_type")
            if params.get("client_secret") != self.app_secret:
                return _oauth_error("Error validating client secret.")
            try:
                self.codes.redeem(params)
            except OAuthError as exc:
                return _oauth_error(exc.description)
            with self._lock:
                token = self._issue(self.user_id, "short", self.now())
            return JSONResponse({"access_token": token.value, "user_id": int(self.user_id)})

        @app.get("/access_token")
        async def exchange(request: Request) -> Response:
            params = dict(request.query_params)
            if (mode := self._failure("exchange")) is not None:
                return await self._failed(mode)
            if params.get("grant_type") != "th_exchange_token":
                return _graph_error("Unsupported grant_type", code=100)
            if params.get("client_secret") != self.app_secret:
                return _graph_error("Error validating client secret.", code=1, subcode=None)
            with self._lock:
                token, problem = self._valid(params.get("access_token"))
                if token is None:
                    return problem
                if token.kind != "short":
                    return _graph_error("Only a short-lived token can be exchanged.", code=100)
                long = self._issue(token.user_id, "long", self.now())
            return JSONResponse({"access_token": long.value, "token_type": "bearer", "expires_in": LONG_LIVED})

        @app.get("/refresh_access_token")
        async def refresh(request: Request) -> Response:
            params = dict(request.query_params)
            if (mode := self._failure("refresh")) is not None:
                return await self._failed(mode)
            if params.get("grant_type") != "th_refresh_token":
                return _graph_error("Unsupported grant_type", code=100)
            with self._lock:
                token, problem = self._valid(params.get("access_token"))
                if token is None:
                    return problem
                if token.kind != "long":
                    return _graph_error("Only a long-lived token can be refreshed.", code=190)
                if self.now() - token.issued_at < REFRESH_AGE:
                    return _graph_error("The token must be at least 24 hours old to be refreshed.", code=100)
                fresh = self._issue(token.user_id, "long", self.now())
                if self.rotate:
                    token.revoked = True
            return JSONResponse({"access_token": fresh.value, "token_type": "bearer", "expires_in": LONG_LIVED})

        @app.get(v + "/me")
        async def me(request: Request) -> Response:
            params = dict(request.query_params)
            if (mode := self._failure("me")) is not None:
                return await self._failed(mode)
            with self._lock:
                token, problem = self._valid(params.get("access_token"))
                if token is None:
                    return problem
            return JSONResponse(
                _fields(
                    {
                        "id": token.user_id,
                        "username": self.username,
                        "threads_profile_picture_url": f"https://scontent.example/{self.username}.jpg",
                    },
                    params.get("fields"),
                )
            )

        @app.post(v + "/{user_id}/threads")
        async def create(user_id: str, request: Request) -> Response:
            params = await _params(request)
            if (mode := self._failure("container")) is not None:
                return await self._failed(mode)
            with self._lock:
                token, problem = self._valid(params.get("access_token"), user_id)
                if token is None:
                    return problem
            checked = self._check_container(user_id, params)
            if isinstance(checked, Response):
                return checked
            if checked.image_url is not None:
                fetched = await self._fetch(checked.image_url)
                if fetched is not None:
                    checked.outcome, checked.error_message = "ERROR", fetched
            with self._lock:
                checked.polls_left = self.in_progress_polls
                self.containers[checked.id] = checked
            return JSONResponse({"id": checked.id})

        @app.post(v + "/{user_id}/threads_publish")
        async def publish(user_id: str, request: Request) -> Response:
            params = await _params(request)
            mode = self._failure("publish")
            if mode is not None and mode != "hang":
                return await self._failed(mode)
            with self._lock:
                self.publish_attempts += 1
                token, problem = self._valid(params.get("access_token"), user_id)
                if token is None:
                    return problem
                container = self.containers.get(params.get("creation_id", ""))
                if container is None or container.user_id != user_id or container.carousel_item:
                    return _graph_error(
                        "The requested resource does not exist", code=24, subcode=4279009, title="Media Not Found"
                    )
                status = self._status(container, look=False)
                if status == "PUBLISHED":
                    return _graph_error("This media has already been published.", code=100)
                if status != "FINISHED":
                    return _graph_error(
                        "The requested resource does not exist", code=24, subcode=4279009, title="Media Not Found"
                    )
                recent = [
                    p for p in self.posts if p.user_id == user_id and p.timestamp > self.now() - self.quota_duration
                ]
                if len(recent) >= self.quota_total:
                    return _graph_error(
                        "Application request limit reached", code=9, subcode=2207042, title="Publishing limit reached"
                    )
                post = self._record(container, self.now())
            if mode == "hang":
                await asyncio.sleep(self.hang_seconds)
            return JSONResponse({"id": post.id})

        @app.get(v + "/{user_id}/threads_publishing_limit")
        async def quota(user_id: str, request: Request) -> Response:
            params = dict(request.query_params)
            if (mode := self._failure("quota")) is not None:
                return await self._failed(mode)
            with self._lock:
                token, problem = self._valid(params.get("access_token"), user_id)
                if token is None:
                    return problem
                since = self.now() - self.quota_duration
                usage = sum(1 for p in self.posts if p.user_id == user_id and p.timestamp > since)
                row = {
                    "quota_usage": usage,
                    "config": {"quota_total": self.quota_total, "quota_duration": self.quota_duration},
                }
            return JSONResponse({"data": [_fields(row, params.get("fields"))]})

        @app.get(v + "/{user_id}/threads")
        async def listing(user_id: str, request: Request) -> Response:
            params = dict(request.query_params)
            if (mode := self._failure("list")) is not None:
                return await self._failed(mode)
            with self._lock:
                token, problem = self._valid(params.get("access_token"), user_id)
                if token is None:
                    return problem
                since = float(params.get("since") or 0)
                posts = [p for p in reversed(self.posts) if p.user_id == user_id and p.timestamp >= since]
            limit = min(int(params.get("limit") or 25), 100)
            start = int(params.get("after") or 0)
            page = posts[start : start + limit]
            body: dict[str, Any] = {"data": [_fields(self._media(p), params.get("fields")) for p in page]}
            if page:
                body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
                if start + len(page) < len(posts):
                    following = {**params, "after": str(start + len(page))}
                    body["paging"]["next"] = (
                        f"{request.base_url}{self.version}/{user_id}/threads?{urlencode(following)}"
                    )
            return JSONResponse(body)

        @app.get(v + "/{object_id}")
        async def read(object_id: str, request: Request) -> Response:
            params = dict(request.query_params)
            with self._lock:
                token, problem = self._valid(params.get("access_token"))
                if token is None:
                    return problem
                container = self.containers.get(object_id)
                post = next((p for p in self.posts if p.id == object_id), None)
            endpoint = "status" if container is not None else "media"
            if (mode := self._failure(endpoint)) is not None:
                return await self._failed(mode)
            if container is not None and container.user_id == token.user_id:
                with self._lock:
                    status = self._status(container, look=True)
                row: dict[str, Any] = {"id": container.id, "status": status}
                if status == "ERROR":
                    row["error_message"] = container.error_message or "UNKNOWN"
                return JSONResponse(_fields(row, params.get("fields")))
            if post is not None and post.user_id == token.user_id:
                return JSONResponse(_fields(self._media(post), params.get("fields")))
            return _graph_error(
                f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                code=100,
                subcode=33,
            )

        return app

    def _media(self, post: Post) -> dict[str, Any]:
        return {
            "id": post.id,
            "media_product_type": "THREADS",
            "media_type": post.media_type,
            "text": post.text,
            "permalink": post.permalink,
            "username": self.username,
            "timestamp": datetime.fromtimestamp(post.timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "shortcode": post.permalink.rsplit("/", 1)[-1],
        }

    def _valid(self, value: str | None, user_id: str | None = None) -> tuple[Token | None, Response]:
        """The token named by ``value`` (under the lock), or the error Graph gives for it."""
        token = self.tokens.get(value or "")
        if token is None or token.revoked:
            return None, _graph_error("Invalid OAuth access token - Cannot parse access token", code=190)
        if token.expires_at <= self.now():
            when = datetime.fromtimestamp(token.expires_at, UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")
            message = f"Error validating access token: Session has expired on {when}."
            return None, _graph_error(message, code=190, subcode=463)
        if user_id is not None and user_id not in (token.user_id, "me"):
            return None, _graph_error(
                f"Unsupported post request. Object with ID '{user_id}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                code=100,
                subcode=33,
            )
        return token, Response()

    def _check_container(self, user_id: str, params: dict[str, str]) -> Container | Response:
        """A new container from the parameters, or Graph's error for them (as Threads validates them)."""
        media_type = params.get("media_type", "")
        text = params.get("text", "")
        carousel_item = params.get("is_carousel_item", "false").lower() == "true"
        if media_type not in ("TEXT", "IMAGE", "VIDEO", "CAROUSEL"):
            return _graph_error("Param media_type must be one of {TEXT, IMAGE, VIDEO, CAROUSEL}", code=100)
        if _length(text) > 500:
            return _graph_error("Param text must be at most 500 characters long.", code=100)
        if len({m.group().rstrip(".,:;!?'\")]}").lower() for m in _URL.finditer(text)}) > 5:
            return _graph_error(
                "THREADS_API__LINK_LIMIT_EXCEEDED",
                code=100,
                title="Too many links",
                user="Posts can have 5 links at most.",
            )
        container = Container(self._id(), user_id, media_type, text, carousel_item=carousel_item)
        if media_type == "TEXT":
            if not text or carousel_item:
                return _graph_error("Param text is required for media_type=TEXT", code=100)
        elif media_type == "IMAGE":
            if not params.get("image_url"):
                return _graph_error("Param image_url is required for media_type=IMAGE", code=100)
            container.image_url = params["image_url"]
        elif media_type == "VIDEO":
            return _graph_error("The fake doesn't do videos.", code=100)
        else:
            children = [c for c in params.get("children", "").split(",") if c]
            if not 2 <= len(children) <= 20 or carousel_item:
                return _graph_error("A carousel needs between 2 and 20 children.", code=100)
            with self._lock:
                for child in children:
                    item = self.containers.get(child)
                    if item is None or item.user_id != user_id or not item.carousel_item:
                        return _graph_error(f"Carousel child {child} is not a carousel item.", code=100)
                    if self._status(item, look=False) != "FINISHED":
                        return _graph_error(f"Carousel child {child} is not ready.", code=100, subcode=4279009)
            container.children = children
        return container

    async def _fetch(self, url: str) -> str | None:
        """GET the image as Threads would; None when it is a PNG or JPEG, else the container's error_message."""
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(url)
        except httpx.HTTPError:
            with self._lock:
                self.fetches.append((url, None))
            return "FAILED_DOWNLOADING_IMAGE"
        with self._lock:
            self.fetches.append((url, response.status_code))
        if response.status_code != 200:
            return "FAILED_DOWNLOADING_IMAGE"
        if not response.content.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
            return "UNKNOWN"
        return None

    async def _failed(self, mode: str) -> Response:
        if mode == "rate_limit":
            return _graph_error("(#4) Application request limit reached", code=4, transient=True)
        if mode == "server_error":
            return _graph_error(
                "An unexpected error has occurred. Please retry your request later.", code=2, transient=True, status=500
            )
        if mode == "expired":
            return _graph_error("Error validating access token: Session has expired.", code=190, subcode=463)
        if mode == "reject":
            return _graph_error("Invalid parameter", code=100, user="The post can't be published.")
        if mode == "hang":
            await asyncio.sleep(self.hang_seconds)
            return _graph_error("An unexpected error has occurred.", code=2, transient=True, status=500)
        raise ValueError(f"unknown failure {mode!r}")


async def _params(request: Request) -> dict[str, str]:
    """Graph takes parameters in the query string or a form body alike."""
    params = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params |= dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    return params


def _fields(row: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Graph answers the fields asked for (and ``id``)."""
    if not fields:
        return {"id": row["id"]} if "id" in row else row
    wanted = {f.strip() for f in fields.split(",")} | {"id"}
    return {k: v for k, v in row.items() if k in wanted}


def _length(text: str) -> int:
    return sum(len(c.encode()) if _EMOJI.search(c) else 1 for c in _CLUSTER.findall(text))


def _graph_error(
    message: str,
    *,
    code: int,
    subcode: int | None = None,
    title: str | None = None,
    user: str | None = None,
    transient: bool = False,
    status: int = 400,
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["is_transient"] = transient
    if title is not None:
        error["error_user_title"] = title
    if user is not None:
        error["error_user_msg"] = user
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return JSONResponse({"error": error}, status_code=status)


def _oauth_error(message: str) -> JSONResponse:
    return JSONResponse({"error_type": "OAuthException", "code": 400, "error_message": message}, status_code=400)
