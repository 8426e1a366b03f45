"""The login pages of ``/account connect``: Herald's side of a platform's OAuth 2 authorization-code grant.

``GET /oauth/{platform}/start?state=…`` is the link an admin got privately in chat: the state must name a
:class:`~models.connections.Connection` for that platform, unexpired and unused; Herald then sends the browser
to the platform's consent page (Authlib builds the URL, with a PKCE challenge where the platform takes one, the
verifier kept encrypted on the connection). ``GET /oauth/{platform}/callback?code=…&state=…`` is where the platform
sends it back: the connection is used up at once (a conditional update: a replayed callback finds it used), the
code exchanged for a token, the platform asked which accounts the token gives, and the account saved (or, when
there are several, the admin asked in chat to pick one). The browser gets a small page with one sentence; the
chat hears the outcome in the conversation the connect started in.

No log line carries a code, a token, a verifier or a state: only the platform and the connection's id.
"""

from __future__ import annotations

import html
import secrets
import warnings
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from handlers.admin import connect
from handlers.context import Services
from handlers.messages import Conversation, Reply
from handlers.text.platforms import PLATFORMS
from models.connections import Connection
from models.errors import UserError
from tasks.platforms.base import OAuthSpec
from tasks.platforms.directory import Directory

with warnings.catch_warnings():
    # Authlib ≥ 1.9 prefers the httpx2 package and warns when it falls back to httpx, which is Herald's stack
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = structlog.get_logger(__name__)
TIMEOUT = httpx.Timeout(20.0, connect=5.0)

UNKNOWN = "This login link is not one Herald gave out, or it was for another platform: ask for a new one in chat."
EXPIRED = "This login link has expired: ask for a new one in chat with /account connect."
USED = "This login link was already used: ask for a new one in chat with /account connect."


@dataclass(frozen=True)
class LoginPages:
    """What the login pages need: the platforms' clients, the application's services (notifier, clock) and
    Herald's public address (the redirect URL the platform sends the browser back to)."""

    platforms: Directory
    services: Services
    public_url: str
    timeout: httpx.Timeout = field(default_factory=lambda: TIMEOUT)

    def redirect_uri(self, platform: str) -> str:
        return f"{self.public_url}/oauth/{platform}/callback"

    def oauth_client(self, platform: str, spec: OAuthSpec) -> AsyncOAuth2Client:
        extra: dict[str, Any] = {"code_challenge_method": "S256"} if spec.pkce else {}
        return AsyncOAuth2Client(
            client_id=spec.client_id,
            client_secret=spec.client_secret,
            scope=spec.scope_separator.join(spec.scopes) or None,
            token_endpoint_auth_method=spec.token_auth,
            redirect_uri=self.redirect_uri(platform),
            timeout=self.timeout,
            **extra,
        )


def page(sentence: str, status: int = 200) -> HTMLResponse:
    text = html.escape(sentence, quote=False)
    body = (
        "<!doctype html><html><head><meta charset=utf-8><title>Herald</title>"
        '<meta name="viewport" content="width=device-width,initial-scale=1"></head>'
        f'<body style="font-family:sans-serif;max-width:36em;margin:4em auto"><p>{text}</p>'
        "</body></html>"
    )
    return HTMLResponse(
        body, status_code=status, headers={"cache-control": "no-store", "referrer-policy": "no-referrer"}
    )


def router(pages: LoginPages) -> APIRouter:
    api = APIRouter(include_in_schema=False)

    async def connection_for(platform: str, state: str) -> Connection | HTMLResponse:
        connection = await Connection.filter(state=state).first() if state else None
        if connection is None or connection.platform != platform:
            return page(UNKNOWN, 400)
        if connection.used_at is not None:
            return page(USED, 400)
        if connection.expires_at <= pages.services.clock.now():
            return page(EXPIRED, 400)
        return connection

    @api.get("/oauth/{platform}/start")
    async def start(platform: str, state: str = "") -> Response:
        found = await connection_for(platform, state)
        if isinstance(found, Response):
            return found
        try:
            spec = await pages.platforms.oauth(platform, found.instance)
        except UserError as exc:
            return page(str(exc), 400)
        verifier = generate_token(48) if spec.pkce else None
        async with pages.oauth_client(platform, spec) as client:
            url, _ = client.create_authorization_url(
                spec.authorize_url, state=state, code_verifier=verifier, **dict(spec.authorize_params)
            )
        if verifier is not None:
            found.code_verifier = verifier  # type: ignore[assignment]
            await found.save(update_fields=["code_verifier"])
        log.info("oauth.start", platform=platform, connection=found.id)
        return RedirectResponse(url, status_code=302, headers={"cache-control": "no-store"})

    @api.get("/oauth/{platform}/callback")
    async def callback(request: Request, platform: str) -> Response:
        params = request.query_params
        found = await connection_for(platform, params.get("state", ""))
        if isinstance(found, Response):
            return found
        # used once: of two callbacks with the same state (a replay, a double submit), one gets here
        if not await Connection.filter(id=found.id, used_at__isnull=True).update(used_at=pages.services.clock.now()):
            return page(USED, 400)
        await found.fetch_related("member")
        conversation = Conversation.from_json(found.conversation)
        label = PLATFORMS[platform].label if platform in PLATFORMS else platform
        if params.get("error") or not params.get("code"):
            reason = params.get("error_description") or params.get("error") or "no authorization code came back"
            log.info("oauth.refused", platform=platform, connection=found.id, error=params.get("error"))
            return await told(conversation, f"The {label} login didn't connect an account ({reason[:200]}).")
        try:
            spec = await pages.platforms.oauth(platform, found.instance)
            verifier = {"code_verifier": found.code_verifier} if found.code_verifier else {}
            async with pages.oauth_client(platform, spec) as client:
                token = await client.fetch_token(spec.token_url, code=params["code"], **verifier)
            accounts = await pages.platforms.accounts(platform, token, found.instance)
        except UserError as exc:
            return await told(conversation, str(exc))
        except OAuthError as exc:
            log.info("oauth.token_refused", platform=platform, connection=found.id, error=exc.error)
            reason = exc.description or exc.error or "it refused"
            return await told(conversation, f"{label} refused the login's code ({reason[:200]}).")
        except httpx.HTTPError as exc:
            log.warning("oauth.token_failed", platform=platform, connection=found.id, problem=type(exc).__name__)
            return await told(conversation, f"{label} didn't answer the login's token request; try again later.")
        except ValueError as exc:  # a token answer that isn't JSON
            log.warning("oauth.token_unreadable", platform=platform, connection=found.id, problem=type(exc).__name__)
            return await told(conversation, f"{label} answered the login's token request with something unreadable.")
        except Exception:
            ref = secrets.token_hex(3)
            log.exception("oauth.callback_failed", platform=platform, connection=found.id, ref=ref)
            return await told(conversation, f"Connecting {label} went wrong (ref {ref}); it was logged.")
        if not accounts:
            return await told(conversation, f"This {label} login gives no account Herald can publish to.")
        if len(accounts) > 1:
            await connect.offer(found, accounts, pages.services)
            return page(f"{label} gave several accounts: pick the one to connect in chat. You can close this tab.")
        saved = await connect.save(
            accounts[0],
            platform_name=platform,
            member=found.member,
            conversation=conversation,
            services=pages.services,
        )
        log.info("oauth.connected", platform=platform, connection=found.id, account=saved.id)
        return page(f"Connected {accounts[0].label} as {saved.handle} — you can close this tab.")

    async def told(conversation: Conversation, sentence: str) -> HTMLResponse:
        await pages.services.notifier.notify(conversation, Reply(text=sentence, kind="error"))
        return page(sentence, 400)

    return api
