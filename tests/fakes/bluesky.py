"""FakeBluesky: a PDS (and its entryway) speaking XRPC on 127.0.0.1, for the Bluesky client's tests.

Written from the reference PDS (``bluesky-social/atproto`` ``packages/pds``) and the lexicons; errors are XRPC
bodies ``{"error": Name, "message": …}`` with the PDS's status codes:

``POST /xrpc/com.atproto.server.createSession`` ``{identifier, password}``
    identifier = handle, email or DID; password = an app password. → ``{accessJwt, refreshJwt, handle, did,
    didDoc, email, emailConfirmed, active}``; the DID document's ``#atproto_pds`` service is this server.
    Wrong → 401 ``AuthenticationRequired`` "Invalid identifier or password". Limited to ``login_limit`` per 5
    minutes → 429 ``RateLimitExceeded`` with ``ratelimit-*`` headers.
``POST /xrpc/com.atproto.server.refreshSession`` (Bearer refresh JWT)
    → a new pair; the refresh token rotates: the old one answers 400 ``ExpiredToken`` "Token has been revoked"
    once ``refresh_grace`` seconds passed (the reference PDS keeps it usable for 2 hours, handing out the same
    next token id; this fake defaults to 0, the strict case). An expired refresh JWT → 400 ``ExpiredToken``
    "Token has expired"; an access JWT → 400 ``InvalidToken`` "Bad token scope".
``GET /xrpc/com.atproto.server.getSession``, ``POST …deleteSession`` (Bearer refresh JWT: revokes it).
``GET /xrpc/com.atproto.identity.resolveHandle?handle=`` → ``{did}``; 400 ``InvalidRequest`` "Unable to resolve
    handle".
``POST /xrpc/com.atproto.repo.uploadBlob`` raw bytes + ``Content-Type`` → ``{"blob": {"$type": "blob", "ref":
    {"$link": cid}, "mimeType", "size"}}``; over ``blob_limit`` → 413 ``PayloadTooLarge``.
``POST /xrpc/com.atproto.repo.createRecord`` ``{repo, collection, rkey?, record}``
    Validates what the PDS validates for ``app.bsky.feed.post``: the rkey is a TID, ``text`` ≤ 300 graphemes and
    3000 bytes, ``createdAt`` a datetime, facets with byte ranges inside the text, ``embed.images`` 1–4 with
    ``alt`` and blobs this account uploaded (image/*, ≤ 1,000,000 bytes), ``embed.external`` with uri/title/
    description and an optional thumb → 400 ``InvalidRequest`` "Invalid app.bsky.feed.post record: …". A record
    already at that rkey → 500 ``InternalServerError`` "Internal Server Error" (what the PDS answers today:
    atproto issue #3718; PR #4728 would name the error). → ``{uri, cid, commit, validationStatus}``.
``GET /xrpc/com.atproto.repo.getRecord?repo&collection&rkey`` → ``{uri, cid, value}``; 400 ``RecordNotFound``
    "Could not locate record: at://…".

Access JWTs: missing → 401 ``AuthMissing``; unverifiable → 400 ``InvalidToken`` "Token could not be verified";
expired (or issued before :meth:`FakeBluesky.expire_access_tokens`) → 400 ``ExpiredToken`` "Token has expired".
A taken-down account → 401 ``AccountTakedown``.

Control (Python methods, thread-safe, called from the test thread): :meth:`script` queues failures per XRPC
method (``rate_limit``, ``server_error``, ``bad_gateway``, ``invalid``, ``hang``, ``hang_after``);
:meth:`expire_access_tokens`, :meth:`revoke_sessions`, :meth:`takedown`; records: :attr:`posts`,
:attr:`calls` (requests per method), :attr:`blobs`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import regex
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.server import ServedApp

POST: Final = "app.bsky.feed.post"
TID: Final = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
FAILURES: Final = ("rate_limit", "server_error", "bad_gateway", "invalid", "hang", "hang_after")
MAX_IMAGE: Final = 1_000_000


class XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.headers = status, error, message, headers or {}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _cid(data: bytes, codec: int) -> str:
    """A CIDv1 (sha-256, base32): ``codec`` 0x71 dag-cbor (records), 0x55 raw (blobs)."""
    digest = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(digest).decode().lower().rstrip("=")


def _invalid_record(reason: str) -> XrpcError:
    return XrpcError(400, "InvalidRequest", f"Invalid {POST} record: {reason}")


@dataclass
class Account:
    did: str
    handle: str
    email: str
    app_password: str
    taken_down: bool = False


@dataclass
class RefreshToken:
    did: str
    expires_at: float
    next_id: str | None = None
    rotated_at: float | None = None
    revoked: bool = False


@dataclass
class Post:
    """One record the fake created."""

    did: str
    rkey: str
    record: dict[str, Any]
    uri: str
    cid: str
    received_at: float


@dataclass
class Blob:
    did: str
    mime_type: str
    data: bytes


@dataclass
class _Script:
    failures: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))


class FakeBluesky:
    """A PDS on 127.0.0.1 with one account (module docstring). Use as a context manager; ``url`` is both the
    entryway (``BLUESKY_PDS_URL``) and the account's PDS."""

    def __init__(
        self,
        *,
        handle: str = "acme.bsky.social",
        app_password: str = "abcd-efgh-ijkl-mnop",
        did: str = "did:plc:acmeacmeacmeacmeacme2345",
        access_ttl: float = 7200,
        refresh_ttl: float = 60 * 86400,
        refresh_grace: float = 0.0,
        login_limit: int = 30,
        blob_limit: int = 5_000_000,
        hang_seconds: float = 1.5,
    ) -> None:
        self.account = Account(did=did, handle=handle, email=f"team@{handle}", app_password=app_password)
        self.handles: dict[str, str] = {handle: did}  # what resolveHandle knows
        self.access_ttl, self.refresh_ttl, self.refresh_grace = access_ttl, refresh_ttl, refresh_grace
        self.login_limit, self.blob_limit, self.hang_seconds = login_limit, blob_limit, hang_seconds
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._refresh: dict[str, RefreshToken] = {}
        self._access_cutoff = 0.0  # access tokens issued before this answer ExpiredToken
        self._logins: deque[float] = deque()
        self._script = _Script()
        self.posts: list[Post] = []
        self.blobs: dict[str, Blob] = {}
        self.calls: Counter[str] = Counter()
        self.app = FastAPI()
        self.app.add_api_route("/xrpc/{method}", self._handle, methods=["GET", "POST"])
        self._served = ServedApp(self.app, name="fake-bluesky")

    # --- lifecycle

    @property
    def url(self) -> str:
        return self._served.url

    def __enter__(self) -> FakeBluesky:
        self._served.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._served.stop()

    # --- control (test thread)

    def script(self, method: str, *failures: str) -> None:
        """The next requests to ``method`` (e.g. ``com.atproto.repo.createRecord``) fail so, one each, in order:
        ``rate_limit`` (429 + ratelimit-reset), ``server_error`` (500), ``bad_gateway`` (502 from the load
        balancer, HTML), ``invalid`` (400 InvalidRequest), ``hang`` (no answer for ``hang_seconds``, nothing done),
        ``hang_after`` (does the work, then no answer for ``hang_seconds``)."""
        unknown = [f for f in failures if f not in FAILURES]
        if unknown:
            raise ValueError(f"unknown failures {unknown}; use {FAILURES}")
        with self._lock:
            self._script.failures[method].extend(failures)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers 400 ExpiredToken from now on."""
        with self._lock:
            self._access_cutoff = time.time() + 0.001

    def revoke_sessions(self) -> None:
        """Every refresh token stops working (the user revoked the app password)."""
        with self._lock:
            for token in self._refresh.values():
                token.revoked = True

    def takedown(self) -> None:
        with self._lock:
            self.account.taken_down = True

    def add_handle(self, handle: str, did: str) -> None:
        with self._lock:
            self.handles[handle] = did

    def record(self, rkey: str) -> dict[str, Any] | None:
        with self._lock:
            return next((p.record for p in self.posts if p.rkey == rkey), None)

    # --- JWTs

    def _jwt(self, typ: str, claims: dict[str, Any]) -> str:
        header = _b64(json.dumps({"typ": typ, "alg": "HS256"}).encode())
        payload = _b64(json.dumps(claims).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def _claims(self, token: str) -> dict[str, Any]:
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_b64(expected), signature):
                raise ValueError("bad signature")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError as exc:
            raise XrpcError(400, "InvalidToken", "Token could not be verified") from exc
        if not isinstance(claims, dict):
            raise XrpcError(400, "InvalidToken", "Token could not be verified")
        return claims

    def _session(self, did: str, refresh_id: str | None = None) -> dict[str, Any]:
        now = time.time()
        access = self._jwt(
            "at+jwt",
            {"scope": "com.atproto.appPass", "sub": did, "iat": now, "exp": int(now + self.access_ttl), "aud": did},
        )
        jti = refresh_id or secrets.token_urlsafe(16)
        expires = now + self.refresh_ttl
        refresh = self._jwt(
            "refresh+jwt", {"scope": "com.atproto.refresh", "sub": did, "jti": jti, "iat": now, "exp": int(expires)}
        )
        self._refresh.setdefault(jti, RefreshToken(did=did, expires_at=expires))
        account = self.account
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": account.handle,
            "did": did,
            "didDoc": {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": did,
                "alsoKnownAs": [f"at://{account.handle}"],
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": self.url}],
            },
            "email": account.email,
            "emailConfirmed": True,
            "active": True,
        }

    @staticmethod
    def _bearer(request: Request) -> str:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise XrpcError(401, "AuthMissing", "Authentication Required")
        return header[7:].strip()

    def _access(self, request: Request) -> Account:
        claims = self._claims(self._bearer(request))
        if claims.get("scope") not in ("com.atproto.access", "com.atproto.appPass"):
            raise XrpcError(400, "InvalidToken", "Bad token scope")
        if claims.get("exp", 0) <= time.time() or claims.get("iat", 0) < self._access_cutoff:
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        if claims.get("sub") != self.account.did:
            raise XrpcError(400, "InvalidToken", "Token could not be verified")
        if self.account.taken_down:
            raise XrpcError(401, "AccountTakedown", "Account has been taken down")
        return self.account

    # --- dispatch

    async def _handle(self, method: str, request: Request) -> Response:
        received = time.time()
        with self._lock:
            self.calls[method] += 1
            queued = self._script.failures.get(method)
            failure = queued.popleft() if queued else None
        try:
            if failure == "hang":  # the request got here, nothing is done, no answer in time
                await asyncio.sleep(self.hang_seconds)
                raise XrpcError(504, "UpstreamTimeout", "Upstream Timeout")
            answer = await self._failure(failure) if failure not in (None, "hang", "hang_after") else None
            if answer is not None:
                return answer
            body = await self._route(method, request, received)
            if failure == "hang_after":
                await asyncio.sleep(self.hang_seconds)
            return JSONResponse(body)
        except XrpcError as exc:
            return JSONResponse({"error": exc.error, "message": exc.message}, exc.status, headers=exc.headers)

    async def _failure(self, failure: str | None) -> Response | None:
        if failure == "rate_limit":
            reset = int(time.time()) + 120
            raise XrpcError(
                429,
                "RateLimitExceeded",
                "Rate Limit Exceeded",
                {
                    "ratelimit-limit": "5000",
                    "ratelimit-remaining": "0",
                    "ratelimit-reset": str(reset),
                    "ratelimit-policy": "5000;w=3600",
                },
            )
        if failure == "server_error":
            raise XrpcError(500, "InternalServerError", "Internal Server Error")
        if failure == "bad_gateway":
            return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502, media_type="text/html")
        if failure == "invalid":
            raise XrpcError(400, "InvalidRequest", "Input/record must be an object")
        return None

    async def _route(self, method: str, request: Request, received: float) -> dict[str, Any]:
        routes = {
            "com.atproto.server.createSession": ("POST", self._create_session),
            "com.atproto.server.refreshSession": ("POST", self._refresh_session),
            "com.atproto.server.getSession": ("GET", self._get_session),
            "com.atproto.server.deleteSession": ("POST", self._delete_session),
            "com.atproto.identity.resolveHandle": ("GET", self._resolve_handle),
            "com.atproto.repo.uploadBlob": ("POST", self._upload_blob),
            "com.atproto.repo.createRecord": ("POST", self._create_record),
            "com.atproto.repo.getRecord": ("GET", self._get_record),
        }
        if method not in routes:
            raise XrpcError(501, "MethodNotImplemented", "Method Not Implemented")
        verb, handler = routes[method]
        if request.method != verb:
            raise XrpcError(400, "InvalidRequest", f"Incorrect HTTP method ({request.method}) expected {verb}")
        result: dict[str, Any] = await handler(request, received)
        return result

    @staticmethod
    async def _json(request: Request) -> dict[str, Any]:
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise XrpcError(400, "InvalidRequest", "Wrong request encoding (Content-Type): application/json expected")
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            raise XrpcError(400, "InvalidRequest", "Request body is not valid JSON") from exc
        if not isinstance(body, dict):
            raise XrpcError(400, "InvalidRequest", "Input must be an object")
        return body

    # --- com.atproto.server

    async def _create_session(self, request: Request, received: float) -> dict[str, Any]:
        body = await self._json(request)
        identifier, password = body.get("identifier"), body.get("password")
        if not isinstance(identifier, str) or not isinstance(password, str):
            raise XrpcError(400, "InvalidRequest", 'Input must have the property "identifier"')
        with self._lock:
            while self._logins and self._logins[0] < received - 300:
                self._logins.popleft()
            if len(self._logins) >= self.login_limit:
                reset = int(self._logins[0] + 300)
                raise XrpcError(
                    429,
                    "RateLimitExceeded",
                    "Rate Limit Exceeded",
                    {
                        "ratelimit-limit": str(self.login_limit),
                        "ratelimit-remaining": "0",
                        "ratelimit-reset": str(reset),
                        "ratelimit-policy": f"{self.login_limit};w=300",
                    },
                )
            self._logins.append(received)
            account = self.account
            known = identifier.lower() in (account.handle, account.email, account.did)
            if not known or not hmac.compare_digest(password, account.app_password):
                raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
            if account.taken_down:
                raise XrpcError(401, "AccountTakedown", "Account has been taken down")
            return self._session(account.did)

    async def _refresh_session(self, request: Request, received: float) -> dict[str, Any]:
        claims = self._claims(self._bearer(request))
        if claims.get("scope") != "com.atproto.refresh":
            raise XrpcError(400, "InvalidToken", "Bad token scope")
        if claims.get("exp", 0) <= received:
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        with self._lock:
            if self.account.taken_down:
                raise XrpcError(401, "AccountTakedown", "Account has been taken down")
            token = self._refresh.get(str(claims.get("jti")))
            usable = token is not None and not token.revoked and token.expires_at > received
            if token is not None and token.rotated_at is not None:
                usable = usable and received - token.rotated_at < self.refresh_grace
            if token is None or not usable:
                raise XrpcError(400, "ExpiredToken", "Token has been revoked")
            if token.next_id is None:  # a reused token gets the same next id (the PDS's grace period)
                token.next_id, token.rotated_at = secrets.token_urlsafe(16), received
            return self._session(token.did, token.next_id)

    async def _get_session(self, request: Request, received: float) -> dict[str, Any]:
        with self._lock:
            account = self._access(request)
            return {
                "handle": account.handle,
                "did": account.did,
                "email": account.email,
                "emailConfirmed": True,
                "active": True,
            }

    async def _delete_session(self, request: Request, received: float) -> dict[str, Any]:
        claims = self._claims(self._bearer(request))
        if claims.get("scope") != "com.atproto.refresh":
            raise XrpcError(400, "InvalidToken", "Bad token scope")
        with self._lock:
            token = self._refresh.get(str(claims.get("jti")))
            if token is not None:
                token.revoked = True
        return {}

    # --- com.atproto.identity

    async def _resolve_handle(self, request: Request, received: float) -> dict[str, Any]:
        handle = request.query_params.get("handle")
        if not handle:
            raise XrpcError(400, "InvalidRequest", 'Error: Params must have the property "handle"')
        with self._lock:
            did = self.handles.get(handle.lower())
        if did is None:
            raise XrpcError(400, "InvalidRequest", "Unable to resolve handle")
        return {"did": did}

    # --- com.atproto.repo

    async def _upload_blob(self, request: Request, received: float) -> dict[str, Any]:
        with self._lock:
            account = self._access(request)
        mime_type = request.headers.get("content-type", "").split(";")[0].strip()
        if not mime_type:
            raise XrpcError(400, "InvalidRequest", "Request encoding (Content-Type) required but not provided")
        data = await request.body()
        if len(data) > self.blob_limit:
            raise XrpcError(413, "PayloadTooLarge", "request entity too large")
        cid = _cid(data, 0x55)
        with self._lock:
            self.blobs[cid] = Blob(did=account.did, mime_type=mime_type, data=data)
        return {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime_type, "size": len(data)}}

    async def _create_record(self, request: Request, received: float) -> dict[str, Any]:
        with self._lock:
            account = self._access(request)
        body = await self._json(request)
        repo, collection, rkey, record = (body.get(k) for k in ("repo", "collection", "rkey", "record"))
        if not isinstance(repo, str) or not isinstance(collection, str) or not isinstance(record, dict):
            raise XrpcError(400, "InvalidRequest", 'Input must have the properties "repo", "collection", "record"')
        if repo not in (account.did, account.handle):
            raise XrpcError(400, "InvalidRequest", f"Could not find repo: {repo}")
        if collection != POST:
            raise XrpcError(400, "InvalidRequest", f"Herald's fake only knows {POST}, not {collection}")
        rkey = rkey if isinstance(rkey, str) else None
        if rkey is not None and not TID.match(rkey):
            raise XrpcError(400, "InvalidRequest", f"Invalid record key for {POST}: {rkey} (a TID is required)")
        record = {"$type": POST, **record}
        if record["$type"] != POST:
            raise _invalid_record(f'Record/$type must be "{POST}"')
        with self._lock:
            self._validate(account, record)
            rkey = rkey or self._next_tid()
            if any(p.rkey == rkey and p.did == account.did for p in self.posts):
                # the MST refuses a second value at a key; the PDS doesn't translate that error (yet)
                raise XrpcError(500, "InternalServerError", "Internal Server Error")
            uri = f"at://{account.did}/{POST}/{rkey}"
            cid = _cid(json.dumps(record, sort_keys=True).encode(), 0x71)
            self.posts.append(Post(account.did, rkey, record, uri, cid, received))
        return {
            "uri": uri,
            "cid": cid,
            "commit": {"cid": _cid(uri.encode(), 0x71), "rev": self._next_tid()},
            "validationStatus": "valid",
        }

    @staticmethod
    def _next_tid() -> str:
        """A TID for now (the atproto spec: microseconds since the epoch, then a 10-bit clock id; base32-sortable)."""
        value = int(time.time() * 1_000_000) << 10 | secrets.randbelow(1024)
        return "".join("234567abcdefghijklmnopqrstuvwxyz"[(value >> s) & 31] for s in range(60, -1, -5))

    def _validate(self, account: Account, record: dict[str, Any]) -> None:
        text = record.get("text")
        if not isinstance(text, str):
            raise _invalid_record('Record must have the property "text"')
        encoded = text.encode("utf-8")
        if len(encoded) > 3000:
            raise _invalid_record("Record/text must not be longer than 3000 characters")
        if len(regex.findall(r"\X", text)) > 300:
            raise _invalid_record("Record/text must not be longer than 300 graphemes")
        created = record.get("createdAt")
        try:
            datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        except ValueError as exc:
            raise _invalid_record("Record/createdAt must be an valid atproto datetime") from exc
        for n, facet in enumerate(record.get("facets") or []):
            index = facet.get("index") if isinstance(facet, dict) else None
            start = index.get("byteStart") if isinstance(index, dict) else None
            end = index.get("byteEnd") if isinstance(index, dict) else None
            if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(encoded):
                raise _invalid_record(f"Record/facets/{n}/index must be a byte range inside the text")
            features = facet.get("features")
            if not isinstance(features, list) or not features:
                raise _invalid_record(f'Record/facets/{n} must have the property "features"')
            for feature in features:
                kind = feature.get("$type") if isinstance(feature, dict) else None
                ok = (
                    (kind == "app.bsky.richtext.facet#mention" and str(feature.get("did", "")).startswith("did:"))
                    or (kind == "app.bsky.richtext.facet#link" and ":" in str(feature.get("uri", "")))
                    or (kind == "app.bsky.richtext.facet#tag" and 0 < len(str(feature.get("tag", ""))) <= 640)
                )
                if not ok:
                    raise _invalid_record(f"Record/facets/{n}/features has an invalid feature")
        embed = record.get("embed")
        if embed is None:
            return
        kind = embed.get("$type") if isinstance(embed, dict) else None
        if kind == "app.bsky.embed.images":
            images = embed.get("images")
            if not isinstance(images, list) or not 1 <= len(images) <= 4:
                raise _invalid_record("Record/embed/images must have 1 to 4 elements")
            for n, image in enumerate(images):
                if not isinstance(image, dict) or not isinstance(image.get("alt"), str):
                    raise _invalid_record(f'Record/embed/images/{n} must have the property "alt"')
                self._check_blob(account, image.get("image"), f"Record/embed/images/{n}/image")
        elif kind == "app.bsky.embed.external":
            external = embed.get("external")
            if not isinstance(external, dict) or not all(
                isinstance(external.get(k), str) for k in ("uri", "title", "description")
            ):
                raise _invalid_record('Record/embed/external must have the properties "uri", "title", "description"')
            if "thumb" in external:
                self._check_blob(account, external["thumb"], "Record/embed/external/thumb")
        else:
            raise _invalid_record(f"Record/embed has an unknown $type {kind!r}")

    def _check_blob(self, account: Account, ref: Any, path: str) -> None:
        link = ref.get("ref", {}).get("$link") if isinstance(ref, dict) and isinstance(ref.get("ref"), dict) else None
        if not isinstance(ref, dict) or ref.get("$type") != "blob" or not isinstance(link, str):
            raise _invalid_record(f"{path} should be a blob ref")
        blob = self.blobs.get(link)
        if blob is None or blob.did != account.did:
            raise XrpcError(400, "InvalidRequest", f"Could not find blob: {link}")
        if not blob.mime_type.startswith("image/"):
            raise _invalid_record(f"{path} has an invalid mime type: {blob.mime_type}")
        if len(blob.data) > MAX_IMAGE:
            raise _invalid_record(f"{path} file too large ({len(blob.data)} bytes). Maximum size is {MAX_IMAGE}")

    async def _get_record(self, request: Request, received: float) -> dict[str, Any]:
        params = request.query_params
        for name in ("repo", "collection", "rkey"):
            if not params.get(name):
                raise XrpcError(400, "InvalidRequest", f'Error: Params must have the property "{name}"')
        repo, collection, rkey = params["repo"], params["collection"], params["rkey"]
        with self._lock:
            did = self.handles.get(repo, repo)
            uri = f"at://{did}/{collection}/{rkey}"
            post = next((p for p in self.posts if p.uri == uri), None)
        if post is None:
            raise XrpcError(400, "RecordNotFound", f"Could not locate record: {uri}")
        return {"uri": post.uri, "cid": post.cid, "value": post.record}
