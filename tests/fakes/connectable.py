"""A small platform to connect accounts to, for the tests of ``/account connect`` and the login pages.

Not one of Herald's platforms (the product registry never lists it): two test-only clients over one fake,
registered into a :class:`~tasks.platforms.Publishers` of the test's own:

* ``testnet`` connects with OAuth 2 (authorization code, PKCE required, ``client_secret_post``); a login gives
  the user's own account, or, with :attr:`ConnectableFake.pages` set, the pages they manage (a pick);
* ``testkey`` connects with a handle and an app password (a secret form).

The fake checks what a real platform checks: the client's credentials and the PKCE verifier at the token
endpoint (:class:`tests.fakes.oauth.AuthorizationCodes`), Bearer tokens on ``/me``, the app password on
``/session``; it records revocations.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response

from handlers.text.platforms import PlatformInfo
from tasks.platforms import Publishers
from tasks.platforms.base import AccountChoice, BaseClient, Credentials, OAuthSpec, Publication, Published, SecretField
from tasks.platforms.errors import AuthExpired, Rejected
from tasks.platforms.http import PlatformHTTP
from tests.fakes.oauth import AuthorizationCodes, OAuthError

CLIENT_ID = "herald-test-app"
CLIENT_SECRET = "s3cret-app"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"

TESTNET = PlatformInfo("testnet", "Testnet", 500, connect="oauth")
TESTKEY = PlatformInfo("testkey", "Testkey", 300, connect="secret")
TESTFED = PlatformInfo("testfed", "Testfed", 500, connect="instance", account_hint="e.g. testfed.social")


async def form_of(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
        return {}
    return {k: v[-1] for k, v in parse_qs((await request.body()).decode(), keep_blank_values=True).items()}


class ConnectableFake:
    def __init__(self) -> None:
        self.codes = AuthorizationCodes(CLIENT_ID, require_pkce=True)
        self.tokens: dict[str, str] = {}  # access token → user
        self.revoked: list[str] = []
        self.token_requests: list[dict[str, str]] = []
        self.pages: list[tuple[str, str]] = []  # (id, name) the user manages: the login then gives these
        self.refresh_token: str | None = "rt-1"  # what the next token answer carries (None: no refresh token)
        self._lock = threading.Lock()
        self.app = self._build()

    def issue(self, user: str) -> str:
        token = "at-" + secrets.token_urlsafe(12)
        with self._lock:
            self.tokens[token] = user
        return token

    def expire_all(self) -> None:
        with self._lock:
            self.tokens.clear()

    def _user(self, authorization: str | None) -> str | None:
        token = (authorization or "").removeprefix("Bearer ").strip()
        with self._lock:
            return self.tokens.get(token)

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/oauth/authorize")
        async def authorize(request: Request) -> Response:
            return self.codes.authorize(dict(request.query_params))

        @app.post("/oauth/token")
        async def token(request: Request) -> Response:
            form = await form_of(request)
            self.token_requests.append(form)
            if form.get("grant_type") != "authorization_code":
                return JSONResponse({"error": "unsupported_grant_type"}, 400)
            if form.get("client_secret") != CLIENT_SECRET:
                return JSONResponse({"error": "invalid_client", "error_description": "Bad client secret."}, 401)
            try:
                self.codes.redeem(form)
            except OAuthError as exc:
                return JSONResponse({"error": exc.error, "error_description": exc.description}, 400)
            body: dict[str, Any] = {"access_token": self.issue("acme"), "token_type": "bearer", "expires_in": 7200}
            if self.refresh_token:
                body["refresh_token"] = self.refresh_token
            return JSONResponse(body)

        @app.get("/me")
        async def me(authorization: str | None = Header(None)) -> Response:
            user = self._user(authorization)
            if user is None:
                return JSONResponse({"error": "invalid_token", "message": "The access token expired."}, 401)
            return JSONResponse({"id": f"u-{user}", "username": user})

        @app.get("/me/pages")
        async def pages(authorization: str | None = Header(None)) -> Response:
            if self._user(authorization) is None:
                return JSONResponse({"error": "invalid_token", "message": "The access token expired."}, 401)
            return JSONResponse({"data": [{"id": i, "name": n, "token": self.issue(n)} for i, n in self.pages]})

        @app.post("/oauth/revoke")
        async def revoke(request: Request) -> Response:
            token = (await form_of(request)).get("token", "")
            with self._lock:
                self.tokens.pop(token, None)
            self.revoked.append(token)
            return Response(status_code=200)

        @app.post("/session")
        async def session(request: Request) -> Response:
            form = await form_of(request)
            identifier, password = form.get("identifier", ""), form.get("password", "")
            if password != APP_PASSWORD:
                return JSONResponse(
                    {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}, 401
                )
            return JSONResponse(
                {"did": f"did:test:{identifier}", "handle": identifier, "accessJwt": self.issue(identifier)}
            )

        return app


class TestnetClient(BaseClient):
    """An OAuth platform: the user, or the pages they manage."""

    label = "Testnet"

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url
        self._http = PlatformHTTP(http, "Testnet")

    async def publish(self, publication: Publication) -> Published:
        raise Rejected("Testnet doesn't publish.")

    async def oauth(self, instance: str | None = None) -> OAuthSpec:
        base = instance or self.base_url  # a federated one (testfed) logs in on the admin's server
        return OAuthSpec(
            authorize_url=f"{base}/oauth/authorize",
            token_url=f"{base}/oauth/token",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            scopes=("read", "write"),
            pkce=True,
            token_auth="client_secret_post",
        )

    async def accounts(self, token: Mapping[str, Any], instance: str | None = None) -> list[AccountChoice]:
        seconds = int(token.get("expires_in") or 0)
        user = Credentials(
            access_token=str(token["access_token"]),
            refresh_token=token.get("refresh_token"),
            expires_at=datetime.now(UTC) + timedelta(seconds=seconds) if seconds else None,
            extra={"instance": instance} if instance else {},
        )
        pages = self._http.json_object(await self._get("/me/pages", user)).get("data", [])
        if pages:
            return [
                AccountChoice(
                    handle=str(p["name"]).lower().replace(" ", "-"),
                    label=f"{p['name']} (Testnet page)",
                    credentials=Credentials(access_token=str(p["token"]), extra={"page_id": str(p["id"])}),
                )
                for p in pages
            ]
        return [await self.check(user)]

    async def check(self, credentials: Credentials) -> AccountChoice:
        me = self._http.json_object(await self._get("/me", credentials))
        extra = {**credentials.extra, "user_id": str(me["id"])}
        return AccountChoice(
            handle=str(me["username"]),
            label=f"@{me['username']} on Testnet",
            credentials=credentials.model_copy(update={"extra": extra}),
            url=f"{self.base_url}/@{me['username']}",
        )

    async def revoke(self, credentials: Credentials) -> bool:
        await self._http.request(
            "POST", f"{self.base_url}/oauth/revoke", data={"token": credentials.access_token or ""}
        )
        return True

    async def _get(self, path: str, credentials: Credentials) -> httpx.Response:
        base = credentials.get("instance") or self.base_url
        return await self._http.request(
            "GET", base + path, headers={"Authorization": f"Bearer {credentials.access_token}"}
        )


class TestkeyClient(BaseClient):
    """A platform connected with a handle and an app password."""

    label = "Testkey"
    secret_fields = (
        SecretField("handle", "Handle", hint="e.g. acme.testkey.social"),
        SecretField("app_password", "App password", secret=True),
    )

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url
        self._http = PlatformHTTP(http, "Testkey")

    async def publish(self, publication: Publication) -> Published:
        raise Rejected("Testkey doesn't publish.")

    async def connect_secret(self, values: Mapping[str, str]) -> list[AccountChoice]:
        response = await self._http.request(
            "POST",
            f"{self.base_url}/session",
            data={"identifier": values["handle"], "password": values["app_password"]},
        )
        body = self._http.json_object(response)
        credentials = Credentials(access_token=str(body["accessJwt"]), extra={"did": str(body["did"])})
        return [
            AccountChoice(handle=str(body["handle"]), label=f"@{body['handle']} on Testkey", credentials=credentials)
        ]

    async def check(self, credentials: Credentials) -> AccountChoice:
        raise AuthExpired("Testkey refused the session. Reconnect the account.")


def publishers(base_url: str, http: httpx.AsyncClient) -> Publishers:
    """The test's own registry: both test platforms, over ``http``."""
    return Publishers(
        {
            "testnet": TestnetClient(base_url, http),
            "testkey": TestkeyClient(base_url, http),
            "testfed": TestnetClient("https://nowhere.invalid", http),  # its server is the admin's
        }
    )
