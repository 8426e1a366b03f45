"""Bluesky over XRPC (AT Protocol), with an app password.

Connecting: ``com.atproto.server.createSession`` (handle + app password) on the entryway gives an access JWT
(~2 h), a refresh JWT (~2 months) and the account's DID document, whose ``#atproto_pds`` service is the PDS every
later call goes to. The app password itself is never stored. ``createSession`` is rate-limited (30 per 5 min,
300 per day), so Herald never logs in again per post: ``refresh`` calls ``refreshSession`` with the refresh JWT,
which rotates it.

Publishing (each step recorded in ``publication.progress``)::

    rkey      a TID chosen once per delivery, before anything else: every retry writes the same record
    media:N   uploadBlob → the blob JSON (images); never uploaded twice
    card      the link card's embed JSON ("{}": no card), for a post without images that has a link
    sent      right before createRecord {repo, collection: app.bsky.feed.post, rkey, record}

A retry of a create whose answer was lost hits the same rkey: the PDS then refuses (today a 500
``InternalServerError``; a later PDS names the error), and ``getRecord`` on the rkey shows the post is there. So
the client is ``idempotent``: an unknown outcome may simply be retried.

Errors are the XRPC bodies ``{"error": Name, "message": …}``: ``ExpiredToken`` / ``InvalidToken`` /
``AuthMissing`` → AuthExpired, ``AccountTakedown`` → Rejected, 429 ``RateLimitExceeded`` with ``ratelimit-reset``
→ RateLimited, other 400s → Rejected with the message, 5xx → PlatformDown.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import structlog

from models.errors import InvalidInput
from tasks.platforms.base import (
    ABSENT,
    AccountChoice,
    BaseClient,
    Credentials,
    MediaFile,
    Publication,
    Published,
    SecretField,
    Verdict,
)
from tasks.platforms.bluesky import cards
from tasks.platforms.bluesky.facets import facets, first_link
from tasks.platforms.bluesky.rules import MAX_IMAGE_BYTES
from tasks.platforms.bluesky.settings import BlueskySettings
from tasks.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    PlatformDown,
    PlatformError,
    Rejected,
    Transient,
)
from tasks.platforms.http import DEFAULT_TIMEOUT, PlatformHTTP, platform_reason

log = structlog.get_logger(__name__)

LABEL: Final = "Bluesky"
POST: Final = "app.bsky.feed.post"
#: The error names that mean "this token no longer works": refresh, else reconnect.
AUTH_ERRORS: Final = frozenset({"ExpiredToken", "InvalidToken", "AuthMissing"})
#: The account itself can't post (reconnecting doesn't help).
ACCOUNT_ERRORS: Final = frozenset({"AccountTakedown", "AccountDeactivated", "AccountSuspended"})
TID_ALPHABET: Final = "234567abcdefghijklmnopqrstuvwxyz"


class RecordNotFound(Rejected):
    """``getRecord``: no record at that rkey (400 ``RecordNotFound``)."""


def _error_name(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    name = body.get("error") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


def classify(response: httpx.Response) -> PlatformError | None:
    """Bluesky's error names (the standard mapping covers the rest: 429, 5xx, other 4xx)."""
    name = _error_name(response)
    reason = platform_reason(response)
    said = f"{LABEL} said: {reason}" if reason else f"{LABEL} refused the request ({name})."
    if name == "RecordNotFound":
        return RecordNotFound(said)
    if name in ACCOUNT_ERRORS:
        return Rejected(said)
    if name == "AuthFactorTokenRequired":
        return Rejected(
            f"{LABEL} asked for an email sign-in code, which means this is the account's own password: "
            "use an app password (Settings → Privacy and security → App passwords)."
        )
    if name in AUTH_ERRORS and response.status_code != 429:
        return AuthExpired(f"{said} Reconnect the account.")
    return None


def tid(now: float | None = None, clock_id: int | None = None) -> str:
    """A TID (the atproto spec's record key for posts): 64 bits, the top one 0, then microseconds since the
    epoch (53 bits) and a random clock id (10 bits), as 13 characters of base32-sortable."""
    micros = int((time.time() if now is None else now) * 1_000_000)
    clock = secrets.randbelow(1024) if clock_id is None else clock_id
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock & 0x3FF)
    return "".join(TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def jwt_expiry(token: str | None) -> datetime | None:
    """The ``exp`` claim of a JWT, read without verifying it (the PDS verifies; Herald only plans refreshes)."""
    if not token or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None


def pds_endpoint(did_doc: Any) -> str | None:
    """The ``#atproto_pds`` service endpoint of a DID document, if it has one."""
    services = did_doc.get("service") if isinstance(did_doc, dict) else None
    for service in services if isinstance(services, list) else []:
        if (
            isinstance(service, dict)
            and str(service.get("id", "")).endswith("#atproto_pds")
            and isinstance(service.get("serviceEndpoint"), str)
        ):
            return str(service["serviceEndpoint"]).rstrip("/")
    return None


class BlueskyClient(BaseClient):
    """Publishes ``app.bsky.feed.post`` records to the account's PDS (module docstring)."""

    idempotent = True
    label = LABEL
    secret_fields: tuple[SecretField, ...] = (
        SecretField("handle", "Handle", hint="e.g. acme.bsky.social, or the account's email"),
        SecretField(
            "app_password",
            "App password",
            secret=True,
            hint="made in Settings → Privacy and security → App passwords; not the account's password",
        ),
    )

    def __init__(
        self, settings: BlueskySettings, http: httpx.AsyncClient, timeout: httpx.Timeout = DEFAULT_TIMEOUT
    ) -> None:
        self.settings = settings
        self._client = http
        self._timeout = timeout
        self._http = PlatformHTTP(http, LABEL, timeout=timeout, classify=classify)

    # --- connecting

    async def connect_secret(self, values: Mapping[str, str]) -> list[AccountChoice]:
        identifier = values.get("handle", "").strip().removeprefix("@")
        password = values.get("app_password", "").strip()
        if not identifier or not password:
            raise InvalidInput("Bluesky needs the account's handle and an app password.")
        service = self.settings.pds_url.rstrip("/")
        try:
            response = await self._http.request(
                "POST",
                f"{service}/xrpc/com.atproto.server.createSession",
                json={"identifier": identifier, "password": password},
            )
        except AuthExpired as exc:
            reason = str(exc).removesuffix(" Reconnect the account.")
            raise Rejected(f"{reason} Check the handle and the app password.") from exc
        except OutcomeUnknown as exc:
            raise PlatformDown(f"{LABEL} didn't answer the login in time; try again.") from exc
        return [self._choice(self._http.json_object(response), service, None)]

    async def refresh(self, credentials: Credentials) -> Credentials:
        if not credentials.refresh_token:
            raise AuthExpired(f"{LABEL} has no session to renew for this account. Reconnect the account.")
        service = self._service(credentials)
        try:
            response = await self._http.request(
                "POST",
                f"{service}/xrpc/com.atproto.server.refreshSession",
                headers={"Authorization": f"Bearer {credentials.refresh_token}"},
            )
        except OutcomeUnknown as exc:
            # The PDS may have rotated the refresh token; the old one still works within its grace period.
            raise PlatformDown(f"{LABEL} didn't answer the session refresh in time.") from exc
        return self._choice(self._http.json_object(response), service, credentials).credentials

    async def check(self, credentials: Credentials) -> AccountChoice:
        response = await self._get(credentials, "com.atproto.server.getSession", auth=True)
        body = self._http.json_object(response)
        if body.get("active") is False:
            status = body.get("status") or "inactive"
            raise Rejected(f"{LABEL} says this account is {status}.")
        handle = str(body.get("handle") or credentials.get("handle") or "")
        extra = {**credentials.extra, "handle": handle, "did": str(body.get("did") or credentials.get("did") or "")}
        updated = credentials.model_copy(update={"extra": extra})
        return self._account(handle, updated)

    async def revoke(self, credentials: Credentials) -> bool:
        if not credentials.refresh_token:
            return False
        await self._http.request(
            "POST",
            f"{self._service(credentials)}/xrpc/com.atproto.server.deleteSession",
            headers={"Authorization": f"Bearer {credentials.refresh_token}"},
        )
        return True

    def _choice(self, session: dict[str, Any], service: str, previous: Credentials | None) -> AccountChoice:
        access, refresh = session.get("accessJwt"), session.get("refreshJwt")
        did, handle = session.get("did"), session.get("handle")
        if not all(isinstance(v, str) and v for v in (access, refresh, did, handle)):
            raise PlatformDown(f"{LABEL} answered the login without a session.")
        old = previous.extra if previous is not None else {}
        pds = pds_endpoint(session.get("didDoc")) or old.get("pds") or service
        credentials = Credentials(
            access_token=str(access),
            refresh_token=str(refresh),
            expires_at=jwt_expiry(str(access)),
            refresh_expires_at=jwt_expiry(str(refresh)),
            extra={**old, "did": str(did), "handle": str(handle), "pds": pds, "service": service},
        )
        return self._account(str(handle), credentials)

    def _account(self, handle: str, credentials: Credentials) -> AccountChoice:
        return AccountChoice(
            handle=handle,
            label=f"@{handle} on Bluesky",
            credentials=credentials,
            url=f"{self.settings.web_url.rstrip('/')}/profile/{handle}",
        )

    # --- publishing

    async def publish(self, publication: Publication) -> Published:
        credentials = publication.credentials
        did = credentials.get("did")
        if not did or not credentials.access_token:
            raise AuthExpired(f"{LABEL} has no session for this account. Reconnect the account.")
        progress = publication.progress
        rkey = await progress.get("rkey")
        if rkey is None:
            rkey = tid()
            await progress.put("rkey", rkey)
        if await progress.get("sent") is not None:
            found = await self._lookup(credentials, rkey)
            if found is not None:
                return found
        record = await self._record(publication)
        await progress.put("sent", rkey)
        try:
            response = await self._http.request(
                "POST",
                self._xrpc(credentials, "com.atproto.repo.createRecord"),
                headers=self._auth(credentials),
                json={"repo": did, "collection": POST, "rkey": rkey, "record": record},
            )
        except (PlatformDown, OutcomeUnknown, Rejected) as exc:
            # An earlier attempt may have created it: the PDS refuses a second create at the same rkey.
            found = await self._settle(credentials, rkey)
            if found is not None:
                log.info("bluesky.already_published", post_id=publication.post_id, rkey=rkey)
                return found
            raise exc
        body = self._http.json_object(response)
        uri = body.get("uri")
        return self._published(credentials, str(uri) if isinstance(uri, str) else self._uri(credentials, rkey), rkey)

    async def verify(self, publication: Publication) -> Verdict:
        rkey = await publication.progress.get("rkey")
        if rkey is None:
            return ABSENT  # the rkey is recorded before the first createRecord: nothing was sent
        found = await self._lookup(publication.credentials, rkey)
        return ABSENT if found is None else found

    async def _lookup(self, credentials: Credentials, rkey: str) -> Published | None:
        """The post at ``rkey`` (``getRecord``), or None when the PDS has no such record."""
        params = {"repo": credentials.get("did") or "", "collection": POST, "rkey": rkey}
        try:
            response = await self._get(credentials, "com.atproto.repo.getRecord", params=params)
        except RecordNotFound:
            return None
        body = self._http.json_object(response)
        uri = body.get("uri")
        return self._published(credentials, str(uri) if isinstance(uri, str) else self._uri(credentials, rkey), rkey)

    async def _settle(self, credentials: Credentials, rkey: str) -> Published | None:
        """After a failed create: the post when it is there after all, else None (including when the PDS can't
        be asked: the create's own error is what the caller reports)."""
        try:
            return await self._lookup(credentials, rkey)
        except (PlatformError, OutcomeUnknown):
            return None

    def _published(self, credentials: Credentials, uri: str, rkey: str) -> Published:
        handle = credentials.get("handle") or credentials.get("did") or ""
        return Published(external_id=uri, url=f"{self.settings.web_url.rstrip('/')}/profile/{handle}/post/{rkey}")

    def _uri(self, credentials: Credentials, rkey: str) -> str:
        return f"at://{credentials.get('did')}/{POST}/{rkey}"

    async def _record(self, publication: Publication) -> dict[str, Any]:
        """The ``app.bsky.feed.post`` record: text, ``createdAt``, facets and the images or link card embed.

        ``createdAt`` is now, not the rkey's time: a post held for hours (an account to reconnect) would otherwise
        be back-dated, and the AppView sorts feeds by the earlier of ``createdAt`` and when it saw the post."""
        credentials, text = publication.credentials, publication.text
        created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": created}

        async def resolve(handle: str) -> str | None:
            return await self._resolve(credentials, handle)

        found = await facets(text, resolve)
        if found:
            record["facets"] = found
        embed = await self._images(publication)
        if embed is None and self.settings.link_cards:
            embed = await self._card(publication)
        if embed is not None:
            record["embed"] = embed
        return record

    async def _images(self, publication: Publication) -> dict[str, Any] | None:
        files = await publication.media_files()
        if not files:
            return None
        if any(f.is_video for f in files):
            raise Rejected("Herald doesn't publish videos to Bluesky yet; attach images instead.")
        if len(files) > 4:
            raise Rejected(f"Bluesky takes at most 4 images in a post; this one has {len(files)}.")
        images = []
        for n, file in enumerate(files):
            step = f"media:{n}"
            stored = await publication.progress.get(step)
            if stored is None:
                blob = await self._upload(publication.credentials, file)
                await publication.progress.put(step, json.dumps(blob, separators=(",", ":")))
            else:
                blob = json.loads(stored)
            images.append({"alt": "", "image": blob})
        return {"$type": "app.bsky.embed.images", "images": images}

    async def _upload(self, credentials: Credentials, file: MediaFile) -> dict[str, Any]:
        if len(file.data) > MAX_IMAGE_BYTES:
            raise Rejected(
                f"Bluesky takes images of at most 1 MB; {file.filename} is {len(file.data) / 1_000_000:.1f} MB."
            )
        return await self._upload_bytes(credentials, file.data, file.content_type)

    async def _upload_bytes(self, credentials: Credentials, data: bytes, content_type: str) -> dict[str, Any]:
        """``uploadBlob`` (the raw bytes, with their MIME type) → the blob reference for a record."""
        # PlatformHTTP sends forms and JSON; a blob is a raw body, so this one call is made here and mapped by it.
        try:
            response = await self._client.post(
                self._xrpc(credentials, "com.atproto.repo.uploadBlob"),
                content=data,
                headers={**self._auth(credentials), "Content-Type": content_type},
                timeout=self._timeout,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = self._http.transport_error(exc)
            if isinstance(error, OutcomeUnknown):  # uploading again is harmless: blobs are content-addressed
                raise PlatformDown(f"{LABEL} didn't answer an image upload in time.") from exc
            raise error from exc
        if not response.is_success:
            raise self._http.error_for(response)
        blob = self._http.json_object(response).get("blob")
        if not isinstance(blob, dict):
            raise PlatformDown(f"{LABEL} answered an image upload without the blob.")
        return blob

    async def _card(self, publication: Publication) -> dict[str, Any] | None:
        """The link card of the text's first link (``app.bsky.embed.external``), or None; never fails the post."""
        stored = await publication.progress.get("card")
        if stored is not None:
            recorded: dict[str, Any] = json.loads(stored)
            return recorded or None
        uri = first_link(publication.text)
        embed: dict[str, Any] = {}
        if uri is not None:
            card = await cards.fetch(self._client, uri)
            if card is not None:
                external: dict[str, Any] = {"uri": card.uri, "title": card.title, "description": card.description}
                thumb = await self._thumb(publication, card.image)
                if thumb is not None:
                    external["thumb"] = thumb
                embed = {"$type": "app.bsky.embed.external", "external": external}
        await publication.progress.put("card", json.dumps(embed, separators=(",", ":")))
        return embed or None

    async def _thumb(self, publication: Publication, url: str | None) -> dict[str, Any] | None:
        if url is None:
            return None
        image = await cards.fetch_image(self._client, url)
        if image is None:
            return None
        try:
            return await self._upload_bytes(publication.credentials, *image)
        except (Rejected, Transient) as exc:
            log.info("bluesky.card_thumb_skipped", post_id=publication.post_id, reason=str(exc))
            return None

    async def _resolve(self, credentials: Credentials, handle: str) -> str | None:
        """The DID of ``handle`` (``com.atproto.identity.resolveHandle`` on the PDS), None when it doesn't resolve."""
        try:
            response = await self._get(credentials, "com.atproto.identity.resolveHandle", params={"handle": handle})
        except Rejected:
            return None
        did = self._http.json_object(response).get("did")
        return did if isinstance(did, str) and did.startswith("did:") else None

    # --- plumbing

    def _service(self, credentials: Credentials) -> str:
        """Where the session lives (the entryway it was created at)."""
        return (credentials.get("service") or self.settings.pds_url).rstrip("/")

    def _xrpc(self, credentials: Credentials, method: str) -> str:
        pds = (credentials.get("pds") or self.settings.pds_url).rstrip("/")
        return f"{pds}/xrpc/{method}"

    @staticmethod
    def _auth(credentials: Credentials) -> dict[str, str]:
        return {"Authorization": f"Bearer {credentials.access_token}"}

    async def _get(
        self, credentials: Credentials, method: str, *, params: Mapping[str, str] | None = None, auth: bool = False
    ) -> httpx.Response:
        """A query (GET); a lost answer is PlatformDown here: asking again is always safe."""
        try:
            return await self._http.request(
                "GET",
                self._xrpc(credentials, method),
                headers=self._auth(credentials) if auth else None,
                params=params,
            )
        except OutcomeUnknown as exc:
            raise PlatformDown(f"{LABEL} didn't answer in time.") from exc
