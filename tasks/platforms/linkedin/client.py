"""LinkedIn's Posts API (``/rest/posts``) for a member or an organization page, images through the Images API.

Publishing, with each confirmed step kept in ``publication.progress``::

    POST /rest/images?action=initializeUpload  {"initializeUploadRequest": {"owner": author}}
         → value.uploadUrl, value.image (urn:li:image:…)
    PUT  uploadUrl  (the bytes)                                       → progress "media:N" = the image URN
                                                                      → progress "sent" (right before:)
    POST /rest/posts  {"author", "commentary", …, "content"?}         → 201, the post URN in x-restli-id

Every ``/rest`` call carries ``LinkedIn-Version: YYYYMM`` (LINKEDIN_VERSION) and ``X-Restli-Protocol-Version:
2.0.0``. LinkedIn has no idempotency key: a retry after ``sent`` first looks at the author's recent posts.

Tokens last 60 days; only some (partner) apps get refresh tokens (365 days, not extended by a refresh). Without
one the account must be reconnected before the access token expires.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

import httpx
import structlog

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
from tasks.platforms.http import DEFAULT_TIMEOUT, PlatformHTTP, platform_reason, retry_after
from tasks.platforms.linkedin.settings import LinkedInSettings

log = structlog.get_logger(__name__)

LABEL: Final = "LinkedIn"
RESTLI: Final = "2.0.0"
#: "little" text format: these are markup (mentions, hashtags, templates) unless escaped with a backslash
RESERVED: Final = frozenset("\\|{}@[]()<>#*_~")
_HASHTAG: Final = re.compile(r"(?<![\w\\#])#(?=\w)")
_HASHTAG_TEMPLATE: Final = re.compile(r"\{hashtag\|\\?#\|([^}]*)\}")
_ESCAPED: Final = re.compile(r"\\(.)", re.DOTALL)
_SLUG: Final = re.compile(r"[^a-z0-9._-]+")
#: how far back a post found by verify may have been created before "sent" was recorded (clock skew)
SKEW_MS: Final = 60_000


def little_text(text: str) -> str:
    """``text`` as the Posts API's ``commentary``: every reserved character escaped, except the ``#`` that
    starts a hashtag (``#herald`` stays a clickable hashtag, as LinkedIn's HashtagElement is written)."""
    keep = {m.start() for m in _HASHTAG.finditer(text)}
    return "".join(f"\\{ch}" if ch in RESERVED and i not in keep else ch for i, ch in enumerate(text))


def plain_text(little: str) -> str:
    """What a reader sees of ``little`` text as LinkedIn gives it back: hashtags come back as templates
    (``{hashtag|\\#|herald}``), every other escape is the character itself."""
    little = _HASHTAG_TEMPLATE.sub(lambda m: f"#{m.group(1)}", little)
    return _ESCAPED.sub(lambda m: m.group(1), little)


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def seconds_to_midnight_utc(now: float) -> float:
    """LinkedIn's daily limits reset at midnight UTC."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today + timedelta(days=1)).timestamp() - now


class LinkedInClient(BaseClient):
    """Publishes as ``credentials.extra["author_urn"]`` (``urn:li:person:…`` or ``urn:li:organization:…``)."""

    label = LABEL

    def __init__(
        self,
        settings: LinkedInSettings,
        http: httpx.AsyncClient,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._http = PlatformHTTP(http, LABEL, timeout=timeout, classify=self._classify, clock=clock)
        # the token endpoint words its errors the OAuth way (RFC 6749 §5.2)
        self._oauth = PlatformHTTP(http, LABEL, timeout=timeout, classify=self._classify_oauth, clock=clock)

    # --- URLs and headers

    @property
    def _api(self) -> str:
        return self.settings.api_url.rstrip("/")

    @property
    def _auth(self) -> str:
        return self.settings.auth_url.rstrip("/")

    def _rest(self, token: str | None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token or ''}",
            "LinkedIn-Version": self.settings.version,
            "X-Restli-Protocol-Version": RESTLI,
        }

    # --- publishing

    async def publish(self, publication: Publication) -> Published:
        token, author = _token(publication.credentials), _author(publication.credentials)
        progress = publication.progress
        if await progress.get("sent"):
            verdict = await self.verify(publication)
            if isinstance(verdict, Published):
                log.info("linkedin.already_published", post_id=publication.post_id, urn=verdict.external_id)
                return verdict
            if verdict is None:
                raise OutcomeUnknown(
                    f"{LABEL} may already have this post from an earlier attempt, and doesn't let Herald read the "
                    "account's recent posts to check (a member's need a permission LinkedIn keeps for partners)."
                )
            log.info("linkedin.absent_after_sent", post_id=publication.post_id)
        images = [
            await self._image(publication, token, author, i, f) for i, f in enumerate(await publication.media_files())
        ]
        body: dict[str, Any] = {
            "author": author,
            "commentary": little_text(publication.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if len(images) == 1:
            body["content"] = {"media": {"id": images[0]}}
        elif images:
            body["content"] = {"multiImage": {"images": [{"id": urn} for urn in images]}}
        await progress.put("sent", str(int(self._clock() * 1000)))
        try:
            response = await self._http.request("POST", f"{self._api}/rest/posts", headers=self._rest(token), json=body)
        except (Rejected, RateLimited, AuthExpired):
            # a definite refusal: nothing was published, so the next attempt needn't look first
            await progress.put("sent", "")
            raise
        urn = response.headers.get("x-restli-id")
        if not urn:
            raise OutcomeUnknown(f"{LABEL} accepted the post but didn't say which post it made.")
        return Published(external_id=urn, url=post_url(urn))

    async def _image(self, publication: Publication, token: str, author: str, index: int, file: MediaFile) -> str:
        """The image URN of ``file``, uploaded now unless an earlier attempt already did."""
        step = f"media:{index}"
        done = await publication.progress.get(step)
        if done:
            return done
        try:
            response = await self._http.request(
                "POST",
                f"{self._api}/rest/images?action=initializeUpload",
                headers=self._rest(token),
                json={"initializeUploadRequest": {"owner": author}},
            )
            value = self._http.json_object(response).get("value")
            upload_url = value.get("uploadUrl") if isinstance(value, dict) else None
            urn = value.get("image") if isinstance(value, dict) else None
            if not isinstance(upload_url, str) or not isinstance(urn, str):
                raise PlatformDown(f"{LABEL} didn't say where to upload the image.")
            await self._put(upload_url, token, file)
        except OutcomeUnknown as exc:
            # nothing is published before the post itself: an upload is safe to repeat
            raise PlatformDown(f"{LABEL} didn't answer while taking an image; Herald will upload it again.") from exc
        await publication.progress.put(step, urn)
        return urn

    async def _put(self, url: str, token: str, file: MediaFile) -> None:
        http = self._http
        try:
            response = await http.client.put(
                url,
                content=file.data,
                headers={"Authorization": f"Bearer {token}", "Content-Type": file.content_type},
                timeout=http.timeout,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise http.transport_error(exc) from exc
        if not response.is_success:
            raise http.error_for(response)

    async def verify(self, publication: Publication) -> Verdict:
        """The author's ten most recent posts, matched by commentary and not older than ``sent``. None when
        LinkedIn won't show them (a member's own posts need ``r_member_social``, which LinkedIn keeps for
        partners; a page's need ``r_organization_social``)."""
        credentials = publication.credentials
        token, author = _token(credentials), _author(credentials)
        url = f"{self._api}/rest/posts?author={quote(author, safe='')}&q=author&count=10&sortBy=LAST_MODIFIED"
        try:
            response = await self._http.request("GET", url, headers=self._rest(token))
        except Rejected:
            return None
        elements = self._http.json_object(response).get("elements")
        if not isinstance(elements, list):
            return None
        sent = await publication.progress.get("sent")
        since = int(sent) - SKEW_MS if sent and sent.isdigit() else None
        wanted = publication.text.strip()
        for element in elements:
            commentary = element.get("commentary") if isinstance(element, dict) else None
            if not isinstance(commentary, str) or plain_text(commentary).strip() != wanted:
                continue
            created = element.get("createdAt")
            if since is not None and isinstance(created, int) and created < since:
                continue
            urn = element.get("id")
            if isinstance(urn, str):
                return Published(external_id=urn, url=post_url(urn))
        return ABSENT

    # --- tokens

    async def refresh(self, credentials: Credentials) -> Credentials:
        if not credentials.refresh_token:
            raise AuthExpired(_reconnect(credentials, self._clock()))
        try:
            response = await self._oauth.request(
                "POST",
                f"{self._auth}/accessToken",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": credentials.refresh_token,
                    "client_id": self.settings.client_id,
                    "client_secret": self.settings.client_secret,
                },
            )
        except OutcomeUnknown as exc:  # a refresh is safe to repeat: never a reason to disconnect
            raise PlatformDown(f"{LABEL} didn't answer the token refresh in time.") from exc
        return self._credentials(self._oauth.json_object(response), credentials)

    def _credentials(self, token: Mapping[str, Any], old: Credentials | None = None) -> Credentials:
        """Credentials from a token answer (``expires_in`` seconds from now); what it leaves out is kept."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise PlatformDown(f"{LABEL} answered the token request without a token.")
        expires_in, refresh_in = _seconds(token.get("expires_in")), _seconds(token.get("refresh_token_expires_in"))
        refresh_token = token.get("refresh_token") or (old.refresh_token if old else None)
        scope = token.get("scope")
        return Credentials(
            access_token=access,
            refresh_token=refresh_token if isinstance(refresh_token, str) else None,
            expires_at=now + timedelta(seconds=expires_in) if expires_in is not None else None,
            refresh_expires_at=(
                now + timedelta(seconds=refresh_in)
                if refresh_in is not None
                else (old.refresh_expires_at if old else None)
            ),
            scope=scope if isinstance(scope, str) else (old.scope if old else None),
            extra=dict(old.extra) if old else {},
        )

    async def revoke(self, credentials: Credentials) -> bool:
        if not credentials.access_token:
            return False
        await self._oauth.request(
            "POST",
            f"{self._auth}/revoke",
            data={
                "client_id": self.settings.client_id,
                "client_secret": self.settings.client_secret,
                "token": credentials.access_token,
            },
        )
        return True

    # --- accounts

    async def check(self, credentials: Credentials) -> AccountChoice:
        token, author = _token(credentials), _author(credentials)
        if author.startswith("urn:li:organization:"):
            org = await self._organization(token, author.rsplit(":", 1)[1])
            return _org_choice(org, author, credentials)
        person, name = await self._person(token, _granted(credentials, self.settings))
        if person != author:
            raise AuthExpired(f"{LABEL}'s token belongs to someone else now. Reconnect the account.")
        return _person_choice(person, name, credentials)

    async def oauth(self, instance: str | None = None) -> OAuthSpec:
        s = self.settings
        missing = [
            n for n, v in (("LINKEDIN_CLIENT_ID", s.client_id), ("LINKEDIN_CLIENT_SECRET", s.client_secret)) if not v
        ]
        if missing:
            raise ConfigError(f"LinkedIn isn't configured: set {' and '.join(missing)}.")
        # LinkedIn offers PKCE only to native apps on a loopback redirect, enabled on request: a web app sends
        # the client secret instead.
        return OAuthSpec(
            authorize_url=f"{self._auth}/authorization",
            token_url=f"{self._auth}/accessToken",
            client_id=s.client_id,
            client_secret=s.client_secret,
            scopes=s.scopes,
            pkce=False,
            token_auth="client_secret_post",
        )

    async def accounts(self, token: Mapping[str, Any], instance: str | None = None) -> list[AccountChoice]:
        """The member, then every page they administer (when the app asked for the organization scopes)."""
        credentials = self._credentials(token)
        access = _token(credentials)
        granted = _granted(credentials, self.settings)
        person, name = await self._person(access, granted)
        choices = [_person_choice(person, name, credentials.model_copy(update={"extra": {"author_urn": person}}))]
        if "rw_organization_admin" not in granted:
            return choices
        try:
            response = await self._http.request(
                "GET",
                f"{self._api}/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED&count=100",
                headers=self._rest(access),
            )
        except Rejected as exc:  # the app lacks the Community Management API: the member alone
            log.warning("linkedin.no_organizations", reason=str(exc))
            return choices
        seen: set[str] = set()
        for acl in _elements(self._http.json_object(response)):
            org = acl.get("organization") or acl.get("organizationTarget")
            if not isinstance(org, str) or not org.startswith("urn:li:organization:") or org in seen:
                continue
            seen.add(org)
            details = await self._organization(access, org.rsplit(":", 1)[1])
            choices.append(_org_choice(details, org, credentials.model_copy(update={"extra": {"author_urn": org}})))
        return choices

    async def _person(self, token: str, granted: list[str]) -> tuple[str, str]:
        """The member's URN and name: OpenID Connect's userinfo, or the profile (``/v2/me``) for an app without
        OpenID (a Community Management API app has ``r_basicprofile`` instead)."""
        headers = {"Authorization": f"Bearer {token}"}
        if "openid" not in granted and ("r_basicprofile" in granted or "r_liteprofile" in granted):
            me = self._http.json_object(await self._http.request("GET", f"{self._api}/v2/me", headers=headers))
            member = me.get("id")
            first, last = me.get("localizedFirstName") or "", me.get("localizedLastName") or ""
            name = f"{first} {last}".strip()
        else:
            info = self._http.json_object(await self._http.request("GET", f"{self._api}/v2/userinfo", headers=headers))
            member = info.get("sub")
            name = info.get("name") or " ".join(str(info.get(k) or "") for k in ("given_name", "family_name")).strip()
        if not isinstance(member, str) or not member:
            raise PlatformDown(f"{LABEL} didn't say who this login is.")
        return f"urn:li:person:{member}", str(name or member)

    async def _organization(self, token: str, org_id: str) -> dict[str, Any]:
        response = await self._http.request(
            "GET", f"{self._api}/rest/organizations/{quote(org_id, safe='')}", headers=self._rest(token)
        )
        return self._http.json_object(response)

    # --- errors

    def _classify(self, response: httpx.Response) -> PlatformError | None:
        """LinkedIn's error bodies: ``{"status", "serviceErrorCode", "code", "message"}``."""
        body = _json(response)
        code = body.get("code")
        status = response.status_code
        if status == 426 or code == "NONEXISTENT_VERSION":
            version = response.request.headers.get("LinkedIn-Version", self.settings.version)
            return Rejected(
                f"{LABEL} no longer accepts API version {version}: set LINKEDIN_VERSION to a current version "
                "(YYYYMM, see LinkedIn's versioning page) and restart Herald."
            )
        if status == 422 and "DUPLICATE_POST" in _input_error_codes(body):
            said = platform_reason(response)
            return Duplicate(f"{LABEL} already has this post" + (f" ({said.rstrip('.')})." if said else "."))
        if status == 429:
            now = self._clock()
            wait = retry_after(response.headers, now)
            if wait is None:
                wait = seconds_to_midnight_utc(now)
            said = platform_reason(response)
            n = max(1, math.ceil(wait))
            prefix = f"{LABEL} said: {said}" if said else f"{LABEL} is rate limiting Herald."
            return RateLimited(f"{prefix} Retry in {n} seconds (its daily limits reset at midnight UTC).", wait)
        if status == 403 and code == "ACCESS_DENIED":
            permission = _permission_for(response.request)
            said = platform_reason(response)
            return Rejected(
                f"{LABEL} refused: the account lacks the {permission} permission"
                + (f" ({said.rstrip('.')})" if said else "")
                + ". Reconnect it after giving the LinkedIn app that access."
            )
        return None

    def _classify_oauth(self, response: httpx.Response) -> PlatformError | None:
        body = _json(response)
        error = body.get("error")
        said = platform_reason(response) or (f"{error}." if isinstance(error, str) else None)
        if error == "invalid_grant":
            return AuthExpired(
                f"{LABEL} refused the refresh token ({(said or error).rstrip('.')}). Reconnect the account."
            )
        if error == "invalid_client":
            return Permanent(f"{LABEL} refused Herald's app: check LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET.")
        if response.status_code == 429 or response.status_code >= 500:
            return None  # the standard mapping: Transient
        if 400 <= response.status_code < 500:
            return Rejected(f"{LABEL} said: {said}" if said else f"{LABEL} refused the token request.")
        return None


def _token(credentials: Credentials) -> str:
    if not credentials.access_token:
        raise AuthExpired(f"{LABEL} has no access token for this account. Reconnect the account.")
    return credentials.access_token


def _author(credentials: Credentials) -> str:
    author = credentials.get("author_urn")
    if not author:
        raise Rejected(f"{LABEL} account has no author (person or page); connect it again.")
    return author


def _granted(credentials: Credentials, settings: LinkedInSettings) -> list[str]:
    """The scopes the token has (LinkedIn lists them comma-separated), else the ones Herald asks for."""
    return (credentials.scope or " ".join(settings.scopes)).replace(",", " ").split()


def _reconnect(credentials: Credentials, now: float) -> str:
    expires = credentials.expires_at
    if expires is None:
        return f"{LABEL} can't refresh this account's token. Reconnect the account."
    day = expires.astimezone(UTC).strftime("%Y-%m-%d")
    if expires.timestamp() <= now:
        return (
            f"{LABEL}'s token for this account expired on {day} and LinkedIn gives this app no refresh token. "
            "Reconnect the account."
        )
    return f"{LABEL} gives this app no refresh token: reconnect the account before {day}, when its token expires."


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _input_error_codes(body: Mapping[str, Any]) -> set[str]:
    details = body.get("errorDetails")
    errors = details.get("inputErrors") if isinstance(details, dict) else None
    if not isinstance(errors, list):
        return set()
    return {e["code"] for e in errors if isinstance(e, dict) and isinstance(e.get("code"), str)}


def _permission_for(request: httpx.Request) -> str:
    """Which LinkedIn permission a refused request needed, from what it asked."""
    path = request.url.path
    if path.endswith("/userinfo"):
        return "openid and profile"
    if path.endswith("/v2/me"):
        return "r_basicprofile"
    if path.endswith("/organizationAcls") or "/organizations" in path:
        return "rw_organization_admin"
    if request.method == "GET" and path.endswith("/rest/posts"):
        author = request.url.params.get("author", "")
        return "r_organization_social" if "organization" in author else "r_member_social"
    try:
        body = json.loads(request.content or b"{}")
    except (ValueError, httpx.RequestNotRead):
        body = {}
    owner = ""
    if isinstance(body, dict):
        init = body.get("initializeUploadRequest")
        owner = str(body.get("author") or (init.get("owner") if isinstance(init, dict) else "") or "")
    return "w_organization_social" if owner.startswith("urn:li:organization:") else "w_member_social"


def _elements(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    elements = body.get("elements")
    return [e for e in elements if isinstance(e, dict)] if isinstance(elements, list) else []


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _slug(name: str, fallback: str) -> str:
    slug = _SLUG.sub("-", name.lower()).strip("-.")
    return slug or fallback


def _person_choice(urn: str, name: str, credentials: Credentials) -> AccountChoice:
    return AccountChoice(
        handle=_slug(name, urn.rsplit(":", 1)[1]), label=f"{name} on LinkedIn", credentials=credentials
    )


def _org_choice(org: Mapping[str, Any], urn: str, credentials: Credentials) -> AccountChoice:
    org_id = urn.rsplit(":", 1)[1]
    name = str(org.get("localizedName") or org.get("vanityName") or org_id)
    vanity = org.get("vanityName")
    url = f"https://www.linkedin.com/company/{vanity or org_id}/"
    handle = _slug(str(vanity or name), f"org-{org_id}")
    return AccountChoice(handle=handle, label=f"{name} (LinkedIn page)", credentials=credentials, url=url)


__all__ = ["LinkedInClient", "little_text", "plain_text", "post_url", "seconds_to_midnight_utc"]
