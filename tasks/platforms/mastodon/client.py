"""Mastodon (any server): Herald's app registered per server, OAuth 2 with PKCE, media, statuses.

Publishing a status::

    POST /api/v2/media (multipart ``file``)   200: processed (``url`` set); 202: still processing (``url`` null)
    GET  /api/v1/media/:id                    206 while processing, 200 once ``url`` is set   (polled, bounded)
    POST /api/v1/statuses                     ``status``, ``media_ids[]``, ``visibility``; ``Idempotency-Key``

Each uploaded media id is recorded (``media:N``) so a retry never uploads again. The status call carries the
delivery's ``Idempotency-Key``: for an hour the server answers a repeat with the status it already made, so an
unknown outcome is simply retried (``idempotent``). ``sent`` records when the first status call went out; past
that hour a repeat could post twice, so :meth:`MastodonClient.verify` looks at the account's latest statuses
first, and what it can't settle goes to a human.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import structlog

from handlers.text import textcount
from models.errors import ConfigError, InvalidInput
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
    OutcomeUnknown,
    Permanent,
    PlatformDown,
    PlatformError,
    Rejected,
)
from tasks.platforms.http import DEFAULT_TIMEOUT, PlatformHTTP
from tasks.platforms.mastodon import rules
from tasks.platforms.mastodon.apps import AppStore, DatabaseApps, RegisteredApp
from tasks.platforms.mastodon.settings import SCOPES, MastodonSettings

log = structlog.get_logger(__name__)

#: How long a server remembers an Idempotency-Key (Mastodon: one hour), less a margin for clock drift.
KEY_WINDOW: Final = timedelta(minutes=55)
TAG: Final = re.compile(r"<[^>]*>")
MENTION: Final = textcount.MASTODON_MENTION


def normalize_instance(value: str) -> str:
    """A server's base URL: ``mastodon.social``, ``@me@mastodon.social`` → ``https://mastodon.social``; a URL
    given with its scheme (``http://mastodon.internal:3000``) is kept as given, without path or trailing slash."""
    text = value.strip()
    if "://" not in text:
        text = text.lstrip("@").rsplit("@", 1)[-1]  # "me@mastodon.social" names the server too
        text = f"https://{text}"
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    dotted = bool(parts.hostname) and "." in (parts.hostname or "").strip(".")
    if parts.scheme not in ("http", "https") or not (dotted or parts.hostname == "localhost"):
        raise InvalidInput(f"{value.strip()!r} is not a Mastodon server; give its name, e.g. mastodon.social.")
    host = parts.hostname.lower() if parts.hostname else ""
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}"


def _classify(response: httpx.Response) -> PlatformError | None:
    # Attaching media the server hasn't finished processing: 422, worth retrying shortly.
    if response.status_code == 422 and "not finished processing" in response.text:
        return PlatformDown("Mastodon is still processing the media.", retry_after=5.0)
    return None


class MastodonClient(BaseClient):
    """Publishes to the account's own server (``credentials.extra["instance"]``) with its Bearer token."""

    idempotent = True
    label = "Mastodon"

    def __init__(
        self,
        settings: MastodonSettings,
        http: httpx.AsyncClient,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        *,
        apps: AppStore | None = None,
    ) -> None:
        self.settings = settings
        self.apps: AppStore = apps if apps is not None else DatabaseApps()
        self._http = PlatformHTTP(http, self.label, timeout=timeout, classify=_classify)

    # --- publishing

    async def publish(self, publication: Publication) -> Published:
        instance, headers = _account(publication.credentials)
        _check_text(publication)
        progress = publication.progress
        sent = await progress.get("sent")
        if sent is not None and not _key_still_honoured(sent):
            verdict = await self.verify(publication)
            if isinstance(verdict, Published):
                return verdict
            if verdict != ABSENT:
                raise OutcomeUnknown(
                    "Mastodon got this post over an hour ago without answering, and its Idempotency-Key no longer "
                    "guards a retry: check the account, then /verify or /republish."
                )
            sent = None
        media_ids = await self._media(publication, instance, headers)
        if sent is None:
            await progress.put("sent", datetime.now(UTC).isoformat())
        form: dict[str, Any] = {"status": publication.text, "visibility": "public"}
        if media_ids:
            form["media_ids[]"] = media_ids
        response = await self._http.request(
            "POST",
            f"{instance}/api/v1/statuses",
            headers={**headers, "Idempotency-Key": publication.idempotency_key},
            data=form,
        )
        status = self._http.json_object(response)
        status_id, url = status.get("id"), status.get("url") or status.get("uri")
        if not isinstance(status_id, str | int) or not isinstance(url, str):
            raise OutcomeUnknown("Mastodon accepted the post but didn't say where it is.")
        log.info("mastodon.published", post_id=publication.post_id, status_id=str(status_id), media=len(media_ids))
        return Published(external_id=str(status_id), url=url)

    async def verify(self, publication: Publication) -> Verdict:
        """The account's latest public statuses (``GET /api/v1/accounts/:id/statuses``, no token: Herald's scopes
        don't include ``read:statuses``), matched by text and media count among those made since ``sent``.

        ABSENT only when the account made no status at all since then; a status that doesn't match (Mastodon
        returns HTML, and renders mentions and links its own way) leaves it to a human: None. Within the hour a
        repeat with the same Idempotency-Key settles it anyway, which is what :meth:`publish` does.
        """
        credentials = publication.credentials
        instance, account_id = credentials.get("instance"), credentials.get("account_id")
        sent = _parse_time(await publication.progress.get("sent"))
        if not instance or not account_id or sent is None:
            return None
        try:
            response = await self._http.request(
                "GET",
                f"{instance.rstrip('/')}/api/v1/accounts/{account_id}/statuses",
                params={"limit": "40", "exclude_reblogs": "true"},
            )
        except Permanent:  # a server that shows statuses only to signed-in readers (Herald can't read:statuses)
            return None
        try:
            statuses = response.json()
        except ValueError:
            return None
        if not isinstance(statuses, list):
            return None
        since = sent - timedelta(minutes=5)  # clocks differ
        recent = [s for s in statuses if isinstance(s, dict) and (_parse_time(s.get("created_at")) or since) > since]
        wanted = _plain(MENTION.sub(r"@\1", publication.text), html=False)
        for status in recent:
            media = status.get("media_attachments")
            same_media = isinstance(media, list) and len(media) == len(publication.media)
            if same_media and _plain(str(status.get("content", "")), html=True) == wanted:
                url = status.get("url") or status.get("uri")
                if isinstance(url, str) and isinstance(status.get("id"), str | int):
                    return Published(external_id=str(status["id"]), url=url)
        if not recent and len(statuses) < 40:
            return ABSENT
        return None

    async def _media(self, publication: Publication, instance: str, headers: dict[str, str]) -> list[str]:
        progress = publication.progress
        recorded = [await progress.get(f"media:{i}") for i in range(len(publication.media))]
        files = await publication.media_files() if None in recorded else []
        if files:
            _check_media(files, publication.credentials)
        ids: list[str] = []
        for index, media_id in enumerate(recorded):
            processed = False
            if media_id is None:
                media_id, processed = await self._upload(files[index], instance, headers)
                await progress.put(f"media:{index}", media_id)
            if not processed:
                await self._processed(media_id, instance, headers)
            ids.append(media_id)
        return ids

    async def _upload(self, file: MediaFile, instance: str, headers: dict[str, str]) -> tuple[str, bool]:
        """The new attachment's id, and whether the server already processed it (200 rather than 202)."""
        response = await _send_files(
            self._http,
            f"{instance}/api/v2/media",
            headers=headers,
            files={"file": (file.filename, file.data, file.content_type)},
        )
        body = self._http.json_object(response)
        media_id = body.get("id")
        if not isinstance(media_id, str | int):
            raise PlatformDown("Mastodon took the media but didn't give its id.")
        return str(media_id), response.status_code == 200 and bool(body.get("url"))

    async def _processed(self, media_id: str, instance: str, headers: dict[str, str]) -> None:
        """Wait (bounded by ``MASTODON_MEDIA_WAIT_SECONDS``) until the server set the attachment's ``url``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.media_wait
        while True:
            response = await self._http.request("GET", f"{instance}/api/v1/media/{media_id}", headers=headers)
            if response.status_code == 200 and self._http.json_object(response).get("url"):
                return
            if loop.time() + self.settings.media_poll_interval > deadline:
                raise PlatformDown("Mastodon is still processing the media; Herald will try again.", retry_after=30.0)
            await asyncio.sleep(self.settings.media_poll_interval)

    # --- the account

    async def check(self, credentials: Credentials) -> AccountChoice:
        instance, headers = _account(credentials)
        return await self._choice(instance, headers, credentials)

    async def revoke(self, credentials: Credentials) -> bool:
        instance, _ = _account(credentials)
        client_id, client_secret = credentials.get("client_id"), credentials.get("client_secret")
        if not client_id or not client_secret:
            return False
        await self._http.request(
            "POST",
            f"{instance}/oauth/revoke",
            data={"client_id": client_id, "client_secret": client_secret, "token": credentials.access_token or ""},
        )
        return True

    async def refresh(self, credentials: Credentials) -> Credentials:
        raise AuthExpired("Mastodon tokens don't expire, so this one was revoked: reconnect the account.")

    # --- connecting

    async def oauth(self, instance: str | None = None) -> OAuthSpec:
        if not instance:
            raise InvalidInput("Which Mastodon server? Give its name, e.g. /account connect mastodon mastodon.social.")
        base = normalize_instance(instance)
        app = await self._app(base)
        return OAuthSpec(
            authorize_url=f"{base}/oauth/authorize",
            token_url=f"{base}/oauth/token",
            client_id=app.client_id,
            client_secret=app.client_secret,
            scopes=SCOPES,
            pkce=True,  # S256, Mastodon ≥ 4.3
            token_auth="client_secret_post",
        )

    async def accounts(self, token: Mapping[str, Any], instance: str | None = None) -> list[AccountChoice]:
        if not instance:
            raise InvalidInput("Herald lost track of which Mastodon server this login was for; connect again.")
        base = normalize_instance(instance)
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise AuthExpired("Mastodon gave no access token; connect again.")
        extra = {"instance": base}
        redirect_uri = self.settings.redirect_uri
        app = await self.apps.find(base, redirect_uri) if redirect_uri else None
        if app is not None:  # kept (encrypted, with the token) so /account remove can revoke the token
            extra |= {"client_id": app.client_id, "client_secret": app.client_secret}
        scope = token.get("scope")
        credentials = Credentials(
            access_token=access_token, scope=scope if isinstance(scope, str) else " ".join(SCOPES), extra=extra
        )
        return [await self._choice(base, {"Authorization": f"Bearer {access_token}"}, credentials)]

    async def _choice(self, instance: str, headers: dict[str, str], credentials: Credentials) -> AccountChoice:
        response = await self._http.request("GET", f"{instance}/api/v1/accounts/verify_credentials", headers=headers)
        me = self._http.json_object(response)
        username = str(me.get("username") or "")
        if not username:
            raise PlatformDown("Mastodon didn't say whose token this is.")
        host = urlsplit(instance).netloc
        extra = dict(credentials.extra) | {
            "instance": instance,
            "account_id": str(me.get("id", "")),
            "acct": str(me.get("acct") or username),
            "username": username,
        }
        extra |= await self._limits(instance)
        url = me.get("url")
        return AccountChoice(
            handle=f"{username}@{host}",
            label=f"@{username}@{host} on Mastodon",
            credentials=credentials.model_copy(update={"extra": extra}),
            url=url if isinstance(url, str) else None,
        )

    async def _limits(self, instance: str) -> dict[str, str]:
        """The server's own limits (``GET /api/v2/instance``), as credential extras; none when it won't say."""
        try:
            response = await self._http.request("GET", f"{instance}/api/v2/instance")
            config = self._http.json_object(response).get("configuration") or {}
        except (PlatformError, OutcomeUnknown):
            return {}
        statuses = config.get("statuses") or {}
        media = config.get("media_attachments") or {}
        found = {
            "max_characters": statuses.get("max_characters"),
            "max_media": statuses.get("max_media_attachments"),
            "url_length": statuses.get("characters_reserved_per_url"),
            "image_size_limit": media.get("image_size_limit"),
            "video_size_limit": media.get("video_size_limit"),
        }
        return {k: str(v) for k, v in found.items() if isinstance(v, int) and not isinstance(v, bool) and v > 0}

    async def _app(self, instance: str) -> RegisteredApp:
        """Herald's app on ``instance``: the one registered before, else a new one (``POST /api/v1/apps``)."""
        redirect_uri = self.settings.redirect_uri
        if redirect_uri is None:
            raise ConfigError(
                "HERALD_PUBLIC_URL is not set: a Mastodon server needs it to send the admin back to Herald "
                "(/oauth/mastodon/callback)."
            )
        found = await self.apps.find(instance, redirect_uri)
        if found is not None:
            return found
        try:
            response = await self._http.request(
                "POST",
                f"{instance}/api/v1/apps",
                data={
                    "client_name": self.settings.client_name,
                    "redirect_uris": redirect_uri,
                    "scopes": " ".join(SCOPES),
                    "website": self.settings.website or self.settings.public_url or "",
                },
            )
            body = self._http.json_object(response)
        except (Permanent, OutcomeUnknown) as exc:
            host = urlsplit(instance).netloc
            raise InvalidInput(
                f"{host} didn't let Herald register as an app; is it a Mastodon server? ({exc})"
            ) from exc
        client_id, client_secret = body.get("client_id"), body.get("client_secret")
        if not isinstance(client_id, str) or not isinstance(client_secret, str):
            raise InvalidInput(f"{urlsplit(instance).netloc} didn't answer as a Mastodon server does.")
        log.info("mastodon.app_registered", instance=instance)
        return await self.apps.save(RegisteredApp(instance, redirect_uri, client_id, client_secret))


def _account(credentials: Credentials) -> tuple[str, dict[str, str]]:
    instance = credentials.get("instance")
    if not credentials.access_token:
        raise AuthExpired("Mastodon has no access token for this account. Reconnect the account.")
    if not instance:
        raise AuthExpired("This Mastodon account doesn't say which server it is on. Reconnect the account.")
    return instance.rstrip("/"), {"Authorization": f"Bearer {credentials.access_token}"}


def _limit(credentials: Credentials, key: str, default: int) -> int:
    value = credentials.get(key)
    return int(value) if value and value.isdigit() else default


def _check_text(publication: Publication) -> None:
    credentials = publication.credentials
    limit = _limit(credentials, "max_characters", rules.MAX_CHARACTERS)
    length = textcount.mastodon_length(publication.text)
    if length > limit:
        raise Rejected(f"{_server(credentials)} allows {limit} characters, this is {length}.")
    if not publication.text.strip() and not publication.media:
        raise Rejected("Mastodon needs text or media; this post has neither.")
    most = _limit(credentials, "max_media", rules.MAX_MEDIA)
    if len(publication.media) > most:
        raise Rejected(
            f"{_server(credentials)} takes at most {most} images per post, this has {len(publication.media)}."
        )


def _check_media(files: list[MediaFile], credentials: Credentials) -> None:
    images = _limit(credentials, "image_size_limit", rules.IMAGE_BYTES)
    videos = _limit(credentials, "video_size_limit", rules.VIDEO_BYTES)
    for file in files:
        limit, kind = (videos, "video") if file.is_video else (images, "image")
        if len(file.data) > limit:
            raise Rejected(
                f"{_server(credentials)} takes a {kind} of at most {limit / 1_048_576:.0f} MB; "
                f"this one is {len(file.data) / 1_048_576:.1f} MB."
            )


def _server(credentials: Credentials) -> str:
    instance = credentials.get("instance")
    return f"Mastodon ({urlsplit(instance).netloc})" if instance else "Mastodon"


def _key_still_honoured(sent: str) -> bool:
    when = _parse_time(sent)
    return when is not None and datetime.now(UTC) - when < KEY_WINDOW


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _plain(text: str, *, html: bool) -> str:
    """Text without markup and whitespace, to compare a status's HTML ``content`` with the text sent: Mastodon
    keeps a link's full URL across its (invisible) spans, and renders ``@user@server`` as ``@user``."""
    if html:
        text = unescape(TAG.sub("", text))
    return "".join(text.split())


async def _send_files(
    http: PlatformHTTP,
    url: str,
    *,
    headers: Mapping[str, str],
    files: Mapping[str, tuple[str, bytes, str]],
    data: Mapping[str, str] | None = None,
) -> httpx.Response:
    """A multipart POST with :class:`PlatformHTTP`'s timeout and error mapping (its ``request`` takes no files)."""
    try:
        response = await http.client.post(url, headers=headers, data=data, files=files, timeout=http.timeout)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise http.transport_error(exc) from exc
    if response.is_success:
        return response
    raise http.error_for(response)
