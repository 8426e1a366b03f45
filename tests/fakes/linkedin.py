"""FakeLinkedIn: LinkedIn's OAuth, userinfo, organization ACLs, Images and Posts APIs on 127.0.0.1.

Written from LinkedIn's documentation and its real error bodies, not from Herald's client:

* ``GET /oauth/v2/authorization`` consents at once (:class:`tests.fakes.oauth.AuthorizationCodes`, no PKCE: LinkedIn
  offers it only to native apps); ``POST /oauth/v2/accessToken`` (form, ``client_id`` + ``client_secret`` in the
  body) answers ``{"access_token", "expires_in": 5184000, "scope"}`` plus ``refresh_token`` and
  ``refresh_token_expires_in`` when the fake plays a partner app (``refresh_tokens=True``). A refresh gives a new
  refresh token, invalidates the old one, and keeps the refresh token's original expiry (LinkedIn's TTL is fixed).
  ``POST /oauth/v2/revoke`` (form ``client_id``, ``client_secret``, ``token``).
* ``GET /v2/userinfo`` (OpenID Connect: ``openid`` + ``profile``) → ``{"sub", "name", "given_name", …}``.
* Every ``/rest`` call needs ``LinkedIn-Version`` (an active YYYYMM, else 426 ``NONEXISTENT_VERSION``) and, for
  the calls below, ``X-Restli-Protocol-Version: 2.0.0``.
* ``GET /rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED`` (``rw_organization_admin``),
  ``GET /rest/organizations/{id}`` → ``localizedName``, ``vanityName``.
* ``POST /rest/images?action=initializeUpload`` ``{"initializeUploadRequest": {"owner"}}`` → an ``uploadUrl`` on
  the fake (``PUT`` the bytes there, with the Bearer token) and an ``urn:li:image:…``.
* ``POST /rest/posts``: the author must be the token's member (``w_member_social``) or a page they administer
  (``w_organization_social``), else 403 ``ACCESS_DENIED``; images must have been uploaded (PUT received) by that
  author; commentary ≤ 3000; the same author and commentary again → 422 ``DUPLICATE_POST``; a member's daily
  limit → 429. Success: 201, empty body, the post's URN in ``x-restli-id``.
* ``GET /rest/posts?author=…&q=author&count=N``: a page's posts need ``r_organization_social``; a member's need
  ``r_member_social`` (LinkedIn keeps it for partners).

Control (thread-safe, from the test thread): :meth:`FakeLinkedIn.fail_next`, :meth:`hang_posts`,
:meth:`expire`, :meth:`grant`, ``daily_limit``, ``active_versions``, and the records ``posts``, ``uploads``,
``initialized``, ``requests``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.oauth import AuthorizationCodes, OAuthError
from tests.fakes.server import ServedApp

CLIENT_ID: Final = "li-client"
CLIENT_SECRET: Final = "li-secret"
ACCESS_TTL: Final = 5_184_000  # 60 days
REFRESH_TTL: Final = 31_536_000  # 365 days
ACTIVE_VERSIONS: Final = frozenset({"202601", "202602", "202603", "202604", "202605", "202606", "202607", "202608"})
MAX_COMMENTARY: Final = 3000
PERSON: Final = "A1b2C3"  # the default member's id
IMAGE_MAGIC: Final = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
_RESERVED: Final = set("\\|{}@[]()<>#*_~")
_HASHTAG: Final = re.compile(r"(?<![\\\w#])#(\w+)")


def error(status: int, message: str, *, code: str | None = None, service: int | None = None) -> JSONResponse:
    """LinkedIn's error body: ``{"status", "serviceErrorCode"?, "code"?, "message"}``."""
    body: dict[str, Any] = {"status": status}
    if service is not None:
        body["serviceErrorCode"] = service
    if code is not None:
        body["code"] = code
    body["message"] = message
    return JSONResponse(body, status_code=status)


def unescape(little: str) -> str:
    """What a reader sees of "little" text: each backslash escape is the character itself."""
    out, it = [], iter(little)
    for ch in it:
        out.append(next(it, "") if ch == "\\" else ch)
    return "".join(out)


def unescaped_reserved(little: str) -> set[str]:
    """Reserved characters left unescaped (``#`` starting a hashtag is markup, so allowed)."""
    found, i = set(), 0
    while i < len(little):
        ch = little[i]
        if ch == "\\":
            i += 2
            continue
        if ch in _RESERVED and not (ch == "#" and i + 1 < len(little) and little[i + 1].isalnum()):
            found.add(ch)
        i += 1
    return found


@dataclass
class Token:
    person: str
    scopes: frozenset[str]
    expires_at: float
    refresh_token: str | None = None


@dataclass
class Image:
    urn: str
    owner: str
    upload_id: str
    data: bytes | None = None
    content_type: str | None = None


@dataclass
class Org:
    id: str
    name: str
    vanity: str
    admins: set[str] = field(default_factory=set)


@dataclass
class Failure:
    path: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class FakeLinkedIn:
    """The fake, served over HTTP; use as a context manager. ``url`` is both the API and the auth host."""

    def __init__(self, *, refresh_tokens: bool = False) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.refresh_tokens_default = refresh_tokens
        self.app = self._build()
        self.served = ServedApp(self.app, name="fake-linkedin")
        self.reset()

    # --- lifecycle

    @property
    def url(self) -> str:
        return self.served.url

    @property
    def auth_url(self) -> str:
        return f"{self.url}/oauth/v2"

    def __enter__(self) -> FakeLinkedIn:
        self.served.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release.set()
        self.served.stop()

    def reset(self) -> None:
        """Everything back to one member (Ada Lovelace, ``PERSON``), two pages she administers and one she
        doesn't; held requests are let go."""
        self._release.set()
        with self._lock:
            self.codes = AuthorizationCodes(CLIENT_ID)
            self.refresh_tokens = self.refresh_tokens_default
            self.people: dict[str, str] = {PERSON: "Ada Lovelace", "Zz9": "Charles Babbage"}
            self.orgs: dict[str, Org] = {
                "2414183": Org("2414183", "Acme Coffee", "acme-coffee", {PERSON}),
                "777": Org("777", "Analytical Engines", "engines", {PERSON}),
                "999": Org("999", "Someone Else Inc", "else", {"Zz9"}),
            }
            self.tokens: dict[str, Token] = {}
            self.refresh: dict[str, tuple[str, frozenset[str], float]] = {}  # token → person, scopes, expiry
            self.images: dict[str, Image] = {}
            self.posts: list[dict[str, Any]] = []
            self.initialized: list[str] = []  # owners, one per initializeUpload
            self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path+query, headers
            self.revoked: list[str] = []
            self.failures: list[Failure] = []
            self.daily_limit: int | None = None
            self.active_versions: set[str] = set(ACTIVE_VERSIONS)
            self.hang = False
            self._next = 7_100_000_000_000_000_000
        self._release = threading.Event()

    # --- control

    def grant(
        self, person: str = PERSON, scopes: str = "openid profile w_member_social", *, refresh: bool = False
    ) -> tuple[str, str | None]:
        """A token as if the member had just connected: (access token, refresh token or None)."""
        access = f"AQ{secrets.token_urlsafe(24)}"
        rt = f"AQR{secrets.token_urlsafe(24)}" if refresh else None
        with self._lock:
            self.tokens[access] = Token(person, frozenset(scopes.split()), time.time() + ACCESS_TTL, rt)
            if rt:
                self.refresh[rt] = (person, frozenset(scopes.split()), time.time() + REFRESH_TTL)
        return access, rt

    def expire(self, token: str) -> None:
        with self._lock:
            self.tokens[token].expires_at = time.time() - 1

    def fail_next(self, path: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        """The next request to ``path`` (after the auth and version checks) gets this answer instead."""
        with self._lock:
            self.failures.append(Failure(path, status, body, headers or {}))

    def hang_posts(self) -> None:
        """Create the next posts, then answer nothing until ``reset()`` (the client times out)."""
        with self._lock:
            self.hang = True

    def release(self) -> None:
        """Stop hanging: held requests get their (late) 503, later posts are answered again; records are kept."""
        with self._lock:
            self.hang = False
            release, self._release = self._release, threading.Event()
        release.set()

    def next_urn(self, kind: str) -> str:
        with self._lock:
            self._next += 1
            return f"urn:li:{kind}:{self._next}"

    # --- helpers for the endpoints

    def _failure(self, path: str) -> JSONResponse | None:
        with self._lock:
            for i, f in enumerate(self.failures):
                if f.path == path:
                    del self.failures[i]
                    return JSONResponse(f.body, status_code=f.status, headers=f.headers)
        return None

    def _auth(self, request: Request) -> Token | JSONResponse:
        header = request.headers.get("authorization", "")
        token = self.tokens.get(header.removeprefix("Bearer ").strip()) if header.startswith("Bearer ") else None
        if token is None:
            return error(401, "Invalid access token", service=65600)
        if token.expires_at <= time.time():
            return error(401, "The token used in the request has expired", service=65601)
        return token

    def _versioned(self, request: Request, *, restli: bool = True) -> JSONResponse | None:
        version = request.headers.get("linkedin-version")
        if not version:
            return error(
                400,
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
                code="VERSION_MISSING",
            )
        if version not in self.active_versions:
            return error(426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION")
        if restli and request.headers.get("x-restli-protocol-version") != "2.0.0":
            return error(
                400, "Invalid Rest.li protocol version: send X-Restli-Protocol-Version: 2.0.0.", code="ILLEGAL_ARGUMENT"
            )
        return None

    def _may_act_as(self, token: Token, author: str, write: bool) -> str | None:
        """None when ``token`` may post (write) or read as ``author``; else the missing permission."""
        if author == f"urn:li:person:{token.person}":
            need = "w_member_social" if write else "r_member_social"
            return None if need in token.scopes else need
        if author.startswith("urn:li:organization:"):
            need = "w_organization_social" if write else "r_organization_social"
            org = self.orgs.get(author.rsplit(":", 1)[1])
            return None if org and token.person in org.admins and need in token.scopes else need
        return "w_member_social" if write else "r_member_social"

    # --- the app

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            query = f"?{request.url.query}" if request.url.query else ""
            with self._lock:
                self.requests.append((request.method, request.url.path + query, dict(request.headers)))
            response: Response = await call_next(request)
            return response

        @app.get("/oauth/v2/authorization")
        async def authorize(request: Request) -> Response:
            return self.codes.authorize(dict(request.query_params))

        @app.post("/oauth/v2/accessToken")
        async def access_token(request: Request) -> Response:
            if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                return JSONResponse(
                    {
                        "error": "invalid_request",
                        "error_description": "Content-Type must be application/x-www-form-urlencoded",
                    },
                    400,
                )
            form = await _form(request)
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return JSONResponse(
                    {"error": "invalid_client", "error_description": "Client authentication failed"}, 401
                )
            failed = self._failure("/oauth/v2/accessToken")
            if failed is not None:
                return failed
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                try:
                    grant = self.codes.redeem(form)
                except OAuthError as exc:
                    return JSONResponse({"error": exc.error, "error_description": exc.description}, 400)
                access, rt = self.grant(PERSON, grant.scope.replace(",", " "), refresh=self.refresh_tokens)
                body: dict[str, Any] = {
                    "access_token": access,
                    "expires_in": ACCESS_TTL,
                    "scope": grant.scope.replace(" ", ","),
                }
                if rt:
                    body |= {"refresh_token": rt, "refresh_token_expires_in": REFRESH_TTL}
                return JSONResponse(body)
            if grant_type == "refresh_token":
                with self._lock:
                    found = self.refresh.pop(form.get("refresh_token", ""), None)
                if found is None or found[2] <= time.time():
                    return JSONResponse(
                        {
                            "error": "invalid_grant",
                            "error_description": (
                                "The provided authorization grant or refresh token is invalid, expired or revoked."
                            ),
                        },
                        400,
                    )
                person, scopes, expiry = found
                access = f"AQ{secrets.token_urlsafe(24)}"
                rt = f"AQR{secrets.token_urlsafe(24)}"
                with self._lock:
                    self.tokens[access] = Token(person, scopes, time.time() + ACCESS_TTL, rt)
                    self.refresh[rt] = (person, scopes, expiry)  # the refresh token's life isn't extended
                return JSONResponse(
                    {
                        "access_token": access,
                        "expires_in": ACCESS_TTL,
                        "refresh_token": rt,
                        "refresh_token_expires_in": int(expiry - time.time()),
                        "scope": ",".join(sorted(scopes)),
                    }
                )
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": f"grant_type {grant_type!r}"}, 400
            )

        @app.post("/oauth/v2/revoke")
        async def revoke(request: Request) -> Response:
            form = await _form(request)
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return JSONResponse(
                    {"error": "invalid_client", "error_description": "Client authentication failed"}, 401
                )
            with self._lock:
                token = self.tokens.pop(form.get("token", ""), None)
                if token is not None:
                    self.revoked.append(form["token"])
            return Response(status_code=200)

        @app.get("/v2/userinfo")
        async def userinfo(request: Request) -> Response:
            token = self._auth(request)
            if isinstance(token, JSONResponse):
                return token
            if not {"openid", "profile"} <= token.scopes:
                return error(
                    403, "Not enough permissions to access: userinfo.GET.NO_VERSION", code="ACCESS_DENIED", service=100
                )
            name = self.people[token.person]
            given, _, family = name.partition(" ")
            return JSONResponse(
                {
                    "sub": token.person,
                    "email_verified": True,
                    "name": name,
                    "given_name": given,
                    "family_name": family,
                    "locale": {"country": "US", "language": "en"},
                    "picture": "https://media.licdn.com/dms/image/fake",
                }
            )

        @app.get("/v2/me")
        async def me(request: Request) -> Response:
            token = self._auth(request)
            if isinstance(token, JSONResponse):
                return token
            if not {"r_basicprofile", "r_liteprofile"} & token.scopes:
                return error(
                    403, "Not enough permissions to access: me.GET.NO_VERSION", code="ACCESS_DENIED", service=100
                )
            first, _, last = self.people[token.person].partition(" ")
            return JSONResponse(
                {
                    "id": token.person,
                    "localizedFirstName": first,
                    "localizedLastName": last,
                    "vanityName": f"{first}-{last}".lower(),
                    "localizedHeadline": "Analyst",
                }
            )

        @app.get("/rest/organizationAcls")
        async def organization_acls(request: Request) -> Response:
            token = self._auth(request)
            if isinstance(token, JSONResponse):
                return token
            refused = self._versioned(request)
            if refused is not None:
                return refused
            q = request.query_params
            if q.get("q") != "roleAssignee":
                return error(400, "Invalid finder: q must be roleAssignee or organization.", code="ILLEGAL_ARGUMENT")
            if "rw_organization_admin" not in token.scopes and "r_organization_admin" not in token.scopes:
                return error(
                    403,
                    "Not enough permissions to access: organizationAcls.FINDER-roleAssignee.20260701",
                    code="ACCESS_DENIED",
                    service=100,
                )
            role, state = q.get("role"), q.get("state")
            elements = [
                {
                    "roleAssignee": f"urn:li:person:{token.person}",
                    "state": "APPROVED",
                    "role": "ADMINISTRATOR",
                    "organization": f"urn:li:organization:{org.id}",
                }
                for org in self.orgs.values()
                if token.person in org.admins and role in (None, "ADMINISTRATOR") and state in (None, "APPROVED")
            ]
            return JSONResponse({"paging": {"count": 100, "start": 0, "links": []}, "elements": elements})

        @app.get("/rest/organizations/{org_id}")
        async def organization(org_id: str, request: Request) -> Response:
            token = self._auth(request)
            if isinstance(token, JSONResponse):
                return token
            refused = self._versioned(request, restli=False)
            if refused is not None:
                return refused
            org = self.orgs.get(org_id)
            if org is None:
                return error(404, f"Organization {org_id} not found", code="NOT_FOUND")
            return JSONResponse({"id": int(org.id), "localizedName": org.name, "vanityName": org.vanity})

        @app.post("/rest/images")
        async def initialize_upload(request: Request) -> Response:
            token = self._auth(request)
            if isinstance(token, JSONResponse):
                return token
            refused = self._versioned(request)
            if refused is not None:
                return refused
            if request.query_params.get("action") != "initializeUpload":
                return error(400, "Unknown action.", code="ILLEGAL_ARGUMENT")
            body = await request.json()
            owner = (body.get("initializeUploadRequest") or {}).get("owner") if isinstance(body, dict) else None
            if not isinstance(owner, str):
                return error(
                    422,
                    "ERROR :: /initializeUploadRequest/owner :: field is required but not found and has no default",
                )
            missing = self._may_act_as(token, owner, write=True)
            if missing:
                return error(
                    403,
                    f"Not enough permissions to access: images.ACTION-initializeUpload.20260701 ({missing})",
                    code="ACCESS_DENIED",
                    service=100,
                )
            failed = self._failure("/rest/images")
            if failed is not None:
                return failed
            urn = self.next_urn("image").replace(":image:", ":image:C4E")
            upload_id = secrets.token_urlsafe(12)
            with self._lock:
                self.images[urn] = Image(urn, owner, upload_id)
                self.initialized.append(owner)
            return JSONResponse(
                {
                    "value": {
                        "uploadUrlExpiresAt": int((time.time() + 3600) * 1000),
                        "uploadUrl": f"{self.url}/dms-uploads/{upload_id}/uploaded-image/0?ca=vector_feedshare",
                        "image": urn,
                    }
                }
            )

        @app.put("/dms-uploads/{upload_id}/uploaded-image/0")
        async def upload(upload_id: str, request: Request) -> Response:
            token = self._auth(request)
            if isinstance(token, JSONResponse):
                return token
            data = await request.body()
            image = next((i for i in self.images.values() if i.upload_id == upload_id), None)
            if image is None:
                return error(404, "Upload URL not found or expired.")
            if not data.startswith(IMAGE_MAGIC):
                return error(400, "The uploaded file is not a JPEG, PNG or GIF image.")
            with self._lock:
                image.data, image.content_type = data, request.headers.get("content-type")
            return Response(status_code=201)

        @app.post("/rest/posts")
        async def create_post(request: Request) -> Response:
            token = self._auth(request)
            if isinstance(token, JSONResponse):
                return token
            refused = self._versioned(request)
            if refused is not None:
                return refused
            failed = self._failure("/rest/posts")
            if failed is not None:
                return failed
            try:
                body = await request.json()
            except ValueError:
                return error(400, "Request body is not valid JSON.")
            problem = _invalid_post(body)
            if problem:
                return error(422, problem)
            author, commentary = body["author"], body.get("commentary", "")
            missing = self._may_act_as(token, author, write=True)
            if missing:
                return error(
                    403,
                    "Not enough permissions to access: partnerApiPostsExternal.CREATE.20260701",
                    code="ACCESS_DENIED",
                    service=100,
                )
            if len(unescape(commentary)) > MAX_COMMENTARY:
                return error(422, f"ERROR :: /commentary :: length of commentary exceeds {MAX_COMMENTARY}")
            for urn in _image_ids(body.get("content")):
                image = self.images.get(urn)
                if image is None or image.owner != author or image.data is None:
                    return error(
                        400, f"ERROR :: /content :: {urn} is not an uploaded image of {author}", code="ILLEGAL_ARGUMENT"
                    )
            with self._lock:
                same = next((p for p in self.posts if p["author"] == author and p["commentary"] == commentary), None)
                today = [
                    p for p in self.posts if p["author"] == author and p["createdAt"] > (time.time() - 86400) * 1000
                ]
                limited = self.daily_limit is not None and len(today) >= self.daily_limit
            if same is not None:
                return JSONResponse(
                    {
                        "errorDetailType": "com.linkedin.common.error.BadRequest",
                        "message": f"Content is a duplicate of {same['id']}",
                        "errorDetails": {
                            "inputErrors": [
                                {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
                            ]
                        },
                        "status": 422,
                    },
                    status_code=422,
                )
            if limited:
                return error(
                    429,
                    "Resource level throttle MEMBER DAY limit for calls to this resource is reached.",
                    code="TOO_MANY_REQUESTS",
                    service=101,
                )
            urn = self.next_urn("share")
            now_ms = int(time.time() * 1000)
            post = {**body, "id": urn, "createdAt": now_ms, "lastModifiedAt": now_ms, "publishedAt": now_ms}
            with self._lock:
                self.posts.append(post)
                hang, release = self.hang, self._release
            if hang:
                await asyncio.to_thread(release.wait, 30)
                return error(503, "Service unavailable")
            return Response(status_code=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})

        @app.get("/rest/posts")
        async def find_posts(request: Request) -> Response:
            token = self._auth(request)
            if isinstance(token, JSONResponse):
                return token
            refused = self._versioned(request)
            if refused is not None:
                return refused
            q = request.query_params
            author = q.get("author", "")
            if q.get("q") != "author" or not author.startswith("urn:li:"):
                return error(400, "Invalid finder: q=author needs an author URN.", code="ILLEGAL_ARGUMENT")
            if self._may_act_as(token, author, write=False):
                return error(
                    403,
                    "Not enough permissions to access: partnerApiPostsExternal.FINDER-author.20260701",
                    code="ACCESS_DENIED",
                    service=100,
                )
            count = int(q.get("count", "10"))
            with self._lock:
                mine = [p for p in self.posts if p["author"] == author]
            mine.sort(key=lambda p: p["lastModifiedAt"], reverse=True)
            # LinkedIn gives hashtags back as HashtagTemplates
            elements = [{**p, "commentary": _HASHTAG.sub(r"{hashtag|\\#|\1}", p["commentary"])} for p in mine[:count]]
            return JSONResponse({"paging": {"start": 0, "count": count, "links": []}, "elements": elements})

        return app


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (parsed here: python-multipart isn't a test dependency)."""
    return {k: v[-1] for k, v in parse_qs((await request.body()).decode(), keep_blank_values=True).items()}


def _invalid_post(body: object) -> str | None:
    """The Posts API's 422 for a post it can't take (the required fields and their values)."""
    if not isinstance(body, dict):
        return "ERROR :: / :: body must be a JSON object"
    for name in ("author", "visibility", "distribution", "lifecycleState"):
        if name not in body:
            return f"ERROR :: /{name} :: field is required but not found and has no default value"
    if body["visibility"] not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"):
        return f"ERROR :: /visibility :: {body['visibility']!r} is not an enum symbol"
    if body["lifecycleState"] != "PUBLISHED":
        return "ERROR :: /lifecycleState :: only PUBLISHED can be created"
    distribution = body["distribution"]
    if not isinstance(distribution, dict) or distribution.get("feedDistribution") not in ("MAIN_FEED", "NONE"):
        return "ERROR :: /distribution/feedDistribution :: field is required but not found and has no default value"
    if not isinstance(body.get("commentary", ""), str):
        return "ERROR :: /commentary :: expected a string"
    content = body.get("content")
    if content is not None:
        multi = content.get("multiImage") if isinstance(content, dict) else None
        if isinstance(multi, dict):
            images = multi.get("images")
            if not isinstance(images, list) or not 2 <= len(images) <= 20:
                return "ERROR :: /content/multiImage/images :: must have between 2 and 20 images"
        elif not (isinstance(content, dict) and isinstance((content.get("media") or {}).get("id"), str)):
            return "ERROR :: /content :: unsupported content"
    return None


def _image_ids(content: object) -> list[str]:
    if not isinstance(content, dict):
        return []
    if isinstance(content.get("media"), dict):
        return [str(content["media"].get("id"))]
    multi = content.get("multiImage")
    if isinstance(multi, dict):
        return [str(i.get("id")) for i in multi.get("images", []) if isinstance(i, dict)]
    return []


__all__ = ["CLIENT_ID", "CLIENT_SECRET", "PERSON", "FakeLinkedIn", "unescape", "unescaped_reserved"]
