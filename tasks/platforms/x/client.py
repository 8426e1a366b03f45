"""X API v2: ``POST /2/tweets`` with media from the chunked v2 media upload, OAuth 2.0 (PKCE) user tokens.

Publishing, as progress steps (:class:`~tasks.platforms.base.Progress`)::

    media:N   the N-th file's media id, right after FINALIZE confirmed it (its bytes are with X: never again)
    ready:N   X finished processing it (videos and GIFs are processed asynchronously; images are ready at once)
    sent      unix time right before ``POST /2/tweets``: X has no idempotency key, so a retry verifies first

Media upload (https://docs.x.com/x-api/media): ``POST /2/media/upload/initialize`` (JSON ``media_type``,
``total_bytes``, ``media_category``) → ``data.id``; ``POST /2/media/upload/{id}/append`` (multipart ``media``,
``segment_index``) per segment; ``POST /2/media/upload/{id}/finalize`` → ``data.processing_info`` for videos and
GIFs; then ``GET /2/media/upload?command=STATUS&media_id=`` every ``check_after_secs`` until ``succeeded`` or
``failed``.

Accounts connect with OAuth 2.0 (authorization code with PKCE, ``offline.access``: 2-hour access tokens, refresh
tokens that rotate on use) or carry OAuth 1.0a user tokens (``extra["token_secret"]``: requests are signed with
the app's ``X_API_KEY``/``X_API_SECRET``, and the tokens don't expire).

Errors, from X's problem+json bodies: 401 → AuthExpired; 403 "duplicate content" → Duplicate; 403
``unsupported-authentication`` → AuthExpired; any other 403 ("You are not permitted to perform this action.") →
Rejected; 400 → Rejected with the first error's message; 429 → RateLimited until ``x-rate-limit-reset`` or, when the
24-hour user limit is spent, ``x-user-limit-24hour-reset``; 5xx → PlatformDown.
"""

from __future__ import annotations

import asyncio
import base64
import html
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

import httpx
import structlog
from authlib.oauth1 import ClientAuth

from models.errors import ConfigError
from tasks.platforms.base import (
    ABSENT,
    AccountChoice,
    BaseClient,
    Credentials,
    MediaFile,
    OAuthSpec,
    Publication,
    Published,
    Verdict,
)
from tasks.platforms.errors import (
    AuthExpired,
    Duplicate,
    OutcomeUnknown,
    Permanent,
    PlatformDown,
    PlatformError,
    RateLimited,
    Rejected,
)
from tasks.platforms.http import DEFAULT_TIMEOUT, PlatformHTTP, platform_reason
from tasks.platforms.x.settings import XSettings

log = structlog.get_logger(__name__)

SCOPES: Final = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")
LABEL: Final = "X"
#: A verification accepts posts created this long before ``sent`` was recorded (clocks differ).
CLOCK_SKEW: Final = 120.0
_URL: Final = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_SPACE: Final = re.compile(r"\s+")

Sleep = Callable[[float], Awaitable[None]]


def comparable(text: str) -> str:
    """``text`` as a verification compares it. X answers a post's text with every link replaced by a t.co link, a
    t.co link to the media appended, ``&``/``<``/``>`` as HTML entities and the text NFC-normalised: so unescape,
    normalise, drop every URL (ours and X's t.co ones) and collapse whitespace on both sides."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    return _SPACE.sub(" ", _URL.sub(" ", text)).strip()


def _reset_in(headers: httpx.Headers, name: str, now: float) -> float | None:
    value = headers.get(name)
    try:
        return max(0.0, float(value) - now) if value else None
    except ValueError:
        return None


def rate_limit_wait(headers: httpx.Headers, now: float) -> tuple[float | None, bool]:
    """Seconds until X takes a request again after a 429, and whether the 24-hour user limit is what's spent.

    X sends the endpoint's window (``x-rate-limit-*``, 15 minutes) and, for posting, the user's 24-hour window
    (``x-user-limit-24hour-*``); each ``-reset`` is a unix time. The later reset of the spent windows wins.
    """
    window = _reset_in(headers, "x-rate-limit-reset", now)
    daily = _reset_in(headers, "x-user-limit-24hour-reset", now)
    daily_spent = daily is not None and headers.get("x-user-limit-24hour-remaining", "").strip() == "0"
    window_spent = window is not None and headers.get("x-rate-limit-remaining", "0").strip() == "0"
    waits = [w for w, spent in ((window, window_spent), (daily, daily_spent)) if spent and w is not None]
    if not waits:
        waits = [w for w in (window,) if w is not None]
    return (max(waits) if waits else None), daily_spent


class DailyLimitReached(RateLimited):
    """X's 24-hour posting limit for the account is spent (``x-user-limit-24hour-remaining: 0``)."""


def _first_error(body: Any) -> str | None:
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    message = first.get("message") if isinstance(first, dict) else None
    return message if isinstance(message, str) and message.strip() else None


def _said(reason: str | None, fallback: str) -> str:
    return f"{LABEL} said: {reason}" if reason else fallback


class XClient(BaseClient):
    """Publishes to X with the account's OAuth 2.0 user token (``credentials.extra``: ``user_id``, ``username``).

    ``sleep`` waits between media status checks and ``clock`` gives unix seconds (tests pass fast ones).
    """

    label = LABEL

    def __init__(
        self,
        settings: XSettings,
        http: httpx.AsyncClient,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self._http = PlatformHTTP(http, LABEL, timeout=timeout, classify=self._classify, clock=clock)
        self._oauth = PlatformHTTP(http, LABEL, timeout=timeout, classify=self._classify_token, clock=clock)
        #: user id → unix time the 24-hour user limit resets, from the last 429 that said it was spent (this
        #: process only; the shared rate gate keeps it across workers).
        self._daily_reset: dict[str, float] = {}

    # --- errors

    def _classify(self, response: httpx.Response) -> PlatformError | None:
        code = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        reason = platform_reason(response)
        if code == 401:
            return AuthExpired(
                f"{_said(reason, 'X refused the access token.')} The token expired or was revoked: "
                "Herald refreshes it, else reconnect the account."
            )
        if code == 403:
            problem = str(body.get("type", "")) if isinstance(body, dict) else ""
            if reason and "duplicate content" in reason.lower():
                return Duplicate(_said(reason, "X already has this post."))
            if problem.endswith("/unsupported-authentication"):
                return AuthExpired(f"{_said(reason, 'X refused this kind of token.')} Reconnect the account.")
            return Rejected(_said(reason, "X refused the request (HTTP 403)."))
        if code == 429:
            wait, daily = rate_limit_wait(response.headers, self._clock())
            what = "X's 24-hour posting limit for this account is used up." if daily else "X is rate limiting Herald."
            if wait is not None:
                n = max(1, int(wait + 0.999))
                what += f" Retry in {n} second{'' if n == 1 else 's'}."
            return (DailyLimitReached if daily else RateLimited)(what, retry_after=wait)
        if code == 400:
            return Rejected(_said(_first_error(body) or reason, "X rejected the request (HTTP 400)."))
        return None

    def _classify_token(self, response: httpx.Response) -> PlatformError | None:
        """The token endpoint's answers (RFC 6749 §5.2 as X words them): a spent, revoked or unknown refresh token
        is 400 ``invalid_request`` "Value passed for the token was invalid." (or ``invalid_grant``)."""
        code = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        description = body.get("error_description") if isinstance(body, dict) else None
        said = _said(description if isinstance(description, str) else None, "X refused the token.")
        if code in (400, 401) and error in ("invalid_grant", "invalid_request"):
            return AuthExpired(f"{said} Reconnect the account.")
        if code in (400, 401) and error in ("invalid_client", "unauthorized_client"):
            return Permanent(f"{said} Check X_CLIENT_ID and X_CLIENT_SECRET.")
        return None

    # --- publishing

    def _auth(self, credentials: Credentials, method: str, url: str) -> dict[str, str]:
        """The Authorization header for one request: the OAuth 2.0 Bearer token, or, for an account connected
        with OAuth 1.0a user tokens (``extra["token_secret"]``), an HMAC-SHA1 signature of ``url`` (with its
        query) by the app's consumer key. JSON and multipart bodies are not part of an OAuth 1.0a signature."""
        if not credentials.access_token:
            raise AuthExpired("X has no access token for this account. Reconnect the account.")
        token_secret = credentials.get("token_secret")
        if token_secret is None:
            return {"Authorization": f"Bearer {credentials.access_token}"}
        if not (self.settings.api_key and self.settings.api_secret):
            raise Permanent("X isn't configured for OAuth 1.0a user tokens: set X_API_KEY and X_API_SECRET.")
        signer = ClientAuth(
            self.settings.api_key, self.settings.api_secret, token=credentials.access_token, token_secret=token_secret
        )
        _, headers, _ = signer.sign(method, url, {}, b"")
        return {"Authorization": str(headers["Authorization"])}

    async def _call(
        self,
        credentials: Credentials,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        if params:
            url = str(httpx.URL(url, params=dict(params)))  # the query is signed (OAuth 1.0a): build it once
        return await self._http.request(method, url, headers=self._auth(credentials, method, url), json=json)

    def _post_url(self, credentials: Credentials, post_id: str) -> str:
        return f"{self.settings.web_url.rstrip('/')}/{credentials.get('username') or 'i'}/status/{post_id}"

    async def publish(self, publication: Publication) -> Published:
        credentials = publication.credentials
        self._auth(credentials, "POST", self.settings.api)  # no token: nothing to try
        progress = publication.progress
        earlier = await progress.get("sent")
        if earlier is not None:
            verdict = await self.verify(publication)
            if isinstance(verdict, Published):
                log.info("x.publish.found", post_id=publication.post_id, external_id=verdict.external_id)
                return verdict
            if verdict is None:
                raise OutcomeUnknown("X can't tell whether the earlier attempt was published.")
        media_ids = await self._upload_all(publication)
        body: dict[str, Any] = {"text": publication.text}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        await progress.put("sent", f"{self._clock():.3f}")
        try:
            response = await self._call(credentials, "POST", f"{self.settings.api}/2/tweets", json=body)
        except DailyLimitReached as exc:
            self._note_daily_limit(credentials, exc)
            raise
        except Duplicate:
            if earlier is None:
                raise
            # X's duplicate check saw our earlier attempt, which the 5 latest posts didn't show (a busy account):
            # look further back before reporting a duplicate.
            found = await self._find(publication, 100, earlier)
            if isinstance(found, Published):
                log.info("x.publish.found", post_id=publication.post_id, external_id=found.external_id)
                return found
            raise
        data = self._http.json_object(response).get("data")
        post_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(post_id, str) or not post_id:
            raise OutcomeUnknown("X accepted the post but didn't say which post it made.")
        log.info("x.publish.done", post_id=publication.post_id, external_id=post_id, media=len(media_ids))
        return Published(external_id=post_id, url=self._post_url(credentials, post_id))

    async def _upload_all(self, publication: Publication) -> list[str]:
        credentials = publication.credentials
        ids: list[str] = []
        for n, ref in enumerate(publication.media):
            media_id = await publication.progress.get(f"media:{n}")
            if media_id is None:
                file = await publication.read_media(ref)
                media_id, processing = await self._upload(file, credentials)
                await publication.progress.put(f"media:{n}", media_id)
                log.info("x.media.uploaded", post_id=publication.post_id, n=n, processing=processing is not None)
                if processing is None:
                    await publication.progress.put(f"ready:{n}", "1")
                else:
                    await self._wait_processed(media_id, processing, credentials)
                    await publication.progress.put(f"ready:{n}", "1")
            elif await publication.progress.get(f"ready:{n}") is None:
                await self._wait_processed(media_id, await self._status(media_id, credentials), credentials)
                await publication.progress.put(f"ready:{n}", "1")
            ids.append(media_id)
        return ids

    @staticmethod
    def _category(file: MediaFile) -> str:
        if file.is_video:
            return "tweet_video"
        return "tweet_gif" if file.content_type == "image/gif" else "tweet_image"

    async def _upload(self, file: MediaFile, credentials: Credentials) -> tuple[str, dict[str, Any] | None]:
        """INITIALIZE, APPEND each segment, FINALIZE: the media id and its ``processing_info`` (None: ready)."""
        base = f"{self.settings.upload}/2/media/upload"
        init = {"media_type": file.content_type, "total_bytes": len(file.data), "media_category": self._category(file)}
        response = await self._call(credentials, "POST", f"{base}/initialize", json=init)
        data = self._http.json_object(response).get("data")
        media_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(media_id, str) or not media_id:
            raise PlatformDown("X started a media upload but didn't say its id.")
        size = self.settings.chunk_bytes
        for index, start in enumerate(range(0, len(file.data), size)):
            await self._append(f"{base}/{media_id}/append", file.data[start : start + size], index, credentials)
        response = await self._call(credentials, "POST", f"{base}/{media_id}/finalize")
        data = self._http.json_object(response).get("data")
        processing = data.get("processing_info") if isinstance(data, dict) else None
        return media_id, processing if isinstance(processing, dict) else None

    async def _append(self, url: str, chunk: bytes, index: int, credentials: Credentials) -> None:
        # PlatformHTTP sends forms and JSON; a segment is multipart, so it goes straight through httpx and any
        # failure is mapped by the same PlatformHTTP (an APPEND is safe to repeat: same segment_index).
        try:
            response = await self._http.client.post(
                url,
                headers=self._auth(credentials, "POST", url),
                data={"segment_index": str(index)},
                files={"media": ("blob", chunk, "application/octet-stream")},
                timeout=self._http.timeout,
            )
        except httpx.HTTPError as exc:
            error = self._http.transport_error(exc)
            raise (PlatformDown(str(error)) if isinstance(error, OutcomeUnknown) else error) from exc
        if not response.is_success:
            raise self._http.error_for(response)

    async def _status(self, media_id: str, credentials: Credentials) -> dict[str, Any] | None:
        params = {"command": "STATUS", "media_id": media_id}
        try:
            response = await self._call(credentials, "GET", f"{self.settings.upload}/2/media/upload", params=params)
        except OutcomeUnknown as exc:  # a status read changes nothing: unanswered is just "down"
            raise PlatformDown(str(exc)) from exc
        data = self._http.json_object(response).get("data")
        info = data.get("processing_info") if isinstance(data, dict) else None
        return info if isinstance(info, dict) else None

    async def _wait_processed(self, media_id: str, processing: dict[str, Any] | None, credentials: Credentials) -> None:
        """Poll STATUS until ``succeeded``; Rejected when ``failed``; PlatformDown (retry later: the media id is
        recorded, so the retry only polls) when X takes longer than ``processing_timeout``."""
        deadline = self._clock() + self.settings.processing_timeout
        while processing is not None:
            state = processing.get("state")
            if state == "succeeded":
                return
            if state == "failed":
                error = processing.get("error")
                message = error.get("message") if isinstance(error, dict) else None
                raise Rejected(_said(message, "X couldn't process this video or GIF."))
            wait = float(processing.get("check_after_secs") or 1)
            if self._clock() + wait > deadline:
                raise PlatformDown("X is still processing the video; Herald will try again.", retry_after=wait)
            await self._sleep(wait)
            processing = await self._status(media_id, credentials)

    # --- verifying

    async def verify(self, publication: Publication) -> Verdict:
        """The account's latest posts, matched by text (see :func:`comparable`) and, when ``sent`` was recorded,
        created no earlier than it (less :data:`CLOCK_SKEW`)."""
        return await self._find(publication, 5, await publication.progress.get("sent"))

    async def _find(self, publication: Publication, max_results: int, sent: str | None) -> Verdict:
        credentials = publication.credentials
        user_id = credentials.get("user_id")
        if not user_id:
            return None
        since = float(sent) - CLOCK_SKEW if sent else None
        params = {"max_results": str(max_results), "tweet.fields": "created_at,text"}
        try:
            response = await self._call(
                credentials, "GET", f"{self.settings.api}/2/users/{user_id}/tweets", params=params
            )
        except OutcomeUnknown as exc:
            raise PlatformDown(str(exc)) from exc
        posts = self._http.json_object(response).get("data") or []
        wanted = comparable(publication.text)
        for post in posts if isinstance(posts, list) else []:
            if not isinstance(post, dict) or comparable(str(post.get("text", ""))) != wanted:
                continue
            created = _timestamp(post.get("created_at"))
            if since is not None and created is not None and created < since:
                continue  # the same text posted earlier: not this attempt
            post_id = str(post.get("id", ""))
            if post_id:
                return Published(external_id=post_id, url=self._post_url(credentials, post_id))
        return ABSENT

    async def wait_before(self, publication: Publication) -> float | None:
        """X has no quota endpoint; but when the last 429 for this account said its 24-hour limit is spent, the
        seconds until that limit resets."""
        reset = self._daily_reset.get(publication.credentials.get("user_id") or "")
        if reset is None:
            return None
        wait = reset - self._clock()
        return wait if wait > 0 else None

    def _note_daily_limit(self, credentials: Credentials, error: DailyLimitReached) -> None:
        user_id = credentials.get("user_id")
        if user_id and error.retry_after is not None:
            self._daily_reset[user_id] = self._clock() + error.retry_after

    # --- tokens and accounts

    def _client_auth(self) -> dict[str, str]:
        settings = self.settings
        named = (("X_CLIENT_ID", settings.client_id), ("X_CLIENT_SECRET", settings.client_secret))
        missing = [name for name, value in named if not value]
        if missing:
            raise ConfigError(f"X isn't configured: set {' and '.join(missing)}.")
        pair = f"{quote(settings.client_id, safe='')}:{quote(settings.client_secret, safe='')}"
        return {"Authorization": f"Basic {base64.b64encode(pair.encode()).decode()}"}

    def _app_auth(self) -> dict[str, str]:
        """The app's Basic auth for a token call made for an account: a missing setting is Permanent there (the
        account isn't at fault, and isn't disconnected for it)."""
        try:
            return self._client_auth()
        except ConfigError as exc:
            raise Permanent(str(exc)) from exc

    async def oauth(self, instance: str | None = None) -> OAuthSpec:
        self._client_auth()
        return OAuthSpec(
            authorize_url=self.settings.authorize_url,
            token_url=self.settings.token,
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            scopes=SCOPES,
            pkce=True,
            token_auth="client_secret_basic",
        )

    async def refresh(self, credentials: Credentials) -> Credentials:
        """A new token pair; X rotates refresh tokens, so the old one stops working once this answers."""
        if not credentials.refresh_token:
            raise AuthExpired("X gave this account no refresh token (offline.access). Reconnect the account.")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": credentials.refresh_token,
            "client_id": self.settings.client_id,
        }
        try:
            response = await self._oauth.request("POST", self.settings.token, headers=self._app_auth(), data=form)
        except OutcomeUnknown as exc:
            # The answer is lost; if X did rotate, the old refresh token is spent and the next refresh says so.
            raise PlatformDown(str(exc)) from exc
        token = self._oauth.json_object(response)
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise PlatformDown("X's token endpoint answered without an access token.")
        refresh = token.get("refresh_token")
        return credentials.model_copy(
            update={
                "access_token": access,
                "refresh_token": refresh if isinstance(refresh, str) and refresh else credentials.refresh_token,
                "expires_at": self._expires_at(token.get("expires_in")),
                "scope": token.get("scope") if isinstance(token.get("scope"), str) else credentials.scope,
            }
        )

    def _expires_at(self, expires_in: Any) -> datetime | None:
        try:
            seconds = float(expires_in)
        except (TypeError, ValueError):
            return None
        return datetime.fromtimestamp(self._clock(), UTC) + timedelta(seconds=seconds)

    async def _me(self, credentials: Credentials) -> dict[str, Any]:
        try:
            response = await self._call(credentials, "GET", f"{self.settings.api}/2/users/me")
        except OutcomeUnknown as exc:
            raise PlatformDown(str(exc)) from exc
        data = self._http.json_object(response).get("data")
        if not isinstance(data, dict) or not data.get("id") or not data.get("username"):
            raise PlatformDown("X didn't say who this account is.")
        return data

    def _choice(self, me: Mapping[str, Any], credentials: Credentials) -> AccountChoice:
        username = str(me["username"])
        extra = {**credentials.extra, "user_id": str(me["id"]), "username": username}
        return AccountChoice(
            handle=username,
            label=f"@{username} on X",
            credentials=credentials.model_copy(update={"extra": extra}),
            url=f"{self.settings.web_url.rstrip('/')}/{username}",
        )

    async def check(self, credentials: Credentials) -> AccountChoice:
        return self._choice(await self._me(credentials), credentials)

    async def accounts(self, token: Mapping[str, Any], instance: str | None = None) -> list[AccountChoice]:
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise AuthExpired("X's login answered without an access token. Try connecting again.")
        refresh = token.get("refresh_token")
        expires_at = token.get("expires_at")
        credentials = Credentials(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) else None,
            expires_at=(
                datetime.fromtimestamp(float(expires_at), UTC)
                if isinstance(expires_at, int | float)
                else self._expires_at(token.get("expires_in"))
            ),
            scope=token.get("scope") if isinstance(token.get("scope"), str) else None,
        )
        return [self._choice(await self._me(credentials), credentials)]

    async def revoke(self, credentials: Credentials) -> bool:
        """``POST /2/oauth2/revoke`` for the refresh token, then the access token (OAuth 2.0 tokens only: OAuth
        1.0a user tokens are revoked in the X app's settings)."""
        if credentials.get("token_secret") is not None:
            return False
        headers = self._app_auth()
        url = f"{self.settings.api}/2/oauth2/revoke"
        for token, hint in ((credentials.refresh_token, "refresh_token"), (credentials.access_token, "access_token")):
            if token:
                form = {"token": token, "token_type_hint": hint, "client_id": self.settings.client_id}
                await self._oauth.request("POST", url, headers=headers, data=form)
        return True


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


__all__ = ["SCOPES", "DailyLimitReached", "XClient", "comparable", "rate_limit_wait"]
