"""The authorization-code half of OAuth 2 (RFC 6749 §4.1, PKCE RFC 7636) as a platform's fake needs it.

A fake's ``GET …/authorize`` calls :meth:`AuthorizationCodes.authorize` (the "user" consents at once: the answer is
the 302 back to ``redirect_uri`` with ``code`` and ``state``, or with ``error`` for a bad request); its token endpoint
calls :meth:`AuthorizationCodes.redeem` with the form it got. Refresh tokens and the token bodies are the fake's own
business: each platform words them differently.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse


class OAuthError(Exception):
    """``error`` and ``description`` as RFC 6749 §5.2 names them; the fake words the body as its platform does."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Grant:
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class AuthorizationCodes:
    """Codes issued by the authorize endpoint, each redeemable once, with its PKCE challenge checked."""

    def __init__(self, client_id: str, *, require_pkce: bool = False) -> None:
        self.client_id = client_id
        self.require_pkce = require_pkce
        self._codes: dict[str, Grant] = {}
        self._lock = threading.Lock()
        self.authorize_requests: list[dict[str, str]] = []

    def authorize(self, params: dict[str, str]) -> RedirectResponse:
        """The consent screen, consented: a redirect to ``redirect_uri`` with a code (or an error)."""
        self.authorize_requests.append(dict(params))
        redirect_uri = params.get("redirect_uri", "")
        state = params.get("state")
        if params.get("client_id") != self.client_id or not redirect_uri:
            return RedirectResponse(_with(redirect_uri or "/", error="invalid_request", state=state), 302)
        if params.get("response_type") != "code":
            return RedirectResponse(_with(redirect_uri, error="unsupported_response_type", state=state), 302)
        challenge = params.get("code_challenge")
        if self.require_pkce and not challenge:
            return RedirectResponse(_with(redirect_uri, error="invalid_request", state=state), 302)
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = Grant(
                self.client_id, redirect_uri, params.get("scope", ""), challenge, params.get("code_challenge_method")
            )
        return RedirectResponse(_with(redirect_uri, code=code, state=state), 302)

    def redeem(self, form: dict[str, str], *, client_id: str | None = None) -> Grant:
        """The grant a token request's ``code`` was issued for; OAuthError when it can't be redeemed."""
        code = form.get("code", "")
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None:
            raise OAuthError("invalid_grant", "The authorization code is invalid or was already used.")
        if (client_id or form.get("client_id")) != grant.client_id:
            raise OAuthError("invalid_client", "The client is not the one the code was issued to.")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError("invalid_grant", "The redirect_uri does not match the authorization request.")
        if grant.code_challenge:
            verifier = form.get("code_verifier", "")
            expected = s256(verifier) if grant.code_challenge_method == "S256" else verifier
            if not verifier or expected != grant.code_challenge:
                raise OAuthError("invalid_grant", "The code_verifier does not match the code_challenge.")
        return grant


def _with(url: str, **params: str | None) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{url}{'&' if '?' in url else '?'}{query}"
